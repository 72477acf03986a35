"""Creating top-up orders and asking the gateway about them."""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from flask import url_for
from sqlalchemy import func, or_, select, update

from . import callback
from .channels.base import GatewayError, PaymentStatus, PayRequest
from .db import transient_errors
from .models import ANOMALY, CLOSED, PENDING, TRADE_NO, Channel, Order, storable_text, utcnow
from .callback import translate as _
from .money import fee_for, format_money
from .settle import Evidence, Settlement, settle
from .store import NotFound, channel_impl, get_settings

log = logging.getLogger("panelpay")


class OrderRefused(ValueError):
    """A top-up that cannot be created: ``code`` for the API, ``field`` when one input is to blame."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None, status: int = 422):
        super().__init__(message)
        self.code = code
        self.field = field
        self.status = status


@dataclass(frozen=True)
class Quote:
    amount: Decimal
    fee: Decimal
    total: Decimal


def quote(channel: Channel, amount: Decimal) -> Quote:
    """The fee and total for ``amount`` on ``channel``, exactly as the order will be created."""
    fee = fee_for(amount, channel.fee_fixed, channel.fee_percent)
    return Quote(amount, fee, amount + fee)


def new_trade_no() -> str:
    """``PP`` + UTC timestamp + 10 random digits: unique, sortable, and valid for EPay and Alipay."""
    return "PP" + utcnow().strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**10):010d}"


def notify_url_for(state, channel: Channel, global_domain: str | None) -> str:
    """The notify URL a new order of ``channel`` is issued with (the one place it is computed)."""
    url = callback.notify_url(state, channel, global_domain)
    if url is None:
        raise OrderRefused(_("Top-ups cannot start: the site's public address is not configured. Tell the operator "
                             "(PANELPAY_SITE_URL)."), code="misconfigured", status=503)
    return url


def create_order(state, *, user_id: str, channel_uuid: str, amount: Decimal, client_ip: str, mobile: bool) -> Order:
    """Create a pending order, then ask the channel how to pay it. Raises :class:`OrderRefused`.

    The order row is committed before the gateway is called, so a notification can never arrive for an
    order PanelPay does not know. If the gateway refuses, the order is closed and the refusal explained.
    """
    with transient_errors():
        settings = get_settings(state)
        if not settings["enabled"]:
            raise OrderRefused(_("Top-ups are paused by the operator. Please try again later."), code="disabled",
                               status=409)
        with state.session() as session:
            channel = session.execute(select(Channel).where(Channel.uuid == channel_uuid)).scalar_one_or_none()
        if channel is None or not channel.enabled or channel.kind not in state.channel_kinds:
            raise OrderRefused(_("This payment method is not available. Choose another one."), code="channel",
                               field="channel")
        lowest, highest = limits(state, channel)
        symbol = state.settings.currency_symbol
        if amount < lowest:
            raise OrderRefused(_("The smallest top-up with %(channel)s is %(amount)s.", channel=channel.name,
                                 amount=symbol + format_money(lowest)), field="amount")
        if amount > highest:
            raise OrderRefused(_("The largest top-up with %(channel)s is %(amount)s.", channel=channel.name,
                                 amount=symbol + format_money(highest)), field="amount")
        priced = quote(channel, amount)
        now = utcnow()
        _within_order_limit(state, session_user=user_id, now=now)
        order = Order(
            trade_no=new_trade_no(),
            user_id=user_id,
            channel_id=channel.id,
            channel_name=channel.name,
            amount=priced.amount,
            fee=priced.fee,
            total=priced.total,
            credit=priced.amount,
            status=PENDING,
            notify_url=notify_url_for(state, channel, settings["callback_domain"]),
            subject=f"Top-up {priced.amount:.2f}",
            client_ip=client_ip[:64],
            created_at=now,
            expires_at=now + timedelta(seconds=state.settings.order_ttl),
        )
    return open_order(state, order, channel, mobile)


def open_order(state, order: Order, channel: Channel, mobile: bool) -> Order:
    """Commit a new order's row, then ask its channel how to pay it (a top-up's, or a relay order's in
    gateway mode). The row is committed before the gateway is called, so a notification can never arrive
    for an order PanelPay does not know. If the gateway refuses, the order is closed and the refusal
    explained (:class:`OrderRefused`). A relay order whose (merchant, out_trade_no) exists already raises
    IntegrityError, before any gateway is called."""
    with transient_errors(), state.session() as session, session.begin():
        session.add(order)
    return ask_gateway(state, order, channel, mobile)


def ask_gateway(state, order: Order, channel: Channel, mobile: bool) -> Order:
    """Ask the channel how to pay a pending order whose row is committed, and keep its answer (see
    :func:`open_order`)."""
    try:
        action = channel_impl(state, channel).create(_pay_request(state, order, channel, mobile))
    except GatewayError as exc:
        # The detail is the operator's (the log, and the order's note in the admin pages); the user is told
        # what happened and what to do. The order is closed: it can never be paid.
        log.warning("gateway refused order %s on channel %s: %s", order.trade_no, channel.uuid, exc)
        with transient_errors(), state.session() as session, session.begin():
            session.execute(update(Order).where(Order.id == order.id, Order.status == PENDING)
                            .values(status=CLOSED, anomaly=storable_text(f"gateway refused: {exc}")))
        raise OrderRefused(_("The payment gateway did not accept this top-up. Try another amount or payment "
                             "method, or try again in a few minutes."), code="gateway", status=502) from exc
    with transient_errors(), state.session() as session, session.begin():
        session.execute(
            update(Order).where(Order.id == order.id)
            .values(pay=json.dumps(action.as_dict()), gateway_trade_no=action.gateway_trade_no)
        )
    return load_order(state, order.trade_no)


def limits(state, channel: Channel) -> tuple[Decimal, Decimal]:
    """The smallest and largest top-up ``channel`` takes: its own minimum and maximum, the site's
    PANELPAY_MAX_AMOUNT, and what its gateway takes for one payment."""
    cls = state.channel_kinds.get(channel.kind)
    kind_min, kind_max = cls.amount_limits if cls is not None else (Decimal("0.01"), None)
    return max(channel.min_amount, kind_min), min(m for m in (channel.max_amount, state.settings.max_amount, kind_max)
                                                  if m is not None)


#: The window the per-user order limit (PANELPAY_ORDERS_PER_USER) counts in.
ORDER_WINDOW = timedelta(minutes=10)


def _within_order_limit(state, *, session_user: str, now) -> None:
    """Refuse a new order (429) when the user created PANELPAY_ORDERS_PER_USER of them in the last 10
    minutes: each order may call the gateway, so one account must not be able to multiply those calls."""
    limit = state.settings.orders_per_user
    with state.session() as session:
        recent = session.execute(select(func.count()).select_from(Order).where(
            Order.user_id == session_user, Order.created_at > now - ORDER_WINDOW)).scalar_one()
    if recent >= limit:
        raise OrderRefused(_("You have started %(count)s top-ups in the last 10 minutes, the most allowed: pay one "
                             "of them (they stay open), or start a new one in a few minutes.", count=recent),
                           code="too_many_orders", status=429)


def _pay_request(state, order: Order, channel: Channel, mobile: bool) -> PayRequest:
    return_url = callback.default_base(state.settings.site_url) + url_for(
        "panelpay_notify.payment_return", kind=channel.kind, uuid=channel.uuid, trade_no=order.trade_no
    )
    return PayRequest(trade_no=order.trade_no, amount=order.total, subject=order.subject,
                      notify_url=order.notify_url, return_url=return_url, client_ip=order.client_ip or "",
                      expires_at=order.expires_at, mobile=mobile)


def current_payment(state, order: Order) -> dict:
    """How to pay a pending order now: a signed form is signed again where that needs no gateway call
    (a signature's timestamp goes stale: EPay v2 refuses one older than 300 seconds); anything else is
    what the gateway answered at creation."""
    pay = json.loads(order.pay or "{}") or {}
    if order.status == PENDING and pay.get("method") == "form":
        impl = channel_impl(state, order.channel)
        if impl.offline_create:
            try:
                pay = impl.create(_pay_request(state, order, order.channel, False)).as_dict()
            except GatewayError as exc:
                log.warning("could not sign the payment form of %s again: %s", order.trade_no, exc)
    return pay


def load_order(state, trade_no: str, *, user_id: str | None = None) -> Order:
    """An order by trade number; with ``user_id``, only if it belongs to that user (else NotFound)."""
    if not TRADE_NO.fullmatch(trade_no):  # cannot be ours; and some drivers refuse NUL outright
        raise NotFound("no such order")
    with transient_errors(), state.session() as session:
        query = select(Order).where(Order.trade_no == trade_no)
        if user_id is not None:
            query = query.where(Order.user_id == user_id)
        order = session.execute(query).scalar_one_or_none()
    # Compared exactly: MySQL's default collation ignores case ("pp…" would find "PP…").
    if order is None or order.trade_no != trade_no or (user_id is not None and order.user_id != user_id):
        raise NotFound("no such order")
    return order


def sync_order(state, order: Order, *, source: str = "query") -> Settlement | None:
    """Ask the gateway about one order now and settle it if paid (the single-order active query).

    Used by the "I have paid" button and the return route. Returns the settlement when the gateway says
    paid, else None. Raises :class:`GatewayError` when the gateway cannot answer, and :class:`OrderRefused`
    (429) when it was asked about this order less than PANELPAY_CHECK_INTERVAL seconds ago.
    """
    impl = channel_impl(state, order.channel)
    now = utcnow()
    interval = timedelta(seconds=state.settings.check_interval)
    with transient_errors(), state.session() as session, session.begin():
        claimed = session.execute(  # one query per order per interval, however many clicks or workers
            update(Order).where(Order.id == order.id, or_(Order.queried_at.is_(None), Order.queried_at <= now - interval))
            .values(queried_at=now).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise OrderRefused(_("The payment gateway was asked about this order moments ago: ask again in %(seconds)s "
                             "seconds.", seconds=state.settings.check_interval), code="too_soon", status=429)
    report = impl.query(order.trade_no)
    return settle_report(order, impl, report, source)


def settle_report(order: Order, impl, report, source: str) -> Settlement | None:
    """Settle ``order`` on what its gateway's query answered: None unless the answer says paid.

    Raises :class:`GatewayError` when the answer is about another order or merchant, or does not state
    the amount (which is then never assumed).
    """
    if report.status is not PaymentStatus.PAID:
        return None
    if report.trade_no != order.trade_no or not impl.owns(report):
        raise GatewayError("the gateway answered about another order or merchant", transient=False)
    if report.amount is None:
        raise GatewayError("the gateway did not state the amount paid", transient=False)
    return settle(order, Evidence(source=source, amount=report.amount, gateway_trade_no=report.gateway_trade_no))


def review(state, order: Order, *, action: str, by: str) -> Settlement | None:
    """An operator's decision on a flagged order, recorded with their name and the time.

    ``reviewed``: the operator looked at it; nothing about the money changes. ``credit``: the order, held as
    an anomaly (an amount that did not match, say), is credited after all, through ``settle()`` with source
    ``manual``, for its total. Raises :class:`OrderRefused` (409) for a credit of an order that is not an
    anomaly; returns the settlement of a credit.
    """
    now = utcnow()
    with transient_errors(), state.session() as session, session.begin():
        values = {"reviewed_by": by[:128], "reviewed_at": now}
        if action == "credit":
            values["status"] = PENDING  # back to settleable, for settle() to decide exactly once
        changed = session.execute(update(Order).where(Order.id == order.id,
                                                      *([Order.status == ANOMALY] if action == "credit" else []))
                                  .values(**values).execution_options(synchronize_session=False)).rowcount
    if action != "credit":
        return None
    if not changed:
        raise OrderRefused(_("Only an order held as an anomaly can be credited by hand."), code="not_anomaly",
                           status=409)
    log.warning("order %s credited by hand by %s after review", order.trade_no, by)
    return settle(load_order(state, order.trade_no), Evidence(source="manual", amount=order.total,
                                                             gateway_trade_no=None))
