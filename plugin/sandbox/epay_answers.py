"""What EPay's server APIs answer: an order as ``api.php?act=order`` and ``api/pay/query`` describe it, and
v2's signed answers."""
from __future__ import annotations

import time

from ..money import format_money
from ..channels.signing import epay_content, rsa_sign
from .credentials import Credentials
from .ledger import GatewayOrder, beijing


def order_fields(order: GatewayOrder, *, status_as_int: bool, cashier_url: str) -> dict:
    """The order as the query APIs describe it (MySQL strings and nulls)."""
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


def v2_signed(fields: dict, credentials: Credentials) -> dict:
    """A v2 answer: drop nulls, add ``timestamp``, sign every scalar as PHP would see it (``code=0``
    included), with the platform private key."""
    answer = {k: v for k, v in fields.items() if v is not None and v != ""}
    answer["timestamp"] = str(int(time.time()))
    content = epay_content({k: str(v) for k, v in answer.items()})
    answer["sign_type"] = "RSA"
    answer["sign"] = rsa_sign(content, credentials.epay_platform_private)
    return answer
