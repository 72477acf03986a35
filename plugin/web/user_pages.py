"""The user's pages: the checkout and the order page (their scripts call the JSON API for paying and
polling)."""
from __future__ import annotations

import segno
from flask import Blueprint, url_for
from markupsafe import Markup

from ..i18n import gettext as _, js_strings, localized, page_locale
from ..models import PENDING, utcnow
from ..money import format_money
from ..orders import current_payment, load_order
from ..store import NotFound, get_settings, list_channels
from .common import state
from .guards import allow_forms_to
from .rendering import channel_view, iso, render, require_user


def register(bp: Blueprint) -> None:
    @bp.get("/checkout")
    @localized
    def checkout():
        """Amount, channel, fee and total; paying and the order history run in checkout.js."""
        require_user()
        st, locale = state(), page_locale()
        offered = [c for c in list_channels(st, enabled_only=True) if c.kind in st.channel_kinds]
        allow_forms_to(st, offered)  # the page posts the new order's payment form to its gateway
        channels = [channel_view(c, locale) for c in offered]
        presets = [format_money(p) for p in st.settings.amount_presets]
        data = {
            "strings": js_strings(),
            "currency": st.settings.currency_symbol,
            "orders_url": url_for("panelpay_api.create"),
            "order_page": url_for("panelpay_pages.order_page", trade_no="TRADE_NO"),
        }
        return render("panelpay/checkout.html", channels=channels, presets=presets, currency=st.settings.currency_symbol,
                       enabled=get_settings(st)["enabled"], page_data=data)

    @bp.get("/orders/<trade_no>")
    @localized
    def order_page(trade_no: str):
        """One of the user's own orders (anyone else's is a 404, like the API's); polls until paid."""
        user_id = require_user()
        try:
            order = load_order(state(), trade_no, user_id=user_id)
        except NotFound:
            return render("panelpay/message.html", 404, title=_("Order not found"),
                           message=_("There is no such order among your top-ups."))
        pay = current_payment(state(), order)
        allow_forms_to(state(), [order.channel])
        pending = order.status == PENDING
        qr = pay.get("qr_code") if pending and pay.get("method") == "qrcode" else None
        data = {
            "strings": js_strings(),
            "trade_no": order.trade_no,
            "status": order.status,
            "expires_at": iso(order.expires_at),
            "server_now": iso(utcnow()),
            "api_url": url_for("panelpay_api.show", trade_no=order.trade_no),
            "sync_url": url_for("panelpay_api.sync", trade_no=order.trade_no),
            # Only what re-opening the gateway needs: a signed form or a link the user was given already.
            "pay": pay if pending and pay.get("method") in ("form", "redirect") else None,
        }
        return render(
            "panelpay/order.html", order=order, channel_name=order.channel_name,
            qr_svg=_qr_svg(qr) if qr else None,
            qr_link=qr if qr and qr.startswith(("https://", "http://")) else None,
            qr_text=qr, page_data=data,
        )


def _qr_svg(content: str) -> Markup:
    """The QR code as inline SVG, drawn here: nothing outside the machine is asked to render it."""
    svg = segno.make(content, error="m").svg_inline(scale=4, border=2, omitsize=True, svgclass="pp-qr-svg",
                                                    lineclass=None, dark="#111", light="#fff")
    return Markup(svg)


