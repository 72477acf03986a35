"""The notify flow: one request on a channel's notify path, from its arrival to the gateway's answer.

    record → verify → load the order → settle → answer

Why nothing is lost and nothing is doubled, for every answer:

1. **Record.** The raw request is inserted into the delivery log and committed (a short transaction that also
   reads the channel the path names) before anything is judged. If the database cannot take it,
   :func:`receive` raises :class:`~panelpay.db.TransientError` and the route spools it and answers ``RETRY``:
   every request is in the delivery log, or in the spool, or was told to come again.
2. **Verify.** The channel verifies the raw request itself, without the database; a refusal is final.
3. **Load** the order the verified report names; check its channel and merchant.
4. **Settle.** :func:`~panelpay.settle.settle` credits in one transaction, exactly once however many copies
   arrive at once (a conditional UPDATE picks one winner; the ledger's unique order id forbids a second
   row), writing this request's verdict and answer in the same transaction.
5. **Answer.** Only after that commit is the channel's acknowledgement written. A failure before it rolls
   the credit back and answers ``RETRY``: the copy the gateway sends again is judged afresh. Any other
   verdict is written to the log row afterwards; should that fail, the answer stands (the request is
   recorded, its verdict stays ``received``, and a replay judges it).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace

from flask import current_app
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import DataError

from .channels.base import (Acknowledgement, GatewayRequest, InvalidNotification, InvalidSignature, Outcome,
                            PaymentStatus)
from .db import TransientError, transient_errors
from .models import NOTIFICATION_VERDICT, TRADE_NO, Channel, Notification, Order, storable_text
from .settle import ALREADY_SETTLED, CREDITED, Evidence, settle
from .signals import emit, notification_rejected, payment_anomaly
from .store import ChannelUnavailable, channel_impl

log = logging.getLogger("panelpay")

#: Bytes of query and body kept of a request to a path that names no channel.
TRACE_BYTES = 1024
#: Characters of a refusal's reason kept (a TEXT column holds 64 KB on MySQL, at up to 4 bytes each).
REASON_LIMIT = 16000

ACCEPTED, DUPLICATE, IGNORED, REJECTED, ANOMALY, ERROR = (
    "accepted", "duplicate", "ignored", "rejected", "anomaly", "error",
)


@dataclass(frozen=True)
class Received:
    """One request on the notify path ``<prefix>/notify/<kind>/<channel_uuid>``, as it arrived."""

    kind: str
    channel_uuid: str
    source_ip: str
    request: GatewayRequest


@dataclass(frozen=True)
class Verdict:
    """What PanelPay made of a request: ``name`` for the delivery log, ``outcome`` for the channel's
    answer, ``text`` one line saying why, ``reason`` the refusal in full."""

    name: str
    outcome: Outcome
    text: str
    reason: str = ""
    trade_no: str | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class Answer:
    """The verdict, the acknowledgement the gateway gets, and the delivery-log row of the request."""

    verdict: Verdict
    acknowledgement: Acknowledgement
    notification_id: int


def receive(state, received: Received, *, replay_of: int | None = None) -> Answer:
    """The whole flow for one request. Raises :class:`TransientError` only when the request could not be
    recorded (the caller spools it and answers :meth:`acknowledge` of ``RETRY``)."""
    notification_id, channel = _record(state, received, replay_of)
    started = time.perf_counter()
    try:
        verdict = _judge(state, received, channel, notification_id, "replay" if replay_of is not None else "notify")
    except TransientError as exc:
        log.warning("notification %s: database unavailable (%s); answering retry", notification_id, exc)
        verdict = Verdict(ERROR, Outcome.RETRY, "database unavailable; the gateway will retry")
    except DataError:
        verdict = Verdict(REJECTED, Outcome.REFUSED, "malformed: values the database cannot hold")
    acknowledgement = acknowledge(state, received.kind, verdict.outcome)
    if verdict.name != ACCEPTED:  # a credit's verdict was written by settle(), in its transaction
        _write_verdict(state, notification_id, verdict, acknowledgement)
    known = received.kind in state.channel_kinds  # the URL must not mint metric label values
    state.metrics.notification(received.kind if known else "unknown", verdict.name, acknowledgement.status,
                               time.perf_counter() - started)
    if verdict.name == REJECTED:
        emit(notification_rejected, current_app._get_current_object(), notification_id=notification_id,
             reason=verdict.text, channel_uuid=received.channel_uuid, source_ip=received.source_ip)
    return Answer(verdict, acknowledgement, notification_id)


#: The flow's statements, built once: each request binds only its values.
_LOG = Notification.__table__
_RECORD = insert(_LOG)
_CHANNEL = select(Channel).where(Channel.uuid == bindparam("uuid"))
_ORDER = select(Order).where(Order.trade_no == bindparam("trade_no"))


def acknowledge(state, kind: str, outcome: Outcome) -> Acknowledgement:
    """The answer for ``outcome`` in the words of ``kind``'s gateway; plain text for a kind we do not have."""
    cls = state.channel_kinds.get(kind)
    if cls is None:
        return Acknowledgement(outcome.value, "no such notify path: check the notify URL", "text/plain")
    return cls.acknowledge(outcome)


def _record(state, received: Received, replay_of: int | None) -> tuple[int, Channel | None]:
    """Read the channel the request's path names (if it exists and is of the path's kind), insert the raw
    request into the delivery log (only a trace of it when there is no such channel: nobody may store
    bulk at a made-up path), and commit: the log row's id and the channel."""
    request = received.request
    with transient_errors(), state.session() as session, session.begin():
        channel = None
        if received.kind in state.channel_kinds and "\x00" not in received.channel_uuid:
            channel = session.execute(_CHANNEL, {"uuid": received.channel_uuid[:32]}).scalar_one_or_none()
        if channel is None or channel.uuid != received.channel_uuid or channel.kind != received.kind:
            channel, request = None, replace(request, query_string=request.query_string[:TRACE_BYTES],
                                             body=request.body[:TRACE_BYTES])
        notification_id = session.execute(_RECORD, {
            "kind": received.kind[:16], "channel_uuid": received.channel_uuid[:64], "method": request.method[:8],
            "headers": json.dumps(request.headers), "query_string": request.query_string, "body": request.body,
            "content_type": request.content_type[:128], "source_ip": received.source_ip[:64],
            "received_at": request.received_at, "replay_of": replay_of, "verdict": "received", "outcome": "",
            "reason": "", "answer_body": "",
        }).inserted_primary_key[0]
    return notification_id, channel



def _judge(state, received: Received, channel: Channel | None, notification_id: int, source: str) -> Verdict:
    """Verify with the channel, check against the order, settle."""
    if channel is None:
        return Verdict(REJECTED, Outcome.UNKNOWN_CHANNEL, "no such channel: check the notify URL")
    try:
        impl = channel_impl(state, channel)
    except ChannelUnavailable as exc:
        log.error("notification %s cannot be judged: %s", notification_id, exc)
        return Verdict(ERROR, Outcome.RETRY, str(exc))
    try:
        report = impl.verify_notification(received.request)
    except InvalidNotification as exc:
        what = "bad signature" if isinstance(exc, InvalidSignature) else "malformed"
        return Verdict(REJECTED, Outcome.REFUSED, f"{what}: {exc}", reason=str(exc), trade_no=exc.trade_no)
    if report.status is not PaymentStatus.PAID:
        return Verdict(IGNORED, Outcome.TAKEN, f"status {report.status.value}: nothing to credit",
                       trade_no=report.trade_no)
    order = _order(state, report.trade_no)
    if order is None:
        return _anomaly(state, None, notification_id, f"unknown order {report.trade_no}", report.trade_no)
    if order.channel_id != channel.id:
        return _anomaly(state, order, notification_id,
                        f"order {order.trade_no} belongs to another channel ({order.channel.uuid})")
    if not impl.owns(report):
        return _anomaly(state, order, notification_id,
                        f"merchant mismatch: notification for {report.merchant_id}, channel is {impl.merchant_id}")
    if report.amount is None:
        return Verdict(REJECTED, Outcome.REFUSED, "malformed: no amount", reason="the report states no amount",
                       trade_no=order.trade_no, order_id=order.id)
    settlement = settle(order, Evidence(source, report.amount, report.gateway_trade_no, notification_id))
    name, text = {CREDITED: (ACCEPTED, "credited"), ALREADY_SETTLED: (DUPLICATE, "already settled; nothing changed")
                  }.get(settlement.outcome, (ANOMALY, settlement.reason))
    return Verdict(name, Outcome.TAKEN, text, trade_no=order.trade_no, order_id=order.id)


def _order(state, trade_no: str) -> Order | None:
    if not TRADE_NO.fullmatch(trade_no or ""):  # cannot name one of our orders
        return None
    with transient_errors(), state.session() as session:
        order = session.execute(_ORDER, {"trade_no": trade_no}).scalar_one_or_none()
    return order if order is not None and order.trade_no == trade_no else None  # exactly: MySQL ignores case


def _anomaly(state, order: Order | None, notification_id: int, reason: str, trade_no: str | None = None) -> Verdict:
    """A verified notification that must not be credited here. Retrying the same request cannot change
    that, so the gateway is told it was taken (an EPay site may suspend a merchant after repeated
    failures); the operator is alerted and the delivery log keeps it for a replay once fixed. The order
    itself is left as it is: a wrongly routed copy must not block the right one."""
    log.warning("notification %s: anomaly: %s", notification_id, reason)
    emit(payment_anomaly, current_app._get_current_object(),
         order=order, reason=reason, notification_id=notification_id)
    state.metrics.anomaly(order.channel.kind if order is not None else "", reason)
    return Verdict(ANOMALY, Outcome.TAKEN, reason, trade_no=order.trade_no if order else trade_no,
                   order_id=order.id if order else None)


def _write_verdict(state, notification_id: int, verdict: Verdict, acknowledgement: Acknowledgement) -> None:
    """Write the verdict and the answer to the request's log row; a failure is logged, not raised."""
    try:
        with transient_errors(), state.engine.begin() as connection:
            connection.execute(NOTIFICATION_VERDICT, {
                "notification_id": notification_id, "verdict": verdict.name, "outcome": storable_text(verdict.text),
                "reason": storable_text(verdict.reason, REASON_LIMIT),
                "trade_no": storable_text(verdict.trade_no, 64) if verdict.trade_no else None,
                "order_id": verdict.order_id, "answer_status": acknowledgement.status,
                "answer_body": storable_text(acknowledgement.body)})
    except (TransientError, DataError) as exc:
        log.warning("notification %s: could not record its verdict %s (%s)", notification_id, verdict.name, exc)
