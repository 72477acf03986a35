"""The signed parameter sets the gateways send: EPay notifications/returns, Alipay notifications/returns.

Built fresh for every delivery attempt (EPay v2 and Alipay carry the time of sending), always signed with
the shared primitives of :mod:`panelpay.signing`.
"""
from __future__ import annotations

import json
import time
from decimal import Decimal
from urllib.parse import urlencode

from ..money import format_money
from ..signing import alipay_notify_content, epay_content, epay_md5, rsa_sign
from .credentials import Credentials
from .ledger import GatewayOrder, beijing, now
from .merchants import ALIPAY_SELLER_EMAIL, ALIPAY_SELLER_ID


def php_float(amount: Decimal) -> str:
    """``(string)(float)$money`` as PHP prints it (precision 14): 10.00 -> "10", 9.90 -> "9.9"."""
    text = format(float(amount), ".14G")
    if "E" in text:  # PHP writes 1.0E+15 where Python writes 1E+15
        mantissa, exponent = text.split("E")
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0] if exponent[0] in "+-" else "+"
        text = f"{mantissa}E{sign}{int(exponent.lstrip('+-'))}"
    return text


def with_query(url: str, params: dict[str, str]) -> str:
    """Append ``params`` the way EPay does: ``&`` when ``url`` already has ``?``."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


# -- EPay ------------------------------------------------------------------------------------------

def epay_payment_params(order: GatewayOrder, credentials: Credentials, *, legacy_money: bool) -> dict[str, str]:
    """The notification parameters (also sent to ``return_url``): MD5 for v1 orders, RSA for v2 orders."""
    params = {
        "pid": order.merchant,
        "trade_no": order.id,
        "out_trade_no": order.out_trade_no,
        "type": order.pay_type or "alipay",
        "name": order.subject,
        "money": format_money(order.amount) if legacy_money else php_float(order.amount),
        "trade_status": "TRADE_SUCCESS",
    }
    if order.epay_v2:
        if order.api_trade_no:
            params["api_trade_no"] = order.api_trade_no
        if order.buyer_id:
            params["buyer"] = order.buyer_id
    if order.param.strip():
        params["param"] = order.param
    if order.epay_v2:
        params["timestamp"] = str(int(time.time()))
        params["sign"] = rsa_sign(epay_content(params), credentials.epay_platform_private)
        params["sign_type"] = "RSA"
    else:
        params["sign"] = epay_md5(params, credentials.epay_key)
        params["sign_type"] = "MD5"
    return params


def epay_order_fields(order: GatewayOrder, *, status_as_int: bool, cashier_url: str) -> dict:
    """The order as ``api.php?act=order`` and ``api/pay/query`` describe it (MySQL strings and nulls)."""
    status = {"paid": 1}.get(order.status.value, 0)
    return {
        "trade_no": order.id,
        "out_trade_no": order.out_trade_no,
        "api_trade_no": order.api_trade_no or None,
        "bill_trade_no": order.api_trade_no or None,
        "type": order.pay_type or None,
        "pid": order.merchant,
        "addtime": beijing(order.created_at),
        "endtime": beijing(order.paid_at),
        "name": order.subject,
        "money": format_money(order.amount),
        "param": order.param or None,
        "buyer": order.buyer_id or None,
        "clientip": order.clientip or None,
        "status": status if status_as_int else str(status),
        "payurl": cashier_url,
    }


def epay_v2_signed(fields: dict, credentials: Credentials) -> dict:
    """A v2 answer: drop nulls, add ``timestamp``, sign every scalar as PHP would see it (``code=0``
    included), with the platform private key."""
    answer = {k: v for k, v in fields.items() if v is not None and v != ""}
    answer["timestamp"] = str(int(time.time()))
    content = epay_content({k: str(v) for k, v in answer.items()})
    answer["sign_type"] = "RSA"
    answer["sign"] = rsa_sign(content, credentials.epay_platform_private)
    return answer


# -- Alipay ----------------------------------------------------------------------------------------

def _alipay_sign(params: dict[str, str], credentials: Credentials) -> dict[str, str]:
    params["sign_type"] = "RSA2"
    params["sign"] = rsa_sign(alipay_notify_content(params), credentials.alipay_private)
    return params


def alipay_notification(order: GatewayOrder, event: str, notify_id: str,
                        credentials: Credentials) -> dict[str, str]:
    """A ``trade_status_sync`` notification for ``event`` (TRADE_SUCCESS or TRADE_CLOSED)."""
    amount = format_money(order.amount)
    params = {
        "notify_time": beijing(now()),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": order.merchant,
        "auth_app_id": order.merchant,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": order.id,
        "out_trade_no": order.out_trade_no,
        "seller_id": ALIPAY_SELLER_ID,
        "seller_email": ALIPAY_SELLER_EMAIL,
        "trade_status": event,
        "total_amount": amount,
        "subject": order.subject,
        "gmt_create": beijing(order.opened_at or order.created_at),
    }
    if event == "TRADE_CLOSED":
        params["gmt_close"] = beijing(order.closed_at or now())
    else:
        params.update({
            "buyer_id": order.buyer_id,
            "buyer_logon_id": order.buyer_logon_id,
            "receipt_amount": amount,
            "invoice_amount": amount,
            "buyer_pay_amount": amount,
            "point_amount": "0.00",
            "gmt_payment": beijing(order.paid_at),
            "fund_bill_list": json.dumps([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}],
                                         separators=(",", ":")),
        })
    if order.body:
        params["body"] = order.body
    if order.param:
        params["passback_params"] = order.param
    return _alipay_sign(params, credentials)


def alipay_return(order: GatewayOrder, credentials: Credentials) -> dict[str, str]:
    """The signed browser return of a paid page/wap order (no ``trade_status``)."""
    params = {
        "charset": "utf-8",
        "out_trade_no": order.out_trade_no,
        "method": f"alipay.trade.{order.product}.pay.return",
        "total_amount": format_money(order.amount),
        "trade_no": order.id,
        "auth_app_id": order.merchant,
        "version": "1.0",
        "app_id": order.merchant,
        "seller_id": ALIPAY_SELLER_ID,
        "timestamp": beijing(now()),
    }
    return _alipay_sign(params, credentials)
