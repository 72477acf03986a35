"""Gateway mode's second leg: delivering the notification a settled relay order owes its panel.

``settle()`` writes one outbox row (``panelpay_deliveries``) in the credit's transaction. From then on:

1. **Claim.** A deliverer takes a due row with one conditional UPDATE (pending, due, no live lease): on
   every database exactly one caller wins, so one order never has two attempts in flight, however many
   deliverers run (the app's own thread in each worker, ``flask panelpay deliver`` from cron). The lease
   outlives the HTTP timeout; a deliverer killed mid-attempt leaves a lease that simply runs out.
2. **Attempt.** A GET to the panel's notify URL (old New-API takes only GET), signed with the merchant's
   key, ``name``/``money``/``param`` echoed byte for byte (:func:`panelpay.relay.notification`). Only a
   body of ``success`` delivers; every answer is logged (``panelpay_delivery_attempts``) with what it means.
3. **Record.** Delivered, or the next attempt scheduled (:data:`SCHEDULE`, about a day, like EPay's and
   Alipay's); after the last one the delivery is ``failed`` and the operator alerted.
4. **Confirm by read** (merchants with a read-only URL of the panel's database): a little after delivery,
   check that the panel really applied it (Xboard ``v2_order.status`` 1 or 3, New-API ``top_ups.status``
   ``success``); if not, deliver once more, then alert "answered success but did not apply it".

A panel gets the same notification again only when an attempt's answer was lost; both panels treat a
second copy of a paid order as done (Xboard: not pending → ``success``; New-API: not pending → nothing).
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import current_app
from sqlalchemy import create_engine, or_, select, text, update

from . import merchants, relay
from .db import TransientError, transient_errors
from .models import DELIVERED, DELIVERING, UNDELIVERED, Delivery, Merchant, Order, storable_text, utcnow
from .panel_calls import call_panel, describe
from .signals import emit, panel_notification_failed

log = logging.getLogger("panelpay")

#: Waits after each failed attempt: seconds, minutes, hours; about a day in all.
SCHEDULE = tuple(timedelta(seconds=s) for s in (15, 60, 240, 600, 1800, 3600, 7200, 21600, 54000))
#: How long after delivery confirm by read looks (New-API answers ``success`` before it writes).
CONFIRM_AFTER = timedelta(seconds=3)
BATCH = 50
#: Attempts one run makes at once.
PARALLEL = 4


def _claim(state, delivery_id: int, now):
    """Take ``delivery_id`` for one attempt: the lease it now holds, or None when it is not due or another
    deliverer has it. The lease outlives the longest call (:func:`~panelpay.panel_calls.call_panel`)."""
    lease = now + timedelta(seconds=2 * state.settings.http_timeout + 30)
    with transient_errors(), state.engine.begin() as connection:
        won = connection.execute(
            update(Delivery.__table__)
            .where(Delivery.id == delivery_id, Delivery.status == DELIVERING, Delivery.next_attempt_at <= now,
                   or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
            .values(lease_until=lease, attempts=Delivery.attempts + 1)).rowcount == 1
    return lease if won else None


def attempt(state, delivery: Delivery, now) -> str:
    """Claim ``delivery`` and make one attempt; its classification ("" when another deliverer has it)."""
    lease = _claim(state, delivery.id, now)
    if lease is None:
        return ""
    with transient_errors(), state.session() as session:
        attempts = session.get(Delivery, delivery.id).attempts  # this one included, whoever made the others
        order = session.get(Order, delivery.order_id)
        merchant = session.get(Merchant, delivery.merchant_id)
    url = json.loads(order.relay or "{}")["notify_url"]
    classification, found = call_panel(state, merchant, url, relay.notification(state, order, merchant),
                                       purpose="deliver", delivery_id=delivery.id, order_id=order.id,
                                       refused=merchants.notify_url_refusal(state, merchant, url))
    outcome = describe(classification, found)
    values = {"lease_until": None, "last_outcome": storable_text(outcome)}
    if classification == "delivered":
        values.update(status=DELIVERED, delivered_at=now)
    elif attempts > len(SCHEDULE):
        values.update(status=UNDELIVERED)
    else:
        values.update(next_attempt_at=now + SCHEDULE[attempts - 1])
    with transient_errors(), state.engine.begin() as connection:
        kept = connection.execute(update(Delivery.__table__).where(Delivery.id == delivery.id,
                                                                   Delivery.lease_until == lease)
                                  .values(**values)).rowcount
    if not kept:  # cannot happen within the lease; say so rather than overwrite another deliverer's claim
        log.warning("delivery %s: the attempt outlived its lease; its result is logged, not recorded", delivery.id)
        return classification
    if values.get("status") == UNDELIVERED:
        reason = f"the panel's notification for {order.out_trade_no} was not delivered after {attempts} attempts: {outcome}"
        log.error("%s", reason)
        emit(panel_notification_failed, current_app._get_current_object(), order=order, reason=reason)
    return classification


def run(state, *, now=None) -> dict:
    """Attempt every due delivery once (first attempts before retries, :data:`PARALLEL` at a time, so one
    slow panel holds up one of them, not everyone), batch after batch until none is due, then read back
    due confirmations. Safe to run at once in several processes. Returns counts by classification.
    ``now``: the time the run takes as now (a test passes a later one instead of waiting for a schedule)."""
    app, fixed = current_app._get_current_object(), now
    counts: Counter = Counter()
    tried: set[int] = set()

    def one(owed: Delivery) -> str:
        with app.app_context():
            return attempt(state, owed, fixed or utcnow())

    with ThreadPoolExecutor(PARALLEL) as pool:
        while True:
            moment = fixed or utcnow()
            with transient_errors(), state.session() as session:
                due = session.execute(
                    select(Delivery).where(Delivery.status == DELIVERING, Delivery.next_attempt_at <= moment,
                                           or_(Delivery.lease_until.is_(None), Delivery.lease_until < moment))
                    .order_by(Delivery.attempts, Delivery.next_attempt_at).limit(BATCH)).scalars().all()
            batch = [owed for owed in due if owed.id not in tried]
            if not batch:
                break
            tried.update(owed.id for owed in batch)
            counts.update(c for c in pool.map(one, batch) if c)
    counts.update(f"confirm_{result}" for result in confirm_due(state, fixed or utcnow()))
    return dict(counts)


# -- confirm by read -------------------------------------------------------------------------------------

#: What each panel's table says of an order: (the orders it covers, the query, applied and cancelled statuses).
#: New-API's subscriptions (``SUBUSR…``) are in another table, whose shape panels.md does not give: unchecked.
CONFIRM_QUERIES = {
    "xboard": ("", "SELECT status FROM v2_order WHERE trade_no = :out_trade_no", {1, 3}, {2}),
    "newapi": ("USR", "SELECT status FROM top_ups WHERE trade_no = :out_trade_no", {"success"}, set()),
}
#: Seconds to wait for the panel's database to answer a connection.
CONNECT_TIMEOUT = 5


def confirm_due(state, now) -> list[str]:
    """Read back delivered orders of merchants that gave a read-only database URL, oldest first."""
    with transient_errors(), state.session() as session:
        rows = session.execute(
            select(Delivery, Merchant).join(Merchant, Merchant.id == Delivery.merchant_id)
            .where(Delivery.status == DELIVERED, Delivery.confirmed.is_(None) | (Delivery.confirmed == "redelivered"),
                   Delivery.delivered_at <= now - CONFIRM_AFTER, Merchant.confirm_url != "")
            .order_by(Delivery.delivered_at).limit(BATCH)).all()
    return [confirm(state, delivery, merchant, now) for delivery, merchant in rows]


def confirm(state, delivery: Delivery, merchant: Merchant, now) -> str:
    """Whether the panel applied a delivered notification: applied, cancelled, redelivered, not_applied,
    unchecked (an order the profile cannot read) or unreadable (the database did not answer: logged, not
    retried; the delivery itself is done). Each result is written once, by whichever deliverer gets there
    first; only that one alerts."""
    with transient_errors(), state.session() as session:
        order = session.get(Order, delivery.order_id)
    covers, query, applied, cancelled = CONFIRM_QUERIES[merchant.confirm_profile]
    status = None
    if not order.out_trade_no.startswith(covers):
        result = "unchecked"
    else:
        url = merchants.confirm_url_of(state, merchant)
        timeout = {"sqlite": {"timeout": CONNECT_TIMEOUT}}.get(url.split(":", 1)[0].split("+")[0],
                                                                  {"connect_timeout": CONNECT_TIMEOUT})
        engine = create_engine(url, connect_args=timeout)
        try:
            with engine.connect() as connection:
                status = connection.execute(text(query), {"out_trade_no": order.out_trade_no}).scalar()
            result = "applied" if status in applied else "cancelled" if status in cancelled else \
                "redelivered" if delivery.confirmed is None else "not_applied"
        except Exception as exc:  # noqa: BLE001 - the panel's database is outside; say so, never fail the run
            log.warning("confirm by read for %s: the panel's database cannot be read (%s)", order.out_trade_no,
                        type(exc).__name__)
            result = "unreadable"
        finally:
            engine.dispose()
    values = {"confirmed": result}
    if result == "redelivered":  # once more: the panel may have lost its write after answering
        values.update(status=DELIVERING, next_attempt_at=now)
    with transient_errors(), state.engine.begin() as connection:
        won = connection.execute(update(Delivery.__table__).where(
            Delivery.id == delivery.id, Delivery.status == DELIVERED,
            Delivery.confirmed.is_(None) if delivery.confirmed is None else Delivery.confirmed == delivery.confirmed)
            .values(**values)).rowcount
    if won and result == "cancelled":
        _alert(order, f"the panel had cancelled order {order.out_trade_no} before its payment arrived (paid "
                      f"{order.total:.2f}): it is paid but not applied; refund it or apply it by hand")
    elif won and result == "not_applied":
        _alert(order, f"the panel answered success for order {order.out_trade_no} but did not apply it "
                      f"(its status is {status!r})")
    return result


def _alert(order: Order, reason: str) -> None:
    log.error("%s", reason)
    emit(panel_notification_failed, current_app._get_current_object(), order=order, reason=reason)


# -- in the app ------------------------------------------------------------------------------------------

class Deliverer:
    """The app's own deliverer: a daemon thread that delivers at once after a relay order settles
    (:meth:`wake`) and retries what is due every few seconds while anything is owed; with nothing owed it
    ends, and the next settlement starts it again. ``flask panelpay deliver`` does the same from cron (and
    after a restart); they share the outbox's claims."""

    INTERVAL = 5.0

    def __init__(self, app, state):
        self.app, self.state = app, state
        self.event = threading.Event()
        self.stopped = False
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def wake(self) -> None:
        with self.lock:
            if self.stopped:
                return
            self.event.set()
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="panelpay-deliver", daemon=True)
                self.thread.start()

    def stop(self) -> None:
        """End the thread (after the attempt it may be making); :meth:`wake` no longer starts it."""
        with self.lock:
            self.stopped = True
        self.event.set()

    def _loop(self) -> None:
        while True:
            self.event.wait(self.INTERVAL)
            self.event.clear()
            if self.stopped:
                return
            owed = True
            with self.app.app_context():
                try:
                    run(self.state)
                    owed = _owed(self.state)
                except TransientError as exc:
                    log.warning("delivering to panels: database unavailable (%s)", exc)
                except Exception:  # noqa: BLE001 - the thread must live on; the next pass retries
                    log.exception("delivering to panels failed")
            with self.lock:  # a wake() since the pass began means another pass; else end, and wake() restarts
                if not owed and not self.event.is_set():
                    self.thread = None
                    return


def _owed(state) -> bool:
    """Whether any notification is still to be delivered (or read back)."""
    unconfirmed = (Delivery.status == DELIVERED) & Delivery.confirmed.is_(None) & (Merchant.confirm_url != "")
    with transient_errors(), state.session() as session:
        return session.execute(select(Delivery.id).join(Merchant, Merchant.id == Delivery.merchant_id)
                               .where((Delivery.status == DELIVERING) | unconfirmed).limit(1)).first() is not None
