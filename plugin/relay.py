"""Gateway mode: PanelPay as a panel's EPay site (EPay v1, the protocol Xboard and New-API speak).

A panel (a *merchant*) signs an order and sends the buyer to ``/submit.php`` (or creates it with
``/mapi.php``). :func:`read_submit` verifies it; :func:`open_relay` turns it into a *relay order*: an
ordinary PanelPay order on one of PanelPay's channels, which also remembers what the panel sent. The buyer
pays through that channel; its confirmation settles the order through ``settle()`` like any top-up,
except that the money's destination is the panel: ``settle()`` writes the notification owed to it into
the outbox, and :mod:`panelpay.delivery` delivers it (:func:`notification` is what it sends).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import url_for
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from . import merchants
from .callback import translate as _
from .channels.signing import PHP_TRIM, epay_md5
from .db import transient_errors
from .models import CLOSED, PAID, PENDING, TRADE_NO, Channel, Merchant, Order, utcnow
from .money import format_money
from .orders import OrderRefused, ask_gateway, limits, load_order, new_trade_no, notify_url_for, open_order
from .store import ChannelUnavailable, NotFound, channel_impl, get_settings

#: What ``money`` may look like: what PHP prints for a float (``10``, ``9.9``) or ``"%.2f"`` (``7.30``).
MONEY = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
#: The field the cashier's channel choice adds to a re-posted submit (not the merchant's: never signed).
CHOICE = "panelpay_channel"
#: Parameters kept of a submit, at most this long each (``param`` and ``name`` are echoed back byte for byte).
FIELD_LIMIT = 1024


class SubmitRefused(ValueError):
    """A submit PanelPay will not take; the message says why in words the panel's operator can act on."""


@dataclass(frozen=True)
class Submit:
    """A verified submit: the merchant, the fields as sent, and the amount they name."""

    merchant: Merchant
    fields: dict
    amount: Decimal


def read_submit(state, params: dict) -> Submit:
    """Verify a merchant's signed order (``submit.php``, ``mapi.php``). Raises :class:`SubmitRefused`."""
    # What the signature does not cover is not taken: the choice the cashier adds, and values EPay's signer
    # drops (empty after PHP's trim), which anyone could add to a signed URL and which would be echoed back.
    fields = {k: v for k, v in params.items() if k != CHOICE and (k in ("sign", "sign_type") or v.strip(PHP_TRIM))}
    if any(len(k) > 64 or len(v) > FIELD_LIMIT for k, v in fields.items()):
        raise SubmitRefused(_("A parameter is too long."))
    try:
        merchant = merchants.get_merchant(state, fields.get("pid", ""))
    except NotFound:
        raise SubmitRefused(_("There is no merchant %(pid)s here: check the pid (EpayId) in the panel's payment "
                              "settings.", pid=fields.get("pid", "")[:20])) from None
    expected = epay_md5(fields, merchants.key_of(state, merchant))
    if fields.get("sign_type", "MD5").upper() != "MD5" or not hmac.compare_digest(
            expected.encode(), fields.get("sign", "").lower().encode()):
        raise SubmitRefused(_("The signature does not match: the key (EpayKey) in the panel's payment settings is "
                              "not this merchant's key."))
    if not merchant.enabled:  # said only to whoever holds the key
        raise SubmitRefused(_("Merchant %(pid)s is disabled on PanelPay.", pid=merchant.pid))
    for name in ("out_trade_no", "notify_url", "name", "money"):
        if not fields.get(name):
            raise SubmitRefused(_("The order has no %(field)s.", field=name))
    if not TRADE_NO.fullmatch(fields["out_trade_no"]):
        raise SubmitRefused(_("The order number %(value)s is not one EPay takes (letters, digits and ._-| only, at "
                              "most 64).", value=fields["out_trade_no"][:80]))
    if not MONEY.fullmatch(fields["money"]):
        raise SubmitRefused(_("The amount %(value)s is not an amount of money.", value=fields["money"][:20]))
    try:
        amount = Decimal(fields["money"]).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise SubmitRefused(_("The amount %(value)s is not an amount of money.", value=fields["money"][:20])) from None
    if amount <= 0:
        raise SubmitRefused(_("The amount must be more than zero."))
    refusal = merchants.notify_url_refusal(state, merchant, fields["notify_url"]) or \
        merchants.return_url_refusal(merchant, fields.get("return_url", ""))
    if refusal:
        raise SubmitRefused(refusal)
    return Submit(merchant, fields, amount)


def channels_for(state, submit: Submit) -> list[Channel]:
    """The channels that may take this order: the merchant's (all enabled ones if it names none), those
    offering the ``type`` it asks for, and those whose limits take its amount."""
    chosen = json.loads(submit.merchant.channels or "[]")
    with transient_errors(), state.session() as session:
        rows = session.execute(select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.sort, Channel.id)
                               ).scalars().all()
    pay_type = submit.fields.get("type", "")
    found = []
    for row in rows:
        if row.kind not in state.channel_kinds or (chosen and row.uuid not in chosen):
            continue
        lowest, highest = limits(state, row)
        if not lowest <= submit.amount <= highest:
            continue
        try:
            if pay_type and not channel_impl(state, row).offers(pay_type):
                continue
        except ChannelUnavailable:  # its stored config cannot be used now: it offers nothing
            continue
        found.append(row)
    return found


def existing(state, submit: Submit) -> Order | None:
    """The relay order this merchant already has for ``out_trade_no``, if any. A re-submit must name the
    same amount, notify and return URL (as EPay sites check): anything else is refused."""
    with transient_errors(), state.session() as session:
        order = session.execute(select(Order).where(Order.merchant_id == submit.merchant.id,
                                                    Order.out_trade_no == submit.fields["out_trade_no"])
                                ).scalar_one_or_none()
    if order is None or order.out_trade_no != submit.fields["out_trade_no"]:
        return None
    sent = json.loads(order.relay or "{}")
    if order.total != submit.amount or sent.get("notify_url") != submit.fields["notify_url"] or \
            sent.get("return_url", "") != submit.fields.get("return_url", ""):
        raise SubmitRefused(_("Order %(out_trade_no)s was submitted before with another amount, notify URL or return "
                              "URL; an order cannot change once submitted (支付参数有变化).",
                              out_trade_no=order.out_trade_no))
    return order


def open_relay(state, submit: Submit, channel: Channel, *, client_ip: str, mobile: bool) -> Order:
    """The relay order for a verified submit on ``channel``: created and sent to the channel's gateway,
    or the one made by an identical earlier submit. Raises :class:`OrderRefused` when the gateway refuses."""
    if not get_settings(state)["enabled"]:
        raise OrderRefused(_("Payments are paused by the operator. Please try again later."), code="disabled",
                           status=409)
    fields, now = submit.fields, utcnow()
    kept = {k: fields.get(k, "") for k in ("notify_url", "return_url", "name", "money", "param", "type")}
    order = Order(
        trade_no=new_trade_no(), user_id=f"merchant:{submit.merchant.pid}", channel_id=channel.id,
        channel_name=channel.name, amount=submit.amount, fee=Decimal("0.00"), total=submit.amount,
        credit=submit.amount, status=PENDING, notify_url=notify_url_for(state, channel, get_settings(state)["callback_domain"]),
        subject=fields["name"][:128], client_ip=client_ip[:64], created_at=now,
        expires_at=now + timedelta(seconds=state.settings.order_ttl),
        merchant_id=submit.merchant.id, out_trade_no=fields["out_trade_no"], relay=json.dumps(kept),
    )
    try:
        return open_order(state, order, channel, mobile)
    except IntegrityError:  # the same submit, twice at once: the other one made it
        found = existing(state, submit)
        if found is None:
            raise
        return found


#: How ``orders`` notes a gateway's refusal of a new order (which closes it at once).
REFUSED = "gateway refused"


def reopen(state, order: Order, *, mobile: bool) -> Order:
    """A relay order its gateway refused (closed at once, so never payable), submitted again as it was: back
    to pending with a new time limit, and its gateway asked again. Any other order is returned as it is."""
    now = utcnow()
    with transient_errors(), state.session() as session, session.begin():
        reopened = session.execute(
            update(Order).where(Order.id == order.id, Order.status == CLOSED, Order.paid_at.is_(None),
                                Order.anomaly.startswith(REFUSED))
            .values(status=PENDING, anomaly=None, expires_at=now + timedelta(seconds=state.settings.order_ttl))
            .execution_options(synchronize_session=False)).rowcount
    order = load_order(state, order.trade_no)
    return ask_gateway(state, order, order.channel, mobile) if reopened else order


def cashier_token(state, trade_no: str) -> str:
    """The capability in a relay order's cashier URL: whoever holds the link may see and pay that order."""
    return hmac.new(state.settings.secret_key.encode(), b"cashier:" + trade_no.encode(), hashlib.sha256).hexdigest()[:20]


def cashier_url(state, order: Order) -> str:
    return url_for("panelpay_epay.cashier", trade_no=order.trade_no, token=cashier_token(state, order.trade_no))


def notification(state, order: Order, merchant: Merchant) -> dict:
    """The signed parameters of the panel's notification (also its return query): ``name``, ``money`` and
    ``param`` exactly as the panel sent them, signed with the panel's key."""
    sent = json.loads(order.relay or "{}")
    params = {"pid": merchant.pid, "trade_no": order.trade_no, "out_trade_no": order.out_trade_no,
              "type": notification_type(order), "name": sent.get("name", ""),
              "money": sent.get("money", format_money(order.total)), "trade_status": "TRADE_SUCCESS"}
    if sent.get("param"):
        params["param"] = sent["param"]
    params["sign"] = epay_md5(params, merchants.key_of(state, merchant))
    params["sign_type"] = "MD5"
    return params


def notification_type(order: Order) -> str:
    """The EPay type reported back: the one the panel asked for, else what the channel is (its kind, or an
    EPay channel's type), else ``alipay``."""
    sent = json.loads(order.relay or "{}")
    if sent.get("type"):
        return sent["type"]
    return "alipay" if order.channel.kind == "alipay" else (order.channel.public_config().get("type") or "alipay")


def with_query(url: str, params: dict) -> str:
    """``url`` with ``params`` added to its query, before any ``#fragment`` (Xboard's return URL has one)."""
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def return_url(state, order: Order, merchant: Merchant) -> str | None:
    """Where the buyer goes back to once the order is paid: the panel's return URL with the signed result."""
    sent = json.loads(order.relay or "{}")
    if order.status != PAID or not sent.get("return_url") or not merchants.hosts(merchant, "return_hosts") or \
            merchants.return_url_refusal(merchant, sent["return_url"]):
        return None  # the buyer stays on PanelPay's page
    return with_query(sent["return_url"], notification(state, order, merchant))
