"""Replay: re-judge a recorded notification through the same flow as a live one (idempotent)."""
from __future__ import annotations

import json

from sqlalchemy import select

from .channels.base import GatewayRequest
from .db import transient_errors
from .models import Notification
from .notify import Answer, Received, receive


def replay(state, notification_id: int) -> Answer:
    """Record a copy of notification ``notification_id`` (``replay_of`` pointing at it) and judge it; the
    answer names the copy's row.

    Timestamp windows are checked against when the original arrived. Raises LookupError if there is no
    such notification.
    """
    with transient_errors(), state.session() as session:
        row = session.execute(select(Notification).where(Notification.id == notification_id)).scalar_one_or_none()
    if row is None:
        raise LookupError(notification_id)
    request = GatewayRequest(
        method=row.method,
        headers=tuple((str(name), str(value)) for name, value in json.loads(row.headers or "[]")),
        query_string=bytes(row.query_string or b""),
        body=bytes(row.body or b""),
        content_type=row.content_type,
        received_at=row.received_at,
    )
    return receive(state, Received(row.kind, row.channel_uuid, row.source_ip, request), replay_of=row.id)
