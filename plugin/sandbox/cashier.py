"""The cashier a buyer sees: ``GET <prefix>/cashier/<id>`` with Pay and Cancel.

Opening it makes an Alipay page/wap trade exist (WAIT_BUYER_PAY). Pay marks the order paid, queues the
notification and redirects (302) to ``return_url`` with the signed return parameters; Cancel goes back
to the merchant with nothing paid. ``<id>`` is the gateway's trade number or the merchant's
``out_trade_no``.
"""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from ..money import format_money
from .ledger import SandboxError, Status
from .merchants import ALIPAY_SELLER_ID, EPAY_TYPES
from .web import message_page, render

TYPE_LABELS = {"alipay": "支付宝", "wxpay": "微信支付", "qqpay": "QQ钱包", "bank": "网银支付",
               "jdpay": "京东支付", "paypal": "PayPal"}
STATUS_LABELS = {Status.CREATED: "待支付", Status.WAITING: "待支付", Status.PAID: "已支付",
                 Status.CLOSED: "交易已关闭"}


def register(bp: Blueprint, sandbox) -> None:
    @bp.route("/cashier/<ref>", methods=["GET"])
    def cashier(ref: str):
        order = sandbox.lookup(ref)
        if order is None:
            return message_page("订单不存在", f"找不到订单 {ref}", status=404)
        sandbox.open(order)
        if order.gateway == "epay":
            merchant = order.sitename or f"易支付商户 {order.merchant}"
        else:
            merchant = f"支付宝商户 {ALIPAY_SELLER_ID}（应用 {order.merchant}）"
        return render(
            "cashier.html",
            gateway="易支付" if order.gateway == "epay" else "支付宝",
            merchant=merchant,
            out_trade_no=order.out_trade_no,
            trade_no=order.id,
            subject=order.subject,
            amount=format_money(order.amount),
            state=STATUS_LABELS[order.status],
            payable=order.status == Status.WAITING,
            choose_type=order.gateway == "epay" and not order.pay_type,
            types=[(t, TYPE_LABELS[t]) for t in EPAY_TYPES],
            pay_url=url_for(".cashier_pay", ref=order.id),
            cancel_url=url_for(".cashier_cancel", ref=order.id),
            expires_at=order.snapshot()["expires_at"],
        )

    @bp.route("/cashier/<ref>/pay", methods=["POST"])
    def cashier_pay(ref: str):
        try:
            payment = sandbox.pay(ref, request.form.get("type") or None)
        except SandboxError as error:
            order = sandbox.lookup(ref)
            back = sandbox.return_url(order) if order is not None and order.status == Status.PAID else None
            return message_page("无法支付", error.message, status=error.status, back_url=back)
        if payment.redirect_url:
            return redirect(payment.redirect_url, 302)
        return message_page("支付成功", f"订单 {payment.order.out_trade_no} 已支付 "
                                        f"{format_money(payment.order.amount)} 元。")

    @bp.route("/cashier/<ref>/cancel", methods=["GET", "POST"])
    def cashier_cancel(ref: str):
        order = sandbox.lookup(ref)
        if order is None:
            return message_page("订单不存在", f"找不到订单 {ref}", status=404)
        target = sandbox.cancel_url(order)
        if target:
            return redirect(target, 302)
        return message_page("已取消", "已取消支付，订单仍可稍后支付。")
