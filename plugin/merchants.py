"""Gateway mode's merchants: the panels (Xboard, New-API, any EPay-speaking one) that use PanelPay as their
EPay site. Each has a ``pid`` and a 32-character key PanelPay issues (sealed at rest, shown once), the
hosts its notify and return URLs may use (nothing else is ever called or redirected to), and the channels
its cashier offers."""
from __future__ import annotations

import json
import secrets
import string
from urllib.parse import urlsplit

from sqlalchemy import select, update

from . import outbound
from .callback import default_base, translate as _
from .db import transient_errors
from .models import Channel, Merchant, utcnow
from .store import NotFound

KEY_ALPHABET = string.ascii_letters + string.digits
#: The first pid issued; EPay sites number their merchants from about here.
FIRST_PID = 1001
#: Panels whose tables confirm by read knows (see :mod:`panelpay.delivery`).
CONFIRM_PROFILES = ("xboard", "newapi")


class MerchantRefused(ValueError):
    """A merchant's settings that cannot be saved: ``field`` names the one to blame."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(32))


def clean_host(value: object, field: str) -> str:
    """A host as the allowlist keeps it: lower case, with its port if it names one. A pasted URL gives
    its host (``https://panel.example.com/path`` → ``panel.example.com``)."""
    text = str(value or "").strip()
    if "//" not in text:
        text = "//" + text
    try:
        parts = urlsplit(text)
        host, port = (parts.hostname or ""), parts.port
    except ValueError:
        host, port = "", None
    if not host or any(c.isspace() for c in host) or "." not in host and host != "localhost":
        raise MerchantRefused(_("%(value)s is not a host name: type the panel's domain, such as panel.example.com.",
                                value=str(value)[:100]), field)
    return f"{host}:{port}" if port else host


def clean_hosts(values: object, field: str) -> list[str]:
    if isinstance(values, str):
        values = [v for v in values.replace(",", "\n").splitlines() if v.strip()]
    if not isinstance(values, (list, tuple)) or len(values) > 20:
        raise MerchantRefused(_("Give a list of at most 20 host names."), field)
    hosts = []
    for value in values:
        host = clean_host(value, field)
        if host not in hosts:
            hosts.append(host)
    return hosts


def _clean(state, values: dict, previous: Merchant | None) -> dict:
    """The columns to write from the admin's ``values`` (only those given, for an edit)."""
    out = {}
    if "name" in values or previous is None:
        name = str(values.get("name") or "").strip()
        if not name or len(name) > 64:
            raise MerchantRefused(_("Give the merchant a name of 1 to 64 characters, such as the panel's."), "name")
        out["name"] = name
    if "notify_hosts" in values or previous is None:
        hosts = clean_hosts(values.get("notify_hosts") or [], "notify_hosts")
        if not hosts:
            raise MerchantRefused(_("Give at least one host the panel's notify URL uses, such as panel.example.com: "
                                    "PanelPay notifies no other."), "notify_hosts")
        out["notify_hosts"] = json.dumps(hosts)
    if "return_hosts" in values or previous is None:
        out["return_hosts"] = json.dumps(clean_hosts(values.get("return_hosts") or [], "return_hosts"))
    if "channels" in values or previous is None:
        uuids = values.get("channels") or []
        if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids):
            raise MerchantRefused(_("Choose channels from the list."), "channels")
        with state.session() as session:
            known = set(session.execute(select(Channel.uuid).where(Channel.uuid.in_(uuids))).scalars())
        unknown = [u for u in uuids if u not in known]
        if unknown:
            raise MerchantRefused(_("There is no channel %(uuid)s.", uuid=unknown[0][:40]), "channels")
        out["channels"] = json.dumps(list(dict.fromkeys(uuids)))
    if "enabled" in values:
        out["enabled"] = bool(values["enabled"])
    if "confirm_profile" in values or "confirm_url" in values:
        profile = str(values.get("confirm_profile") or "")
        url = str(values.get("confirm_url") or "").strip()
        if profile not in ("",) + CONFIRM_PROFILES:
            raise MerchantRefused(_("Choose the panel: xboard or newapi."), "confirm_profile")
        if url and not profile:
            raise MerchantRefused(_("Choose which panel the database belongs to: xboard or newapi."), "confirm_profile")
        if url:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError
            try:
                make_url(url)
            except ArgumentError:
                raise MerchantRefused(_("This is not a database URL: write it like "
                                        "mysql+pymysql://reader:password@127.0.0.1/xboard."), "confirm_url") from None
        out["confirm_profile"] = profile if url else ""
        out["confirm_url"] = state.vault.seal({"url": url}) if url else ""
    return out


def create_merchant(state, values: dict) -> tuple[Merchant, str]:
    """A new merchant with a new pid and key: the row and the key (the only time it is given out)."""
    columns = _clean(state, values, None)
    key = new_key()
    now = utcnow()
    with transient_errors(), state.session() as session, session.begin():
        merchant = Merchant(**{"pid": "new-" + secrets.token_hex(4), "key": state.vault.seal({"key": key}),
                               "enabled": True, "confirm_profile": "", "confirm_url": "", "created_at": now,
                               "updated_at": now, **columns})
        session.add(merchant)
        session.flush()
        merchant.pid = str(FIRST_PID - 1 + merchant.id)
    return merchant, key


def update_merchant(state, pid: str, values: dict) -> Merchant:
    previous = get_merchant(state, pid)
    columns = _clean(state, values, previous)
    with transient_errors(), state.session() as session, session.begin():
        session.execute(update(Merchant).where(Merchant.id == previous.id).values(updated_at=utcnow(), **columns))
    return get_merchant(state, pid)


def regenerate_key(state, pid: str) -> tuple[Merchant, str]:
    merchant = get_merchant(state, pid)
    key = new_key()
    with transient_errors(), state.session() as session, session.begin():
        session.execute(update(Merchant).where(Merchant.id == merchant.id)
                        .values(key=state.vault.seal({"key": key}), updated_at=utcnow()))
    return get_merchant(state, pid), key


def get_merchant(state, pid: str) -> Merchant:
    if not (str(pid).isascii() and str(pid).isdigit()) or len(str(pid)) > 16:  # a pid is a number; anything else names no merchant
        raise NotFound("no such merchant")
    with transient_errors(), state.session() as session:
        merchant = session.execute(select(Merchant).where(Merchant.pid == str(pid)[:16])).scalar_one_or_none()
    if merchant is None or merchant.pid != str(pid):
        raise NotFound("no such merchant")
    return merchant


def merchant_by_id(state, merchant_id: int) -> Merchant:
    with transient_errors(), state.session() as session:
        return session.get(Merchant, merchant_id)


def list_merchants(state) -> list[Merchant]:
    with transient_errors(), state.session() as session:
        return list(session.execute(select(Merchant).order_by(Merchant.id)).scalars())


def key_of(state, merchant: Merchant) -> str:
    return state.vault.open(merchant.key)["key"]


def confirm_url_of(state, merchant: Merchant) -> str:
    return state.vault.open(merchant.confirm_url).get("url", "") if merchant.confirm_url else ""


def hosts(merchant: Merchant, which: str) -> list[str]:
    return json.loads(getattr(merchant, which) or "[]")


def gateway_url(state) -> str:
    """The address a panel is given as its EPay site: the site's root (``/submit.php`` is served there)."""
    return default_base(state.settings.site_url) or ""


def view(state, merchant: Merchant, key: str | None = None) -> dict:
    """A merchant as the admin API shows it; ``key`` only in the answer that creates or regenerates it.
    ``settings`` are what to paste into each panel (the key as ``KEY`` when it is not shown)."""
    url, shown = gateway_url(state), key or "KEY"
    data = {
        "pid": merchant.pid, "name": merchant.name, "enabled": merchant.enabled,
        "notify_hosts": hosts(merchant, "notify_hosts"), "return_hosts": hosts(merchant, "return_hosts"),
        "channels": json.loads(merchant.channels or "[]"),
        "confirm_profile": merchant.confirm_profile, "confirm_url_set": bool(merchant.confirm_url),
        "settings": {
            "xboard": {"payment": "EPay", "url": url, "pid": merchant.pid, "key": shown},
            "newapi": {"PayAddress": url, "EpayId": merchant.pid, "EpayKey": shown},
        },
    }
    if key is not None:
        data["key"] = key
    return data


def ambiguous(url: str) -> bool:
    """Whether ``url`` could name one host to Python's parser and another to an HTTP client or a browser:
    a backslash, a space or control character, or user information (``user@host``)."""
    if "\\" in url or any(ord(c) < 33 or ord(c) == 127 for c in url):
        return True
    try:
        return urlsplit(url).username is not None
    except ValueError:
        return True


def notify_url_refusal(state, merchant: Merchant, url: str) -> str | None:
    """Why PanelPay will not notify ``url`` for ``merchant`` (in words), or None. Caught here, before the
    user pays: the panel's common misconfigurations (New-API's default ``http://localhost:3000``, a doubled
    slash, the panel's home page) and any host outside the merchant's allowlist."""
    if ambiguous(url):
        return _("The notify URL %(url)s holds a backslash, a space or a user name: PanelPay calls only plain "
                 "addresses such as https://panel.example.com/api/user/epay/notify.", url=url[:200])
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return _("The notify URL %(url)s cannot be read.", url=url[:200])
    if parts.scheme not in ("http", "https") or not host:
        return _("The notify URL %(url)s is not a web address (http:// or https://): set the panel's public "
                 "address in its settings.", url=url[:200])
    if host in ("localhost", "127.0.0.1", "::1") and not state.settings.allow_private_urls:
        return _("The notify URL %(url)s points at the panel's own machine (localhost), which PanelPay cannot "
                 "reach: in New-API set ServerAddress (or CustomCallbackAddress) to its public address; in Xboard "
                 "set the site URL or the payment's notify domain.", url=url[:200])
    if "//" in parts.path or parts.fragment:
        return _("The notify URL %(url)s has a doubled slash or a # in it: the panel's callback address is set "
                 "with a trailing slash or a pasted path. Set it to the bare address, such as "
                 "https://panel.example.com.", url=url[:200])
    if parts.path in ("", "/"):
        return _("The notify URL %(url)s is the panel's home page, not its notify route: check the panel's "
                 "callback address.", url=url[:200])
    allowed = hosts(merchant, "notify_hosts")
    if (f"{host}:{port}" if port else host) not in allowed:
        return _("The notify URL's host %(host)s is not one of this merchant's notify hosts (%(allowed)s): add it "
                 "on PanelPay's merchant page if it is the panel's.", host=host, allowed=", ".join(allowed))
    reason = outbound.url_refusal(url, allow_private=state.settings.allow_private_urls)
    if reason:
        return outbound.explain(reason, host)
    return None


def return_url_refusal(merchant: Merchant, url: str) -> str | None:
    """Why the browser will not be sent to ``url`` after paying, or None. An empty URL, or a merchant with no
    return hosts (its buyers stay on PanelPay's page once paid), is fine."""
    allowed = hosts(merchant, "return_hosts")
    if not url or not allowed:
        return None
    if ambiguous(url):
        return _("The return URL %(url)s holds a backslash, a space or a user name: PanelPay sends buyers only to "
                 "plain addresses.", url=url[:200])
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return _("The return URL %(url)s cannot be read.", url=url[:200])
    if parts.scheme not in ("http", "https") or (f"{host}:{port}" if port else host) not in allowed:
        return _("The return URL's host %(host)s is not one of this merchant's return hosts: add it on PanelPay's "
                 "merchant page if it is the panel's.", host=host or url[:100])
    return None
