"""The operator's pages: the settings page and the channel forms. Their forms POST here, each with a
Flask-WTF CSRF token, and redirect back (post/redirect/get); everything live runs in admin.js against the
admin JSON API."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, request, session, url_for

from .. import callback
from ..channels.base import ConfigInvalid
from ..conflicts import all_findings
from ..i18n import STATUS_LABELS, VERDICT_LABELS, gettext as _, js_strings, lazy_gettext, localized, page_locale
from ..store import NotFound, clean_channel_config, delete_channel, get_channel, get_settings, list_channels, \
    masked_config, put_settings, save_channel
from . import forms
from .admin_api import settings_document
from .common import state
from .rendering import channel_view, kind_label, render, require_user

#: Session key of the one-shot notice shown after a settings-page POST (PanelPay's own, so a host
#: layout that renders flashed messages does not show it twice).
_NOTICE = "panelpay_notice"


def _require_admin():
    """The current state for an admin; 401 without a login, 403 (a page saying so) for a user."""
    require_user()
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


def register(bp: Blueprint) -> None:
    @bp.errorhandler(401)
    @localized
    def unauthenticated(exc):
        return render("panelpay/message.html", 401, title=_("Log in first"),
                       message=_("Top-ups belong to your account: log in to the panel, then open this page again."),
                       back_link=False)

    @bp.errorhandler(403)
    @localized
    def forbidden(exc):
        return render("panelpay/message.html", 403, title=_("Administrators only"),
                       message=_("Only the panel's administrators may open the PanelPay settings."))

    @bp.errorhandler(404)
    @localized
    def not_found(exc):
        return render("panelpay/message.html", 404, title=_("Not found"),
                       message=_("There is nothing here. It may have been deleted."))

    @bp.get("/admin")
    @localized
    def admin_page():
        """The settings page: plugin switch, callback domain, channels, doctor, delivery log, orders."""
        st = _require_admin()
        return _settings_page(st)

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
            domain = callback.normalise_domain(typed, allow_private=st.settings.allow_private_urls)
        except callback.DomainError as exc:
            return _settings_page(st, 422, domain_value=typed, domain_errors=[str(exc)])
        errors = [f.message for f in all_findings(st, domain, list_channels(st)) if f.level == "error"]
        if errors and not request.form.get("confirmed"):  # saved only when the admin insists
            return _settings_page(st, 409, domain_value=typed, confirm_domain=True, domain_errors=errors + [
                _("These are errors: gateways may not reach PanelPay at this domain. Press Save again to save it "
                  "anyway.")])
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

    @bp.post("/admin/channels/sandbox")
    @localized
    def channel_from_sandbox():
        """A new channel with the sandbox's credentials (only while the sandbox is mounted: the demo)."""
        st = _require_admin()
        variants = _sandbox_variants(st)
        variant = request.form.get("variant", "")
        if variant not in variants:
            abort(404)
        if not _csrf_valid():
            return redirect(url_for("panelpay_pages.channel_new", kind=variants[variant][0]))
        kind, label = variants[variant]
        base = (st.settings.site_url or request.host_url.rstrip("/")) + st.settings.url_prefix + "/sandbox"
        row = save_channel(st, {"kind": kind, "name": _("%(method)s (sandbox)", method=label),
                                "config": st.sandbox.channel_configs(base)[variant]})
        _notice("ok", _("'%(name)s' was made with the sandbox's credentials: it works as it is, and you can change "
                        "anything here.", name=row.name))
        return redirect(url_for("panelpay_pages.channel_edit", uuid=row.uuid))

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


def _settings_page(st, status: int = 200, domain_value: str | None = None, domain_errors: list | None = None,
                   confirm_domain: bool = False):
    locale = page_locale()
    settings = settings_document(st)
    rows = list_channels(st)
    channels = [channel_view(c, locale) for c in rows]
    urls = {c["uuid"]: c["notify_url"] for c in settings["channels"]}
    for channel in channels:
        channel["notify_url"] = urls.get(channel["uuid"])
        channel["notify_path"] = callback.notify_path(st.settings.url_prefix, channel["kind"], channel["uuid"])
    kinds = [(kind, kind_label(kind, locale)) for kind in st.manifest.kinds if kind in st.channel_kinds]
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
        "merchants_url": url_for("panelpay_admin_api.list_merchants"),
        "deliveries_url": url_for("panelpay_admin_api.deliveries"),
        "deliver_url": url_for("panelpay_admin_api.deliver_now"),
        "channels": {c["uuid"]: {"name": c["name"], "kind": c["kind"]} for c in channels},
    }
    return render(
        "panelpay/admin.html", status,
        settings=settings, channels=channels, kinds=kinds, plugin_fields=plugin_fields,
        action_form=forms.ActionForm(),
        domain_value=(settings["callback_domain"] or "") if domain_value is None else domain_value,
        domain_errors=domain_errors or [], confirm_domain=confirm_domain, notice=session.pop(_NOTICE, None),
        statuses=list(STATUS_LABELS), verdicts=list(VERDICT_LABELS), page_data=data,
    )


def _channel_form(st, kind: str, values: dict, errors: dict, secrets_set: set, row, status: int = 200):
    locale = page_locale()
    shared, config = forms.field_views(st.manifest, kind, locale, values, errors, secrets_set)
    enabled = forms.FieldView(name="enabled", label=_("Enabled: offered to users"), widget="checkbox",
                              value=values.get("enabled", ""))
    return render("panelpay/channel_form.html", status, kind=kind, kind_label=kind_label(kind, locale),
                   row=row, shared=shared, config=config, enabled=enabled, form_errors=errors.get(forms.FORM, []),
                   action_form=forms.ActionForm(), notice=session.pop(_NOTICE, None), sandbox_variants=_sandbox_variants(st, kind) if row is None else {},
                   notify_url=callback.notify_url(st, row, get_settings(st)["callback_domain"]) if row else None)


#: What each of the sandbox's ready-made configs tries (a sandbox gateway of a channel author's own shows
#: its config's name).
_SANDBOX_METHODS = {
    "epay": lazy_gettext("EPay, MD5, browser form"),
    "epay_mapi": lazy_gettext("EPay, MD5, server-side (mapi)"),
    "epay_rsa": lazy_gettext("EPay, RSA (v2)"),
    "alipay": lazy_gettext("Alipay, computer website"),
    "alipay_wap": lazy_gettext("Alipay, mobile website"),
    "alipay_qr": lazy_gettext("Alipay, QR code"),
    "alipay_cert": lazy_gettext("Alipay, certificate mode"),
}


def _sandbox_variants(st, kind: str | None = None) -> dict[str, tuple[str, str]]:
    """The sandbox's ready-made configs (of ``kind``): name → (kind, what it tries); none without the sandbox."""
    if st.sandbox is None:
        return {}
    return {name: (of_kind, str(_SANDBOX_METHODS.get(name, name)))
            for name, of_kind in st.sandbox.CHANNEL_KINDS.items()
            if of_kind in st.channel_kinds and kind in (None, of_kind)}


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
