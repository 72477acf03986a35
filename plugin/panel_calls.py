"""Talking to a panel (gateway mode): one signed GET and what its answer means, and the downstream doctor.

:mod:`panelpay.delivery` delivers the notifications owed to panels through :func:`call_panel`; the doctor
and the merchant page's panel test send a made-up order's notification through :func:`probe`. Every call is
logged in ``panelpay_delivery_attempts`` with its classification (:data:`CLASSIFICATIONS`), in words an
operator can act on.
"""
from __future__ import annotations

import json
import secrets
import time

import requests
from sqlalchemy import insert, select

from . import merchants, relay
from .callback import translate as _
from .channels.signing import epay_md5
from .db import transient_errors
from .doctor import tls_problem
from .models import DeliveryAttempt, Merchant, Order, storable_text, utcnow
from .outbound import RefusedAddress
from .outcomes import N_


#: What a panel's answer means, in words an operator can act on.
CLASSIFICATIONS = {
    "delivered": N_("delivered: the panel answered success"),
    "verify_error": N_("the panel refused the signature (Xboard's 'verify error'): the key in the panel's payment "
                       "settings is not this merchant's key"),
    "fail": N_("the panel answered 'fail': in New-API, the key is wrong, EPay is not enabled, or the payment "
               "compliance confirmation is not done"),
    "html": N_("the panel answered with a web page, not 'success': the notify URL reaches the panel's front-end "
               "(a catch-all), not its notify route; check the panel's callback address"),
    "redirect": N_("the panel answered with a redirect (%(location)s): a forced-HTTPS rule or a wrong address; "
                   "set the panel's callback address to where it really answers"),
    "not_found": N_("the panel answered 404: no notify route at this address"),
    "method": N_("the panel answered 405: its notify route does not take GET"),
    "server_error": N_("the panel answered %(status)s: an error on the panel's side (Xboard answers 500 when the "
                       "payment method is disabled); it is retried"),
    "timeout": N_("the panel did not answer in time; it is retried"),
    "tls": N_("the TLS connection failed (certificate or protocol): %(detail)s"),
    "connection": N_("the panel could not be reached (connection refused or closed); it is retried"),
    "refused_address": N_("PanelPay does not call this address: %(detail)s"),
    "other": N_("the panel answered %(status)s: %(answer)s"),
}


def classify(status: int | None, headers: dict, body: str, error: Exception | None) -> tuple[str, dict]:
    """The classification of one answer (a key of :data:`CLASSIFICATIONS`) and its values."""
    if error is not None:
        if isinstance(error, RefusedAddress):
            return "refused_address", {"detail": str(error)}
        if isinstance(error, requests.exceptions.SSLError):
            return "tls", {"detail": tls_problem(error)}
        if isinstance(error, requests.exceptions.Timeout):
            return "timeout", {}
        return "connection", {}
    body = body.strip()
    values = {"status": status, "answer": body[:100], "location": headers.get("Location", "")}
    if status == 200 and body == "success":
        return "delivered", values
    if 300 <= status < 400:
        return "redirect", values
    if "verify error" in body:
        return "verify_error", values
    if body == "fail":
        return "fail", values
    if "html" in headers.get("Content-Type", "") or body[:1] == "<":
        return "html", values
    if status == 404:
        return "not_found", values
    if status == 405:
        return "method", values
    if status >= 500:
        return "server_error", values
    return "other", values


def describe(classification: str, values: dict, say=lambda text, **v: text % v) -> str:
    """A classification in words (``say``: :func:`~panelpay.callback.translate` for the reader's language)."""
    template = CLASSIFICATIONS.get(classification, CLASSIFICATIONS["other"])
    return say(template, **{k: values.get(k, "") for k in ("location", "status", "detail", "answer")})


#: Bytes of a panel's answer read (``success`` is seven; a catch-all's page is cut short).
ANSWER_BYTES = 4096


def call_panel(state, merchant: Merchant, url: str, params: dict, *, purpose: str, delivery_id=None,
               order_id=None, refused: str | None = None) -> tuple[str, dict]:
    """One GET to a panel, logged: its classification and the values that describe it. The whole call,
    answer included, ends within twice ``PANELPAY_HTTP_TIMEOUT`` (a panel dripping its answer byte by byte
    is cut off: a deliverer's lease outlives every call). ``refused``: why the URL is not called at all."""
    timeout = state.settings.http_timeout
    started, status, headers, body, error = utcnow(), None, {}, "", None
    clock = time.perf_counter()
    try:
        if refused:
            raise RefusedAddress(refused)
        with state.http_for(f"merchant:{merchant.pid}").get(url, params=params, timeout=timeout,
                                                            stream=True) as response:
            status, headers, chunks = response.status_code, response.headers, []
            for chunk in response.iter_content(512):
                chunks.append(chunk)
                if sum(map(len, chunks)) >= ANSWER_BYTES:
                    break
                if time.perf_counter() - clock > 2 * timeout:
                    raise requests.exceptions.ReadTimeout("the answer took too long")
            body = b"".join(chunks)[:ANSWER_BYTES].decode(response.encoding or "utf-8", "replace")
    except (requests.RequestException, RefusedAddress) as exc:
        error = exc
    classification, values = classify(status, headers, body, error)
    with transient_errors(), state.engine.begin() as connection:
        connection.execute(insert(DeliveryAttempt.__table__), {
            "delivery_id": delivery_id, "merchant_id": merchant.id, "order_id": order_id, "purpose": purpose,
            "url": relay.with_query(url, params)[:4000], "started_at": started,
            "duration_ms": int((time.perf_counter() - clock) * 1000),
            "http_status": status if error is None else None,
            "answer": storable_text(body[:255] if error is None else str(error)[:255]),
            "classification": classification})
    return classification, values


def probe(state, merchant: Merchant, notify_url: str | None = None) -> dict:
    """Send the panel a correctly signed notification for a made-up order (``PPPROBE…``, which no Xboard or
    New-API order number can be): both panels answer ``success`` for an order they do not know and change
    nothing, so ``success`` proves route, TLS, key and an enabled payment method end to end.

    ``notify_url``: the panel's notify URL, else the one of the merchant's latest order."""
    if not notify_url:
        with transient_errors(), state.session() as session:
            latest = session.execute(select(Order.relay).where(Order.merchant_id == merchant.id)
                                     .order_by(Order.id.desc()).limit(1)).scalar()
        notify_url = json.loads(latest or "{}").get("notify_url")
    if not notify_url:
        return {"ok": False, "notify_url": None, "classification": "no_url",
                "message": _("No order has come from this panel yet, so its notify URL is not known: give it "
                                     "(Xboard: https://panel.example.com/api/v1/guest/payment/notify/EPay/<uuid>; "
                                     "New-API: https://panel.example.com/api/user/epay/notify).")}
    refusal = merchants.notify_url_refusal(state, merchant, notify_url)
    if refusal:
        return {"ok": False, "notify_url": notify_url, "classification": "refused_address", "message": refusal}
    nonce = secrets.token_hex(6).upper()
    params = {"pid": merchant.pid, "trade_no": "PPPROBE" + nonce, "out_trade_no": "PPPROBE" + nonce, "type": "alipay",
              "name": "PanelPay probe", "money": "0.01", "trade_status": "TRADE_SUCCESS"}
    params["sign"] = epay_md5(params, merchants.key_of(state, merchant))
    params["sign_type"] = "MD5"
    classification, found = call_panel(state, merchant, notify_url, params, purpose="probe")
    message = describe(classification, found, _)
    if classification == "delivered":
        message = _("The panel answered success to a signed test notification: its notify route, TLS and "
                            "key work end to end.")
    return {"ok": classification == "delivered", "notify_url": notify_url, "classification": classification,
            "message": message}
