"""The callback domain: normalising an override, computing notify URLs, and finding conflicts.

The effective notify base of a channel is, in order: its own override, the global override, the site's
public URL (``PANELPAY_SITE_URL``, else the request's host). Its notify URL is that base plus
``<prefix>/notify/<kind>/<uuid>``. This module is the one place that computes them.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from flask import has_request_context, request

from . import outbound
from .i18n import gettext

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_GATEWAY_HINTS = ("gateway.do", "submit.php", "mapi.php", "api.php", "/api/pay")
EXAMPLE = "https://pay.example.com"


def translate(text: str, **variables) -> str:
    """``text`` through PanelPay's domain, with ``%(name)s`` placeholders filled from ``variables``.

    Inside a request it answers in the request's language (PanelPay's views and JSON endpoints force the
    page's locale); outside one (the CLI, startup) it stays English and never asks the host's locale hooks.
    The messages of this module, :mod:`panelpay.conflicts` and :mod:`panelpay.doctor` go through it.
    """
    if has_request_context():
        return gettext(text, **variables)
    return text % variables if variables else text


_ = translate


class DomainError(ValueError):
    """A callback domain that cannot be used; the message says what to type instead."""


@dataclass(frozen=True)
class Finding:
    """A conflict or check result: ``code``, ``level`` (error, warning, info) and how to fix it."""

    code: str
    level: str
    message: str
    channel: str | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        if data["channel"] is None:
            del data["channel"]
        return data


def normalise_domain(value: object, *, allow_private: bool | None = None) -> str | None:
    """Normalise an override to ``scheme://host[:port]``; ``None`` or ``""`` clears it.

    Accepts ``pay.example.com``, ``https://pay.example.com/`` and ``http://pay.example.com:8080``. Refuses a
    path (a pasted notify or gateway URL included), a query, a fragment, credentials, spaces, wildcards and
    schemes other than http(s), raising :class:`DomainError` with what to type instead. With
    ``allow_private`` given (``PANELPAY_ALLOW_PRIVATE_URLS``), also a host PanelPay would not call
    (:mod:`panelpay.outbound`): the doctor probes the domain.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise DomainError(_("Type a domain such as %(example)s.", example=EXAMPLE))
    text = value.strip()
    if not text:
        return None
    if any(ch.isspace() for ch in text):
        raise DomainError(_("Remove the spaces: type only the scheme and host, such as %(example)s.",
                             example=EXAMPLE))
    if "*" in text:
        raise DomainError(_("Wildcards cannot receive callbacks: type one exact host, such as %(example)s.",
                             example=EXAMPLE))
    if "://" not in text:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)", text):
            raise DomainError(_("Only http:// and https:// can receive callbacks: type, for example, "
                                 "%(example)s.", example=EXAMPLE))
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed [IPv6 bracket, say
        raise DomainError(_("That is not a valid address: type the scheme and host, for example %(example)s.",
                            example=EXAMPLE)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DomainError(_("'%(scheme)s://' cannot receive callbacks: use https:// (or http://), for example "
                            "%(example)s.", scheme=parts.scheme, example=EXAMPLE))
    if parts.username is not None or parts.password is not None:
        raise DomainError(_("Remove the user name and password: gateways cannot send them. Type only the "
                            "scheme and host, such as %(example)s.", example=EXAMPLE))
    bare = f"{scheme}://{parts.netloc}"
    if parts.path not in ("", "/"):
        if "/notify/" in parts.path:
            why = _("that is a full notify URL")
        elif any(hint in parts.path for hint in _GATEWAY_HINTS):
            why = _("that is a gateway URL, not your site")
        else:
            why = _("it has a path (%(path)s)", path=parts.path)
        raise DomainError(_("Type only the scheme and host, without a path: %(why)s. Type %(domain)s instead; "
                            "PanelPay adds the notify path itself.", why=why, domain=bare))
    if parts.query or text.rstrip("/").endswith("?"):
        raise DomainError(_("Remove the query string (?…): type only %(domain)s.", domain=bare))
    if parts.fragment or "#" in text:
        raise DomainError(_("Remove the fragment (#…): type only %(domain)s.", domain=bare))
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise DomainError(_("The port is not a number between 1 and 65535: type, for example, "
                            "%(example)s:8443.", example=EXAMPLE)) from exc
    if not host:
        raise DomainError(_("There is no host name: type, for example, %(example)s.", example=EXAMPLE))
    host = _clean_host(host)
    if port is not None and not 0 < port < 65536:
        raise DomainError(_("The port must be between 1 and 65535."))
    if allow_private is not None:
        _callable(host, allow_private)
    default_port = 443 if scheme == "https" else 80
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown_host}" + (f":{port}" if port and port != default_port else "")


def _clean_host(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError as exc:
        raise DomainError(_("'%(host)s' is not a valid host name.", host=host)) from exc
    labels = ascii_host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise DomainError(_("'%(host)s' is not a valid host name: use letters, digits, dots and hyphens.",
                             host=host))
    return ascii_host


def default_base(site_url: str | None) -> str | None:
    """The site's public base: ``PANELPAY_SITE_URL``, else the current request's host, else None."""
    if site_url:
        return site_url.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return None


def effective_base(channel_domain: str | None, global_domain: str | None, site_url: str | None) -> str | None:
    """Channel override, else global override, else the default base."""
    return channel_domain or global_domain or default_base(site_url)


def notify_path(prefix: str, kind: str, uuid: str) -> str:
    return f"{prefix}/notify/{kind}/{uuid}"


def is_private_host(host: str) -> bool:
    """Whether a host is one a public gateway cannot reach (loopback, private ranges, local names)."""
    host = host.strip("[]").lower()
    if host in ("localhost",) or host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host
    return address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified


def _callable(host: str, allow_private: bool) -> None:
    """Refuse a callback host PanelPay would not call (the doctor probes it), saying what to type."""
    reason = outbound.refusal(host, allow_private=allow_private)
    if reason == "numeric":
        raise DomainError(_("%(host)s is an IP address written in an unusual form: write it as four numbers "
                            "(a.b.c.d), or type the domain name.", host=host))
    if reason == "private":
        raise DomainError(_("%(host)s is a loopback or private address that a gateway on the internet cannot "
                            "reach: type the site's public domain, such as %(example)s (an operator whose gateway "
                            "is on the same network sets PANELPAY_ALLOW_PRIVATE_URLS).", host=host, example=EXAMPLE))
    if reason is not None:
        raise DomainError(_("%(host)s is not an address gateways can call back (a link-local, metadata or "
                            "unroutable address): type the site's public domain, such as %(example)s.",
                            host=host, example=EXAMPLE))


def host_of(url: str | None) -> str:
    """The host of a URL, or "" when it has none (or cannot be read)."""
    try:
        return (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""


def port_of(url: str) -> int:
    """The port a URL reaches (its scheme's default when it names none, or cannot be read)."""
    try:
        parts = urlsplit(url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 443 if url.startswith("https:") else 80


def notify_url(state, channel, global_domain: str | None) -> str | None:
    """The effective notify URL of ``channel`` now (None when the site's public URL is unknown)."""
    base = effective_base(channel.notify_domain, global_domain, state.settings.site_url)
    if base is None:
        return None
    return base + notify_path(state.settings.url_prefix, channel.kind, channel.uuid)
