"""PostgreSQL: recording a notification and settling an order, each in one statement.

The flow is DESIGN.md's, unchanged: the raw request is committed before it is judged, and the credit is
one transaction. On PostgreSQL each of those is a single statement run in autocommit (its own implicit
transaction), so a notification costs two round trips where the general path needs eleven:

* ``record``: INSERT the raw request and, in the same statement, look up the order (with its channel) it
  names: a data-modifying CTE joined to the order. Its commit is asynchronous (``synchronous_commit`` off
  for this transaction only): it is visible at once, but PostgreSQL does not wait for its WAL to reach
  the disk. No answer is given on that commit alone: every path to the gateway's answer commits again
  synchronously (the credit, or the verdict's UPDATE), and the write-ahead log is flushed in order, so
  that flush makes the record durable too; when that commit fails, the gateway is answered 503 and
  retries. A record can thus be lost only with a server crash before any answer was given, which the
  gateway's retry covers. It saves a WAL flush, and its wait, per notification.
* ``settle``: the conditional UPDATE of the order, the ledger INSERT, the balance UPDATE and the
  delivery-log verdict, as data-modifying CTEs that all depend on the order UPDATE having matched. One
  statement is atomic: nothing of it is visible unless all of it commits.

Only for a host whose balance is a column (:class:`~panelpay.balance.BalanceColumn`); a host function
needs a transaction it can run in, and other databases have no data-modifying CTEs: both take the general
path in ``judge`` and ``settle``.
"""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable

from sqlalchemy import String, Text, bindparam, case, cast, exists, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from .balance import BalanceColumn
from .db import inline, inline_values
from .models import CREDITED_VERDICT, Channel, LedgerEntry, Money, Notification, Order, UTCDateTime
from .money import CENT

#: The delivery-log columns the record statement binds, and those it writes as constants (the rest keep
#: their defaults).
RECORD_COLUMNS = ("kind", "channel_uuid", "method", "query_string", "body", "content_type", "source_ip",
                  "received_at", "trade_no", "replay_of")
RECORD_CONSTANTS = {"verdict": "received", "outcome": "", "answer_body": ""}

#: SQLSTATE division_by_zero: the settle statement's way to refuse a credit whose user row is gone.
USER_MISSING = "22012"


def applies(connection_or_engine, balance) -> bool:
    """Whether this database and balance adapter take the one-statement path."""
    return connection_or_engine.dialect.name == "postgresql" and isinstance(balance, BalanceColumn)


@lru_cache(maxsize=None)
def record_statement():
    """INSERT the raw request RETURNING its id, LEFT JOINed to the order named ``trade_no`` (its row as
    JSON text, see :func:`order_values`) and its channel's uuid and revision."""
    log, orders, channels = Notification.__table__, Order.__table__, Channel.__table__
    recorded = (
        insert(log)
        .values({name: bindparam(name, type_=log.c[name].type) for name in RECORD_COLUMNS}
                | inline_values(RECORD_CONSTANTS))
        .returning(log.c.id)
        .cte("recorded")
    )
    named = orders.join(channels, channels.c.id == orders.c.channel_id)
    # The order as one text column: each column of a result costs the driver and SQLAlchemy more
    # (description, metadata, a processor per row) than reading the whole row from JSON does.
    order = cast(func.row_to_json(orders.table_valued()), Text)
    # This transaction's commit does not wait for its WAL flush (see the module docstring: the answer
    # waits for a later synchronous commit, which makes this one durable too). An uncorrelated scalar
    # subquery is evaluated once, so the setting is in force when the statement commits.
    asynchronous = select(func.set_config(inline("synchronous_commit"), inline("off"), inline(True))).scalar_subquery()
    return (
        select(recorded.c.id.label("notification_id"), order.label("order"), channels.c.uuid, channels.c.revision)
        .select_from(recorded.outerjoin(named, orders.c.trade_no == bindparam("trade_no", type_=String(64))))
        .where(asynchronous.is_not(None))
    )


def _json_loader(column):
    """How a value of ``column`` reads back from ``row_to_json``: money parsed as Decimal (never float),
    timestamps from their ISO 8601 text, the rest as JSON has them."""
    if isinstance(column.type, Money):
        return lambda value: None if value is None else value.quantize(CENT)
    if isinstance(column.type, UTCDateTime):
        return lambda value: None if value is None else datetime.fromisoformat(value)
    if column.type.python_type not in (int, str, bool):
        raise TypeError(f"no JSON loader for {column.key} ({column.type})")
    return None


_ORDER_LOADERS = tuple((column.key, _json_loader(column)) for column in Order.__table__.columns)


def order_values(text: str) -> dict:
    """The order's column values (as the ORM would load them) from the record statement's JSON."""
    row = json.loads(text, parse_float=Decimal)
    return {key: row[key] if load is None else load(row[key]) for key, load in _ORDER_LOADERS}


class Held:
    """The autocommit connection a notification's record statement ran on, kept for its settle
    statement: the notification checks out one connection, not two (a checkout and its return cost
    about as much Python as a statement).

    A thread holding it must not wait for a second connection of the same pool (with every thread doing
    so, none would get one): whoever is about to touch the database another way calls :meth:`release`
    first. Closing is idempotent; ``with held:`` releases at the end."""

    def __init__(self, connect: Callable[[], Connection]):
        self._connect = connect
        self._connection: Connection | None = None

    def connect(self) -> Connection:
        """A connection for the record statement, kept until taken or released."""
        self.release()
        self._connection = self._connect()
        return self._connection

    def take(self) -> Connection:
        """The held connection (or, if none is held, a new one); the caller closes it."""
        connection, self._connection = self._connection, None
        return connection if connection is not None else self._connect()

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def record(connection: Connection, params: dict) -> Row:
    """Run the record statement; its one row: ``notification_id``, ``order`` (JSON), and the order's
    channel's ``uuid`` and ``revision`` (all None when no order matched)."""
    return connection.execute(record_statement(), params).one()


@lru_cache(maxsize=64)
def _settle_statement(balance: BalanceColumn, win):
    """The settle statement for ``balance``, around ``win`` (settle's conditional UPDATE of the order,
    with its bound parameters ``panelpay_order_id``, ``panelpay_now``, ``panelpay_source``,
    ``panelpay_gateway_trade_no``). Every bound name starts with ``panelpay_``: SQLAlchemy adds a column
    named like a parameter to the SET clause of each UPDATE in the statement, the host's included."""
    orders, ledger, log = Order.__table__, LedgerEntry.__table__, Notification.__table__
    # The bounded wait for the order's row lock, set for this statement's transaction only. An
    # uncorrelated scalar subquery is evaluated once, before the first row is updated, so the setting is
    # in force when the UPDATE waits for a row another transaction holds.
    timeout = bindparam("panelpay_lock_timeout", type_=String)
    bounded = select(func.set_config(inline("lock_timeout"), timeout, inline(True))).scalar_subquery()
    won = win.where(bounded.is_not(None)).returning(
        orders.c.id, orders.c.paid_late, orders.c.gateway_trade_no, orders.c.user_id, orders.c.channel_id,
        orders.c.credit).cte("won")
    did_win = exists(select(won.c.id))
    entry = insert(ledger).from_select(
        ["order_id", "user_id", "channel_id", "credit", "units", "gateway_trade_no", "source", "created_at"],
        select(
            won.c.id,
            won.c.user_id,
            won.c.channel_id,
            won.c.credit,
            bindparam("panelpay_units", type_=ledger.c.units.type),
            bindparam("panelpay_gateway_trade_no", type_=ledger.c.gateway_trade_no.type),
            bindparam("panelpay_source", type_=ledger.c.source.type),
            bindparam("panelpay_now", type_=ledger.c.created_at.type),
        ),
    ).returning(ledger.c.id).cte("entry")
    credited = (
        update(balance.table)
        .where(balance.id_column == bindparam("panelpay_user_key", type_=balance.id_column.type), did_win)
        .values({balance.column: balance.column + bindparam("panelpay_amount", type_=balance.column.type)})
        .returning(balance.id_column)
        .cte("credited")
    )
    stamped = (
        update(log)
        .where(log.c.id == bindparam("panelpay_notification_id", type_=log.c.id.type), did_win)
        .values(order_id=bindparam("panelpay_order_id", type_=log.c.order_id.type),
                **inline_values(CREDITED_VERDICT))
        .returning(log.c.id)
        .cte("stamped")
    )
    # A data-modifying CTE runs whether or not the final SELECT reads it. When the order was won but not
    # exactly one user row was credited (the row is gone, or the host's id column is not unique), a
    # division by zero fails the whole statement (USER_MISSING): nothing of it commits, and settle() takes
    # the general path to say why.
    one_row = case((select(func.count()).select_from(credited).scalar_subquery() == inline(1), inline(1)),
                   else_=inline(0))
    user_credited = inline(1) / one_row
    return (
        select(won.c.paid_late, won.c.gateway_trade_no, entry.c.id.label("entry_id"),
               user_credited.label("user_credited"))
        .select_from(won.join(entry, inline(True)))
        .add_cte(stamped)  # read by nothing, but run all the same (as every data-modifying CTE is)
    )


def settle(connection: Connection, balance: BalanceColumn, win, params: dict[str, Any]) -> Row | None:
    """Run the settle statement; its row (``paid_late``, ``gateway_trade_no``, ``entry_id``) if this call
    won the order, None if it was already settled. ``params``: the conditional UPDATE's, and, prefixed
    ``panelpay_``, ``lock_timeout``, ``units``, ``notification_id``, ``user_key``, ``amount`` (the ledger row's
    user, channel and credit are the won order's own)."""
    return connection.execute(_settle_statement(balance, win), params).first()


def user_missing(exc: BaseException) -> bool:
    """Whether a database error is the settle statement refusing a credit for a user row that is gone."""
    orig = getattr(exc, "orig", None)
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) == USER_MISSING  # psycopg 3 / 2
