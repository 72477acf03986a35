"""Alipay's synchronous answers, built as raw text and signed over the exact node text.

The body is ``{"<method_with_underscores>_response":{…}[,"alipay_cert_sn":"…"],"sign":"…"}`` where
``sign`` is SHA256withRSA, with the Alipay private key, over the raw characters of the node's value —
exactly what :func:`panelpay.channels.signing.response_node` extracts. Business failures are signed too.
"""
from __future__ import annotations

import json

from flask import Response

from ..channels.signing import rsa_sign

MESSAGES = {
    "10000": "Success",
    "20000": "Service Currently Unavailable",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
    "40006": "Insufficient Permissions",
}


def node_name(method: str) -> str:
    """``alipay.trade.query`` -> ``alipay_trade_query_response``."""
    return method.replace(".", "_") + "_response"


class AlipayRefusal(Exception):
    """A gateway (40001/40002) or business (40004) failure, with ``sub_code`` and ``sub_msg``."""

    def __init__(self, code: str, sub_code: str, sub_msg: str, **extra: str):
        super().__init__(f"{code} {sub_code}: {sub_msg}")
        self.code = code
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.extra = extra

    def node(self) -> dict:
        return {"code": self.code, "msg": MESSAGES.get(self.code, "Business Failed"),
                "sub_code": self.sub_code, "sub_msg": self.sub_msg, **self.extra}


def invalid(sub_code: str, sub_msg: str) -> AlipayRefusal:
    return AlipayRefusal("40002", sub_code, sub_msg)


def missing(sub_code: str, sub_msg: str) -> AlipayRefusal:
    return AlipayRefusal("40001", sub_code, sub_msg)


def business(sub_code: str, sub_msg: str, **extra: str) -> AlipayRefusal:
    return AlipayRefusal("40004", sub_code, sub_msg, **extra)


def success(**fields: str) -> dict:
    return {"code": "10000", "msg": "Success", **fields}


def signed_body(node: str, content: dict, credentials, *, cert_mode: bool) -> str:
    node_text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    parts = [json.dumps(node) + ":" + node_text]
    if cert_mode:
        parts.append('"alipay_cert_sn":' + json.dumps(credentials.alipay_cert_sn))
    parts.append('"sign":' + json.dumps(rsa_sign(node_text, credentials.alipay_private)))
    return "{" + ",".join(parts) + "}"


def signed_answer(node: str, content: dict, credentials, *, cert_mode: bool) -> Response:
    body = signed_body(node, content, credentials, cert_mode=cert_mode)
    return Response(body, content_type="text/html;charset=utf-8")
