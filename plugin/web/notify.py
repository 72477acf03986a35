"""The gateway-facing routes: the built-in notify path and the browser's return."""
from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, current_app, redirect, request, url_for
from sqlalchemy.exc import DataError
from werkzeug.exceptions import RequestEntityTooLarge

from .. import doctor, spool
from ..channels.base import GatewayError, InvalidNotification, PaymentStatus
from ..db import TransientError
from ..judge import TRADE_NO, Raw, parse_params, receive
from ..models import utcnow
from ..orders import load_order, sync_order
from ..settle import Evidence, settle
from ..store import NotFound, channel_impl, get_channel

log = logging.getLogger("panelpay")


def _state():
    return current_app.extensions["panelpay"].state


def _plain(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


#: The shape of the uuids PanelPay gives channels (:func:`panelpay.store.new_uuid`).
CHANNEL_UUID = re.compile(r"[0-9a-f]{16}")


def _printable(segment: str) -> str:
    """A path segment as it can be stored: control and non-ASCII characters escaped."""
    if segment.isascii() and segment.isprintable():
        return segment
    return segment.encode("unicode_escape").decode("ascii")[:64]


def notify_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_notify", __name__)

    @bp.route("/notify/<kind>/<uuid>", methods=["GET", "POST"])
    def notify(kind: str, uuid: str):
        """Record, verify, check, settle, and only then answer ``success``."""
        state = _state()
        nonce = doctor.probe_nonce(request)
        if nonce is not None:
            return doctor.probe_answer(state, nonce, kind, uuid)
        limit = state.settings.max_notify_bytes
        if (request.content_length or 0) > limit or len(request.query_string) > limit:
            return _plain("fail", 413)
        request.max_content_length = limit
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _plain("fail", 413)
        # A path that cannot be one of our channels keeps only the start of what it carried: the delivery
        # log records it without letting anyone store 128 KB per request at an arbitrary URL.
        ours = kind in state.channel_kinds and CHANNEL_UUID.fullmatch(uuid) is not None
        keep = None if ours else 1024
        raw = Raw(
            kind=_printable(kind),
            channel_uuid=_printable(uuid),
            method=request.method,
            query_string=request.query_string[:keep],
            body=body[:keep],
            content_type=request.content_type or "",
            source_ip=request.remote_addr or "",
            received_at=utcnow(),
        )
        try:
            answer = receive(state, raw)
        except TransientError as exc:
            spool.keep(state, raw)
            log.error("notification for %s/%s spooled: database unavailable (%s)", kind, uuid, exc)
            return _plain("fail", 503)
        return _plain(answer.body, answer.status)

    @bp.route("/return/<kind>/<uuid>", methods=["GET"])
    def payment_return(kind: str, uuid: str):
        """The browser's way back: verify, ask the gateway, settle through ``settle()``, show the order."""
        state = _state()
        raw = Raw(kind, uuid, "GET", request.query_string, b"", "", request.remote_addr or "", utcnow())
        try:
            params = parse_params(raw)
            channel = get_channel(state, uuid)
            if channel.kind != kind:
                raise NotFound("kind mismatch")
            impl = channel_impl(state, channel)
            report = impl.verify_return(params, received_at=raw.received_at)
            order = load_order(state, report.trade_no)
        except (InvalidNotification, NotFound, TransientError, GatewayError, DataError):
            # A cancelled payment comes back unsigned, and a return proves nothing by itself anyway: show the
            # order (its page asks the gateway), or the checkout when the order cannot be told.
            trade_no = request.args.get("out_trade_no", "")
            if TRADE_NO.fullmatch(trade_no):
                return redirect(url_for("panelpay_pages.order_page", trade_no=trade_no))
            return redirect(url_for("panelpay_pages.checkout"))
        if order.channel_id == channel.id and impl.owns(report):
            try:
                try:
                    sync_order(state, order, source="return")
                except GatewayError as exc:
                    log.info("return for %s: gateway query failed (%s)", order.trade_no, exc)
                    if impl.return_is_evidence and report.status is PaymentStatus.PAID and report.amount is not None:
                        settle(order, Evidence("return", report.amount, report.gateway_trade_no))
            except TransientError:
                pass  # the order page shows the real status; the notification or reconcile will settle it
        return redirect(url_for("panelpay_pages.order_page", trade_no=order.trade_no))

    return bp
