"""The channel interface: everything gateway-specific lives behind it, one module per gateway.

A channel kind is a subclass of :class:`Channel`. Core code (the notify flow, ``settle()``, orders,
reconcile, the doctor) only ever sees the types below: it hands a channel the raw request a gateway sent
(:class:`GatewayRequest`), gets back a verified :class:`Report` or a refusal, and asks the channel to write
its gateway's acknowledgement (:meth:`Channel.acknowledge`). Core never reads a gateway's field names.

A channel object is built from one channel row's decrypted config and is cached while that row's revision
stays the same, so it must not keep per-request state.

Registering a kind of your own: pass the class to ``PanelPay(..., channel_kinds=[MyChannel])``, or name it
in the ``panelpay.channels`` entry-point group of your distribution
(``mykind = "mypackage.channel:MyChannel"``). Its config fields come from its :attr:`Channel.manifest`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Mapping

import requests


class PaymentStatus(str, enum.Enum):
    """What a gateway says about one order."""

    PAID = "paid"  #: money received; credit it
    PENDING = "pending"  #: not paid (yet)
    CLOSED = "closed"  #: closed or expired at the gateway; nothing to credit
    REFUNDED = "refunded"  #: paid and then refunded (or frozen); never credit again
    NOT_FOUND = "not_found"  #: the gateway has no such order (Alipay before the buyer opened it)
    IGNORED = "ignored"  #: a notification that reports nothing to act on


class Outcome(enum.Enum):
    """What PanelPay made of a request on a notify path. The value is the HTTP status PanelPay suggests;
    the channel words the answer in its gateway's terms (:meth:`Channel.acknowledge`)."""

    #: Taken: credited now, credited before, nothing to credit, or kept for the operator. Stop sending.
    TAKEN = 200
    #: The request cannot be trusted or read (bad signature, malformed): sending it again cannot help.
    REFUSED = 400
    #: No channel of this kind has this uuid: the notify URL is wrong.
    UNKNOWN_CHANNEL = 404
    #: The request is larger than PanelPay accepts.
    TOO_LARGE = 413
    #: The source sent too many requests that were refused; it is not heard until later.
    TOO_MANY = 429
    #: PanelPay could not finish now (database down, channel unusable): send it again later.
    RETRY = 503


class ChannelError(Exception):
    """Base of the errors a channel raises."""


class InvalidNotification(ChannelError):
    """A notification or return that cannot be trusted: retrying the same request cannot help (400).
    The message is the reason in full; it is kept in the delivery log. ``trade_no``: the order the request
    claims to be about, unverified, when it can be read (the log can then be searched by it)."""

    def __init__(self, message: str, *, trade_no: str | None = None):
        super().__init__(message)
        self.trade_no = trade_no


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
class GatewayRequest:
    """A request exactly as it reached PanelPay: what a channel verifies. ``received_at`` is naive UTC;
    a replay of a recorded notification carries the time the original arrived."""

    method: str
    headers: tuple[tuple[str, str], ...]
    query_string: bytes
    body: bytes
    content_type: str
    received_at: datetime

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(frozen=True)
class Acknowledgement:
    """What a gateway is answered: status, body and content type, in its own protocol's terms."""

    status: int
    body: str
    content_type: str = "text/plain"


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

    ``trade_no`` is PanelPay's order number. ``amount`` is a two-place Decimal (``9.9`` from EPay is
    ``9.90``), or None when the gateway did not say. ``merchant_id`` is the account the gateway says it is
    writing for (EPay's ``pid``, Alipay's ``app_id``); ``seller_id`` a seller within it, where there is one.
    """

    trade_no: str
    status: PaymentStatus
    merchant_id: str | None = None
    gateway_trade_no: str | None = None
    amount: Decimal | None = None
    seller_id: str | None = None


class Channel:
    """One gateway account. Subclasses implement the hooks below; each says when it runs and its limits.

    Constructed with the channel's full config (secrets decrypted, as :meth:`clean_config` returned it)
    and a ``requests.Session`` shared by every call to this gateway.
    """

    #: The kind in URLs and config (``epay``, ``alipay``): lower-case letters and digits, at most 16.
    kind: ClassVar[str]
    #: The HTTP methods this kind's gateway calls the notify path with. The doctor reports a failure of
    #: one of these as an error, of any other method as a warning.
    callback_methods: ClassVar[tuple[str, ...]] = ("POST",)
    #: Whether the browser return may settle on its own signed word (EPay's return carries
    #: ``trade_status``; Alipay's does not, so core asks the gateway first).
    return_is_evidence: ClassVar[bool] = False
    #: The smallest and largest amount this kind's gateway takes for one payment (None: no known limit). Core
    #: refuses an order outside them before calling the gateway, with a sentence the user understands.
    amount_limits: ClassVar[tuple[Decimal, Decimal | None]] = (Decimal("0.01"), None)
    #: The kind's label and config fields, in ``plugin.yaml``'s shape: ``{"label": {"en": …, "zh-CN": …},
    #: "fields": [{"key", "type", "label", "default", "required", "secret", "choices"}, …]}``. The built-in
    #: kinds are described in ``plugin.yaml`` itself and leave this None; a kind registered from outside
    #: the package must set it.
    manifest: ClassVar[dict[str, Any] | None] = None

    def __init__(self, config: Mapping[str, str], *, http: requests.Session, timeout: float = 10.0):
        self.config = dict(config)
        self.http = http
        self.timeout = timeout

    @classmethod
    def clean_config(cls, config: Mapping[str, str]) -> dict:
        """Validate and normalise a config before it is saved; raise :class:`ConfigInvalid`.

        Called by the admin API and pages on create and update, with secrets already merged (a blank secret
        keeps the stored one). Must check every key it can parse (a key that does not load is refused here,
        with the field named), and must not contact the gateway.
        """
        raise NotImplementedError

    @classmethod
    def acknowledge(cls, outcome: Outcome) -> Acknowledgement:
        """The answer this kind's gateway expects for ``outcome`` (``success`` as text, a JSON body, a
        204 …). Called for every request on a notify path of this kind, after everything it reports has
        been committed; also for a uuid of this kind that names no channel. Must not fail."""
        raise NotImplementedError

    @property
    def merchant_id(self) -> str:
        """The merchant id this channel expects in what the gateway sends (``pid``, ``app_id``)."""
        raise NotImplementedError

    def owns(self, report: Report) -> bool:
        """Whether a verified report names this channel's merchant (and seller, where configured)."""
        return report.merchant_id == self.merchant_id

    def offers(self, pay_type: str) -> bool:
        """Gateway mode: whether this channel takes a payment of EPay ``type`` ``pay_type`` (``alipay``,
        ``wxpay``, …) that a panel asked for. By default, the type named like the kind."""
        return pay_type == self.kind

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

    def verify_notification(self, request: GatewayRequest) -> Report:
        """Verify an asynchronous notification and read it into a :class:`Report`.

        Called for every request on the channel's notify path, after the request was recorded. Reads the
        raw request (method, headers, query, body) itself; verifies over everything the gateway signed
        (the gateway may add fields), never mutates its input, compares in constant time, and raises
        :class:`InvalidSignature` or :class:`MalformedNotification` with the reason. Checks timestamp
        windows against ``request.received_at``, not now (a replay re-judges an old request). Must not
        touch the database or the network: checking the order and the amount is core's job.
        """
        raise NotImplementedError

    def verify_return(self, request: GatewayRequest) -> Report:
        """Verify the browser's synchronous return (a GET to the return URL). Its status is evidence only
        if :attr:`return_is_evidence`; otherwise core asks :meth:`query` before crediting. Same rules as
        :meth:`verify_notification`."""
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
