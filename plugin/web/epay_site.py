"""Gateway mode's pages and endpoints: PanelPay as a panel's EPay site (see :mod:`panelpay.relay`).

``/submit.php``, ``/mapi.php`` and ``/api.php`` are served at the site's root (old New-API drops any path
of its gateway URL) and under ``<prefix>/epay/``; the buyer's cashier is ``<prefix>/epay/pay/…``."""
from __future__ import annotations

import hmac
import json
import logging

from flask import Blueprint, abort, redirect, request, url_for
from sqlalchemy import select

from .. import merchants, relay
from ..callback import default_base
from ..channels.base import GatewayError
from ..db import TransientError
from ..i18n import gettext as _, localized, page_locale
from ..models import PAID, PENDING, TRADE_NO, Order
from ..money import format_money
from ..orders import OrderRefused, current_payment, load_order, sync_order
from ..relay import SubmitRefused
from ..store import NotFound
from .common import client_ip, is_mobile, state
from .guards import allow_forms_to
from .rendering import kind_label, page_context, render
from .user_pages import _qr_svg

log = logging.getLogger("panelpay")


def _params() -> dict:
    """The request's EPay parameters: the query of a GET, the form of a POST (first value of each). A query
    longer than any panel sends is refused (413) before it is read."""
    if len(request.query_string) > state().settings.max_request_bytes:
        abort(413, description="The request is larger than PanelPay accepts.")
    source = request.form if request.method == "POST" else request.args
    return {key: source.get(key, "") for key in source}


def _refused(message: str, status: int = 400):
    return render("panelpay/message.html", status, title=_("This payment cannot start"), message=message,
                  back_link=False)


def _relay_order(st, verified, params: dict, *, client_ip: str, mobile: bool):
    """The relay order of a verified submit, and the channels that may take it: the order made by an identical
    earlier submit (made payable again if its gateway had refused it), or a new one on the channel the buyer
    chose or the only one that takes it; ``(None, channels)`` when the buyer must choose. Raises
    :class:`SubmitRefused` (a changed re-submit) and :class:`OrderRefused`."""
    order = relay.existing(st, verified)
    if order is not None:
        return relay.reopen(st, order, mobile=mobile), []
    offered = relay.channels_for(st, verified)
    if not offered:
        raise OrderRefused(_("No payment method here takes this order (type %(type)s, %(amount)s): the operator can "
                             "add one, or allow this merchant more channels.", type=params.get("type") or "-",
                             amount=format_money(verified.amount)), code="channel", status=409)
    chosen = params.get(relay.CHOICE)
    channel = next((c for c in offered if c.uuid == chosen), None) if chosen else \
        (offered[0] if len(offered) == 1 else None)
    if channel is None:
        return None, offered
    return relay.open_relay(st, verified, channel, client_ip=client_ip, mobile=mobile), offered


def add_protocol(bp: Blueprint) -> None:
    """The EPay v1 merchant endpoints, on ``bp``."""

    @bp.errorhandler(TransientError)
    @localized
    def unavailable(exc):
        log.warning("EPay site: database unavailable (%s)", exc)
        if request.endpoint and request.endpoint.rsplit(".", 1)[-1] in ("mapi", "api"):
            return {"code": -1, "msg": "PanelPay's database is unavailable; try again in a minute"}, 503
        return render("panelpay/message.html", 503, title=_("Please try again in a minute"),
                      message=_("PanelPay cannot reach its database just now. Nothing was charged: go back and try "
                                "again in a minute."), back_link=False)

    @bp.before_request
    def _deliver_what_is_owed():
        # Gateway-mode traffic starts the app's deliverer if it is not running (after a restart, say): it
        # delivers what is owed, then ends when nothing is.
        deliverer = state().deliverer
        if deliverer is not None and deliverer.thread is None:
            deliverer.wake()

    @bp.route("/submit.php", methods=["GET", "POST"])
    @localized
    def submit():
        """A panel's signed order → the cashier (or, with several ways to pay it, the choice)."""
        st, source = state(), client_ip()
        if st.rejections.exhausted(source):
            return _refused(_("Too many refused payments from this address: try again in a minute."), 429)
        params = _params()
        try:
            verified = relay.read_submit(st, params)
        except SubmitRefused as exc:
            st.rejections.spend(source)
            return _refused(str(exc))
        try:
            order, offered = _relay_order(st, verified, params, client_ip=source, mobile=is_mobile())
        except SubmitRefused as exc:
            return _refused(str(exc))
        except OrderRefused as exc:
            return _refused(str(exc), exc.status)
        if order is None:
            locale = page_locale()
            choices = [{"uuid": c.uuid, "name": c.name, "kind_label": kind_label(c.kind, locale)} for c in offered]
            return render("panelpay/epay_choose.html", channels=choices, merchant_name=verified.merchant.name,
                          item=verified.fields["name"], amount=verified.amount, action=request.path,
                          fields={k: v for k, v in params.items() if k != relay.CHOICE})
        return redirect(relay.cashier_url(st, order))

    @bp.post("/mapi.php")
    @localized
    def mapi():
        """A panel's server creates the order: ``{"code": 1, "trade_no", "payurl" | "qrcode"}``."""
        st, source = state(), client_ip()
        if st.rejections.exhausted(source):
            return {"code": -1, "msg": _("Too many refused requests from this address: try again in a minute.")}, 429
        params = _params()
        try:
            verified = relay.read_submit(st, params)
        except SubmitRefused as exc:
            st.rejections.spend(source)
            return {"code": -1, "msg": str(exc)}
        try:
            order, _offered = _relay_order(st, verified, params, client_ip=params.get("clientip") or source,
                                           mobile=params.get("device") == "mobile")
        except (SubmitRefused, OrderRefused) as exc:
            return {"code": -1, "msg": str(exc)}
        base = default_base(st.settings.site_url)
        if order is None:  # the buyer chooses at the cashier
            chosen = {k: v for k, v in params.items() if k != relay.CHOICE}
            return {"code": 1, "msg": "", "trade_no": "",
                    "payurl": relay.with_query(base + url_for(request.endpoint.replace("mapi", "submit")), chosen)}
        if order.status not in (PENDING, PAID):
            return {"code": -1, "msg": _("This order can no longer be paid (its time ran out): start it again from "
                                         "the panel.")}
        pay = current_payment(st, order)
        answer = {"code": 1, "msg": "", "trade_no": order.trade_no}
        if pay.get("method") == "qrcode" and pay.get("qr_code"):
            answer["qrcode"] = pay["qr_code"]
        else:
            answer["payurl"] = base + relay.cashier_url(st, order)
        return answer

    @bp.get("/api.php")
    def api():
        """``act=order``: one order of the merchant, authenticated by its key."""
        st, source = state(), client_ip()
        if st.rejections.exhausted(source):
            return {"code": -1, "msg": "too many refused requests; try again in a minute"}, 429
        if request.args.get("act") != "order":
            return {"code": -1, "msg": "unsupported act (only act=order)"}
        try:
            merchant = merchants.get_merchant(st, request.args.get("pid", ""))
            key_ok = hmac.compare_digest(merchants.key_of(st, merchant).encode(), request.args.get("key", "").encode())
        except NotFound:
            key_ok = False
        if not key_ok:
            st.rejections.spend(source)
            return {"code": -1, "msg": "wrong pid or key"}
        query = select(Order).where(Order.merchant_id == merchant.id)
        wanted = request.args.get("trade_no") or request.args.get("out_trade_no", "")
        if not TRADE_NO.fullmatch(wanted):
            return {"code": -1, "msg": "no such order"}
        column = Order.trade_no if request.args.get("trade_no") else Order.out_trade_no
        query = query.where(column == wanted)
        with st.session() as session:
            order = session.execute(query).scalar_one_or_none()
        if order is None:
            return {"code": -1, "msg": "no such order"}
        sent = json.loads(order.relay or "{}")
        return {"code": 1, "msg": "succ", "trade_no": order.trade_no, "out_trade_no": order.out_trade_no,
                "api_trade_no": order.gateway_trade_no or "", "type": relay.notification_type(order),
                "pid": merchant.pid, "addtime": order.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "endtime": order.paid_at.strftime("%Y-%m-%d %H:%M:%S") if order.paid_at else "",
                "name": sent.get("name", ""), "money": sent.get("money", ""), "param": sent.get("param", ""),
                "status": 1 if order.status == PAID else 0}


def epay_blueprints(prefix: str) -> list[tuple[Blueprint, str]]:
    """The EPay site under ``<prefix>/epay`` (with the cashier), and its endpoints again at the root."""
    bp = Blueprint("panelpay_epay", __name__)
    bp.context_processor(page_context)
    add_protocol(bp)

    def _held(trade_no: str, token: str):
        """The relay order a cashier link names, if the link is valid (its token is the capability)."""
        try:
            order = load_order(state(), trade_no)
        except NotFound:
            return None
        if order.merchant_id is None or not hmac.compare_digest(relay.cashier_token(state(), trade_no), token):
            return None
        return order

    @bp.get("/pay/<trade_no>/<token>/status")
    def cashier_status(trade_no: str, token: str):
        """What the cashier page polls: the order's status (the page reloads when it changes)."""
        order = _held(trade_no, token)
        if order is None:
            return {"error": "not_found"}, 404
        return {"status": order.status}

    @bp.get("/pay/<trade_no>/<token>")
    @localized
    def cashier(trade_no: str, token: str):
        """The buyer's page for one relay order (the link is its capability): pay, wait, go back."""
        st = state()
        order = _held(trade_no, token)
        if order is None:
            return render("panelpay/message.html", 404, title=_("Order not found"),
                          message=_("This payment link is not valid. Start again from the site you are paying."),
                          back_link=False)
        notice = None
        if order.status == PENDING and request.args.get("check"):
            try:
                if sync_order(st, order) is not None:
                    order = load_order(st, trade_no)
                else:
                    notice = _("The payment has not arrived yet. If you have paid, wait a minute: this page updates "
                               "by itself.")
            except OrderRefused as exc:
                notice = str(exc)
            except (GatewayError, TransientError):
                notice = _("The payment gateway could not be asked just now; this page keeps checking.")
        merchant = merchants.merchant_by_id(st, order.merchant_id)
        sent = json.loads(order.relay or "{}")
        here = relay.cashier_url(st, order)
        back = relay.return_url(st, order, merchant)
        pay = current_payment(st, order) if order.status == PENDING else {}
        allow_forms_to(st, [order.channel])
        qr = pay.get("qr_code") if pay.get("method") == "qrcode" else None
        # Pending: the page's script polls and reloads once the status changes (without scripts, the page
        # reloads itself every 5 s). Paid: back to the panel after 3 s.
        refresh = {"seconds": 5, "url": here, "noscript": True} if order.status == PENDING else \
            ({"seconds": 3, "url": back} if back else None)
        return render("panelpay/epay_cashier.html", order=order, merchant_name=merchant.name,
                      item=sent.get("name", ""), pay=pay, qr_svg=_qr_svg(qr) if qr else None,
                      qr_link=qr if qr and qr.startswith(("https://", "http://")) else None,
                      check_url=here + "?check=1", back_url=back, refresh=refresh, notice=notice,
                      page_data={"status_url": here + "/status", "status": order.status})

    root = Blueprint("panelpay_epay_root", __name__)
    root.context_processor(page_context)
    add_protocol(root)
    return [(bp, prefix + "/epay"), (root, "")]
