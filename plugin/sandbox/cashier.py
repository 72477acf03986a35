"""The cashier a buyer sees: ``GET <prefix>/cashier/<id>`` with Pay and Cancel.

Opening it makes an order placed from the browser known to queries (WAITING). Pay marks the order paid,
queues the notification and redirects (302) to ``return_url`` with the signed return parameters; Cancel
goes back to the merchant with nothing paid. ``<id>`` is the gateway's trade number or the merchant's
``out_trade_no``. What differs between gateways (their name, the merchant shown, a choice of pay types,
where Cancel goes) the order's gateway says.
"""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from ..money import format_money
from .ledger import SandboxError, Status
from .web import message_page, render

STATUS_LABELS = {Status.CREATED: "待支付", Status.WAITING: "待支付", Status.PAID: "已支付",
                 Status.CLOSED: "交易已关闭"}


def register(bp: Blueprint, sandbox) -> None:
    @bp.route("/cashier/<ref>", methods=["GET"])
    def cashier(ref: str):
        order = sandbox.lookup(ref)
        if order is None:
            return message_page("订单不存在", f"找不到订单 {ref}", status=404)
        sandbox.open(order)
        gateway = sandbox.gateway_of(order)
        types = list(gateway.pay_types(order))
        return render(
            "cashier.html",
            gateway=gateway.label,
            merchant=gateway.merchant_label(order),
            out_trade_no=order.out_trade_no,
            trade_no=order.id,
            subject=order.subject,
            amount=format_money(order.amount),
            state=STATUS_LABELS[order.status],
            payable=order.status == Status.WAITING,
            choose_type=bool(types),
            types=types,
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
