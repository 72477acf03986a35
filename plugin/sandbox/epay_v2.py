"""EPay v2 ("彩虹易支付 V2") endpoints: ``<prefix>/epay/api/pay/{create,submit,query}``.

Requests carry ``timestamp`` (within 300 s of now) and an RSA signature made with the merchant private
key (``sign_type=MD5`` with the merchant key is still accepted). Successful answers are signed with the
platform private key; error answers ``{"code": <0, "msg": …}`` are not.
"""
from __future__ import annotations

import time

from flask import Blueprint, redirect, request

from ..channels.signing import epay_content, epay_md5_valid, rsa_valid
from .epay_answers import order_fields, v2_signed
from .epay_orders import EpayRefusal, answer_kind, check_merchant, find_queried, place, read_fields, require
from .web import cashier_url, incoming_params, json_answer, message_page

TIMESTAMP_WINDOW = 300
ORDER_FIELDS = ("type", "out_trade_no", "notify_url", "name", "money")
METHODS = ("web", "jump", "jsapi", "app", "scan", "applet")
PAY_TYPES = {"payurl": "jump", "qrcode": "qrcode", "urlscheme": "urlscheme"}


def register(bp: Blueprint, sandbox) -> None:
    @bp.route("/epay/api/<path:func>", methods=["GET", "POST"])
    def epay_v2_api(func: str):
        return dispatch(sandbox, func)


def dispatch(sandbox, func: str):
    handler = {"pay/create": create, "pay/submit": submit, "pay/query": query}.get(func.strip("/"))
    if handler is None:
        return json_answer({"code": -1, "msg": "接口不存在"})
    return handler(sandbox)


def verify(sandbox, params: dict[str, str]) -> None:
    """Merchant, timestamp window, then the signature (RSA with the merchant public key, or MD5)."""
    check_merchant(params)
    require(params, ("timestamp", "sign"))
    stamp = params["timestamp"].strip()
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > TIMESTAMP_WINDOW:
        raise EpayRefusal(-3, "时间戳(timestamp)不合法或已超过300秒")
    sign_type = params.get("sign_type", "").strip().upper() or "RSA"
    credentials = sandbox.credentials
    if sign_type == "RSA":
        valid = rsa_valid(epay_content(params), params["sign"], credentials.epay_merchant_public)
    elif sign_type == "MD5":
        valid = epay_md5_valid(params, credentials.epay_key)
    else:
        raise EpayRefusal(-3, "签名类型(sign_type)不支持")
    if not valid:
        raise EpayRefusal(-3, "签名校验失败！")


def _post_form() -> dict[str, str] | None:
    return {k: v for k, v in request.form.items()} if request.method == "POST" else None


def create(sandbox):
    """Server-side order creation: ``pay_type`` + ``pay_info`` (the cashier URL)."""
    params = _post_form()
    if params is None:
        return json_answer({"code": -4, "msg": "请使用POST方式提交"})
    try:
        verify(sandbox, params)
        require(params, ORDER_FIELDS + ("method", "clientip"))
        method = params["method"].strip()
        if method not in METHODS:
            raise EpayRefusal(-1, "接口类型(method)不合法")
        if method not in ("web", "jump"):
            raise EpayRefusal(-2, f"当前支付通道不支持{method}接口类型")
        order = place(sandbox, read_fields(params), "v2")
    except EpayRefusal as refusal:
        return json_answer(refusal.as_dict())
    pay_type = "jump" if method == "jump" else PAY_TYPES[answer_kind(sandbox.behaviour, order.device)]
    answer = {"code": 0, "trade_no": order.id, "pay_type": pay_type, "pay_info": cashier_url(order.id)}
    return json_answer(v2_signed(answer, sandbox.credentials))


def submit(sandbox):
    """Page payment (GET or POST): validate, then send the browser to the cashier."""
    params = incoming_params()
    try:
        verify(sandbox, params)
        require(params, ORDER_FIELDS[1:] + ("return_url",))
        order = place(sandbox, read_fields(params), "v2")
    except EpayRefusal as refusal:
        return message_page("支付失败", refusal.msg, code=str(refusal.code))
    return redirect(cashier_url(order.id), 302)


def query(sandbox):
    """One order, signed; null and empty fields removed."""
    params = _post_form()
    if params is None:
        return json_answer({"code": -4, "msg": "请使用POST方式提交"})
    try:
        verify(sandbox, params)
        order = find_queried(sandbox, params)
    except EpayRefusal as refusal:
        return json_answer(refusal.as_dict())
    fields = order_fields(order, status_as_int=sandbox.behaviour.epay_status_as_int, cashier_url="")
    fields.pop("payurl")
    return json_answer(v2_signed({"code": 0, **fields}, sandbox.credentials))
