"""EPay (彩虹易支付) as the sandbox plays it, v1 (MD5) and v2 (RSA) alike: :class:`EpayGateway`.

Routes under ``<prefix>/epay/``: :mod:`.epay_v1` (``submit.php``, ``mapi.php``, ``api.php``) and
:mod:`.epay_v2` (``api/pay/*``); orders are validated and placed by :mod:`.epay_orders`.

Notifications: GET ``notify_url`` + query with a desktop Chrome User-Agent, signed with the merchant key
(MD5) for v1 orders and the platform private key (RSA) for v2 orders. Accepted when the body *contains*
``success``, ``SUCCESS`` or ``Success``. Retries at t+1, t+3, t+19 and t+55 minutes, then gives up (5
attempts). Only payments notify. The browser goes back to ``return_url`` with the same parameters.
"""
from __future__ import annotations

import time

from flask import Blueprint

from ..money import format_money
from ..channels.signing import epay_content, epay_md5, rsa_sign
from . import epay_v1, epay_v2
from .epay_orders import GATEWAY
from .ledger import GatewayOrder, Status, now, random_digits
from .merchants import EPAY_PID, EPAY_TYPES
from .payloads import php_float
from .protocol import Notice, SandboxGateway

CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Safari/537.36")
#: How the cashier names each of :data:`EPAY_TYPES`.
TYPE_LABELS = {"alipay": "支付宝", "wxpay": "微信支付", "qqpay": "QQ钱包", "bank": "网银支付",
               "jdpay": "京东支付", "paypal": "PayPal"}


class EpayGateway(SandboxGateway):
    name = GATEWAY
    label = "易支付"
    channel_kinds = {"epay": "epay", "epay_mapi": "epay", "epay_rsa": "epay"}
    notify_method = "GET"
    retry_offsets = (60, 180, 1140, 3300)
    user_agent = CHROME_UA

    def register(self, bp: Blueprint) -> None:
        epay_v1.register(bp, self.sandbox)
        epay_v2.register(bp, self.sandbox)

    def channel_configs(self, base_url: str) -> dict[str, dict[str, str]]:
        """MD5 key as is; v2 keys as one bare base64 line each (PKCS#8 private, SPKI public)."""
        credentials = self.sandbox.credentials
        epay = {
            "gateway": f"{base_url.rstrip('/')}/epay/",
            "pid": EPAY_PID,
            "key": credentials.epay_key,
            "sign_type": "MD5",
            "merchant_private_key": "",
            "platform_public_key": "",
            "type": "alipay",
            "api": "submit",
            "device": "pc",
        }
        return {
            "epay": epay,
            "epay_mapi": epay | {"api": "mapi"},
            "epay_rsa": epay | {
                "sign_type": "RSA",
                "merchant_private_key": credentials.epay_merchant_private_b64(),
                "platform_public_key": credentials.epay_platform_public_b64(),
            },
        }

    def accepts(self, status: int, body: str) -> bool:
        return any(word in body for word in ("success", "SUCCESS", "Success"))

    def notice(self, order: GatewayOrder, status: Status) -> Notice | None:
        if status != Status.PAID:
            return None
        return Notice("TRADE_SUCCESS", lambda: self.payment_params(order))

    def record_payment(self, order: GatewayOrder, pay_type: str | None) -> None:
        """The type picked at the cashier (``alipay`` if none or unknown), the upstream channel's trade
        number (shaped like Alipay's: date, ``22001``, 15 digits) and a buyer."""
        if not order.pay_type:
            order.pay_type = pay_type if pay_type in EPAY_TYPES else "alipay"
        order.api_trade_no = now().strftime("%Y%m%d") + "22001" + random_digits(15)
        order.buyer_id = "2088" + random_digits(12)

    def return_params(self, order: GatewayOrder) -> dict[str, str]:
        return self.payment_params(order)

    def merchant_label(self, order: GatewayOrder) -> str:
        return order.sitename or f"易支付商户 {order.merchant}"

    def pay_types(self, order: GatewayOrder) -> list[tuple[str, str]]:
        """Every type, when the order left ``type`` empty."""
        return [] if order.pay_type else [(t, TYPE_LABELS[t]) for t in EPAY_TYPES]

    def payment_params(self, order: GatewayOrder) -> dict[str, str]:
        """The notification parameters (also sent to ``return_url``), signed afresh: MD5 for v1 orders, RSA
        with a ``timestamp`` for v2 orders. ``money`` is PHP's float unless ``behaviour.legacy_money``."""
        v2 = order.product == "v2"
        params = {
            "pid": order.merchant,
            "trade_no": order.id,
            "out_trade_no": order.out_trade_no,
            "type": order.pay_type or "alipay",
            "name": order.subject,
            "money": format_money(order.amount) if self.sandbox.behaviour.legacy_money else php_float(order.amount),
            "trade_status": "TRADE_SUCCESS",
        }
        if v2:
            if order.api_trade_no:
                params["api_trade_no"] = order.api_trade_no
            if order.buyer_id:
                params["buyer"] = order.buyer_id
        if order.param.strip():
            params["param"] = order.param
        credentials = self.sandbox.credentials
        if v2:
            params["timestamp"] = str(int(time.time()))
            params["sign"] = rsa_sign(epay_content(params), credentials.epay_platform_private)
            params["sign_type"] = "RSA"
        else:
            params["sign"] = epay_md5(params, credentials.epay_key)
            params["sign_type"] = "MD5"
        return params
