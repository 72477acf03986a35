"""Alipay as the sandbox plays it: :class:`AlipayGateway`.

Routes: ``<prefix>/alipay/gateway.do`` (:mod:`.alipay_gateway`); trades are read and placed by
:mod:`.alipay_trades`, answers signed by :mod:`.alipay_answers`.

Notifications: ``trade_status_sync`` as a POST form (``charset=utf-8``, User-Agent ``Mozilla/4.0``), signed
RSA2 with the Alipay private key, for payments (TRADE_SUCCESS) and for open trades closed by the merchant or
by their expiry (TRADE_CLOSED). Accepted only on a 200 whose body is exactly ``success``. Retries after 4m,
10m, 10m, 1h, 2h, 6h and 15h (8 attempts); ``notify_id`` is stable across them. Page and wap payments send
the browser back to ``return_url`` with a signed return (no ``trade_status``); precreate (QR) has none.
"""
from __future__ import annotations

import itertools
import json
import secrets
import uuid

from flask import Blueprint

from ..money import format_money
from ..channels.signing import alipay_notify_content, rsa_sign
from . import alipay_gateway
from .alipay_trades import GATEWAY
from .ledger import GatewayOrder, Status, beijing, now, random_digits
from .merchants import ALIPAY_APP_ID, ALIPAY_SELLER_EMAIL, ALIPAY_SELLER_ID
from .protocol import Notice, SandboxGateway

EVENTS = {Status.PAID: "TRADE_SUCCESS", Status.CLOSED: "TRADE_CLOSED"}


class AlipayGateway(SandboxGateway):
    name = GATEWAY
    label = "支付宝"
    channel_kinds = {"alipay": "alipay", "alipay_wap": "alipay", "alipay_qr": "alipay", "alipay_cert": "alipay"}
    notify_method = "POST"
    retry_offsets = tuple(itertools.accumulate((240, 600, 600, 3600, 7200, 21600, 54000)))
    user_agent = "Mozilla/4.0"

    def register(self, bp: Blueprint) -> None:
        alipay_gateway.register(bp, self.sandbox)

    def channel_configs(self, base_url: str) -> dict[str, dict[str, str]]:
        """Keys as one bare base64 line each (PKCS#1 app private key, SPKI Alipay public key); the
        certificate-mode files as PEM."""
        credentials = self.sandbox.credentials
        alipay = {
            "gateway": f"{base_url.rstrip('/')}/alipay/gateway.do",
            "app_id": ALIPAY_APP_ID,
            "app_private_key": credentials.alipay_app_private_b64(),
            "alipay_public_key": credentials.alipay_public_b64(),
            "app_cert": "",
            "alipay_cert": "",
            "alipay_root_cert": "",
            "seller_id": ALIPAY_SELLER_ID,
            "product": "page",
        }
        return {
            "alipay": alipay,
            "alipay_wap": alipay | {"product": "wap"},
            "alipay_qr": alipay | {"product": "precreate"},
            "alipay_cert": alipay | {
                "alipay_public_key": "",
                "app_cert": credentials.app_cert,
                "alipay_cert": credentials.alipay_cert,
                "alipay_root_cert": credentials.alipay_root_bundle,
            },
        }

    def accepts(self, status: int, body: str) -> bool:
        return status == 200 and body == "success"

    def notice(self, order: GatewayOrder, status: Status) -> Notice:
        event = EVENTS[status]
        notify_id = uuid.uuid4().hex + secrets.token_hex(2)
        return Notice(event, lambda: self.notification(order, event, notify_id), notify_id)

    def record_payment(self, order: GatewayOrder, pay_type: str | None) -> None:
        order.buyer_id = "2088" + random_digits(12)
        order.buyer_logon_id = "sbx***@sandbox.panelpay.test"

    def return_params(self, order: GatewayOrder) -> dict[str, str] | None:
        """The signed browser return of a paid page/wap order (no ``trade_status``)."""
        if order.product == "precreate":
            return None
        return self._signed({
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
        })

    def cancel_url(self, order: GatewayOrder) -> str | None:
        """A wap order's ``quit_url`` when it has one."""
        if order.product == "wap" and order.quit_url:
            return order.quit_url
        return super().cancel_url(order)

    def merchant_label(self, order: GatewayOrder) -> str:
        return f"支付宝商户 {ALIPAY_SELLER_ID}（应用 {order.merchant}）"

    def notification(self, order: GatewayOrder, event: str, notify_id: str) -> dict[str, str]:
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
        return self._signed(params)

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        params["sign_type"] = "RSA2"
        params["sign"] = rsa_sign(alipay_notify_content(params), self.sandbox.credentials.alipay_private)
        return params
