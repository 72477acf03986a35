"""What a gateway module supplies to the sandbox: a :class:`SandboxGateway` subclass.

The shared modules (the sandbox itself, its ledger, notifier, scheduler and cashier) never name a gateway.
For an order they ask ``sandbox.gateway_of(order)``, the gateway whose :attr:`~SandboxGateway.name` the
order carries in ``GatewayOrder.gateway``, and call the hooks below. A gateway is built once per sandbox,
with the sandbox as its argument (``sandbox.add_gateway(MyGateway)``); it keeps its orders in
``sandbox.ledger``, nothing per order of its own, and its hooks may run on any thread.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Mapping, Sequence

from flask import Blueprint

from .ledger import GatewayOrder, Status

if TYPE_CHECKING:
    from .gateway import BaseSandbox


@dataclass(frozen=True)
class Notice:
    """One notification a gateway wants delivered: the notifier calls ``params()`` afresh for every attempt
    (a signed payload may carry the time of sending); ``notify_id`` is the same in all of them, or empty."""

    event: str  #: what the delivery log calls it, e.g. the status it reports
    params: Callable[[], dict[str, str]]
    notify_id: str = ""


class SandboxGateway(ABC):
    """One gateway the sandbox plays. Set the class attributes and implement the abstract hooks; hooks with a
    body have a default that suits most gateways."""

    #: The gateway's key, unique in a sandbox: what its orders carry in ``GatewayOrder.gateway``.
    name: ClassVar[str]
    #: How the cashier page names the gateway.
    label: ClassVar[str]
    #: Name of each config :meth:`channel_configs` makes -> the PanelPay channel kind it configures.
    channel_kinds: ClassVar[Mapping[str, str]]
    #: How notifications travel: ``"GET"`` (parameters in the query) or ``"POST"`` (a urlencoded form).
    notify_method: ClassVar[str]
    #: Seconds after the first attempt at which an unaccepted notification is tried again (multiplied by
    #: ``behaviour.time_scale``); after the last one the notifier gives up.
    retry_offsets: ClassVar[tuple[float, ...]]
    #: The ``User-Agent`` of notifications.
    user_agent: ClassVar[str]

    def __init__(self, sandbox: BaseSandbox):
        """Called once, by ``sandbox.add_gateway``; the hooks reach the ledger, credentials and behaviour
        switches through :attr:`sandbox`."""
        self.sandbox = sandbox

    @abstractmethod
    def register(self, bp: Blueprint) -> None:
        """Add the gateway's routes to ``bp``. Called by every ``sandbox.blueprint()``, so possibly more than
        once: must not keep anything per blueprint. Paths and endpoint names must not clash with another
        gateway's, the cashier's (``/cashier/…``) or the test helpers' (``/_…``)."""

    @abstractmethod
    def channel_configs(self, base_url: str) -> dict[str, dict[str, str]]:
        """PanelPay channel configs for this gateway served at ``base_url`` (the blueprint's mount, prefix
        included), one per name in :attr:`channel_kinds`. May read ``sandbox.credentials``; must not touch
        the ledger."""

    @abstractmethod
    def accepts(self, status: int, body: str) -> bool:
        """Whether the merchant's answer (HTTP status, body read up to 64 KiB) acknowledges a notification:
        no more retries. Not called when the request failed; must not block."""

    @abstractmethod
    def notice(self, order: GatewayOrder, status: Status) -> Notice | None:
        """The notification that ``order`` just became ``status``, or None to send nothing. ``status`` is
        PAID (the buyer paid) or CLOSED (an open order was closed by the merchant or by its expiry). Called
        once per change, possibly with the ledger lock held: must not block, and must not send anything
        itself (the notifier does, under the behaviour switches)."""

    def record_payment(self, order: GatewayOrder, pay_type: str | None) -> None:
        """Fill in what paying produced (buyer, upstream trade number, …). ``pay_type`` is what the buyer
        picked among :meth:`pay_types` at the cashier (or ``/_pay``'s ``type``), unchecked, or None. Called
        with the ledger lock held right after ``order`` became PAID: no I/O, no notifications. By default
        nothing is recorded."""

    @abstractmethod
    def return_params(self, order: GatewayOrder) -> dict[str, str] | None:
        """The signed parameters the buyer's browser carries back to ``order.return_url`` once ``order`` is
        paid, or None when this kind of order has no browser return. Called only when ``return_url`` is set,
        possibly again later (the cashier's "back" link); must not change the order."""

    def cancel_url(self, order: GatewayOrder) -> str | None:
        """Where the cashier's Cancel button sends the buyer (nothing paid). Must not change the order.
        By default ``order.return_url``."""
        return order.return_url or None

    @abstractmethod
    def merchant_label(self, order: GatewayOrder) -> str:
        """Who the cashier says is being paid for ``order``."""

    def pay_types(self, order: GatewayOrder) -> Sequence[tuple[str, str]]:
        """``(value, label)`` choices the cashier offers for paying ``order`` (the chosen value reaches
        :meth:`record_payment`). By default none: nothing to choose."""
        return ()
