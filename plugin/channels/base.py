"""The channel interface: everything gateway-specific lives behind it, one module per gateway.

Core code (routes, ``settle()``, reconcile) only ever sees the frozen types below. A channel is built
from one channel row's decrypted config and is cached while that row's revision stays the same, so it
must not keep per-request state.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Mapping

import requests


class PaymentStatus(str, enum.Enum):
    """What a gateway says about one order."""

    PAID = "paid"  #: money received; credit it
    PENDING = "pending"  #: not paid (yet)
    CLOSED = "closed"  #: closed or expired at the gateway; nothing to credit
    REFUNDED = "refunded"  #: paid and then refunded (or frozen); never credit again
    NOT_FOUND = "not_found"  #: the gateway has no such order (Alipay before the buyer opened it)
    IGNORED = "ignored"  #: a notification that reports nothing to act on


class ChannelError(Exception):
    """Base of the errors a channel raises."""


class InvalidNotification(ChannelError):
    """A notification or return that cannot be trusted: retrying the same request cannot help (400)."""


class InvalidSignature(InvalidNotification):
    """The signature does not verify with this channel's key."""


class MalformedNotification(InvalidNotification):
    """Required fields are missing or unreadable."""


class GatewayError(ChannelError):
    """The gateway could not be reached, or refused a request. ``transient``: worth retrying later."""

    def __init__(self, message: str, *, transient: bool = True, code: str | None = None):
        super().__init__(message)
        self.transient = transient
        self.code = code


class ConfigInvalid(ChannelError):
    """A channel config refused at save time. ``fields``: field name → messages saying what and why."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class PayRequest:
    """What core asks a channel to charge. ``amount`` is the order's total (what the gateway charges)."""

    trade_no: str
    amount: Decimal
    subject: str
    notify_url: str
    return_url: str
    client_ip: str
    expires_at: datetime  #: naive UTC
    mobile: bool = False


@dataclass(frozen=True)
class PaymentAction:
    """How the buyer pays: follow ``url`` (redirect), submit ``fields`` to ``url`` (form), or scan ``qr_code``."""

    method: str  #: "redirect" | "form" | "qrcode"
    url: str | None = None
    fields: dict = field(default_factory=dict)
    qr_code: str | None = None
    #: The gateway's trade number when it is known at creation (EPay mapi and v2 create).
    gateway_trade_no: str | None = None

    def as_dict(self) -> dict:
        return {"method": self.method, "url": self.url, "fields": dict(self.fields), "qr_code": self.qr_code}


@dataclass(frozen=True)
class Report:
    """A gateway's verified statement about one order: from a notification, a return or a query.

    ``amount`` is a two-place Decimal (``9.9`` from EPay is ``9.90``), or None when the gateway did not
    say. ``merchant_id`` is ``pid`` (EPay) or ``app_id`` (Alipay); ``seller_id`` is Alipay's seller.
    """

    trade_no: str
    status: PaymentStatus
    merchant_id: str | None = None
    gateway_trade_no: str | None = None
    amount: Decimal | None = None
    seller_id: str | None = None


class Channel:
    """One gateway account. Subclasses implement the hooks below; each says when it runs and its limits.

    Constructed with the channel's full config (secrets decrypted) and a ``requests.Session`` shared by
    every call to this gateway.
    """

    #: The kind in URLs, config and ``plugin.yaml`` (``epay``, ``alipay``).
    kind: ClassVar[str]
    #: Whether the browser return may settle on its own signed word (EPay's return carries
    #: ``trade_status``; Alipay's does not, so it always asks the gateway first).
    return_is_evidence: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, str], *, http: requests.Session, timeout: float = 10.0):
        self.config = dict(config)
        self.http = http
        self.timeout = timeout

    @classmethod
    def clean_config(cls, config: Mapping[str, str]) -> dict:
        """Validate and normalise a config before it is saved; raise :class:`ConfigInvalid`.

        Called by the admin API on create and update, with secrets already merged (a blank secret keeps the
        stored one). Must check every key it can parse (a key that does not load is refused here, with the
        field named), and must not contact the gateway.
        """
        raise NotImplementedError

    @property
    def merchant_id(self) -> str:
        """The merchant id this channel expects in what the gateway sends (``pid``, ``app_id``)."""
        raise NotImplementedError

    def owns(self, report: Report) -> bool:
        """Whether a verified report names this channel's merchant (and seller, where configured)."""
        return report.merchant_id == self.merchant_id

    @property
    def offline_create(self) -> bool:
        """Whether :meth:`create` only signs a form without calling the gateway, so it may be called again
        to re-sign an order's payment form (EPay v2 refuses a timestamp older than 300 seconds)."""
        return False

    def create(self, request: PayRequest) -> PaymentAction:
        """Prepare the payment of a new order; called once, after the order row is committed.

        May call the gateway (EPay ``mapi.php``, Alipay ``precreate``); raises :class:`GatewayError` when it
        refuses or cannot be reached. Must not settle anything, and must not reuse a trade number.
        """
        raise NotImplementedError

    def verify_notification(self, params: Mapping[str, str], *, received_at: datetime | None = None) -> Report:
        """Verify an asynchronous notification's signature and read it into a :class:`Report`.

        Called for every request on the channel's notify path, with every received parameter. Verifies over
        all of them (the gateway may add fields), never mutates ``params``, compares in constant time, and
        raises :class:`InvalidSignature` or :class:`MalformedNotification`. ``received_at`` (naive UTC) is
        when the request arrived: a replay of a recorded notification checks timestamp windows against it,
        not against now. Must not touch the database or the network; checking the order and merchant is
        core's job.
        """
        raise NotImplementedError

    def verify_return(self, params: Mapping[str, str], *, received_at: datetime | None = None) -> Report:
        """Verify the browser's synchronous return. Its status is evidence only if
        :attr:`return_is_evidence`; otherwise core asks :meth:`query` before crediting."""
        raise NotImplementedError

    def query(self, trade_no: str) -> Report:
        """Ask the gateway about one order now (active query). Raises :class:`GatewayError`.

        Called by the return route, the "I have paid" button and reconcile. Must verify what the gateway
        signs, and must not settle: core does that with the report.
        """
        raise NotImplementedError

    def close(self, trade_no: str) -> bool:
        """Close an unpaid order at the gateway where the protocol allows it; return whether it did.

        Called when an order expires. A gateway without a close call returns False. Must not raise for an
        order the gateway does not know.
        """
        return False
