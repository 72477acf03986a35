"""Signed gateway messages for tests, made with the sandbox's own keys and PanelPay's signing module
(the way the real gateways sign them), plus helpers to drive the API as a user or an admin."""
from __future__ import annotations

import secrets
import time
from decimal import Decimal

from panelpay.money import parse_money
from panelpay.sandbox import Sandbox
from panelpay.sandbox.payloads import php_float
from panelpay.channels.signing import alipay_notify_content, epay_md5, rsa_sign, epay_content

SANDBOX_BASE = "http://127.0.0.1:5999/payment/sandbox"


class Signer:
    """Builds notifications as EPay (v1 MD5, v2 RSA) and Alipay would send them for an order."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.credentials = sandbox.credentials

    def epay(self, trade_no: str, total: str, *, money: str | None = None, pid: str = "1001",
             trade_status: str = "TRADE_SUCCESS", gateway_trade_no: str | None = None, key: str | None = None,
             **extra: str) -> dict:
        params = {
            "pid": pid,
            "trade_no": gateway_trade_no or time.strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**5):05d}",
            "out_trade_no": trade_no,
            "type": "alipay",
            "name": f"Top-up {total}",
            "money": money if money is not None else php_float(Decimal(total)),
            "trade_status": trade_status,
            **extra,
        }
        params["sign"] = epay_md5(params, key or self.credentials.epay_key)
        params["sign_type"] = "MD5"
        return params

    def epay_rsa(self, trade_no: str, total: str, *, timestamp: int | None = None, **kwargs) -> dict:
        params = self.epay(trade_no, total, **kwargs)
        del params["sign"], params["sign_type"]
        params["timestamp"] = str(timestamp if timestamp is not None else int(time.time()))
        params["sign"] = rsa_sign(epay_content(params), self.credentials.epay_platform_private)
        params["sign_type"] = "RSA"
        return params

    def alipay(self, trade_no: str, total: str, *, total_amount: str | None = None,
               app_id: str = Sandbox.ALIPAY_APP_ID, seller_id: str = Sandbox.ALIPAY_SELLER_ID,
               trade_status: str = "TRADE_SUCCESS", gateway_trade_no: str | None = None, private_key=None,
               **extra: str) -> dict:
        amount = total_amount if total_amount is not None else f"{parse_money(total):.2f}"
        params = {
            "notify_time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": app_id,
            "auth_app_id": app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": gateway_trade_no or "2026" + f"{secrets.randbelow(10**24):024d}",
            "out_trade_no": trade_no,
            "buyer_id": "2088102177846880",
            "seller_id": seller_id,
            "trade_status": trade_status,
            "total_amount": amount,
            "receipt_amount": amount,
            "buyer_pay_amount": amount,
            "subject": f"Top-up {total}",
            "gmt_create": time.strftime("%Y-%m-%d %H:%M:%S"),
            "gmt_payment": time.strftime("%Y-%m-%d %H:%M:%S"),
            "fund_bill_list": '[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]' % amount,
            **extra,
        }
        params["sign"] = rsa_sign(alipay_notify_content(params), private_key or self.credentials.alipay_private)
        params["sign_type"] = "RSA2"
        return params


def login(app, uid: int):
    """A test client logged in as user ``uid`` (the host's session)."""
    client = app.test_client()
    assert client.post(f"/_login/{uid}").status_code == 200
    return client


def create_channel(admin, kind: str, config: dict, **values) -> dict:
    response = admin.post("/payment/admin/api/channels", json={"kind": kind, "name": values.pop("name", kind),
                                                               "config": config, **values})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def create_order(user, channel_uuid: str, amount: str = "10.00") -> dict:
    response = user.post("/payment/api/orders", json={"channel": channel_uuid, "amount": amount})
    assert response.status_code == 201, response.get_json()
    return response.get_json()
