"""The :class:`Sandbox`: PanelPay's own EPay and Alipay gateway, protocol-faithful, quirks included.

It holds the merchant credentials, the order book, the notifier and the behaviour switches; the HTTP
side lives in the route modules (``epay_v1``, ``epay_v2``, ``alipay_gateway``, ``cashier``, ``control``)
that :meth:`Sandbox.blueprint` assembles.
"""
from __future__ import annotations

import os
import secrets
import threading
import uuid
from dataclasses import dataclass

from flask import Blueprint, request

from . import alipay_gateway, cashier, control, epay_v1, epay_v2, payloads
from .behaviour import Behaviour
from .configs import channel_configs
from .credentials import Credentials, load_or_create
from .ledger import AlreadyPaid, GatewayOrder, Ledger, OrderNotFound, Status, TradeClosed, now, random_digits
from .merchants import ALIPAY_APP_ID, ALIPAY_SELLER_ID, EPAY_PID, EPAY_TYPES
from .notifier import Notifier
from .scheduler import Scheduler


def _exempt_from_csrf(state) -> None:
    """Gateways and the cashier post without CSRF tokens: exempt this blueprint from Flask-WTF's
    ``CSRFProtect`` (``app.extensions["csrf"]``), whether it is set up before or after the mount. The hook
    runs first among the app's ``before_request`` functions, ahead of CSRFProtect's check."""
    app, blueprint = state.app, state.blueprint

    def exempt_sandbox_requests() -> None:
        csrf = app.extensions.get("csrf")
        if csrf is not None and hasattr(csrf, "exempt") and request.blueprint == state.name:
            csrf.exempt(blueprint)

    app.before_request_funcs.setdefault(None, []).insert(0, exempt_sandbox_requests)


@dataclass(frozen=True)
class Payment:
    """What paying an order produced: the order and where the buyer's browser goes next (or None)."""

    order: GatewayOrder
    redirect_url: str | None


class Sandbox:
    """One sandbox gateway. ``state_file`` keeps the generated keys across restarts (a JSON file written
    with mode 0600); ``time_scale`` multiplies the notification retry schedules."""

    EPAY_PID = EPAY_PID
    ALIPAY_APP_ID = ALIPAY_APP_ID
    ALIPAY_SELLER_ID = ALIPAY_SELLER_ID
    #: channel_configs() name -> the PanelPay channel kind it configures.
    CHANNEL_KINDS = {"epay": "epay", "epay_mapi": "epay", "epay_rsa": "epay", "alipay": "alipay",
                     "alipay_wap": "alipay", "alipay_qr": "alipay", "alipay_cert": "alipay"}

    def __init__(self, state_file: str | os.PathLike | None = None, time_scale: float = 1.0):
        self.state_file = state_file
        self.behaviour = Behaviour(time_scale)
        self.ledger = Ledger()
        self.scheduler = Scheduler()
        self.notifier = Notifier(self.behaviour, self.scheduler)
        self._credentials: Credentials | None = None
        self._credentials_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Sandbox(state_file={self.state_file!r})"

    @property
    def credentials(self) -> Credentials:
        """The keys, generated (and written to ``state_file``) on first use."""
        if self._credentials is None:
            with self._credentials_lock:
                if self._credentials is None:
                    self._credentials = load_or_create(self.state_file)
        return self._credentials

    # -- wiring -------------------------------------------------------------------------------------
    def blueprint(self, name: str = "panelpay_sandbox") -> Blueprint:
        """A Blueprint serving the whole gateway; mount it at any ``url_prefix``.

        Gateways post without CSRF tokens, so the blueprint exempts itself from the host app's Flask-WTF
        ``CSRFProtect`` when there is one.
        """
        bp = Blueprint(name, __name__)
        for module in (epay_v1, epay_v2, alipay_gateway, cashier, control):
            module.register(bp, self)
        bp.record_once(_exempt_from_csrf)
        return bp

    def channel_configs(self, base_url: str) -> dict[str, dict[str, str]]:
        """Ready-to-use PanelPay channel configs for a sandbox served at ``base_url`` (prefix included);
        :attr:`CHANNEL_KINDS` names the kind of each."""
        return channel_configs(self.credentials, base_url)

    # -- the order lifecycle ------------------------------------------------------------------------
    def order(self, ref: str) -> dict | None:
        """A snapshot of the order with this gateway id or ``out_trade_no``."""
        order = self.lookup(ref)
        return order.snapshot() if order else None

    def lookup(self, ref: str) -> GatewayOrder | None:
        order = self.ledger.get(ref)
        if order is not None:
            self.refresh(order)
        return order

    def refresh(self, order: GatewayOrder) -> None:
        """Close an order whose ``time_expire`` has passed (an opened Alipay trade notifies TRADE_CLOSED)."""
        with self.ledger.lock:
            if order.status not in (Status.CREATED, Status.WAITING) or not order.expired:
                return
            was_open = order.status == Status.WAITING
            order.status, order.closed_at = Status.CLOSED, order.expires_at
        if was_open and order.gateway == "alipay":
            self._notify_alipay(order, "TRADE_CLOSED")

    def schedule_expiry(self, order: GatewayOrder) -> None:
        if order.expires_at is not None:
            delay = (order.expires_at - now()).total_seconds()
            self.scheduler.call_later(delay + 0.01, lambda: self.refresh(order))

    def open(self, order: GatewayOrder) -> None:
        """The buyer saw the cashier: an Alipay page/wap trade now exists (WAIT_BUYER_PAY)."""
        self.refresh(order)
        with self.ledger.lock:
            if order.status == Status.CREATED:
                order.status, order.opened_at = Status.WAITING, now()
            elif order.status == Status.CLOSED and order.opened_at is None:
                order.opened_at = now()  # seen closed: the query now answers TRADE_CLOSED

    def pay(self, ref: str, pay_type: str | None = None) -> Payment:
        """What the cashier's Pay button does: mark paid, queue the notification, build the return URL.

        Raises :class:`OrderNotFound`, :class:`TradeClosed` or :class:`AlreadyPaid`.
        """
        order = self.lookup(ref)
        if order is None:
            raise OrderNotFound(f"no order {ref}")
        with self.ledger.lock:
            if order.status == Status.CLOSED:
                raise TradeClosed("交易已经关闭 (the trade is closed)")
            if order.status == Status.PAID:
                raise AlreadyPaid("该订单已完成支付 (already paid)")
            if order.status == Status.CREATED:
                order.opened_at = now()
            order.status, order.paid_at = Status.PAID, now()
            if order.gateway == "epay":
                if not order.pay_type:
                    order.pay_type = pay_type if pay_type in EPAY_TYPES else "alipay"
                order.api_trade_no = self.ledger.new_alipay_trade_no()
                order.buyer_id = "2088" + random_digits(12)
            else:
                order.buyer_id = "2088" + random_digits(12)
                order.buyer_logon_id = "sbx***@sandbox.panelpay.test"
        if order.gateway == "epay":
            self.notifier.submit("epay", order.id, order.out_trade_no, "TRADE_SUCCESS", order.notify_url,
                                 lambda: self._epay_params(order))
        else:
            self._notify_alipay(order, "TRADE_SUCCESS")
        return Payment(order, self.return_url(order))

    def return_url(self, order: GatewayOrder) -> str | None:
        """Where the browser goes after paying: ``return_url`` with the signed return parameters."""
        if not order.return_url:
            return None
        if order.gateway == "epay":
            return payloads.with_query(order.return_url, self._epay_params(order))
        if order.product == "precreate":
            return None
        return payloads.with_query(order.return_url, payloads.alipay_return(order, self.credentials))

    def cancel_url(self, order: GatewayOrder) -> str | None:
        """Where the cashier's Cancel button goes: back to the merchant, nothing paid."""
        if order.gateway == "alipay" and order.product == "wap" and order.quit_url:
            return order.quit_url
        return order.return_url or None

    def close_trade(self, order: GatewayOrder) -> None:
        """The merchant closed an open trade (``alipay.trade.close``); notifies TRADE_CLOSED."""
        with self.ledger.lock:
            order.status, order.closed_at = Status.CLOSED, now()
        if order.gateway == "alipay":
            self._notify_alipay(order, "TRADE_CLOSED")

    def _epay_params(self, order: GatewayOrder) -> dict[str, str]:
        return payloads.epay_payment_params(order, self.credentials, legacy_money=self.behaviour.legacy_money)

    def _notify_alipay(self, order: GatewayOrder, event: str) -> None:
        notify_id = uuid.uuid4().hex + secrets.token_hex(2)
        self.notifier.submit("alipay", order.id, order.out_trade_no, event, order.notify_url,
                             lambda: payloads.alipay_notification(order, event, notify_id, self.credentials),
                             notify_id=notify_id)

    # -- test helpers -------------------------------------------------------------------------------
    def deliveries(self, out_trade_no: str) -> list[dict]:
        """Every notification attempt for the order: time, method, status, body snippet, accepted."""
        return self.notifier.deliveries(out_trade_no)

    def wait_for_deliveries(self, out_trade_no: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        return self.notifier.wait_for(out_trade_no, count, timeout)

    def reset(self) -> None:
        """Forget every order, notification and switch (keys stay)."""
        self.scheduler.cancel_all()
        self.notifier.clear()
        self.ledger.clear()
        self.behaviour.reset()

    def shutdown(self) -> None:
        """Stop the notifier threads (a stopped sandbox sends nothing more)."""
        self.scheduler.close()
