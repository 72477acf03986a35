"""The user's JSON API: channels, creating and following top-up orders."""
from __future__ import annotations

import logging

from flask import Blueprint
from sqlalchemy import select

from ..callback import translate as _
from ..channels.base import GatewayError
from ..models import Order
from ..orders import OrderRefused, create_order, load_order, sync_order
from ..schemas import ChannelOut, Empty, OrderIn, OrderOut, OrderPage
from ..store import NotFound, list_channels
from .common import (ApiError, client_ip, dump, is_mobile, json_body, paginate, register_error_handlers,
                     require_user, state, user_endpoint)

log = logging.getLogger("panelpay")


def api_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_api", __name__)
    register_error_handlers(bp)

    @bp.get("/api/channels")
    @user_endpoint
    def channels():
        """Enabled channels, in the operator's order."""
        st = state()
        rows = [c for c in list_channels(st, enabled_only=True) if c.kind in st.channel_kinds]
        return dump(ChannelOut(), rows, many=True)

    @bp.post("/api/orders")
    @user_endpoint
    def create():
        """Create a top-up order → 201 order, with how to pay it."""
        data = json_body(OrderIn())
        try:
            order = create_order(state(), user_id=require_user(), channel_uuid=data["channel"],
                                 amount=data["amount"], client_ip=client_ip(), mobile=is_mobile())
        except OrderRefused as exc:
            fields = {exc.field: [str(exc)]} if exc.field else {}
            raise ApiError(exc.status, exc.code, str(exc), fields) from None
        return dump(OrderOut(), order, 201)

    @bp.get("/api/orders")
    @user_endpoint
    def history():
        """The user's own orders, newest first."""
        query = select(Order).where(Order.user_id == require_user())
        return dump(OrderPage(), paginate(query, Order.created_at.desc(), Order.id.desc()))

    @bp.get("/api/orders/<trade_no>")
    @user_endpoint
    def show(trade_no: str):
        return dump(OrderOut(), _own_order(trade_no))

    @bp.post("/api/orders/<trade_no>/sync")
    @user_endpoint
    def sync(trade_no: str):
        """Ask the gateway now (the "I have paid" button) and settle if it says paid."""
        json_body(Empty(), allow_empty=True)
        order = _own_order(trade_no)
        if order.status != "paid":
            try:
                sync_order(state(), order, source="query")
            except GatewayError as exc:
                log.warning("order %s: the gateway could not be asked: %s", trade_no, exc)
                raise ApiError(502, "gateway", _("The payment gateway could not be asked just now. If you have paid, "
                                                 "the payment will still be found: try again in a minute.")) from None
            except OrderRefused as exc:
                raise ApiError(exc.status, exc.code, str(exc)) from None
            order = _own_order(trade_no)
        return dump(OrderOut(), order)

    def _own_order(trade_no: str) -> Order:
        try:
            return load_order(state(), trade_no, user_id=require_user())
        except NotFound:
            raise ApiError(404, "not_found", _("No such order.")) from None

    return bp
