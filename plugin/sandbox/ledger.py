"""The gateway's own order book: in memory, thread-safe, lost on restart (like a sandbox should be).

An order's ``id`` is the gateway's trade number, in the shape its gateway module gives it (through
:meth:`Ledger.unique_id`). Lookups accept the id or the merchant's ``out_trade_no`` (the most recent order
with it).
"""
from __future__ import annotations

import datetime as dt
import enum
import secrets
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterator

from ..money import format_money

#: The sandbox keeps time the way its gateways speak it: Beijing time.
BEIJING = dt.timezone(dt.timedelta(hours=8), "GMT+8")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def now() -> dt.datetime:
    return dt.datetime.now(BEIJING)


def beijing(moment: dt.datetime | None) -> str | None:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8, the format of every time the gateways send."""
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT) if moment else None


class Status(str, enum.Enum):
    CREATED = "created"  #: placed from the buyer's browser, cashier never opened: queries do not know it
    WAITING = "waiting"  #: open and payable (orders a gateway knows at once start here)
    PAID = "paid"
    CLOSED = "closed"  #: closed by the merchant or by time_expire


class SandboxError(Exception):
    """An action the sandbox refuses; ``status`` is the HTTP status of the JSON or HTML answer."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OrderNotFound(SandboxError):
    status = 404


class TradeClosed(SandboxError):
    status = 409


class AlreadyPaid(SandboxError):
    status = 409


@dataclass
class GatewayOrder:
    id: str  #: the gateway's trade number
    gateway: str  #: the ``name`` of the gateway that placed it (see :mod:`.protocol`)
    product: str  #: which of its gateway's APIs placed it (the gateway's own word)
    merchant: str  #: the merchant's id at the gateway
    out_trade_no: str
    subject: str  #: as the gateway stores it
    amount: Decimal
    notify_url: str
    return_url: str = ""
    status: Status = Status.WAITING
    pay_type: str = ""  #: how the buyer pays, in the gateway's words; empty: picked at the cashier
    param: str = ""  #: the merchant's pass-back value, echoed in notifications
    body: str = ""  #: the merchant's description of the order
    sitename: str = ""  #: the merchant's site name, shown at the cashier
    device: str = ""  #: the buyer's device, as the merchant gave it
    clientip: str = ""  #: the buyer's address, as the merchant gave it
    quit_url: str = ""  #: where the buyer goes on Cancel, when not ``return_url``
    cert_mode: bool = False  #: the merchant signs with certificates
    created_at: dt.datetime = field(default_factory=now)
    opened_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    paid_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    buyer_id: str = ""
    buyer_logon_id: str = ""  #: the buyer's (masked) account name
    api_trade_no: str = ""  #: the trade number of the channel behind the gateway, known after payment
    queries: int = 0  #: how many times the merchant asked about it (tests check nothing is asked twice)

    @property
    def trade_no(self) -> str:
        return self.id

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and now() >= self.expires_at

    def snapshot(self) -> dict:
        """A JSON-ready copy for the test endpoints."""
        return {
            "id": self.id, "trade_no": self.id, "gateway": self.gateway, "product": self.product,
            "merchant": self.merchant, "out_trade_no": self.out_trade_no, "subject": self.subject,
            "amount": format_money(self.amount), "status": self.status.value, "type": self.pay_type,
            "param": self.param, "notify_url": self.notify_url, "return_url": self.return_url,
            "created_at": beijing(self.created_at), "opened_at": beijing(self.opened_at),
            "expires_at": beijing(self.expires_at), "paid_at": beijing(self.paid_at),
            "closed_at": beijing(self.closed_at), "cert_mode": self.cert_mode, "queries": self.queries,
        }


class Ledger:
    """Orders by id and by (gateway, merchant, out_trade_no). Hold :attr:`lock` to read-modify-write."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._by_id: dict[str, GatewayOrder] = {}
        self._by_merchant_no: dict[tuple[str, str, str], str] = {}
        self._latest_by_out_trade_no: dict[str, str] = {}

    def add(self, order: GatewayOrder) -> GatewayOrder:
        with self.lock:
            self._by_id[order.id] = order
            self._by_merchant_no[(order.gateway, order.merchant, order.out_trade_no)] = order.id
            self._latest_by_out_trade_no[order.out_trade_no] = order.id
            return order

    def find(self, gateway: str, merchant: str, out_trade_no: str) -> GatewayOrder | None:
        with self.lock:
            order_id = self._by_merchant_no.get((gateway, merchant, out_trade_no))
            return self._by_id.get(order_id) if order_id else None

    def by_trade_no(self, gateway: str, merchant: str, trade_no: str) -> GatewayOrder | None:
        with self.lock:
            order = self._by_id.get(trade_no)
            return order if order and order.gateway == gateway and order.merchant == merchant else None

    def get(self, ref: str) -> GatewayOrder | None:
        """By the gateway's id, else by ``out_trade_no`` (most recently created wins)."""
        with self.lock:
            if ref in self._by_id:
                return self._by_id[ref]
            order_id = self._latest_by_out_trade_no.get(ref)
            return self._by_id.get(order_id) if order_id else None

    def count_query(self, order: GatewayOrder) -> None:
        with self.lock:
            order.queries += 1

    def __iter__(self) -> Iterator[GatewayOrder]:
        with self.lock:
            return iter(list(self._by_id.values()))

    def clear(self) -> None:
        with self.lock:
            self._by_id.clear()
            self._by_merchant_no.clear()
            self._latest_by_out_trade_no.clear()

    def unique_id(self, make: Callable[[], str]) -> str:
        """The first of ``make()``'s candidates that no order has as its id (a gateway's trade number)."""
        with self.lock:
            while True:
                candidate = make()
                if candidate not in self._by_id:
                    return candidate


def random_digits(count: int) -> str:
    return f"{secrets.randbelow(10 ** count):0{count}d}"
