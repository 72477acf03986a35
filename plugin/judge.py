"""Judging one notification: the flow from a recorded request to the answer the gateway gets.

1. The raw request is recorded first, in its own transaction (``receive``); if the database cannot take
   it, it goes to the spool and the gateway is told to retry.
2. The channel verifies the signature without mutating the parameters.
3. The report is checked against the stored order: its channel, merchant, amount and status.
4. ``settle()`` credits once. ``success`` is answered only after that commit.

The answer for each case, and why, is in the README ("What the gateway is answered").
"""
from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qsl

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DataError

from . import one_statement
from .channels.base import InvalidNotification, InvalidSignature, MalformedNotification, PaymentStatus
from .db import TransientError, transient_errors
from .models import ORDER_KEYS, TRADE_NO, Channel, Notification, Order, storable_text, unattached
from .settle import ALREADY_SETTLED, CREDITED, Evidence, settle
from .signals import emit, notification_rejected, payment_anomaly
from .store import ChannelUnavailable, channel_impl

log = logging.getLogger("panelpay")


ACCEPTED, DUPLICATE, IGNORED, REJECTED, ANOMALY, ERROR = (
    "accepted", "duplicate", "ignored", "rejected", "anomaly", "error",
)


@dataclass(frozen=True)
class Raw:
    """A notification request exactly as received."""

    kind: str
    channel_uuid: str
    method: str
    query_string: bytes
    body: bytes
    content_type: str
    source_ip: str
    received_at: datetime


@dataclass(frozen=True)
class Answer:
    """What the gateway is told (``status``, ``body``) and what the delivery log records."""

    status: int
    body: str
    verdict: str
    outcome: str
    #: The delivery-log row this answer was recorded in.
    notification_id: int | None = None


def success(verdict: str, outcome: str) -> Answer:
    return Answer(200, "success", verdict, outcome)


def fail(status: int, verdict: str, outcome: str) -> Answer:
    return Answer(status, "fail", verdict, outcome)


def parse_params(raw: Raw) -> dict[str, str]:
    """The parameters of a notification: query string and form body, UTF-8 (or the declared GBK).

    Raises :class:`MalformedNotification` for a repeated key, bytes that are not text, or a body that is
    not a URL-encoded form.
    """
    pairs = _latin1_pairs(raw.query_string)
    if raw.body:
        content_type = raw.content_type.split(";")[0].strip().lower()
        if content_type not in ("application/x-www-form-urlencoded", ""):
            raise MalformedNotification(f"unsupported content type {content_type[:60]}")
        pairs += _latin1_pairs(raw.body)
    encoding = "utf-8"
    for key, value in pairs:
        if key == "charset" and value.lower() in ("gbk", "gb2312", "gb18030"):
            encoding = "gb18030"
    params: dict[str, str] = {}
    for key, value in pairs:
        if not (key.isascii() and value.isascii()):  # ASCII reads the same in latin-1, UTF-8 and GBK
            try:
                key, value = key.encode("latin-1").decode(encoding), value.encode("latin-1").decode(encoding)
            except UnicodeDecodeError as exc:
                raise MalformedNotification(f"parameters are not valid {encoding} text") from exc
        if key in params:
            raise MalformedNotification(f"parameter {key[:40]!r} appears more than once")
        params[key] = value
    return params


def _latin1_pairs(data: bytes) -> list[tuple[str, str]]:
    """URL-decoded (key, value) pairs, each character one byte (latin-1): bytes that are not UTF-8
    survive to be reported instead of being replaced, and the declared charset is applied after."""
    return parse_qsl(data.decode("latin-1"), keep_blank_values=True, encoding="latin-1")


def receive(state, raw: Raw, *, replay_of: int | None = None) -> Answer:
    """The whole notify flow for one request: record it, then judge it. Returns the answer.

    Raises :class:`TransientError` only when the request could not even be recorded; the caller then
    keeps it in the spool and answers 503.
    """
    try:
        params, problem = parse_params(raw), None
    except MalformedNotification as exc:
        params, problem = {}, exc
    trade_no = params.get("out_trade_no")
    trade_no = trade_no if trade_no and TRADE_NO.fullmatch(trade_no) else None
    # PostgreSQL with a balance column: the record and the credit are one statement each, on one connection.
    held = one_statement.Held(state.autocommit_connect) if one_statement.applies(state.engine, state.balance) else None
    with held or nullcontext():
        notification_id, order = _record(state, raw, trade_no, replay_of, held)
        started = time.perf_counter()
        order_id = order.id if order is not None else None
        try:
            if problem is not None:
                answer = fail(400, REJECTED, f"malformed: {problem}"[:255])
            else:
                source = "replay" if replay_of is not None else "notify"
                answer = _judge(state, raw, params, trade_no, order, notification_id, source, held)
        except DataError:
            answer = fail(400, REJECTED, "malformed: values the database cannot hold")
        except TransientError as exc:
            log.warning("notification %s: database unavailable (%s); answering 503", notification_id, exc)
            answer = fail(503, ERROR, "database unavailable; the gateway will retry")
    elapsed = time.perf_counter() - started
    # An accepted one was stamped inside the settle transaction. Any other success lets the gateway stop
    # only once its verdict is committed: that commit is also what makes the record durable (see
    # ``one_statement``), so without it the gateway is asked to retry.
    if answer.verdict != ACCEPTED and not _stamp(state, notification_id, answer, order_id) and answer.status < 300:
        answer = fail(503, ERROR, "database unavailable; the gateway will retry")
    kind = raw.kind if raw.kind in state.channel_kinds else "unknown"  # the URL must not mint label values
    state.metrics.notification(kind, answer.verdict, answer.status, elapsed)
    if answer.verdict == REJECTED:
        emit(notification_rejected, current_app._get_current_object(),
             notification_id=notification_id, reason=answer.outcome, channel_uuid=raw.channel_uuid)
    return replace(answer, notification_id=notification_id)


@lru_cache(maxsize=None)
def _statements() -> dict:
    """The delivery log's statements, built once (the hot path only binds parameters)."""
    log_table, orders, channels = Notification.__table__, Order.__table__, Channel.__table__
    return {
        "record": insert(log_table),
        "order": select(orders, channels.c.uuid, channels.c.revision)
        .join(channels, channels.c.id == orders.c.channel_id)
        .where(orders.c.trade_no == bindparam("trade_no")),
        "stamp": update(log_table).where(log_table.c.id == bindparam("notification_id")).values(
            verdict=bindparam("verdict"), outcome=bindparam("outcome"), answer_status=bindparam("answer_status"),
            answer_body=bindparam("answer_body"), order_id=bindparam("order_id")),
    }


def _record(state, raw: Raw, trade_no: str | None, replay_of: int | None,
            held: one_statement.Held | None) -> tuple[int, Order | None]:
    """Insert the raw request into the delivery log and commit; in the same round, look up the order it
    names (with its channel's uuid and revision only: the channel itself is cached). With ``held``, the
    one-statement path, on a connection ``held`` keeps. Raises :class:`TransientError` if the database
    cannot take it."""
    params = {
        "kind": raw.kind[:16], "channel_uuid": raw.channel_uuid[:64], "method": raw.method[:8],
        "query_string": raw.query_string, "body": raw.body, "content_type": raw.content_type[:128],
        "source_ip": raw.source_ip[:64], "received_at": raw.received_at, "trade_no": trade_no,
        "replay_of": replay_of, **one_statement.RECORD_CONSTANTS,
    }
    if held is not None:
        with transient_errors():
            try:
                notification_id, order, uuid, revision = one_statement.record(held.connect(), params)
            except BaseException:
                held.release()
                raise
        if order is None:
            return notification_id, None
        return notification_id, _order_of(state, one_statement.order_values(order), uuid, revision, held)
    statements = _statements()
    with transient_errors(), state.engine.begin() as connection:
        notification_id = connection.execute(statements["record"], params).inserted_primary_key[0]
        row = connection.execute(statements["order"], {"trade_no": trade_no}).first() if trade_no else None
    if row is None:
        return notification_id, None
    return notification_id, _order_of(state, dict(zip(ORDER_KEYS, row)), row.uuid, row.revision)


def _order_of(state, columns: dict, uuid: str, revision: int, held: one_statement.Held | None = None) -> Order:
    """The Order of a looked-up row's column values, without an ORM query; its channel is the cached
    row at ``revision``, else read."""
    columns["channel"] = state.channel_row(uuid, revision) or _find_channel(state, uuid, held)
    return unattached(Order, columns)


def _release(held: one_statement.Held | None) -> None:
    """Give back the held connection before touching the database another way (see ``Held``)."""
    if held is not None:
        held.release()


def _judge(state, raw: Raw, params: dict, trade_no: str | None, order: Order | None, notification_id: int,
           source: str, held: one_statement.Held | None = None) -> Answer:
    if order is not None and order.channel.uuid == raw.channel_uuid:
        channel = order.channel
    else:
        channel = _find_channel(state, raw.channel_uuid, held)
    if channel is None or channel.kind != raw.kind or raw.kind not in state.channel_kinds:
        return fail(404, REJECTED, "no such channel: check the notify URL")
    try:
        impl = channel_impl(state, channel)
    except ChannelUnavailable as exc:
        log.error("notification %s cannot be judged: %s", notification_id, exc)
        return fail(503, ERROR, str(exc)[:255])
    try:
        report = impl.verify_notification(params, received_at=raw.received_at)
    except InvalidSignature as exc:
        return fail(400, REJECTED, f"bad signature: {exc}"[:255])
    except InvalidNotification as exc:
        return fail(400, REJECTED, f"malformed: {exc}"[:255])
    if report.status is not PaymentStatus.PAID:
        return success(IGNORED, f"status {report.status.value}: nothing to credit")
    if order is None:
        return _anomaly(state, None, notification_id, f"unknown order {trade_no}", held)
    if order.channel_id != channel.id:
        return _anomaly(state, order, notification_id,
                        f"order {trade_no} belongs to another channel ({order.channel.uuid})", held)
    if not impl.owns(report):
        return _anomaly(state, order, notification_id,
                        f"merchant mismatch: notification for {report.merchant_id}, channel is {impl.merchant_id}",
                        held)
    if report.amount is None:
        return fail(400, REJECTED, "malformed: no amount")
    settlement = settle(order, Evidence(source, report.amount, report.gateway_trade_no, notification_id), held=held)
    if settlement.outcome == CREDITED:
        return success(ACCEPTED, "credited")
    if settlement.outcome == ALREADY_SETTLED:
        return success(DUPLICATE, "already settled; nothing changed")
    return success(ANOMALY, settlement.reason[:255])


def _anomaly(state, order: Order | None, notification_id: int, reason: str,
             held: one_statement.Held | None = None) -> Answer:
    """A verified notification that must not be credited here. Retrying the same request cannot change
    that, so the gateway is told ``success`` (an EPay site may suspend a merchant after repeated
    failures); the operator is alerted and the delivery log keeps it for a replay once fixed. The order
    itself is left as it is: a wrongly routed copy must not block the right one. ``held`` is given back
    first: the signal's receivers may use the database."""
    _release(held)
    log.warning("notification %s: anomaly: %s", notification_id, reason)
    emit(payment_anomaly, current_app._get_current_object(),
         order=order, reason=reason, notification_id=notification_id)
    state.metrics.anomaly(order.channel.kind if order is not None else "", reason)
    return success(ANOMALY, reason[:255])


def _find_channel(state, uuid: str, held: one_statement.Held | None = None) -> Channel | None:
    """The channel row by uuid, read in a session of its own (``held`` given back first)."""
    _release(held)
    with transient_errors(), state.session() as session:
        return session.execute(select(Channel).where(Channel.uuid == uuid[:32])).scalar_one_or_none()


def _stamp(state, notification_id: int, answer: Answer, order_id: int | None) -> bool:
    """Record the verdict and the answer in the delivery log (a synchronous commit); False if the
    database could not take it."""
    try:
        with transient_errors(), state.engine.begin() as connection:
            connection.execute(_statements()["stamp"], {
                "notification_id": notification_id, "verdict": answer.verdict, "outcome": storable_text(answer.outcome),
                "answer_status": answer.status, "answer_body": answer.body, "order_id": order_id})
    except TransientError:
        log.warning("notification %s: could not record its verdict (%s)", notification_id, answer.verdict)
        return False
    return True
