"""Server-rendered pages: one blueprint holding the user's pages (:mod:`.user_pages`: checkout, order) and
the operator's (:mod:`.admin_pages`: settings, channel forms); what they share is in :mod:`.rendering`.

Pages read through the modules the JSON API uses (``store``, ``orders``, ``callback``); their scripts call
the JSON API for everything live (paying, polling, the callback-domain check, the doctor, the logs).
Every view runs in PanelPay's locale (:func:`panelpay.i18n.localized`) and extends the host's layout
(``PANELPAY_BASE_TEMPLATE``).
"""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy.exc import DataError, SQLAlchemyError

from ..db import TransientError
from ..i18n import gettext as _, init_babel, localized
from . import admin_pages, user_pages
from .rendering import page_context, render


def pages_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_pages", __name__, template_folder="../templates", static_folder="../static",
                   static_url_path="/static")
    bp.record_once(lambda setup: init_babel(setup.app))
    bp.context_processor(page_context)
    user_pages.register(bp)
    admin_pages.register(bp)

    @bp.errorhandler(DataError)
    @localized
    def unusable(exc):
        return render("panelpay/message.html", 400, title=_("Not a valid address"),
                       message=_("This address holds characters that cannot be used."))

    @bp.errorhandler(411)
    @bp.errorhandler(413)
    @localized
    def too_large(exc):
        return render("panelpay/message.html", exc.code, title=_("The form is too large"),
                      message=_("PanelPay did not accept this form: it is larger than any of its pages sends. "
                                "Go back and try again."))

    @bp.errorhandler(TransientError)
    @bp.errorhandler(SQLAlchemyError)
    @localized
    def unavailable(exc):
        return render("panelpay/message.html", 503, title=_("Temporarily unavailable"),
                       message=_("The database cannot be reached right now. Your payments are safe; "
                                 "please try again in a moment."))

    return bp
