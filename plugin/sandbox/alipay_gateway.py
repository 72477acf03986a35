"""Alipay's ``<prefix>/alipay/gateway.do`` (GET or POST; parameters in the query and/or the form).

- ``alipay.trade.page.pay`` / ``alipay.trade.wap.pay``: the buyer's browser; the trade is recorded but
  unknown to queries until the cashier is opened. Errors are an HTML page, like Alipay's.
- ``alipay.trade.precreate``, ``alipay.trade.query``, ``alipay.trade.close``: server to server, signed
  JSON answers (failures too).

Every request is checked like the real gateway: common parameters, then (certificate mode, detected by
``app_cert_sn``/``alipay_root_cert_sn``) the certificate SNs, then the RSA2 signature over everything but
``sign`` with the app public key.
"""
from __future__ import annotations

import datetime as dt
import hmac

from flask import Blueprint, redirect

from ..money import format_money
from ..channels.signing import alipay_request_content, rsa_valid
from . import alipay_trades
from .alipay_answers import AlipayRefusal, business, invalid, missing, node_name, signed_answer, success
from .ledger import TIME_FORMAT, GatewayOrder, Status, beijing
from .merchants import ALIPAY_APP_ID
from .web import cashier_url, incoming_params, message_page

BROWSER_METHODS = {"alipay.trade.page.pay": "page", "alipay.trade.wap.pay": "wap"}
PRODUCT_CODES = {"page": "FAST_INSTANT_TRADE_PAY", "wap": "QUICK_WAP_WAY"}
SERVER_METHODS = ("alipay.trade.precreate", "alipay.trade.query", "alipay.trade.close")


def register(bp: Blueprint, sandbox) -> None:
    @bp.route("/alipay/gateway.do", methods=["GET", "POST"])
    def alipay_gateway():
        params = incoming_params()
        method = params.get("method", "").strip()
        cert_mode = bool(params.get("app_cert_sn") or params.get("alipay_root_cert_sn"))
        if method in BROWSER_METHODS:
            try:
                check_request(sandbox, params, cert_mode)
                return browser_pay(sandbox, params, BROWSER_METHODS[method], cert_mode)
            except AlipayRefusal as refusal:
                return message_page("支付宝 - 网上支付 安全快速！", refusal.sub_msg, status=200,
                                    code=f"{refusal.code} {refusal.sub_code}")
        node = node_name(method) if method in SERVER_METHODS else "error_response"
        try:
            check_request(sandbox, params, cert_mode)
            biz = alipay_trades.read_biz(params)
            handler = {"alipay.trade.precreate": precreate, "alipay.trade.query": query,
                       "alipay.trade.close": close}[method]
            content = handler(sandbox, params, biz, cert_mode)
        except AlipayRefusal as refusal:
            content = refusal.node()
        return signed_answer(node, content, sandbox.credentials, cert_mode=cert_mode)


def check_request(sandbox, params: dict[str, str], cert_mode: bool) -> None:
    method = params.get("method", "").strip()
    if not method:
        raise missing("isv.missing-method", "缺少方法名参数")
    if method not in BROWSER_METHODS and method not in SERVER_METHODS:
        raise invalid("isv.invalid-method", "不存在的方法名")
    app_id = params.get("app_id", "").strip()
    if not app_id:
        raise missing("isv.missing-app-id", "缺少AppID参数")
    if app_id != ALIPAY_APP_ID:
        raise invalid("isv.invalid-app-id", "无效的AppID参数")
    if not params.get("sign"):
        raise missing("isv.missing-signature", "缺少签名参数")
    sign_type = params.get("sign_type", "")
    if not sign_type:
        raise missing("isv.missing-signature-type", "缺少签名类型参数")
    if sign_type != "RSA2":
        raise invalid("isv.invalid-signature-type", "无效的签名类型（沙箱只支持RSA2）")
    stamp = params.get("timestamp", "")
    if not stamp:
        raise missing("isv.missing-timestamp", "缺少时间戳参数")
    try:
        dt.datetime.strptime(stamp, TIME_FORMAT)
    except ValueError:
        raise invalid("isv.invalid-timestamp", "非法的时间戳参数") from None
    if not params.get("version"):
        raise missing("isv.missing-version", "缺少版本参数")
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise invalid("isv.invalid-charset", "字符集错误（沙箱只支持utf-8）")
    if cert_mode:
        credentials = sandbox.credentials
        if not _same(params.get("app_cert_sn", ""), credentials.app_cert_sn):
            raise invalid("isv.invalid-app-cert-sn", "应用公钥证书SN(app_cert_sn)不匹配")
        if not _same(params.get("alipay_root_cert_sn", ""), credentials.alipay_root_cert_sn):
            raise invalid("isv.invalid-alipay-root-cert-sn", "支付宝根证书SN(alipay_root_cert_sn)不匹配")
    content = alipay_request_content(params)
    if not rsa_valid(content, params["sign"], sandbox.credentials.alipay_app_public):
        raise invalid("isv.invalid-signature",
                      "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：" + content)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def browser_pay(sandbox, params: dict[str, str], product: str, cert_mode: bool):
    biz = alipay_trades.read_biz(params)
    code = alipay_trades.text(biz, "product_code")
    if code != PRODUCT_CODES[product]:
        raise business("ACQ.INVALID_PARAMETER", f"参数无效: product_code须为{PRODUCT_CODES[product]}")
    trade = alipay_trades.read_trade(biz)
    order = alipay_trades.place(sandbox, trade, product, params, cert_mode=cert_mode,
                                quit_url=alipay_trades.text(biz, "quit_url") if product == "wap" else "")
    return redirect(cashier_url(order.id), 302)


def precreate(sandbox, params, biz, cert_mode) -> dict:
    trade = alipay_trades.read_trade(biz, timeout_field="qr_code_timeout_express")
    order = alipay_trades.place(sandbox, trade, "precreate", params, cert_mode=cert_mode)
    return success(out_trade_no=order.out_trade_no, qr_code=cashier_url(order.id))


def _find(sandbox, biz: dict) -> tuple[GatewayOrder | None, dict]:
    """The trade named by ``trade_no`` (wins) or ``out_trade_no``, and the identifiers to echo."""
    trade_no = alipay_trades.text(biz, "trade_no")
    out_trade_no = alipay_trades.text(biz, "out_trade_no")
    if not trade_no and not out_trade_no:
        raise business("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no和trade_no不能同时为空")
    if trade_no:
        order = sandbox.ledger.by_trade_no(alipay_trades.GATEWAY, ALIPAY_APP_ID, trade_no)
    else:
        order = sandbox.ledger.find(alipay_trades.GATEWAY, ALIPAY_APP_ID, out_trade_no)
    if order is not None:
        sandbox.refresh(order)
    echo = {k: v for k, v in (("out_trade_no", out_trade_no), ("trade_no", trade_no)) if v}
    return order, echo


def query(sandbox, params, biz, cert_mode) -> dict:
    order, echo = _find(sandbox, biz)
    if order is not None:
        sandbox.ledger.count_query(order)
    zero = {"buyer_pay_amount": "0.00", "invoice_amount": "0.00", "point_amount": "0.00",
            "receipt_amount": "0.00"}
    if order is None or order.opened_at is None:  # never opened: Alipay has not heard of it
        raise business("ACQ.TRADE_NOT_EXIST", "交易不存在", **echo, **zero)
    total = format_money(order.amount)
    status = {Status.WAITING: "WAIT_BUYER_PAY", Status.PAID: "TRADE_SUCCESS",
              Status.CLOSED: "TRADE_CLOSED"}[order.status]
    answer = success(out_trade_no=order.out_trade_no, trade_no=order.id, trade_status=status,
                     total_amount=total, **zero)
    if order.status == Status.PAID:
        answer.update(buyer_logon_id=order.buyer_logon_id, buyer_user_id=order.buyer_id,
                      buyer_pay_amount=total, invoice_amount=total, receipt_amount=total,
                      send_pay_date=beijing(order.paid_at),
                      fund_bill_list=[{"amount": total, "fund_channel": "ALIPAYACCOUNT"}])
    return answer


def close(sandbox, params, biz, cert_mode) -> dict:
    order, echo = _find(sandbox, biz)
    if order is None or order.opened_at is None:
        raise business("ACQ.TRADE_NOT_EXIST", "交易不存在", **echo)
    with sandbox.ledger.lock:
        if order.status != Status.WAITING:
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法", **echo)
        sandbox.close_trade(order)
    return success(out_trade_no=order.out_trade_no, trade_no=order.id)
