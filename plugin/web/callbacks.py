"""The routes a gateway calls back: the built-in notify path, and the browser's return from the gateway."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, redirect, request, url_for
from sqlalchemy.exc import DataError

from .. import spool
from ..channels.base import GatewayError, GatewayRequest, InvalidNotification, Outcome, PaymentStatus
from ..db import TransientError
from ..models import TRADE_NO, utcnow
from ..notify import REJECTED, Received, acknowledge, receive
from ..orders import OrderRefused, load_order, sync_order
from ..probe import probe_answer, probe_nonce
from ..relay import cashier_url
from ..settle import Evidence, settle
from ..store import NotFound, channel_impl, get_channel

log = logging.getLogger("panelpay")

#: The request headers kept with a notification, in bytes; Cookie is never kept (no gateway sends one).
HEADER_BYTES = 8192


def _printable(segment: str) -> str:
    """A path segment as it can be stored: control and non-ASCII characters escaped."""
    if segment.isascii() and segment.isprintable():
        return segment
    return segment.encode("unicode_escape").decode("ascii")[:64]


def _headers() -> tuple[tuple[str, str], ...]:
    """The request's headers as received, up to :data:`HEADER_BYTES`, without Cookie."""
    kept, size = [], 0
    for name, value in request.headers.items():
        size += len(name) + len(value) + 4
        if size > HEADER_BYTES:
            break
        if name.lower() != "cookie":
            kept.append((name, value))
    return tuple(kept)


def _answer(acknowledgement) -> Response:
    return Response(acknowledgement.body, status=acknowledgement.status, content_type=acknowledgement.content_type)


def callbacks_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_notify", __name__)

    @bp.route("/notify/<kind>/<uuid>", methods=["GET", "POST"])
    def notify(kind: str, uuid: str):
        """The notify flow (:mod:`panelpay.notify`): record, verify, settle, and only then answer."""
        state = current_app.extensions["panelpay"]
        nonce = probe_nonce(request)
        if nonce is not None:
            return probe_answer(state, nonce, kind, uuid)
        source = request.remote_addr or ""
        if state.rejections.exhausted(source):  # a flood of refused requests: not recorded (limits.py)
            return _answer(acknowledge(state, kind, Outcome.TOO_MANY))
        limit = state.settings.max_notify_bytes
        body = request.stream.read(limit + 1) if (request.content_length or 0) <= limit else None
        if body is None or len(body) > limit or len(request.query_string) > limit:
            return _answer(acknowledge(state, kind, Outcome.TOO_LARGE))
        received = Received(
            kind=_printable(kind), channel_uuid=_printable(uuid), source_ip=source,
            request=GatewayRequest(method=request.method, headers=_headers(), query_string=request.query_string,
                                   body=body, content_type=request.content_type or "", received_at=utcnow()))
        try:
            answer = receive(state, received)
        except TransientError as exc:
            kept = spool.keep(state, received)
            log.error("notification for %s/%s %s: database unavailable (%s)", received.kind, received.channel_uuid,
                      "spooled" if kept else "NOT spooled (see above)", exc)
            return _answer(acknowledge(state, kind, Outcome.RETRY))
        if answer.verdict.name == REJECTED:
            state.rejections.spend(source)
        return _answer(answer.acknowledgement)

    @bp.get("/return/<kind>/<uuid>", defaults={"trade_no": None})
    @bp.get("/return/<kind>/<uuid>/<trade_no>")
    def payment_return(kind: str, uuid: str, trade_no: str | None):
        """The browser's way back: verify, ask the gateway, settle through ``settle()``, show the order.

        Orders carry their number in the return path; the form without it is kept for orders issued
        before it was added."""
        state = current_app.extensions["panelpay"]
        returned = GatewayRequest(method="GET", headers=(), query_string=request.query_string, body=b"",
                                  content_type="", received_at=utcnow())
        try:
            channel = get_channel(state, uuid)
            if channel.kind != kind:
                raise NotFound("kind mismatch")
            impl = channel_impl(state, channel)
            report = impl.verify_return(returned)
            order = load_order(state, report.trade_no)
            if trade_no is not None and order.trade_no != trade_no:
                raise NotFound("the return names another order")
        except (InvalidNotification, NotFound, TransientError, GatewayError, DataError):
            # A cancelled payment comes back unsigned, and a return proves nothing by itself anyway: show the
            # order (its page asks the gateway), or the checkout when the order cannot be told.
            if trade_no is not None and TRADE_NO.fullmatch(trade_no):
                return redirect(_order_page(state, trade_no))
            return redirect(url_for("panelpay_pages.checkout"))
        if order.channel_id == channel.id and impl.owns(report):
            try:
                try:
                    sync_order(state, order, source="return")
                except (GatewayError, OrderRefused) as exc:  # down, or asked moments ago
                    log.info("return for %s: gateway not asked (%s)", order.trade_no, exc)
                    if impl.return_is_evidence and report.status is PaymentStatus.PAID and report.amount is not None:
                        settle(order, Evidence("return", report.amount, report.gateway_trade_no))
            except TransientError:
                pass  # the order page shows the real status; the notification or reconcile will settle it
        return redirect(_order_page(state, order.trade_no, order))

    return bp


def _order_page(state, trade_no: str, order=None) -> str:
    """Where the buyer sees an order: the user's order page, or a relay order's cashier (gateway mode).
    ``order``: the order, when it is loaded already."""
    if order is None:
        try:
            order = load_order(state, trade_no)
        except (NotFound, TransientError):
            pass
    if order is not None and order.merchant_id is not None:
        return cashier_url(state, order)
    return url_for("panelpay_pages.order_page", trade_no=trade_no)
