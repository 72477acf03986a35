"""``settle()``: the one transaction that turns a verified payment into exactly one credit.

Every way money is confirmed (a notification, a browser return, an active query, reconcile, replay, an
operator) ends here, and this is the only code that writes a ledger row or a balance. One explicit
transaction, the same SQL on SQLite, PostgreSQL and MariaDB:

1. a conditional UPDATE moves the order from pending, expired or closed to paid. The row count decides
   the winner: a concurrent settle of the same order waits for the row lock (bounded by
   ``PANELPAY_LOCK_TIMEOUT``), then matches nothing and credits nothing;
2. the ledger row is inserted; its unique ``order_id`` refuses a second credit even if the order's status
   were moved back by hand;
3. the money goes where the order says: a top-up credits the host's balance (``balance = balance + :credit``
   in SQL, or the host's function, inside this transaction); a relay order (gateway mode: a panel's order
   paid through PanelPay's channels) writes the notification owed to its panel into the outbox
   (:mod:`panelpay.delivery` delivers it after the commit). A settled payment always has exactly one of
   these, and one that did not settle has neither;
4. the delivery-log row of the notification that brought the evidence, if any, gets its verdict
   (accepted) and the answer its channel gives a request it has taken;
5. the order is read back as it now is, and everything commits together.

Any failure rolls all of it back: nothing of the order, ledger or balance changed, so retrying is safe.
Signals are sent only after the commit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .balance import UserNotFound
from .channels.base import Outcome
from .db import TransientError, is_retryable, set_lock_timeout, transient_errors
from .models import (ANOMALY, DELIVERING, NOTIFICATION_VERDICT, PAID, PENDING, SETTLEABLE, Delivery, LedgerEntry,
                     Order, storable_text, utcnow)
from .signals import emit, payment_anomaly, payment_paid_late, payment_succeeded

log = logging.getLogger("panelpay")

CREDITED, ALREADY_SETTLED, ANOMALOUS = "credited", "already_settled", "anomaly"
#: Runs of the transaction when the database reports a deadlock or serialization failure.
_ATTEMPTS = 3


@dataclass(frozen=True)
class Evidence:
    """What a gateway confirmed, already verified by the channel.

    ``source``: notify, return, query, reconcile, replay or manual. ``amount``: what was paid, compared
    exactly with the order's total. ``notification_id``: the delivery-log row to mark accepted in the same
    transaction, if any.
    """

    source: str
    amount: Decimal
    gateway_trade_no: str | None
    notification_id: int | None = None


@dataclass(frozen=True)
class Settlement:
    """The outcome: ``credited`` (this call credited), ``already_settled`` (nothing changed) or ``anomaly``.
    ``order`` is the order as it is after the call."""

    outcome: str
    order: Order
    reason: str = ""


def settle(order: Order, evidence: Evidence) -> Settlement:
    """Credit ``order`` once on ``evidence``; safe to call any number of times, from any number of workers.

    Returns a :class:`Settlement`. Raises :class:`~panelpay.db.TransientError` when the database fails,
    after rolling everything back.
    """
    state = current_app.extensions["panelpay"]
    if evidence.amount != order.total:
        return _anomaly(state, order, evidence,
                        f"amount mismatch: paid {evidence.amount:.2f}, order total {order.total:.2f}")
    for attempt in range(_ATTEMPTS):
        try:
            with transient_errors():
                credited = _credit(state, order, evidence)
            break
        except IntegrityError:
            return _refused_by_constraint(state, order, evidence)
        except UserNotFound as exc:
            return _anomaly(state, order, evidence, str(exc))
        except TransientError as exc:
            if attempt + 1 < _ATTEMPTS and is_retryable(exc.__cause__):
                continue
            raise
    if credited is None:
        return _explain_loss(state, _reload(state, order.id), evidence)
    paid, entry = credited
    app = current_app._get_current_object()
    emit(payment_succeeded, app, order=paid, entry=entry, source=evidence.source)
    if paid.paid_late:
        emit(payment_paid_late, app, order=paid)
    state.metrics.credit(paid)
    if paid.merchant_id is not None and state.deliverer is not None:
        state.deliverer.wake()  # the panel's notification, now that it is owed
    return Settlement(CREDITED, paid)


#: The transaction's statements, built once: each settlement binds only its values.
_ORDERS, _LEDGER = Order.__table__, LedgerEntry.__table__
_PAID_BY = bindparam("paid_by", type_=_ORDERS.c.gateway_trade_no.type)
_NOW = bindparam("now", type_=_ORDERS.c.paid_at.type)
_WIN = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"), _ORDERS.c.status.in_(SETTLEABLE),
           # a gateway trade number issued at creation for another payment must not settle the order
           or_(_PAID_BY.is_(None), _ORDERS.c.gateway_trade_no.is_(None), _ORDERS.c.gateway_trade_no == _PAID_BY))
    # MySQL evaluates SET assignments left to right, each seeing the ones before: paid_late reads the old
    # status, so it comes first.
    .ordered_values(
        (_ORDERS.c.paid_late, case((_ORDERS.c.status != PENDING, True), (_ORDERS.c.expires_at < _NOW, True),
                                   else_=False)),
        (_ORDERS.c.status, PAID),
        (_ORDERS.c.paid_at, _NOW),
        (_ORDERS.c.settled_by, bindparam("source", type_=_ORDERS.c.settled_by.type)),
        (_ORDERS.c.gateway_trade_no, func.coalesce(_PAID_BY, _ORDERS.c.gateway_trade_no)),
        (_ORDERS.c.lease_until, None),
    )
)
#: What the UPDATE decided in SQL, returned by it or (MySQL/MariaDB: no UPDATE … RETURNING) read back.
_DECIDED = (_ORDERS.c.paid_late, _ORDERS.c.gateway_trade_no)
_WIN_RETURNING = _WIN.returning(*_DECIDED)
_READ_BACK = select(*_DECIDED).where(_ORDERS.c.id == bindparam("order_id"))
_ENTRY = insert(_LEDGER)
_ENTRY_UNITS = update(_LEDGER).where(_LEDGER.c.id == bindparam("entry_id"))
_OUTBOX = insert(Delivery.__table__)


def _credit(state, order: Order, evidence: Evidence) -> tuple[Order, LedgerEntry] | None:
    """The transaction itself: the paid order and its ledger entry if this call won the order, None if
    it was settled already (or by another payment)."""
    now = utcnow()
    won = {"order_id": order.id, "now": now, "source": evidence.source, "paid_by": evidence.gateway_trade_no}
    with state.engine.begin() as connection:
        set_lock_timeout(connection, state.settings.lock_timeout)
        if connection.dialect.update_returning:
            row = connection.execute(_WIN_RETURNING, won).first()
        else:  # read back under the row lock the UPDATE holds
            row = connection.execute(_READ_BACK, won).first() if connection.execute(_WIN, won).rowcount == 1 else None
        if row is None:
            return None
        top_up = order.merchant_id is None
        entry = {"order_id": order.id, "user_id": order.user_id, "channel_id": order.channel_id,
                 "credit": order.credit, "units": state.balance.units_for(order.credit) if top_up else None,
                 "gateway_trade_no": evidence.gateway_trade_no, "source": evidence.source, "created_at": now}
        # The ledger row first: its unique order_id refuses a second credit before the money moves.
        entry["id"] = connection.execute(_ENTRY, entry).inserted_primary_key[0]
        if top_up:  # where the money goes: the host's balance ...
            units = state.balance.credit(connection, order.user_id, order.credit)
            if units != entry["units"]:
                connection.execute(_ENTRY_UNITS, {"entry_id": entry["id"], "units": units})
                entry["units"] = units
        else:  # ... or the panel's notification, owed from this commit on
            connection.execute(_OUTBOX, {"order_id": order.id, "merchant_id": order.merchant_id,
                                         "status": DELIVERING, "attempts": 0, "next_attempt_at": now,
                                         "last_outcome": "", "created_at": now})
        if evidence.notification_id is not None:
            answer = state.channel_kinds[order.channel.kind].acknowledge(Outcome.TAKEN)
            connection.execute(NOTIFICATION_VERDICT, {
                "notification_id": evidence.notification_id, "verdict": "accepted", "outcome": "credited",
                "order_id": order.id, "trade_no": order.trade_no, "answer_status": answer.status,
                "answer_body": storable_text(answer.body)})
    paid = {column.key: getattr(order, column.key) for column in _ORDERS.columns}
    paid.update(status=PAID, paid_at=now, settled_by=evidence.source, lease_until=None, paid_late=bool(row.paid_late),
                gateway_trade_no=row.gateway_trade_no)
    return Order(**paid, channel=order.channel), LedgerEntry(**entry)


def _refused_by_constraint(state, order: Order, evidence: Evidence) -> Settlement:
    """A unique index refused the settlement. Either the order was credited already (its ledger row
    exists, though something moved its status back: restore it, credit nothing), or the gateway trade
    number paid another order of this channel (an anomaly)."""
    with transient_errors(), state.session() as session, session.begin():
        credited = session.execute(select(LedgerEntry.id).where(LedgerEntry.order_id == order.id)).first()
        if credited is not None:
            session.execute(update(Order).where(Order.id == order.id, Order.status.in_(SETTLEABLE))
                            .values(status=PAID).execution_options(synchronize_session=False))
    if credited is not None:
        log.warning("order %s had been credited already but was not marked paid; restored", order.trade_no)
        return Settlement(ALREADY_SETTLED, _reload(state, order.id))
    return _anomaly(state, order, evidence,
                    f"gateway trade number {evidence.gateway_trade_no} already settled another order")


def _explain_loss(state, order: Order, evidence: Evidence) -> Settlement:
    """The conditional update matched nothing: say why, from the order as it is now."""
    if order.status == PAID:
        if evidence.gateway_trade_no and order.gateway_trade_no and evidence.gateway_trade_no != order.gateway_trade_no:
            return _anomaly(
                state, order, evidence,
                f"second payment {evidence.gateway_trade_no} for an order already paid by {order.gateway_trade_no}",
            )
        return Settlement(ALREADY_SETTLED, order)
    if order.status == ANOMALY:
        return Settlement(ANOMALOUS, order, order.anomaly or "order is flagged as an anomaly")
    return _anomaly(
        state, order, evidence,
        f"gateway trade number {evidence.gateway_trade_no} differs from {order.gateway_trade_no} issued at creation",
    )


def _anomaly(state, order: Order, evidence: Evidence, reason: str) -> Settlement:
    """Flag the order (an unpaid one becomes ``anomaly``; a paid one keeps its status), credit nothing."""
    with transient_errors(), state.session() as session, session.begin():
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(anomaly=storable_text(reason),
                    status=case((Order.status.in_(SETTLEABLE), ANOMALY), else_=Order.status))
            .execution_options(synchronize_session=False)
        )
    fresh = _reload(state, order.id)
    log.warning("payment anomaly on order %s: %s", order.trade_no, reason)
    emit(payment_anomaly, current_app._get_current_object(),
         order=fresh, reason=reason, notification_id=evidence.notification_id)
    state.metrics.anomaly(fresh.channel.kind if fresh.channel else "", reason)
    return Settlement(ANOMALOUS, fresh, reason)


def _reload(state, order_id: int) -> Order:
    with transient_errors(), state.session() as session:
        return session.execute(select(Order).where(Order.id == order_id)).scalar_one()
