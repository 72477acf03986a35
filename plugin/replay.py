"""Replay: re-judge a recorded notification through the same path as a live one (idempotent)."""
from __future__ import annotations

from sqlalchemy import select

from .db import transient_errors
from .judge import Answer, Raw, receive
from .models import Notification


def replay(state, notification_id: int) -> tuple[Answer, int]:
    """Record a copy of notification ``notification_id`` (``replay_of`` pointing at it) and judge it;
    returns the answer and the copy's id.

    Timestamp windows are checked against when the original arrived. Raises LookupError if there is no
    such notification.
    """
    with transient_errors(), state.session() as session:
        row = session.execute(select(Notification).where(Notification.id == notification_id)).scalar_one_or_none()
    if row is None:
        raise LookupError(notification_id)
    raw = Raw(
        kind=row.kind,
        channel_uuid=row.channel_uuid,
        method=row.method,
        query_string=bytes(row.query_string or b""),
        body=bytes(row.body or b""),
        content_type=row.content_type,
        source_ip=row.source_ip,
        received_at=row.received_at,
    )
    answer = receive(state, raw, replay_of=row.id)
    return answer, answer.notification_id
