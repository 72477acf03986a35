"""HMAC Pay: a made-up gateway whose PanelPay channel kind lives outside PanelPay's package, written the
way a third-party author would write one against :mod:`panelpay.channels.base`.

Its gateway POSTs a JSON body (``{"merchant", "order", "amount", "status", "payment_id"}``), signs it with
HMAC-SHA256 of the raw body in the ``X-HmacPay-Signature`` header (hex), and expects a JSON answer:
``{"received": true}`` to stop, anything else to send again.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import urlencode

from panelpay.channels import common
from panelpay.channels.base import (
    Acknowledgement,
    Channel,
    ConfigInvalid,
    GatewayError,
    GatewayRequest,
    InvalidSignature,
    MalformedNotification,
    Outcome,
    PaymentAction,
    PaymentStatus,
    PayRequest,
    Report,
)
from panelpay.money import MoneyError, parse_money

SIGNATURE_HEADER = "X-HmacPay-Signature"


def sign(body: bytes, secret: str) -> str:
    """What the gateway puts in :data:`SIGNATURE_HEADER` for ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notification(secret: str, **event) -> tuple[bytes, dict]:
    """A notification as the gateway sends it: the JSON body and its headers."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}


class HmacPayChannel(Channel):
    """One HMAC Pay merchant."""

    kind = "hmacpay"
    callback_methods = ("POST",)
    manifest = {
        "label": {"en": "HMAC Pay", "zh-CN": "HMAC 支付"},
        "fields": [
            {"key": "gateway", "type": "url", "required": True,
             "label": {"en": "Gateway URL", "zh-CN": "网关地址"}},
            {"key": "merchant", "type": "string", "required": True,
             "label": {"en": "Merchant", "zh-CN": "商户号"}},
            {"key": "secret", "type": "string", "required": True, "secret": True,
             "label": {"en": "Signing secret", "zh-CN": "签名密钥"}},
        ],
    }

    @classmethod
    def clean_config(cls, config) -> dict:
        values, errors = common.clean_fields(common.describe(cls)["fields"], config, {})
        common.http_url(errors, "gateway", values["gateway"], "https://pay.hmacpay.example/")
        if errors:
            raise ConfigInvalid(errors)
        return values

    @classmethod
    def acknowledge(cls, outcome: Outcome) -> Acknowledgement:
        answer = {"received": outcome is Outcome.TAKEN}
        if outcome is Outcome.RETRY:
            answer["retry"] = True
        return Acknowledgement(outcome.value, json.dumps(answer), "application/json")

    @property
    def merchant_id(self) -> str:
        return self.config["merchant"]

    def create(self, request: PayRequest) -> PaymentAction:
        query = urlencode({"merchant": self.merchant_id, "order": request.trade_no, "amount": f"{request.amount:.2f}",
                           "notify": request.notify_url})
        return PaymentAction(method="redirect", url=f"{self.config['gateway'].rstrip('/')}/pay?{query}")

    def verify_notification(self, request: GatewayRequest) -> Report:
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise MalformedNotification(f"no {SIGNATURE_HEADER} header")
        if not hmac.compare_digest(signature.encode(), sign(request.body, self.config["secret"]).encode()):
            raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body signed with the merchant secret")
        if request.content_type.split(";")[0].strip() != "application/json":
            raise MalformedNotification("the body is not application/json")
        try:
            event = json.loads(request.body, parse_float=Decimal)
            amount = parse_money(str(event["amount"]))
            return Report(trade_no=str(event["order"]), merchant_id=str(event["merchant"]), amount=amount,
                          gateway_trade_no=str(event["payment_id"]),
                          status=PaymentStatus.PAID if event["status"] == "paid" else PaymentStatus.IGNORED)
        except (ValueError, KeyError, TypeError, MoneyError) as exc:
            raise MalformedNotification(f"the event cannot be read: {type(exc).__name__} {exc}") from None

    def verify_return(self, request: GatewayRequest) -> Report:
        raise MalformedNotification("HMAC Pay's return carries nothing to verify")

    def query(self, trade_no: str) -> Report:
        raise GatewayError("HMAC Pay has no query API", transient=False, code="no_query")
