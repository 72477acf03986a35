"""EPay v1 endpoints under ``<prefix>/epay/``: ``submit.php``, ``mapi.php`` and ``api.php``.

``api.php?s=pay/<func>`` (the un-rewritten form of ``api/pay/<func>``) is handed to :mod:`.epay_v2`.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, redirect, request

from ..channels.signing import epay_md5_valid
from . import epay_v2
from .epay_answers import order_fields
from .epay_orders import (GATEWAY, EpayRefusal, answer_kind, check_merchant, find_queried, place, read_fields,
                          require)
from .merchants import EPAY_PID
from .web import cashier_url, incoming_params, json_answer, message_page

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ORDER_FIELDS = ("out_trade_no", "notify_url", "name", "money")


def register(bp: Blueprint, sandbox) -> None:
    def verify_md5(params: dict[str, str]) -> None:
        require(params, ("sign",))
        if not epay_md5_valid(params, sandbox.credentials.epay_key):
            raise EpayRefusal(-3, "签名校验失败！")

    @bp.route("/epay/submit.php", methods=["GET", "POST"])
    def epay_submit():
        """Page payment: validate, then send the browser to the cashier."""
        params = incoming_params()
        try:
            check_merchant(params)
            require(params, ORDER_FIELDS + ("return_url",))
            verify_md5(params)
            order = place(sandbox, read_fields(params), "submit")
        except EpayRefusal as refusal:
            return message_page("支付失败", refusal.msg, code=str(refusal.code))
        return redirect(cashier_url(order.id), 302)

    @bp.route("/epay/mapi.php", methods=ANY_METHOD)
    def epay_mapi():
        """Server API: POST form only; answers the trade number and a pay URL or QR content."""
        if request.method != "POST":
            return json_answer({"code": -4, "msg": "请使用POST方式提交"})
        params = {k: v for k, v in request.form.items()}
        try:
            check_merchant(params)
            require(params, ORDER_FIELDS + ("clientip",))
            verify_md5(params)
            order = place(sandbox, read_fields(params), "mapi")
        except EpayRefusal as refusal:
            return json_answer(refusal.as_dict())
        kind = answer_kind(sandbox.behaviour, order.device)
        return json_answer({"code": 1, "msg": "succ", "trade_no": order.id, kind: cashier_url(order.id)})

    @bp.route("/epay/api.php", methods=["GET", "POST"])
    def epay_api():
        """``act=order`` (query, unsigned, key in plain text) and ``act=query`` (merchant info)."""
        if request.args.get("s"):
            return epay_v2.dispatch(sandbox, request.args["s"])
        params = incoming_params()
        act = params.get("act", "")
        if act not in ("order", "query"):
            return json_answer({"code": -5, "msg": "No Act!"})
        key = params.get("key", "")
        if params.get("pid", "").strip() != EPAY_PID or not hmac.compare_digest(
                key.encode("utf-8", "replace"), sandbox.credentials.epay_key.encode()):
            return json_answer({"code": -3, "msg": "商户ID或密钥错误"})
        if act == "query":
            return json_answer(merchant_info(sandbox))
        try:
            order = find_queried(sandbox, params)
        except EpayRefusal as refusal:
            return json_answer(refusal.as_dict())
        fields = order_fields(order, status_as_int=sandbox.behaviour.epay_status_as_int,
                              cashier_url=cashier_url(order.id))
        fields.pop("clientip")
        return json_answer({"code": 1, "msg": "succ", **fields})


def merchant_info(sandbox) -> dict:
    orders = [o for o in sandbox.ledger if o.gateway == GATEWAY]
    return {
        "code": 1, "pid": int(EPAY_PID), "key": sandbox.credentials.epay_key, "active": 1, "money": "0.00",
        "type": 1, "account": "sandbox@panelpay.test", "username": "PanelPay Sandbox",
        "orders": len(orders), "order_today": len(orders), "order_lastday": 0,
    }
