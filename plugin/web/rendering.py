"""What PanelPay's pages share: the template context, rendering, the login check, and how a channel is
shown to users and operators."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from flask import abort, redirect, render_template, request

from ..i18n import LEVEL_LABELS, STATUS_LABELS, VERDICT_LABELS, gettext as _, html_lang, page_locale
from ..money import format_money
from ..orders import limits
from . import forms
from .common import state


def page_context() -> dict:
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
        "money": money,
    }


def render(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def require_user() -> str:
    """The logged-in user's id. Without one, off to the host's login page (PANELPAY_LOGIN_URL), which
    is told to send the visitor back here; a host that names no login page gets a page saying to log in."""
    st = state()
    user_id = st.current_user_id()
    if user_id is None:
        if st.settings.login_url:
            abort(redirect(login_url(st.settings.login_url, request.full_path.rstrip("?"))))
        abort(401)
    return user_id


def login_url(template: str, back: str) -> str:
    """The login page, with ``back`` (this page) where ``{next}`` stands, or as ``?next=``."""
    back = quote(back, safe="/")
    if "{next}" in template:
        return template.replace("{next}", back)
    return f"{template}{'&' if '?' in template else '?'}next={back}"


def kind_label(kind: str, locale: str) -> str:
    spec = state().manifest.kinds.get(kind) or {}
    return forms.localised(spec.get("label"), locale) or kind


def _percent(value: Decimal) -> str:
    """A percentage without trailing zeros: ``2.50`` → ``2.5``, ``10.00`` → ``10``."""
    return f"{Decimal(value).normalize():f}"


def money(value) -> str:
    """An amount as the pages show it: the currency symbol, then two decimals."""
    return state().settings.currency_symbol + format_money(value)


def _fee_text(channel) -> str:
    fixed, percent = Decimal(channel.fee_fixed or 0), Decimal(channel.fee_percent or 0)
    if not fixed and not percent:
        return _("no fee")
    if fixed and percent:
        return _("fee %(fixed)s + %(percent)s%%", fixed=money(fixed), percent=_percent(percent))
    if fixed:
        return _("fee %(fixed)s", fixed=money(fixed))
    return _("fee %(percent)s%%", percent=_percent(percent))


def _limits_text(lowest, highest) -> str:
    return _("%(min)s to %(max)s", min=money(lowest), max=money(highest))


def channel_view(channel, locale: str) -> dict:
    lowest, highest = limits(state(), channel)
    return {
        "uuid": channel.uuid, "name": channel.name, "kind": channel.kind,
        "kind_label": kind_label(channel.kind, locale), "enabled": channel.enabled, "sort": channel.sort,
        "fee_fixed": format_money(channel.fee_fixed), "fee_percent": format_money(channel.fee_percent),
        "min_amount": format_money(channel.min_amount), "max_amount": format_money(channel.max_amount),
        "fee_text": _fee_text(channel), "limits_text": _limits_text(lowest, highest),
        "lowest": format_money(lowest), "highest": format_money(highest),
        "notify_domain": channel.notify_domain or "",
    }


def iso(moment) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
