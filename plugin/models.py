"""PanelPay's own tables, in their own metadata (never the host's), all prefixed ``panelpay_``.

Money columns use :class:`Money`: ``NUMERIC(14, 2)`` on PostgreSQL and MySQL/MariaDB, integer cents on
SQLite (whose NUMERIC is a float), so every amount is exact on every database.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    bindparam,
    update,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .money import CENT

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Order statuses. ``paid`` is final; ``anomaly`` waits for an operator.
PENDING, PAID, EXPIRED, CLOSED, ANOMALY = "pending", "paid", "expired", "closed", "anomaly"
ORDER_STATUSES = (PENDING, PAID, EXPIRED, CLOSED, ANOMALY)
#: Statuses from which a confirmed payment still settles (a late payment is still money received).
SETTLEABLE = (PENDING, EXPIRED, CLOSED)


#: What an order number can look like (EPay's own rule); anything else cannot name one of our orders.
TRADE_NO = re.compile(r"[A-Za-z0-9._\-|]{1,64}")


def storable_text(text: str, limit: int = 255) -> str:
    """Free text built from what a gateway sent (an outcome, an anomaly's reason), as a text column can
    hold it: at most ``limit`` characters, NUL written as ``\\x00`` (PostgreSQL's text cannot hold it)."""
    return text.replace("\x00", "\\x00")[:limit]


def utcnow() -> datetime:
    """Naive UTC now: every PanelPay timestamp is naive UTC, the same on all three databases."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Money(TypeDecorator):
    """A two-place Decimal; integer cents on SQLite, NUMERIC(14, 2) elsewhere."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(CENT)
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)


class UTCDateTime(TypeDecorator):
    """Naive UTC datetime with microseconds on every database (MySQL needs fsp=6 for that)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())


#: An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Channel(Base):
    """One configured gateway account: an EPay merchant or an Alipay app. Several may share a kind."""

    __tablename__ = "panelpay_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    #: Non-secret config fields, JSON.
    config: Mapped[str] = mapped_column(Text, default="{}")
    #: Secret config fields (keys), JSON sealed by the Vault.
    secrets: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    fee_fixed: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    fee_percent: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    min_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.01"))
    max_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    #: Bumped on every change; caches of the channel's parsed keys are keyed on it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_panelpay_channels_enabled_sort", "enabled", "sort"),)

    def public_config(self) -> dict:
        return json.loads(self.config or "{}")


class Order(Base):
    """A top-up: what the user pays (``total``), and what lands on the balance (``credit``)."""

    __tablename__ = "panelpay_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int] = mapped_column(ForeignKey("panelpay_channels.id"))
    #: The channel's name when the order was made: renaming a channel does not rename its past orders.
    channel_name: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    credit: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    gateway_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The notify URL this order was issued with; it keeps working whatever the domain becomes later.
    notify_url: Mapped[str] = mapped_column(String(512))
    #: How to pay (method, url, fields, qr_code), JSON, as the gateway answered at creation.
    pay: Mapped[str] = mapped_column(Text, default="{}")
    subject: Mapped[str] = mapped_column(String(128), default="")
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_late: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What confirmed the payment: notify, return, query, reconcile, replay or manual.
    settled_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: Why the order needs an operator (amount mismatch, reused gateway trade number, …).
    anomaly: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The operator who reviewed the order's anomaly (marked it reviewed, or settled it by hand), and when.
    reviewed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Reconcile claims a row until this time, so concurrent runs never query it twice.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    queried_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    #: Gateway mode: the merchant (panel) whose order this is, its own order number, and what it submitted
    #: that its notification must carry back (notify and return URL, name, money, param, type), JSON.
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("panelpay_merchants.id"), nullable=True)
    out_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    relay: Mapped[str | None] = mapped_column(Text, nullable=True)

    channel: Mapped[Channel] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("channel_id", "gateway_trade_no"),
        UniqueConstraint("merchant_id", "out_trade_no"),
        Index("ix_panelpay_orders_status_expires_at", "status", "expires_at"),
        Index("ix_panelpay_orders_user_id_created_at", "user_id", "created_at"),
        Index("ix_panelpay_orders_channel_id_status", "channel_id", "status"),
    )


class Merchant(Base):
    """Gateway mode: a panel that uses PanelPay as its EPay site. It signs with ``key`` (sealed by the
    Vault); PanelPay calls or redirects to nothing outside its notify and return hosts."""

    __tablename__ = "panelpay_merchants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    #: The 32-character key, sealed by the Vault.
    key: Mapped[str] = mapped_column(Text)
    #: JSON lists: the hosts the notify and return URLs may use; the channel uuids its cashier offers (empty: all).
    notify_hosts: Mapped[str] = mapped_column(Text, default="[]")
    return_hosts: Mapped[str] = mapped_column(Text, default="[]")
    channels: Mapped[str] = mapped_column(Text, default="[]")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Confirm by read: ``xboard`` or ``newapi``, and a read-only database URL of the panel (sealed), or empty.
    confirm_profile: Mapped[str] = mapped_column(String(16), default="")
    confirm_url: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: Delivery statuses: ``pending`` until the panel answers ``success`` (``delivered``) or the schedule ends (``failed``).
DELIVERING, DELIVERED, UNDELIVERED = "pending", "delivered", "failed"


class Delivery(Base):
    """Gateway mode's outbox: the one notification a settled relay order owes its panel. Written by
    ``settle()`` in the credit's transaction; unique per order."""

    __tablename__ = "panelpay_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("panelpay_orders.id"), unique=True)
    merchant_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=DELIVERING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A deliverer claims the row until this time: never two attempts in flight for one order.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_outcome: Mapped[str] = mapped_column(String(255), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Confirm by read: ``applied``, ``not_applied`` (after one redelivery), ``cancelled`` (the panel had cancelled it).
    confirmed: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_panelpay_deliveries_status_next_attempt_at", "status", "next_attempt_at"),)


class DeliveryAttempt(Base):
    """The delivery log of gateway mode's second leg: every call PanelPay made to a panel (a delivery, a
    doctor's probe), with its answer and what the answer means."""

    __tablename__ = "panelpay_delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    merchant_id: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: ``deliver`` or ``probe``.
    purpose: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answer: Mapped[str] = mapped_column(String(255), default="")
    #: What the answer means (see :mod:`panelpay.delivery`): delivered, html, verify_error, timeout, …
    classification: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_panelpay_delivery_attempts_delivery_id", "delivery_id"),
        Index("ix_panelpay_delivery_attempts_merchant_id_started_at", "merchant_id", "started_at"),
    )


class Notification(Base):
    """The delivery log: every request that reached a notify path, recorded before it is judged."""

    __tablename__ = "panelpay_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel_uuid: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    #: The request's headers as a JSON list of [name, value] pairs (capped; no Cookie).
    headers: Mapped[str] = mapped_column(Text, default="[]")
    query_string: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    content_type: Mapped[str] = mapped_column(String(128), default="")
    source_ip: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: received → accepted | duplicate | ignored | rejected | anomaly | error
    verdict: Mapped[str] = mapped_column(String(16), default="received")
    outcome: Mapped[str] = mapped_column(String(255), default="")
    #: Why the request was refused, in full (``outcome`` is its first line).
    reason: Mapped[str] = mapped_column(Text, default="")
    answer_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answer_body: Mapped[str] = mapped_column(String(255), default="")
    replay_of: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        Index("ix_panelpay_notifications_channel_uuid_received_at", "channel_uuid", "received_at"),
        Index("ix_panelpay_notifications_verdict_received_at", "verdict", "received_at"),
        Index("ix_panelpay_notifications_trade_no", "trade_no"),
        Index("ix_panelpay_notifications_order_id", "order_id"),
    )


class LedgerEntry(Base):
    """One balance credit. Unique per order: the database itself forbids a second credit."""

    __tablename__ = "panelpay_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("panelpay_orders.id"), unique=True)
    user_id: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int] = mapped_column(Integer)
    credit: Mapped[Decimal] = mapped_column(Money)
    #: The credit in the host's unit (cents, quota) when the balance column is an integer.
    units: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gateway_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_panelpay_ledger_user_id", "user_id"),)


class Setting(Base):
    """A plugin-wide setting (``enabled``, ``callback_domain``), JSON value."""

    __tablename__ = "panelpay_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


TABLES = [m.__table__ for m in (Channel, Merchant, Order, Notification, LedgerEntry, Setting, Delivery,
                                 DeliveryAttempt)]

#: Writes a delivery-log row's verdict and answer: executed with ``notification_id`` and the columns to set
#: (the notify flow, and ``settle()`` for a credit, in its transaction).
NOTIFICATION_VERDICT = update(Notification.__table__).where(Notification.__table__.c.id == bindparam("notification_id"))

