"""The sandbox itself: credentials, order book, notifier and behaviour switches, and the gateways it plays,
which it knows only through :class:`~.protocol.SandboxGateway`.

:class:`BaseSandbox` plays whatever gateways it is given (:class:`~.bundled.Sandbox` is the one PanelPay
ships). Its HTTP side is each gateway's routes plus the shared :mod:`.cashier` and :mod:`.control`, which
:meth:`BaseSandbox.blueprint` assembles.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from flask import Blueprint

from . import cashier, control
from .behaviour import Behaviour
from .credentials import Credentials, load_or_create
from .ledger import AlreadyPaid, GatewayOrder, Ledger, OrderNotFound, Status, TradeClosed, now
from .notifier import Notifier
from .payloads import with_query
from .protocol import SandboxGateway
from .scheduler import Scheduler
from .web import exempt_from_csrf

#: What a sandbox is given to play a gateway: a SandboxGateway subclass, or any callable building one from
#: the sandbox.
GatewayFactory = Callable[["BaseSandbox"], SandboxGateway]


@dataclass(frozen=True)
class Payment:
    """What paying an order produced: the order and where the buyer's browser goes next (or None)."""

    order: GatewayOrder
    redirect_url: str | None


class BaseSandbox:
    """A sandbox playing ``gateways`` (by default :attr:`GATEWAYS`), each given as a :data:`GatewayFactory`;
    :meth:`add_gateway` adds more. ``state_file`` keeps the generated keys across restarts (a JSON file
    written with mode 0600); ``time_scale`` multiplies the notification retry schedules.

    ``gateways`` maps each gateway's name to it; ``CHANNEL_KINDS`` maps each name :meth:`channel_configs`
    gives to the PanelPay channel kind it configures.
    """

    #: The gateways a sandbox plays unless told otherwise.
    GATEWAYS: tuple[GatewayFactory, ...] = ()

    def __init__(self, state_file: str | os.PathLike | None = None, time_scale: float = 1.0,
                 gateways: Iterable[GatewayFactory] | None = None):
        self.state_file = state_file
        self.behaviour = Behaviour(time_scale)
        self.ledger = Ledger()
        self.scheduler = Scheduler()
        self.notifier = Notifier(self.behaviour, self.scheduler)
        self.gateways: dict[str, SandboxGateway] = {}
        self.CHANNEL_KINDS: Mapping[str, str] = {}
        self._credentials: Credentials | None = None
        self._credentials_lock = threading.Lock()
        for factory in self.GATEWAYS if gateways is None else gateways:
            self.add_gateway(factory)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(state_file={self.state_file!r})"

    @property
    def credentials(self) -> Credentials:
        """The keys, generated (and written to ``state_file``) on first use."""
        if self._credentials is None:
            with self._credentials_lock:
                if self._credentials is None:
                    self._credentials = load_or_create(self.state_file)
        return self._credentials

    # -- wiring -------------------------------------------------------------------------------------
    def add_gateway(self, factory: GatewayFactory) -> SandboxGateway:
        """Play one more gateway, ``factory(self)``, and return it. Its name and channel config names must
        be new to this sandbox; add it before :meth:`blueprint` so that its routes are served."""
        gateway = factory(self)
        if gateway.name in self.gateways:
            raise ValueError(f"the sandbox already plays a gateway named {gateway.name!r}")
        taken = sorted(self.CHANNEL_KINDS.keys() & gateway.channel_kinds.keys())
        if taken:
            raise ValueError(f"channel config names already taken: {', '.join(taken)}")
        self.gateways[gateway.name] = gateway
        self.CHANNEL_KINDS = {**self.CHANNEL_KINDS, **gateway.channel_kinds}
        return gateway

    def gateway_of(self, order: GatewayOrder) -> SandboxGateway:
        """The gateway that placed ``order``."""
        return self.gateways[order.gateway]

    def blueprint(self, name: str = "panelpay_sandbox") -> Blueprint:
        """A Blueprint serving every gateway, the cashier and the test helpers; mount it at any
        ``url_prefix``.

        Gateways post without CSRF tokens, so the blueprint exempts itself from the host app's Flask-WTF
        ``CSRFProtect`` when there is one.
        """
        bp = Blueprint(name, __name__)
        for gateway in self.gateways.values():
            gateway.register(bp)
        cashier.register(bp, self)
        control.register(bp, self)
        bp.record_once(exempt_from_csrf)
        return bp

    def channel_configs(self, base_url: str) -> dict[str, dict[str, str]]:
        """Ready-to-use PanelPay channel configs for a sandbox served at ``base_url`` (prefix included);
        ``CHANNEL_KINDS`` names the kind of each."""
        configs: dict[str, dict[str, str]] = {}
        for gateway in self.gateways.values():
            configs.update(gateway.channel_configs(base_url))
        return configs

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
        """Close an order whose ``expires_at`` has passed; one that was open notifies its closing."""
        with self.ledger.lock:
            if order.status not in (Status.CREATED, Status.WAITING) or not order.expired:
                return
            was_open = order.status == Status.WAITING
            order.status, order.closed_at = Status.CLOSED, order.expires_at
        if was_open:
            self._notify(order, Status.CLOSED)

    def schedule_expiry(self, order: GatewayOrder) -> None:
        if order.expires_at is not None:
            delay = (order.expires_at - now()).total_seconds()
            self.scheduler.call_later(delay + 0.01, lambda: self.refresh(order))

    def open(self, order: GatewayOrder) -> None:
        """The buyer saw the cashier: an order placed from the browser now exists for queries (WAITING)."""
        self.refresh(order)
        with self.ledger.lock:
            if order.status == Status.CREATED:
                order.status, order.opened_at = Status.WAITING, now()
            elif order.status == Status.CLOSED and order.opened_at is None:
                order.opened_at = now()  # seen closed: queries now answer that it is closed

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
            self.gateway_of(order).record_payment(order, pay_type)
        self._notify(order, Status.PAID)
        return Payment(order, self.return_url(order))

    def return_url(self, order: GatewayOrder) -> str | None:
        """Where the browser goes after paying: ``return_url`` with the gateway's signed return parameters."""
        if not order.return_url:
            return None
        params = self.gateway_of(order).return_params(order)
        return None if params is None else with_query(order.return_url, params)

    def cancel_url(self, order: GatewayOrder) -> str | None:
        """Where the cashier's Cancel button goes: back to the merchant, nothing paid."""
        return self.gateway_of(order).cancel_url(order)

    def close_trade(self, order: GatewayOrder) -> None:
        """The merchant closed an open trade; its gateway may notify that."""
        with self.ledger.lock:
            order.status, order.closed_at = Status.CLOSED, now()
        self._notify(order, Status.CLOSED)

    def _notify(self, order: GatewayOrder, status: Status) -> None:
        gateway = self.gateway_of(order)
        notice = gateway.notice(order, status)
        if notice is not None:
            self.notifier.submit(gateway, order, notice)

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
