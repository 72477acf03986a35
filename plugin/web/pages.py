"""Server-rendered pages: the user's checkout and order page, the operator's settings page.

Pages read through the modules the JSON API uses (``store``, ``orders``, ``callback``); their scripts call
the JSON API for everything live (paying, polling, the callback-domain check, the doctor, the logs). The
settings page's own forms POST here, each with a Flask-WTF CSRF token, and redirect back (post/redirect/get).

Every view runs in PanelPay's locale (:func:`panelpay.i18n.localized`) and extends the host's layout
(``PANELPAY_BASE_TEMPLATE``).
"""
from __future__ import annotations

from decimal import Decimal

import segno
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy.exc import DataError

from .. import callback
from ..channels.base import ConfigInvalid
from ..db import TransientError
from ..i18n import (LEVEL_LABELS, STATUS_LABELS, VERDICT_LABELS, gettext as _, html_lang, init_babel, js_strings,
                    localized, page_locale)
from ..models import PENDING, utcnow
from ..money import format_money
from ..orders import current_payment, load_order
from ..store import NotFound, clean_channel_config, delete_channel, get_channel, get_settings, list_channels, \
    masked_config, put_settings, save_channel
from . import forms
from .admin_api import settings_document
from .common import state

#: Session key of the one-shot notice shown after a settings-page POST (PanelPay's own, so a host
#: layout that renders flashed messages does not show it twice).
_NOTICE = "panelpay_notice"


def pages_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_pages", __name__, template_folder="../templates", static_folder="../static",
                   static_url_path="/static")
    bp.record_once(lambda setup: init_babel(setup.app))
    bp.context_processor(_page_context)
    _user_pages(bp)
    _admin_pages(bp)

    @bp.errorhandler(DataError)
    @localized
    def unusable(exc):
        return _render("panelpay/message.html", 400, title=_("Not a valid address"),
                       message=_("This address holds characters that cannot be used."))

    @bp.errorhandler(TransientError)
    @localized
    def unavailable(exc):
        return _render("panelpay/message.html", 503, title=_("Temporarily unavailable"),
                       message=_("The database cannot be reached right now. Your payments are safe; "
                                 "please try again in a moment."))

    return bp


# -- shared -------------------------------------------------------------------------------------------

def _page_context() -> dict:
    locale = page_locale()
    return {
        "_pp": _,
        "panelpay_locale": locale,
        "panelpay_html_lang": html_lang(locale),
        "panelpay_base": state().settings.base_template,
        "panelpay_version": state().manifest.version,
        "status_label": lambda status: str(STATUS_LABELS.get(status, status)),
        "verdict_label": lambda verdict: str(VERDICT_LABELS.get(verdict, verdict)),
        "level_label": lambda level: str(LEVEL_LABELS.get(level, level)),
        "money": format_money,
    }


def _render(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def _require_user() -> str:
    user_id = state().current_user_id()
    if user_id is None:
        abort(401)
    return user_id


def _kind_label(kind: str, locale: str) -> str:
    spec = state().manifest.kinds.get(kind) or {}
    return forms.localised(spec.get("label"), locale) or kind


def _percent(value: Decimal) -> str:
    """A percentage without trailing zeros: ``2.50`` → ``2.5``, ``10.00`` → ``10``."""
    return f"{Decimal(value).normalize():f}"


def _fee_text(channel) -> str:
    fixed, percent = Decimal(channel.fee_fixed or 0), Decimal(channel.fee_percent or 0)
    if not fixed and not percent:
        return _("no fee")
    if fixed and percent:
        return _("fee %(fixed)s + %(percent)s%%", fixed=format_money(fixed), percent=_percent(percent))
    if fixed:
        return _("fee %(fixed)s", fixed=format_money(fixed))
    return _("fee %(percent)s%%", percent=_percent(percent))


def _limits_text(channel) -> str:
    if channel.max_amount is None:
        return _("from %(min)s", min=format_money(channel.min_amount))
    return _("%(min)s to %(max)s", min=format_money(channel.min_amount), max=format_money(channel.max_amount))


def _channel_view(channel, locale: str) -> dict:
    return {
        "uuid": channel.uuid, "name": channel.name, "kind": channel.kind,
        "kind_label": _kind_label(channel.kind, locale), "enabled": channel.enabled, "sort": channel.sort,
        "fee_fixed": format_money(channel.fee_fixed), "fee_percent": format_money(channel.fee_percent),
        "min_amount": format_money(channel.min_amount), "max_amount": format_money(channel.max_amount),
        "fee_text": _fee_text(channel), "limits_text": _limits_text(channel),
        "notify_domain": channel.notify_domain or "",
    }


def _iso(moment) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the user's pages ---------------------------------------------------------------------------------

def _user_pages(bp: Blueprint) -> None:
    @bp.get("/checkout")
    @localized
    def checkout():
        """Amount, channel, fee and total; paying and the order history run in checkout.js."""
        _require_user()
        st, locale = state(), page_locale()
        channels = [_channel_view(c, locale) for c in list_channels(st, enabled_only=True)
                    if c.kind in st.channel_kinds]
        presets = [format_money(p) for p in st.settings.amount_presets]
        data = {
            "strings": js_strings(),
            "orders_url": url_for("panelpay_api.create"),
            "order_page": url_for("panelpay_pages.order_page", trade_no="TRADE_NO"),
        }
        return _render("panelpay/checkout.html", channels=channels, presets=presets,
                       enabled=get_settings(st)["enabled"], page_data=data)

    @bp.get("/orders/<trade_no>")
    @localized
    def order_page(trade_no: str):
        """One of the user's own orders (anyone else's is a 404, like the API's); polls until paid."""
        user_id = _require_user()
        try:
            order = load_order(state(), trade_no, user_id=user_id)
        except NotFound:
            return _render("panelpay/message.html", 404, title=_("Order not found"),
                           message=_("There is no such order among your top-ups."))
        pay = current_payment(state(), order)
        pending = order.status == PENDING
        qr = pay.get("qr_code") if pending and pay.get("method") == "qrcode" else None
        data = {
            "strings": js_strings(),
            "trade_no": order.trade_no,
            "status": order.status,
            "expires_at": _iso(order.expires_at),
            "server_now": _iso(utcnow()),
            "api_url": url_for("panelpay_api.show", trade_no=order.trade_no),
            "sync_url": url_for("panelpay_api.sync", trade_no=order.trade_no),
            # Only what re-opening the gateway needs: a signed form or a link the user was given already.
            "pay": pay if pending and pay.get("method") in ("form", "redirect") else None,
        }
        return _render(
            "panelpay/order.html", order=order, channel_name=order.channel.name if order.channel else "",
            qr_svg=_qr_svg(qr) if qr else None,
            qr_link=qr if qr and qr.startswith(("https://", "http://")) else None,
            qr_text=qr, page_data=data,
        )


def _qr_svg(content: str) -> Markup:
    """The QR code as inline SVG, drawn here: nothing outside the machine is asked to render it."""
    svg = segno.make(content, error="m").svg_inline(scale=4, border=2, omitsize=True, svgclass="pp-qr-svg",
                                                    lineclass=None, dark="#111", light="#fff")
    return Markup(svg)


# -- the operator's pages -----------------------------------------------------------------------------

def _require_admin():
    """The current state for an admin; 401 without a login, 403 (a page saying so) for a user."""
    _require_user()
    if not state().is_admin():
        abort(403)
    return state()


def _notice(level: str, text: str) -> None:
    session[_NOTICE] = [level, text]


def _csrf_valid() -> bool:
    """Whether the POST carries a valid CSRF token; if not, the notice that says to reload."""
    if forms.ActionForm().validate_on_submit():
        return True
    _notice("error", _("The form expired. Reload the page and try again."))
    return False


def _back(anchor: str = ""):
    return redirect(url_for("panelpay_pages.admin_page") + (f"#{anchor}" if anchor else ""))


def _admin_pages(bp: Blueprint) -> None:
    @bp.errorhandler(403)
    @localized
    def forbidden(exc):
        return _render("panelpay/message.html", 403, title=_("Administrators only"),
                       message=_("Only the panel's administrators may open the PanelPay settings."))

    @bp.errorhandler(404)
    @localized
    def not_found(exc):
        return _render("panelpay/message.html", 404, title=_("Not found"),
                       message=_("There is nothing here. It may have been deleted."))

    @bp.get("/admin")
    @localized
    def admin_page():
        """The settings page: plugin switch, callback domain, channels, doctor, delivery log, orders."""
        st = _require_admin()
        return _admin_render(st)

    @bp.post("/admin/settings")
    @localized
    def admin_settings():
        """The plugin switch, and the callback domain for browsers without JavaScript (admin.js uses the
        JSON API instead, to show conflicts as the admin types)."""
        st = _require_admin()
        if not _csrf_valid():
            return _back()
        action = request.form.get("action")
        if action in ("enable", "disable"):
            put_settings(st, {"enabled": action == "enable"})
            _notice("ok", _("Top-ups are on.") if action == "enable" else _("Top-ups are paused."))
            return _back()
        if action == "clear_domain":
            put_settings(st, {"callback_domain": None})
            _notice("ok", _("Callback domain cleared: the site's own address is used."))
            return _back("callback")
        typed = request.form.get("callback_domain", "")
        try:
            domain = callback.normalise_domain(typed)
        except callback.DomainError as exc:
            return _admin_render(st, 422, domain_value=typed, domain_errors=[str(exc)])
        put_settings(st, {"callback_domain": domain})
        _notice("ok", _("Callback domain saved."))
        return _back("callback")

    @bp.route("/admin/channels/new", methods=["GET", "POST"])
    @localized
    def channel_new():
        """A new channel of ``?kind=``: its form generated from plugin.yaml."""
        st = _require_admin()
        kind = request.args.get("kind", "")
        if kind not in st.channel_kinds or kind not in st.manifest.kinds:
            abort(404)
        if request.method == "GET":
            return _channel_form(st, kind, forms.default_values(st.manifest, kind), {}, set(), None)
        return _channel_save(st, kind, None)

    @bp.route("/admin/channels/<uuid>", methods=["GET", "POST"])
    @localized
    def channel_edit(uuid: str):
        st = _require_admin()
        row = _channel_or_404(st, uuid)
        if request.method == "GET":
            values, secrets_set = forms.row_values(st.manifest, row, masked_config(st, row))
            return _channel_form(st, row.kind, values, {}, secrets_set, row)
        return _channel_save(st, row.kind, row)

    @bp.post("/admin/channels/<uuid>/toggle")
    @localized
    def channel_toggle(uuid: str):
        st = _require_admin()
        row = _channel_or_404(st, uuid)
        if not _csrf_valid():
            return _back("channels")
        try:
            save_channel(st, {"enabled": not row.enabled}, row)
        except ConfigInvalid as exc:
            _notice("error", _("'%(name)s' cannot be changed until its settings are fixed: %(why)s",
                               name=row.name, why=str(exc)))
            return _back("channels")
        if row.enabled:
            _notice("ok", _("'%(name)s' is off: users no longer see it.", name=row.name))
        else:
            _notice("ok", _("'%(name)s' is on.", name=row.name))
        return _back("channels")

    @bp.post("/admin/channels/<uuid>/move")
    @localized
    def channel_move(uuid: str):
        """Move a channel one place up or down; the list is renumbered 10, 20, 30… as it is shown."""
        st = _require_admin()
        _channel_or_404(st, uuid)
        if not _csrf_valid():
            return _back("channels")
        rows = list_channels(st)
        index = next(i for i, r in enumerate(rows) if r.uuid == uuid)
        other = index - 1 if request.form.get("direction") == "up" else index + 1
        if 0 <= other < len(rows):
            rows[index], rows[other] = rows[other], rows[index]
            try:
                for position, row in enumerate(rows, start=1):
                    if row.sort != position * 10:
                        save_channel(st, {"sort": position * 10}, row)
            except ConfigInvalid as exc:
                _notice("error", _("The order could not be saved: %(why)s", why=str(exc)))
        return _back("channels")

    @bp.post("/admin/channels/<uuid>/delete")
    @localized
    def channel_delete(uuid: str):
        st = _require_admin()
        row = _channel_or_404(st, uuid)
        if not _csrf_valid():
            return _back("channels")
        if delete_channel(st, uuid):
            _notice("ok", _("'%(name)s' was deleted.", name=row.name))
        else:
            _notice("warning", _("'%(name)s' has orders, so it was switched off instead of deleted: the notify "
                                 "URLs it issued keep working.", name=row.name))
        return _back("channels")


def _channel_or_404(st, uuid: str):
    try:
        return get_channel(st, uuid)
    except NotFound:
        abort(404)


def _admin_render(st, status: int = 200, domain_value: str | None = None, domain_errors: list | None = None):
    locale = page_locale()
    settings = settings_document(st)
    rows = list_channels(st)
    channels = [_channel_view(c, locale) for c in rows]
    urls = {c["uuid"]: c["notify_url"] for c in settings["channels"]}
    for channel in channels:
        channel["notify_url"] = urls.get(channel["uuid"])
        channel["notify_path"] = callback.notify_path(st.settings.url_prefix, channel["kind"], channel["uuid"])
    kinds = [(kind, _kind_label(kind, locale)) for kind in st.manifest.kinds if kind in st.channel_kinds]
    plugin_fields = {f.key: {"label": f.label_for(locale), "help": forms.localised(f.help, locale)}
                     for f in st.manifest.plugin_fields}
    data = {
        "strings": js_strings(),
        "callback_domain": settings["callback_domain"],
        "default_notify_base": settings["default_notify_base"],
        "check_url": url_for("panelpay_admin_api.check_domain"),
        "settings_url": url_for("panelpay_admin_api.put_settings_view"),
        "doctor_url": url_for("panelpay_admin_api.doctor_view"),
        "reconcile_url": url_for("panelpay_admin_api.reconcile_view"),
        "notifications_url": url_for("panelpay_admin_api.notifications"),
        "orders_url": url_for("panelpay_admin_api.orders"),
        "channels": {c["uuid"]: c["name"] for c in channels},
    }
    return _render(
        "panelpay/admin.html", status,
        settings=settings, channels=channels, kinds=kinds, plugin_fields=plugin_fields,
        action_form=forms.ActionForm(),
        domain_value=(settings["callback_domain"] or "") if domain_value is None else domain_value,
        domain_errors=domain_errors or [], notice=session.pop(_NOTICE, None),
        statuses=list(STATUS_LABELS), verdicts=list(VERDICT_LABELS), page_data=data,
    )


def _channel_form(st, kind: str, values: dict, errors: dict, secrets_set: set, row, status: int = 200):
    locale = page_locale()
    shared, config = forms.field_views(st.manifest, kind, locale, values, errors, secrets_set)
    enabled = forms.FieldView(name="enabled", label=_("Enabled: offered to users"), widget="checkbox",
                              value=values.get("enabled", ""))
    return _render("panelpay/channel_form.html", status, kind=kind, kind_label=_kind_label(kind, locale),
                   row=row, shared=shared, config=config, enabled=enabled, form_errors=errors.get(forms.FORM, []),
                   action_form=forms.ActionForm(),
                   notify_url=callback.notify_url(st, row, get_settings(st)["callback_domain"]) if row else None)


def _config_problems(st, kind: str, values: dict, row) -> dict:
    """The kind's config errors for posted values, checked without saving (keyed by HTML name)."""
    try:
        clean_channel_config(st, kind, forms.config_values(st.manifest, kind, values), row)
    except ConfigInvalid as exc:
        return forms.config_errors(exc.fields)
    return {}


def _channel_save(st, kind: str, row):
    """Validate and save a posted channel form; on errors, the form again with each message by its field."""
    values = forms.submitted_values(st.manifest, kind, request.form)
    secrets_set = set()
    if row is not None:
        secrets_set = forms.row_values(st.manifest, row, masked_config(st, row))[1]
    if not forms.ActionForm().validate_on_submit():
        errors = {forms.FORM: [_("The form expired. Submit it again.")]}
        return _channel_form(st, kind, values, errors, secrets_set, row, 400)
    try:
        saved = save_channel(st, forms.channel_values(st.manifest, kind, values, creating=row is None), row)
    except forms.FormInvalid as exc:
        # Report the account's problems in the same round as the shared fields' ones.
        errors = {**_config_problems(st, kind, values, row), **exc.fields}
        return _channel_form(st, kind, values, errors, secrets_set, row, 422)
    except ConfigInvalid as exc:
        return _channel_form(st, kind, values, forms.config_errors(exc.fields), secrets_set, row, 422)
    _notice("ok", _("'%(name)s' was saved.", name=saved.name))
    return _back("channels")
