"""``settle()``: the one transaction that turns a verified payment into exactly one balance credit.

Every way money is confirmed (a notification, a browser return, an active query, reconcile, replay, an
operator) ends here. In one transaction: a conditional update moves the order from pending, expired or
closed to paid (the row count decides the winner; the loser waits on the row lock, then sees it paid), a
ledger row unique per order is inserted, and the host's balance is incremented in SQL. Signals are sent
only after commit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal

from flask import current_app
from sqlalchemy import String, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import DataError, IntegrityError

from . import one_statement
from .balance import UserNotFound
from .db import TransientError, inline, inline_values, is_retryable, set_lock_timeout, transient_errors
from .models import (ANOMALY, CREDITED_VERDICT, ORDER_KEYS, PAID, PENDING, SETTLEABLE, LedgerEntry, Notification,
                     Order, column_values, storable_text, unattached, utcnow)
from .signals import emit, payment_anomaly, payment_paid_late, payment_succeeded

log = logging.getLogger("panelpay")

CREDITED, ALREADY_SETTLED, ANOMALOUS = "credited", "already_settled", "anomaly"
_ATTEMPTS = 3


@dataclass(frozen=True)
class Evidence:
    """What a gateway confirmed, already verified by the channel.

    ``source``: notify, return, query, reconcile, replay or manual. ``amount``: what was paid, compared
    exactly with the order's total. ``notification_id``: the delivery-log row to stamp in the same
    transaction, if any.
    """

    source: str
    amount: Decimal
    gateway_trade_no: str | None
    notification_id: int | None = None


@dataclass(frozen=True)
class Settlement:
    """The outcome: ``credited`` (this call credited), ``already_settled`` (nothing changed) or ``anomaly``."""

    outcome: str
    order: Order
    reason: str = ""


def settle(order: Order, evidence: Evidence, *, held: one_statement.Held | None = None) -> Settlement:
    """Credit ``order`` once on ``evidence``; safe to call any number of times, from any number of workers.

    Returns a :class:`Settlement`. Raises :class:`~panelpay.db.TransientError` when the database fails,
    after rolling everything back: nothing of the order, ledger or balance changed, so retrying is safe.
    ``held``: the notification's autocommit connection (PostgreSQL), taken for the credit statement.
    """
    state = current_app.extensions["panelpay"].state
    if evidence.amount != order.total:
        if held is not None:
            held.release()
        reason = f"paid {evidence.amount:.2f}, order total {order.total:.2f}"
        return _anomaly(state, order, evidence, f"amount mismatch: {reason}")
    for attempt in range(_ATTEMPTS):
        try:
            with transient_errors():
                won, entry = _apply(state, order, evidence, held)
            break
        except IntegrityError:
            return _refused_by_constraint(state, order, evidence)
        except UserNotFound as exc:
            return _anomaly(state, order, evidence, str(exc))
        except TransientError as exc:
            if attempt + 1 < _ATTEMPTS and is_retryable(exc.__cause__):
                continue
            raise
    if won:
        fresh = _settled(order, won)
        app = current_app._get_current_object()
        emit(payment_succeeded, app, order=fresh, entry=entry, source=evidence.source)
        if fresh.paid_late:
            emit(payment_paid_late, app, order=fresh)
        state.metrics.credit(fresh)
        return Settlement(CREDITED, fresh)
    return _explain_loss(state, _reload(state, order.id), evidence)


@lru_cache(maxsize=None)
def _statements(returning: bool) -> dict:
    """The settle transaction's statements, built once: the hot path only binds parameters (building a
    statement costs more Python than executing it)."""
    orders, ledger, log_table = Order.__table__, LedgerEntry.__table__, Notification.__table__
    now = bindparam("panelpay_now", type_=orders.c.paid_at.type)
    gateway_trade_no = bindparam("panelpay_gateway_trade_no", type_=String(64))
    win = (
        update(orders)
        .where(
            orders.c.id == bindparam("panelpay_order_id"),
            orders.c.status.in_([inline(status) for status in SETTLEABLE]),
            or_(gateway_trade_no.is_(None), orders.c.gateway_trade_no.is_(None),
                orders.c.gateway_trade_no == gateway_trade_no),
        )
        # MySQL evaluates SET assignments left to right, each seeing the ones before: paid_late must read
        # the old status, so it comes first.
        .ordered_values(
            (orders.c.paid_late, case((orders.c.status != inline(PENDING), inline(True)),
                                      (orders.c.expires_at < now, inline(True)), else_=inline(False))),
            (orders.c.status, inline(PAID)),
            (orders.c.paid_at, now),
            (orders.c.settled_by, bindparam("panelpay_source")),
            (orders.c.gateway_trade_no, func.coalesce(gateway_trade_no, orders.c.gateway_trade_no)),
            (orders.c.lease_until, inline(None)),
        )
    )
    read_back = select(orders.c.paid_late, orders.c.gateway_trade_no) \
        .where(orders.c.id == bindparam("panelpay_order_id"))
    return {
        "win": win.returning(orders.c.paid_late, orders.c.gateway_trade_no) if returning else win,
        "read_back": read_back,
        "ledger": insert(ledger),
        "ledger_units": update(ledger).where(ledger.c.id == bindparam("entry_id")).values(units=bindparam("units")),
        "stamp": update(log_table).where(log_table.c.id == bindparam("notification_id"))
        .values(order_id=bindparam("stamp_order_id"), **inline_values(CREDITED_VERDICT)),
    }


def _apply(state, order: Order, evidence: Evidence,
           held: one_statement.Held | None = None) -> tuple[dict | None, LedgerEntry | None]:
    """The transaction itself. Returns the settled order's new column values if this call won the order
    (None if another already had), and its ledger entry."""
    now = utcnow()
    # Bound names no host column can have: SQLAlchemy would add a matching column to the SET clause of
    # every UPDATE in the statement, the host's balance UPDATE included.
    params = {"panelpay_order_id": order.id, "panelpay_now": now, "panelpay_source": evidence.source,
              "panelpay_gateway_trade_no": evidence.gateway_trade_no}
    entry = unattached(LedgerEntry, {
        "order_id": order.id, "user_id": order.user_id, "channel_id": order.channel_id, "credit": order.credit,
        "units": state.balance.units_for(order.credit), "gateway_trade_no": evidence.gateway_trade_no,
        "source": evidence.source, "created_at": now})
    if one_statement.applies(state.engine, state.balance):
        try:
            row = _apply_in_one_statement(state, order, evidence, entry, params, held)
        except DataError as exc:
            if not one_statement.user_missing(exc):
                raise
            row = None  # the general path below finds the user gone and says so
        else:
            if row is None:
                return None, None
            entry.id = row.entry_id
            return _settled_values(evidence, now, row), entry
    with state.engine.begin() as connection:
        set_lock_timeout(connection, state.settings.lock_timeout)
        returning = connection.dialect.update_returning
        statements = _statements(returning)
        if returning:
            row = connection.execute(statements["win"], params).first()
        else:
            won = connection.execute(statements["win"], params).rowcount == 1
            row = connection.execute(statements["read_back"], params).first() if won else None
        if row is None:
            return None, None
        state.testing_hook("settle:locked", order)
        # The ledger row first: its unique order_id refuses a second credit before the host is touched.
        entry.id = connection.execute(statements["ledger"], {
            "order_id": entry.order_id, "user_id": entry.user_id, "channel_id": entry.channel_id,
            "credit": entry.credit, "units": entry.units, "gateway_trade_no": entry.gateway_trade_no,
            "source": entry.source, "created_at": now,
        }).inserted_primary_key[0]
        credited_units = state.balance.credit(connection, order.user_id, order.credit)
        if credited_units != entry.units:
            connection.execute(statements["ledger_units"], {"entry_id": entry.id, "units": credited_units})
            entry.units = credited_units
        if evidence.notification_id is not None:
            connection.execute(statements["stamp"], {"notification_id": evidence.notification_id,
                                                     "stamp_order_id": order.id})
    return _settled_values(evidence, now, row), entry


def _apply_in_one_statement(state, order: Order, evidence: Evidence, entry: LedgerEntry, params: dict,
                            held: one_statement.Held | None):
    """PostgreSQL with a balance column: the same transaction as one statement (``one_statement``), run
    in autocommit, on the connection ``held`` keeps if any. With a ``settle:locked`` test hook it runs
    inside an explicit transaction instead, so the hook can block (or the test kill the worker) after the
    statement and before the commit."""
    balance = state.balance
    params = params | {
        "panelpay_lock_timeout": f"{int(state.settings.lock_timeout)}s", "panelpay_units": entry.units,
        "panelpay_notification_id": evidence.notification_id,
        "panelpay_user_key": balance.user_key(order.user_id),
        "panelpay_amount": order.credit if entry.units is None else entry.units,
    }
    win = _statements(False)["win"]
    if not state.has_hook("settle:locked"):
        with held.take() if held is not None else state.autocommit_connect() as connection:
            return one_statement.settle(connection, balance, win, params)
    if held is not None:
        held.release()
    with state.engine.begin() as connection:
        row = one_statement.settle(connection, balance, win, params)
        if row is not None:
            state.testing_hook("settle:locked", order)
        return row


def _settled_values(evidence: Evidence, now, row) -> dict:
    return {"status": PAID, "paid_at": now, "settled_by": evidence.source, "lease_until": None,
            "paid_late": bool(row.paid_late), "gateway_trade_no": row.gateway_trade_no}


def _settled(order: Order, values: dict) -> Order:
    """The order as the settle transaction left it, without reading it back."""
    return unattached(Order, column_values(order, ORDER_KEYS) | values | {"channel": order.channel})


def _refused_by_constraint(state, order: Order, evidence: Evidence) -> Settlement:
    """A unique index refused the settlement. Either the order was credited already (its ledger row
    exists, though something moved its status back: restore it, credit nothing), or the gateway trade
    number paid another order of this channel (an anomaly)."""
    with transient_errors(), state.session() as session, session.begin():
        credited = session.execute(select(LedgerEntry.id).where(LedgerEntry.order_id == order.id)).first()
        if credited is not None:
            session.execute(update(Order.__table__).where(Order.id == order.id, Order.status.in_(SETTLEABLE))
                            .values(status=PAID))
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
            .values(
                anomaly=storable_text(reason),
                status=case((Order.status.in_(SETTLEABLE), ANOMALY), else_=Order.status),
            )
            .execution_options(synchronize_session=False)
        )
    fresh = _reload(state, order.id)
    log.warning("payment anomaly on order %s: %s", order.trade_no, reason)
    emit(
        payment_anomaly, current_app._get_current_object(),
        order=fresh, reason=reason, notification_id=evidence.notification_id,
    )
    state.metrics.anomaly(fresh.channel.kind if fresh.channel else "", reason)
    return Settlement(ANOMALOUS, fresh, reason)


def _reload(state, order_id: int) -> Order:
    with transient_errors(), state.session() as session:
        return session.execute(select(Order).where(Order.id == order_id)).scalar_one()
