"""Server-rendered pages: the user's checkout and order page, the operator's settings page."""
from __future__ import annotations

from flask import Blueprint, abort, render_template

from .common import state


def pages_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_pages", __name__, template_folder="../templates", static_folder="../static",
                   static_url_path="/static")

    @bp.get("/checkout")
    def checkout():
        if state().current_user_id() is None:
            abort(401)
        return render_template("panelpay/checkout.html")

    @bp.get("/orders/<trade_no>")
    def order_page(trade_no: str):
        if state().current_user_id() is None:
            abort(401)
        return render_template("panelpay/order.html", trade_no=trade_no)

    @bp.get("/admin")
    def admin_page():
        if state().current_user_id() is None:
            abort(401)
        if not state().is_admin():
            abort(403)
        return render_template("panelpay/admin.html")

    return bp
