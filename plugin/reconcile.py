"""Reconcile: ask the gateways about pending and recently expired orders, and settle what was paid.

Notifications get lost (a firewall, a CDN, a restart at the wrong second, an EPay site whose cron does not
run), so PanelPay does not wait for them. Rows are claimed in batches (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL and MariaDB, a conditional lease update on SQLite), so several reconcile runs at once never
query the same order; gateway calls run with bounded concurrency, one pooled HTTP session per channel, a
per-gateway rate limit, and retries with backoff. A gateway that is down is reported, not fatal.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from . import spool
from .channels.base import GatewayError, PaymentStatus
from .db import TransientError, transient_errors
from .models import CLOSED, EXPIRED, PENDING, Channel, Notification, Order, utcnow
from .orders import settle_report
from .replay import resolve_unjudged
from .settle import CREDITED
from .signals import channel_silent, emit
from .store import channel_impl, gateway_urls

log = logging.getLogger("panelpay")

BATCH = 200
LEASE = timedelta(minutes=5)
#: How often an order is asked about, by its age: recent orders often (a payment is most likely then),
#: older ones rarely. (age below, at most once per) — about 95 queries over a day instead of 1,440.
BACKOFF = ((timedelta(minutes=10), timedelta(seconds=30)), (timedelta(hours=1), timedelta(minutes=2)),
           (timedelta(hours=6), timedelta(minutes=10)), (None, timedelta(hours=1)))
RETRIES = (0.2, 1.0)


@dataclass
class Summary:
    """What one run did. ``gateway_errors``: channel uuid → the last error its gateway gave."""

    queried: int = 0
    #: Orders in reconcile's scope that were not due: asked recently (see BACKOFF), or claimed by another run.
    skipped: int = 0
    paid: int = 0
    pending: int = 0
    expired: int = 0
    errors: int = 0
    spooled: int = 0
    gateway_errors: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"queried": self.queried, "skipped": self.skipped, "paid": self.paid, "pending": self.pending,
                "expired": self.expired,
                "errors": self.errors, "spooled": self.spooled, "gateway_errors": dict(self.gateway_errors)}


class RateLimit:
    """At most ``rate`` calls per second to one gateway host, shared by the run's threads."""

    def __init__(self, rate: int):
        self.interval = 1.0 / rate
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            delay = self.next - now
            self.next = max(now, self.next) + self.interval
        if delay > 0:
            time.sleep(delay)


def _scope(state, now, *, expired_only: bool):
    """Which orders a run looks at: pending ones (past expiry only, for ``expire``) and, for reconcile,
    those expired within ``PANELPAY_RECONCILE_WINDOW`` (a late payment is still money received)."""
    if expired_only:
        return and_(Order.status == PENDING, Order.expires_at < now)
    window = now - timedelta(seconds=state.settings.reconcile_window)
    return or_(Order.status == PENDING, and_(Order.status == EXPIRED, Order.expires_at > window))


def _due(now, started):
    """Orders due for a query now: never asked, or asked longer ago than :data:`BACKOFF` says for their age
    (and not yet by this run)."""
    schedule, younger_than = [], None
    for age, every in BACKOFF:
        older = True if younger_than is None else Order.created_at <= now - younger_than
        younger = True if age is None else Order.created_at > now - age
        schedule.append(and_(older, younger, Order.queried_at < min(started, now - every)))
        younger_than = age
    return or_(Order.queried_at.is_(None), *schedule)


def _claim(state, started, *, expired_only: bool) -> list[int]:
    """Claim up to BATCH due orders for this run. No other run can claim them until the lease ends; once
    queried, an order is not queried again by this run, nor by any other before :data:`BACKOFF` says."""
    now = utcnow()
    due = and_(or_(Order.lease_until.is_(None), Order.lease_until < now), _due(now, started))
    scope = _scope(state, now, expired_only=expired_only)
    with transient_errors(), state.session() as session, session.begin():
        query = select(Order.id).where(scope, due).order_by(Order.id).limit(BATCH)
        dialect = session.get_bind().dialect.name
        if dialect != "sqlite":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.execute(query).scalars())
        if not ids:
            return []
        claim = update(Order).where(Order.id.in_(ids)).values(lease_until=now + LEASE, queried_at=now)
        if dialect == "sqlite":
            # SQLite serialises writers: the condition makes the claim atomic without row locks.
            claimed = []
            for order_id in ids:
                result = session.execute(claim.where(Order.id == order_id, due)
                                         .execution_options(synchronize_session=False))
                if result.rowcount == 1:
                    claimed.append(order_id)
            return claimed
        session.execute(claim.execution_options(synchronize_session=False))
        return ids


def _release(state, order_ids: list[int]) -> None:
    """End this run's claim on a batch (in one statement; settled and expired rows are already free)."""
    with transient_errors(), state.session() as session, session.begin():
        session.execute(update(Order).where(Order.id.in_(order_ids)).values(lease_until=None)
                        .execution_options(synchronize_session=False))


def _query(state, order: Order, limits: dict) -> object:
    """Query one order with the gateway's rate limit and retries with backoff on transient errors."""
    impl = channel_impl(state, order.channel)
    host = urlsplit((gateway_urls(state, order.channel) or [""])[0]).netloc
    limit = limits.setdefault(host, RateLimit(state.settings.gateway_rate_limit))
    for delay in (*RETRIES, None):
        limit.wait()
        try:
            return impl, impl.query(order.trade_no)
        except GatewayError as exc:
            if not exc.transient or delay is None:
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


def _handle(state, order: Order, limits: dict) -> str:
    """Query, settle or expire one claimed order; returns paid, pending or expired. Raises GatewayError."""
    impl, report = _query(state, order, limits)
    settlement = settle_report(order, impl, report, "reconcile")
    if settlement is not None:
        return "paid" if settlement.outcome == CREDITED else "pending"
    if order.status == PENDING and order.expires_at < utcnow():
        if report.status in (PaymentStatus.PENDING, PaymentStatus.NOT_FOUND):
            try:
                impl.close(order.trade_no)
            except GatewayError as exc:
                log.info("could not close %s at the gateway: %s", order.trade_no, exc)
        _expire(state, order.id, CLOSED if report.status is PaymentStatus.CLOSED else EXPIRED)
        return "expired"
    return "pending"


def _expire(state, order_id: int, status: str) -> None:
    """Mark an order expired (or closed), only if it is still pending: a payment settled meanwhile by a
    notification or the user's query wins."""
    with transient_errors(), state.session() as session, session.begin():
        session.execute(update(Order).where(Order.id == order_id, Order.status == PENDING)
                        .values(lease_until=None, status=status).execution_options(synchronize_session=False))


def run(state, *, expired_only: bool = False, progress: Callable[[int], None] | None = None) -> Summary:
    """One reconcile pass over every due order (claimed batch by batch). Safe to run concurrently."""
    app = current_app._get_current_object()
    started = utcnow()
    summary = Summary()
    summary.spooled = sum(spool.drain(state).values()) if spool.pending(state) else 0
    resolve_unjudged(state)
    limits: dict = {}
    credited_by_channel: Counter = Counter()
    in_scope = due_count(state, expired_only=expired_only)

    def work(order: Order) -> tuple[str, Order, str | None]:
        with app.app_context():
            try:
                return _handle(state, order, limits), order, None
            except GatewayError as exc:
                return "error", order, str(exc)
            except TransientError as exc:
                return "error", order, f"database: {exc}"
            except Exception as exc:  # noqa: BLE001 - one order's failure never stops the run
                log.exception("reconcile of order %s failed", order.trade_no)
                return "error", order, f"order {order.trade_no} could not be checked ({type(exc).__name__}); " \
                                       "the log has the details"

    with ThreadPoolExecutor(max_workers=state.settings.reconcile_concurrency) as pool:
        while True:
            ids = _claim(state, started, expired_only=expired_only)
            if not ids:
                break
            with transient_errors(), state.session() as session:
                orders = session.execute(select(Order).where(Order.id.in_(ids))).scalars().all()
            try:
                results = list(pool.map(work, orders))
            finally:
                _release(state, ids)
            for outcome, order, error in results:
                summary.queried += 1
                counter = "errors" if outcome == "error" else outcome
                setattr(summary, counter, getattr(summary, counter) + 1)
                state.metrics.reconcile.labels(outcome).inc()
                if outcome == "paid":
                    credited_by_channel[order.channel.uuid] += 1
                if error:
                    summary.gateway_errors[order.channel.uuid] = error
                if progress:
                    progress(1)
    summary.skipped = max(0, in_scope - summary.queried)
    _report_silent_channels(state, app, credited_by_channel)
    return summary


def _report_silent_channels(state, app, credited_by_channel: Counter) -> None:
    """A channel whose payments reconcile had to find, while no notification arrived for a while, has a
    broken callback path: say so."""
    if not credited_by_channel:
        return
    since = utcnow() - timedelta(seconds=state.settings.notify_silence)
    with transient_errors(), state.session() as session:
        for uuid, count in credited_by_channel.items():
            last = session.execute(select(func.max(Notification.received_at))
                                   .where(Notification.channel_uuid == uuid, Notification.verdict == "accepted")
                                   ).scalar()
            if last is None or last < since:
                channel = session.execute(select(Channel).where(Channel.uuid == uuid)).scalar_one()
                log.warning("channel %s (%s): %d payment(s) found by reconcile, no notification since %s",
                            channel.name, uuid, count, last or "ever")
                emit(channel_silent, app, channel_uuid=uuid, paid_without_notify=count, last_notification_at=last)


def due_count(state, *, expired_only: bool = False) -> int:
    """How many orders a run would look at now (for the progress bar)."""
    scope = _scope(state, utcnow(), expired_only=expired_only)
    with transient_errors(), state.session() as session:
        return session.execute(select(func.count()).select_from(Order).where(scope)).scalar_one()
