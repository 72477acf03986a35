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
    "admin.merchant_order": lazy_gettext("a panel's order (merchant %(pid)s)"),
    "merchants.none": lazy_gettext("No merchants yet. Add the panel that will use PanelPay as its EPay site."),
    "merchants.on": lazy_gettext("On"),
    "merchants.off": lazy_gettext("Off"),
    "merchants.pid": lazy_gettext("pid %(pid)s"),
    "merchants.name": lazy_gettext("Name"),
    "merchants.notify_hosts": lazy_gettext("Notify hosts"),
    "merchants.return_hosts": lazy_gettext("Return hosts"),
    "merchants.channels": lazy_gettext("Channels"),
    "merchants.channels_help": lazy_gettext("None ticked: every enabled channel is offered to this panel's buyers."),
    "merchants.all_channels": lazy_gettext("every enabled channel"),
    "merchants.no_return_hosts": lazy_gettext("none: the buyer stays on PanelPay's page after paying"),
    "merchants.enabled": lazy_gettext("Enabled: the panel can take payments"),
    "merchants.confirm": lazy_gettext("Confirm by read"),
    "merchants.confirm_help": lazy_gettext("Optional, advised: a read-only account on the panel's database. A few "
                                           "seconds after the panel answers success, PanelPay reads the order back "
                                           "and delivers again, or alerts you, when the panel did not apply it."),
    "merchants.confirm_profile": lazy_gettext("Panel"),
    "merchants.confirm_off": lazy_gettext("Off"),
    "merchants.confirm_url": lazy_gettext("Read-only database URL"),
    "merchants.confirm_url_again": lazy_gettext("Give the database URL again to change the panel."),
    "merchants.stored": lazy_gettext("stored — leave blank to keep"),
    "merchants.edit": lazy_gettext("Edit"),
    "merchants.save": lazy_gettext("Save"),
    "merchants.cancel": lazy_gettext("Cancel"),
    "merchants.new_key": lazy_gettext("New key"),
    "merchants.confirm_new_key": lazy_gettext("Make a new key for %(name)s? The current key stops working at once: "
                                              "the panel's payments fail until you paste the new key into its "
                                              "settings."),
    "merchants.test": lazy_gettext("Test the panel's notify URL"),
    "merchants.test_url": lazy_gettext("The panel's notify URL (optional)"),
    "merchants.test_url_help": lazy_gettext("Empty: the notify URL of the panel's latest order. Xboard's looks like "
                                            "https://panel.example.com/api/v1/guest/payment/notify/EPay/<uuid>, "
                                            "New-API's like https://panel.example.com/api/user/epay/notify."),
    "merchants.run_test": lazy_gettext("Send a test notification"),
    "merchants.testing": lazy_gettext("Sending a signed test notification to the panel…"),
    "merchants.test_ok": lazy_gettext("Works"),
    "merchants.test_bad": lazy_gettext("Does not work"),
    "merchants.key_title": lazy_gettext("Settings for %(name)s (pid %(pid)s)"),
    "merchants.key_warning": lazy_gettext("The key is shown only now. Paste it into the panel before you leave this "
                                          "page: PanelPay keeps it sealed and cannot show it again. If it is lost, "
                                          "make a new key."),
    "merchants.xboard_title": lazy_gettext("Xboard: Admin → Payment methods → Add → EPay"),
    "merchants.xboard_type": lazy_gettext("Leave the payment type empty to let the buyer choose on PanelPay's page, "
                                          "or set it (such as alipay) to go straight to that method."),
    "merchants.newapi_title": lazy_gettext("New-API: Settings → Payment settings"),
    "merchants.newapi_methods": lazy_gettext("PayMethods lists the payment types buyers pick from, such as alipay."),
    "merchants.copy": lazy_gettext("Copy"),
    "merchants.copied": lazy_gettext("Copied"),
    "merchants.copy_failed": lazy_gettext("Select the text and copy it."),
    "merchants.hide_key": lazy_gettext("I have pasted it: hide the key"),
    "merchants.created": lazy_gettext("%(name)s was added with pid %(pid)s."),
    "merchants.saved": lazy_gettext("%(name)s was saved."),
    "merchants.key_made": lazy_gettext("A new key was made for %(name)s: the old one no longer works."),
    "merchants.need_name": lazy_gettext("Give the merchant a name of 1 to 64 characters, such as the panel's."),
    "merchants.need_hosts": lazy_gettext("Give at least one host the panel's notify URL uses, such as "
                                         "panel.example.com: PanelPay notifies no other."),
    "merchants.too_many_hosts": lazy_gettext("Give a list of at most 20 host names."),
    "merchants.unknown_url": lazy_gettext("unknown until PANELPAY_SITE_URL is set"),
    "deliveries.status.pending": lazy_gettext("Being delivered"),
    "deliveries.status.delivered": lazy_gettext("Delivered"),
    "deliveries.status.failed": lazy_gettext("Not delivered"),
    "deliveries.next": lazy_gettext("next attempt %(when)s"),
    "deliveries.delivered_at": lazy_gettext("delivered %(when)s"),
    "deliveries.attempt": lazy_gettext("%(when)s · %(purpose)s · %(took)s ms"),
    "deliveries.purpose.deliver": lazy_gettext("delivery"),
    "deliveries.purpose.probe": lazy_gettext("test"),
    "deliveries.no_attempts": lazy_gettext("No attempt yet."),
    "deliveries.running": lazy_gettext("Delivering what is due…"),
    "deliveries.done": lazy_gettext("Attempted %(attempted)s, delivered %(delivered)s."),
    "deliveries.nothing_due": lazy_gettext("Nothing was due: every notification is delivered or waits for its next "
                                           "attempt."),
    "deliveries.confirmed.applied": lazy_gettext("the panel applied it (read from its database)"),
    "deliveries.confirmed.cancelled": lazy_gettext("the panel had cancelled the order before the payment arrived: "
                                                   "refund it or apply it by hand"),
    "deliveries.confirmed.redelivered": lazy_gettext("not applied when read back: delivered once more"),
    "deliveries.confirmed.not_applied": lazy_gettext("the panel answered success but did not apply it"),
    "deliveries.confirmed.unreadable": lazy_gettext("the panel's database could not be read"),
}


def js_strings() -> dict:
    """The scripts' strings and labels, translated into the current locale (a JSON-ready dict)."""
    strings = {key: str(text) for key, text in _JS_STRINGS.items()}
    strings.update({f"status.{key}": str(text) for key, text in STATUS_LABELS.items()})
    strings.update({f"verdict.{key}": str(text) for key, text in VERDICT_LABELS.items()})
    strings.update({f"level.{key}": str(text) for key, text in LEVEL_LABELS.items()})
    strings.update({f"source.{key}": str(text) for key, text in SOURCE_LABELS.items()})
    return strings
