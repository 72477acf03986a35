"""Replay: re-judge a recorded notification through the same flow as a live one (idempotent)."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import select, update

from .channels.base import GatewayRequest
from .db import transient_errors
from .models import Notification, utcnow
from .notify import Answer, Received, receive

log = logging.getLogger("panelpay")
#: A row still "received" this long after it arrived was left by an outage, not by a request in flight.
UNJUDGED_AFTER = timedelta(minutes=5)


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


def resolve_unjudged(state, *, limit: int = 500) -> int:
    """Mark the rows an outage left ``received`` (recorded, then the database went away before their
    verdict was written) whose gateway sent the same request again and got a verdict: ``retried``, naming
    the row that answered it. Rows without such a copy stay ``received``, for a replay. Reconcile runs
    this; returns how many rows were marked."""
    log_rows = Notification.__table__
    with transient_errors(), state.session() as session, session.begin():
        stale = session.execute(select(log_rows.c.id, log_rows.c.channel_uuid, log_rows.c.query_string,
                                       log_rows.c.body)
                                .where(log_rows.c.verdict == "received", log_rows.c.received_at < utcnow() - UNJUDGED_AFTER)
                                .order_by(log_rows.c.id).limit(limit)).all()
        marked = 0
        for row in stale:
            copy = session.execute(select(log_rows.c.id, log_rows.c.verdict).where(
                log_rows.c.channel_uuid == row.channel_uuid, log_rows.c.id > row.id,
                log_rows.c.query_string == row.query_string, log_rows.c.body == row.body,
                log_rows.c.verdict.not_in(("received", "retried"))).order_by(log_rows.c.id).limit(1)).first()
            if copy is not None:
                session.execute(update(log_rows).where(log_rows.c.id == row.id).values(
                    verdict="retried", outcome=f"sent again: #{copy.id} answered it ({copy.verdict})"))
                marked += 1
    if marked:
        log.info("%d notification(s) left unjudged by an outage were answered by a later copy", marked)
    return marked
