"""PanelPay's own translations and the language of its pages.

PanelPay translates through its own Flask-Babel domain (``panelpay``, catalogues in
``plugin/translations``), so a host's Babel setup — its domain, its catalogues, its locale selector — is
left alone. A host without Babel gets a plain one, only because Flask-Babel needs it to resolve locales.

The language of a PanelPay page is, in order: the host's ``locale`` hook, the browser's
``Accept-Language``, ``PANELPAY_DEFAULT_LOCALE``. Views run inside :func:`localized`, which forces that
locale for the request (the host layout the page extends renders in it too).
"""
from __future__ import annotations

import functools
import os

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, Domain, force_locale

TRANSLATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")

domain = Domain(translation_directories=[TRANSLATIONS], domain="panelpay")
gettext = domain.gettext
lazy_gettext = domain.lazy_gettext


def init_babel(app: Flask) -> None:
    """Give the app a Flask-Babel instance if the host has none (a host's own one is kept as it is)."""
    if "babel" not in app.extensions:
        Babel(app)


def normalise_locale(value: object) -> str | None:
    """``"zh-CN"``, ``"zh_cn"``, ``"zh-Hans"``, ``"zh"`` → ``"zh_CN"``; ``"en-US"`` → ``"en"``; else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag == "zh" or tag.startswith(("zh_cn", "zh_hans", "zh_sg")):
        return "zh_CN"
    if tag == "en" or tag.startswith("en_"):
        return "en"
    return None


def page_locale() -> str:
    """The locale of the current PanelPay page: host hook, then Accept-Language, then the default."""
    state = current_app.extensions["panelpay"]
    hook = state.ext.locale
    chosen = normalise_locale(hook()) if hook is not None else None
    if chosen is None and has_request_context():
        chosen = normalise_locale(request.accept_languages.best_match(["en", "zh-CN"]))
    return chosen or state.settings.default_locale


def localized(view):
    """Decorator: run a view with PanelPay's locale forced for the whole request."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with force_locale(page_locale()):
            return view(*args, **kwargs)

    return wrapper


def html_lang(locale: str) -> str:
    """The ``lang`` attribute value of a locale (``zh_CN`` → ``zh-CN``)."""
    return locale.replace("_", "-")


#: Labels that the server renders and the scripts show too (the scripts get them through js_strings()).
STATUS_LABELS = {
    "pending": lazy_gettext("Waiting for payment"),
    "paid": lazy_gettext("Paid"),
    "expired": lazy_gettext("Expired"),
    "closed": lazy_gettext("Closed"),
    "anomaly": lazy_gettext("Needs attention"),
}
VERDICT_LABELS = {
    "received": lazy_gettext("received"),
    "accepted": lazy_gettext("accepted"),
    "duplicate": lazy_gettext("duplicate"),
    "ignored": lazy_gettext("ignored"),
    "rejected": lazy_gettext("rejected"),
    "anomaly": lazy_gettext("anomaly"),
    "error": lazy_gettext("error"),
    "retried": lazy_gettext("sent again"),
}
#: marshmallow's own messages, as the JSON endpoints answer them (translated where they are answered).
VALIDATION_MESSAGES = (
    lazy_gettext("Missing data for required field."),
    lazy_gettext("Field may not be null."),
    lazy_gettext("Invalid value."),
    lazy_gettext("Not a valid string."),
    lazy_gettext("Not a valid integer."),
    lazy_gettext("Not a valid boolean."),
    lazy_gettext("Not a valid mapping type."),
    lazy_gettext("Invalid input type."),
    lazy_gettext("Unknown field."),
)
#: What confirmed a payment (an order's ``settled_by``).
SOURCE_LABELS = {
    "notify": lazy_gettext("the gateway's notification"),
    "replay": lazy_gettext("a replayed notification"),
    "query": lazy_gettext("asking the gateway"),
    "return": lazy_gettext("the payer's return to the site"),
    "reconcile": lazy_gettext("reconcile"),
    "manual": lazy_gettext("an administrator"),
}
LEVEL_LABELS = {
    "error": lazy_gettext("Error"),
    "warning": lazy_gettext("Warning"),
    "info": lazy_gettext("Note"),
}

#: Every string the page scripts show, by key. Kept here so one catalogue holds all of PanelPay's text.
_JS_STRINGS = {
    "error.network": lazy_gettext("The server could not be reached. Check your connection and try again."),
    "error.generic": lazy_gettext("Something went wrong. Try again."),
    "checkout.pick_channel": lazy_gettext("Choose a payment method."),
    "checkout.bad_amount": lazy_gettext("Enter an amount such as 10 or 10.50 (at most two decimals)."),
    "checkout.paying": lazy_gettext("Creating the order…"),
    "checkout.opening": lazy_gettext("Opening the payment page…"),
    "checkout.no_fee": lazy_gettext("no fee"),
    "checkout.amount_empty": lazy_gettext("Enter the amount to top up."),
    "checkout.amount_positive": lazy_gettext("The amount must be more than 0.00."),
    "checkout.amount_decimals": lazy_gettext("Use at most two decimals, such as 10.50."),
    "checkout.amount_min": lazy_gettext("The smallest top-up with %(channel)s is %(amount)s."),
    "checkout.amount_max": lazy_gettext("The largest top-up with %(channel)s is %(amount)s."),
    "history.empty": lazy_gettext("No top-ups yet."),
    "order.expires_in": lazy_gettext("Expires in %(time)s"),
    "order.expired": lazy_gettext("This QR code has expired. Start a new top-up."),
    "order.checking": lazy_gettext("Asking the payment gateway…"),
    "order.not_yet": lazy_gettext("The gateway has not received the payment yet. If you have paid, wait a moment and try again."),
    "order.confirmed": lazy_gettext("Payment confirmed. Your balance has been credited."),
    "admin.preview": lazy_gettext("preview, not saved yet"),
    "admin.saved_domain": lazy_gettext("Saved: %(domain)s"),
    "admin.saved_none": lazy_gettext("Saved: none — the site's own address (%(base)s) is used."),
    "admin.no_conflicts": lazy_gettext("No conflicts found."),
    "admin.confirm_domain_errors": lazy_gettext("This callback domain has errors: gateways may not reach PanelPay "
                                                "there. Save it anyway?"),
    "admin.unknown_base": lazy_gettext("unknown until PANELPAY_SITE_URL is set"),
    "admin.doctor_running": lazy_gettext("Probing the notify URLs…"),
    "admin.doctor_ok": lazy_gettext("No errors: the gateways can reach PanelPay."),
    "admin.doctor_failed": lazy_gettext("Errors found: fix them before taking payments."),
    "admin.reconcile_running": lazy_gettext("Asking the gateways about pending orders…"),
    "admin.reconcile_done": lazy_gettext("Asked %(queried)s, paid %(paid)s, still pending %(pending)s, expired %(expired)s, errors %(errors)s."),
    "admin.reconcile_skipped": lazy_gettext("%(skipped)s more pending order(s) were not asked now: they were asked "
                                            "recently (an order is asked less often as it ages)."),
    "admin.doctor_nothing": lazy_gettext("Nothing was probed: no channel is switched on."),
    "admin.loading": lazy_gettext("Loading…"),
    "admin.none": lazy_gettext("Nothing matches these filters."),
    "admin.details": lazy_gettext("Details"),
    "admin.hide": lazy_gettext("Hide"),
    "admin.replay": lazy_gettext("Replay"),
    "admin.replaying": lazy_gettext("Replaying…"),
    "admin.replayed": lazy_gettext("Replayed as #%(id)s: %(verdict)s — %(outcome)s (answered %(status)s %(body)s)"),
    "admin.raw_query": lazy_gettext("Query string"),
    "admin.raw_body": lazy_gettext("Body"),
    "admin.params": lazy_gettext("Parameters"),
    "admin.content_type": lazy_gettext("Content type"),
    "admin.headers": lazy_gettext("Request headers"),
    "admin.reason": lazy_gettext("Why it was refused"),
    "admin.source_ip": lazy_gettext("Source address"),
    "admin.answer": lazy_gettext("Answer"),
    "admin.outcome": lazy_gettext("Outcome"),
    "admin.verdict": lazy_gettext("Verdict"),
    "admin.replay_of": lazy_gettext("Replay of"),
    "admin.empty": lazy_gettext("(empty)"),
    "admin.page": lazy_gettext("Page %(page)s of %(pages)s · %(total)s in all"),
    "admin.prev": lazy_gettext("Previous"),
    "admin.next": lazy_gettext("Next"),
    "admin.confirm_delete": lazy_gettext("Delete this channel? A channel with orders is disabled instead."),
    "admin.path": lazy_gettext("Requested path"),
    "admin.paid_late": lazy_gettext("Paid late"),
    "admin.settled_by": lazy_gettext("confirmed by: %(source)s"),
    "admin.reviewed_by": lazy_gettext("Reviewed by %(name)s, %(when)s"),
    "admin.mark_reviewed": lazy_gettext("Mark reviewed"),
    "admin.credit_by_hand": lazy_gettext("Credit it"),
    "admin.confirm_credit": lazy_gettext("Credit this order's total of %(total)s to its user? Do this only once you "
                                         "know the money arrived."),
    "admin.credited_by_hand": lazy_gettext("Order %(trade_no)s credited, with your name on it."),
    "admin.marked_reviewed": lazy_gettext("Order %(trade_no)s marked reviewed, with your name on it."),
    "admin.amount_fee": lazy_gettext("top-up %(amount)s · fee %(fee)s"),
}


def js_strings() -> dict:
    """The scripts' strings and labels, translated into the current locale (a JSON-ready dict)."""
    strings = {key: str(text) for key, text in _JS_STRINGS.items()}
    strings.update({f"status.{key}": str(text) for key, text in STATUS_LABELS.items()})
    strings.update({f"verdict.{key}": str(text) for key, text in VERDICT_LABELS.items()})
    strings.update({f"level.{key}": str(text) for key, text in LEVEL_LABELS.items()})
    strings.update({f"source.{key}": str(text) for key, text in SOURCE_LABELS.items()})
    return strings
