"""Alipay OpenAPI v1 requests and synchronous responses (PROTOCOLS.md §3.2–3.5), without the channel.

Requests: common parameters plus a compact ``biz_content``, signed RSA2 over everything but ``sign``.
Responses: the raw text of the ``<method>_response`` node is what Alipay signed; it is verified before
anything in it is believed, and read from that same text (never from a re-parsed whole, where a second
node of the same name could stand in for the signed one).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from . import signing
from .base import GatewayError

#: Alipay's clock: China Standard Time has had no DST since 1991, so a fixed offset is exact.
GMT8 = timezone(timedelta(hours=8), "GMT+8")
SUCCESS = "10000"
#: Answers that say "try again later" rather than "no".
_TRANSIENT_CODES = {"20000"}
_TRANSIENT_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error"}


def gmt8(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8 for a naive-UTC (or aware) moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(GMT8).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Signer:
    """What signs a request: the app key, and the certificate SNs in certificate mode."""

    app_id: str
    private_key: rsa.RSAPrivateKey
    app_cert_sn: str | None = None
    root_cert_sn: str | None = None

    def params(self, method: str, biz: Mapping[str, str], *, now: datetime, notify_url: str = "",
               return_url: str = "") -> dict[str, str]:
        """The full signed parameter set of one call (``biz_content`` as compact UTF-8 JSON)."""
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": gmt8(now),
            "version": "1.0",
            "notify_url": notify_url,
            "return_url": return_url,
            "app_cert_sn": self.app_cert_sn or "",
            "alipay_root_cert_sn": self.root_cert_sn or "",
            "biz_content": json.dumps(dict(biz), ensure_ascii=False, separators=(",", ":")),
        }
        params = {k: v for k, v in params.items() if v}
        params["sign"] = signing.rsa_sign(signing.alipay_request_content(params), self.private_key)
        return params


@dataclass(frozen=True)
class Verifier:
    """What verifies Alipay's word: its public key, and in certificate mode the SN of the cert holding it."""

    public_key: rsa.RSAPublicKey
    alipay_cert_sn: str | None = None

    def response(self, raw: str, method: str) -> dict:
        """The verified ``<method>_response`` node of a sync answer, whatever its ``code``.

        Raises GatewayError for an ``error_response``, an unsigned refusal, a bad signature, a changed
        Alipay certificate (not transient: the operator must act) and for garbage (transient).
        """
        try:
            whole = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise GatewayError("Alipay answered something that is not JSON") from None
        name = method.replace(".", "_") + "_response"
        if not isinstance(whole, dict):
            raise GatewayError("Alipay answered JSON that is not an object")
        if name not in whole:
            error = whole.get("error_response")
            if isinstance(error, dict):
                raise refusal(method, error)
            raise GatewayError(f"Alipay's answer has no {name}")
        try:
            text = signing.response_node(raw, name)
        except signing.ResponseFormatError:
            raise GatewayError(f"Alipay's answer has an unreadable {name}") from None
        node = json.loads(text, parse_float=Decimal)
        sign = whole.get("sign")
        if not isinstance(sign, str) or not sign:
            # Alipay cannot sign for an app it does not know; such an answer is only ever a refusal.
            if node.get("code") != SUCCESS:
                raise refusal(method, node)
            raise GatewayError("Alipay's answer is not signed", transient=False, code="unsigned")
        served = whole.get("alipay_cert_sn")
        if self.alipay_cert_sn and isinstance(served, str) and served and served != self.alipay_cert_sn:
            raise GatewayError(
                "Alipay's certificate has changed (the answer names another alipay_cert_sn): download the new "
                "Alipay public-key certificate (alipayCertPublicKey_RSA2.crt) from the Alipay open platform "
                "console and paste it into alipay_cert", transient=False, code="alipay_cert_changed")
        if not signing.rsa_valid(text, sign, self.public_key):
            raise GatewayError("Alipay's answer does not verify: check that alipay_public_key (or alipay_cert) "
                               "is the Alipay public key of this app", transient=False, code="bad_signature")
        return node

    def params(self, params: Mapping[str, str]) -> bool:
        """Whether a notification's or return's parameters verify (``rsaCheckV1``: no sign, sign_type)."""
        return signing.rsa_valid(signing.alipay_notify_content(params), params.get("sign"), self.public_key)


def refusal(method: str, node: Mapping) -> GatewayError:
    """A GatewayError for a non-10000 node or an ``error_response``; code = sub_code, else code."""
    code, sub_code = str(node.get("code") or ""), str(node.get("sub_code") or "")
    message = str(node.get("sub_msg") or node.get("msg") or "no message")[:200]
    transient = code in _TRANSIENT_CODES or sub_code in _TRANSIENT_SUB_CODES
    return GatewayError(f"Alipay refused {method}: {message} ({sub_code or code})",
                        transient=transient, code=sub_code or code or None)
