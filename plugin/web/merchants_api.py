"""The operator's JSON API for gateway mode: merchants, their keys, the downstream doctor, and the
notifications owed to panels with every attempt."""
from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import select

from .. import delivery, merchants, panel_calls
from ..callback import translate as _
from ..db import transient_errors
from ..merchants import MerchantRefused
from ..models import Delivery, DeliveryAttempt, Merchant, Order
from ..schemas import DeliverOut, DeliveryPage, Empty, MerchantIn, MerchantOut, MerchantPatch, ProbeIn, ProbeOut
from ..store import NotFound
from .common import ApiError, admin_endpoint, dump, json_body, paginate, state


def _merchant(pid: str) -> Merchant:
    try:
        return merchants.get_merchant(state(), pid)
    except NotFound:
        raise ApiError(404, "not_found", _("No such merchant.")) from None


def _refused(exc: MerchantRefused):
    return ApiError(422, "invalid", str(exc), {exc.field: [str(exc)]})


def delivery_view(row: Delivery, order: Order, merchant: Merchant, history: list[DeliveryAttempt]) -> dict:
    return {"id": row.id, "trade_no": order.trade_no, "out_trade_no": order.out_trade_no, "merchant": merchant.pid,
            "money": f"{order.total:.2f}", "status": row.status, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
            "delivered_at": row.delivered_at, "last_outcome": row.last_outcome, "confirmed": row.confirmed,
            "paid_late": order.paid_late,
            "history": [{"started_at": a.started_at, "purpose": a.purpose, "url": a.url, "duration_ms": a.duration_ms,
                         "http_status": a.http_status, "answer": a.answer, "classification": a.classification,
                         "classification_text": panel_calls.describe(a.classification, {
                             "status": a.http_status or "", "answer": a.answer[:100], "detail": a.answer[:120],
                             "location": ""}, _)} for a in history]}


def register(bp: Blueprint) -> None:
    @bp.get("/admin/api/merchants")
    @admin_endpoint
    def list_merchants():
        st = state()
        return dump(MerchantOut(), [merchants.view(st, m) for m in merchants.list_merchants(st)], many=True)

    @bp.post("/admin/api/merchants")
    @admin_endpoint
    def create_merchant():
        """A new merchant: its pid, and its key (shown in this answer only), with what to paste into the panel."""
        data = json_body(MerchantIn())
        st = state()
        try:
            merchant, key = merchants.create_merchant(st, data)
        except MerchantRefused as exc:
            raise _refused(exc) from None
        return dump(MerchantOut(), merchants.view(st, merchant, key), 201)

    @bp.get("/admin/api/merchants/<pid>")
    @admin_endpoint
    def merchant(pid: str):
        return dump(MerchantOut(), merchants.view(state(), _merchant(pid)))

    @bp.patch("/admin/api/merchants/<pid>")
    @admin_endpoint
    def patch_merchant(pid: str):
        data = json_body(MerchantPatch(), partial=True)
        _merchant(pid)
        try:
            return dump(MerchantOut(), merchants.view(state(), merchants.update_merchant(state(), pid, data)))
        except MerchantRefused as exc:
            raise _refused(exc) from None

    @bp.post("/admin/api/merchants/<pid>/key")
    @admin_endpoint
    def new_key(pid: str):
        """A new key for the merchant; the old one stops working at once (paste the new one into the panel)."""
        json_body(Empty(), allow_empty=True)
        _merchant(pid)
        merchant, key = merchants.regenerate_key(state(), pid)
        return dump(MerchantOut(), merchants.view(state(), merchant, key))

    @bp.post("/admin/api/merchants/<pid>/doctor")
    @admin_endpoint
    def probe(pid: str):
        """The downstream doctor: a signed notification for a made-up order, sent to the panel."""
        data = json_body(ProbeIn(), allow_empty=True)
        return dump(ProbeOut(), panel_calls.probe(state(), _merchant(pid), data.get("notify_url")))

    @bp.get("/admin/api/deliveries")
    @admin_endpoint
    def deliveries():
        """Notifications owed to panels, newest first, each with its attempts; filters: merchant (pid),
        status (pending, delivered, failed), order (PanelPay's or the panel's order number)."""
        query = select(Delivery, Order, Merchant).join(Order, Order.id == Delivery.order_id) \
            .join(Merchant, Merchant.id == Delivery.merchant_id)
        for name, column in (("merchant", Merchant.pid), ("status", Delivery.status)):
            value = request.args.get(name, "").strip()
            if value:
                query = query.where(column == value[:64])
        wanted = request.args.get("order", "").strip()[:64]
        if wanted:
            query = query.where((Order.trade_no == wanted) | (Order.out_trade_no == wanted))
        page = paginate(query, Delivery.id.desc(), rows=True)
        ids = [row[0].id for row in page["items"]]
        with transient_errors(), state().session() as session:
            attempts = session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids))
                                       .order_by(DeliveryAttempt.id)).scalars().all() if ids else []
        page["items"] = [delivery_view(d, o, m, [a for a in attempts if a.delivery_id == d.id])
                         for d, o, m in page["items"]]
        return dump(DeliveryPage(), page)

    @bp.post("/admin/api/deliver")
    @admin_endpoint
    def deliver_now():
        json_body(Empty(), allow_empty=True)
        return dump(DeliverOut(), {"counts": delivery.run(state())})
