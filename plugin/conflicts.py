"""Conflict detection: what is wrong with the callback configuration, found without calling out.

Static findings are evaluated on every save and shown beside the field; the host checks (a host route
claiming the notify path, CSRF protection or a login wall rejecting gateway posts) look at the host app
itself. The doctor (:mod:`panelpay.doctor`) adds what only a live probe shows.
"""
from __future__ import annotations

from flask import current_app
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from . import callback
from .callback import Finding
from .callback import translate as _
from .probe import PROBE_PARAM, new_nonce
from .store import gateway_urls

ERROR, WARNING, INFO = "error", "warning", "info"


def _origin(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL: what tells one server from another."""
    if not url:
        return None
    return url.split(":", 1)[0].lower(), callback.host_of(url), callback.port_of(url)


def domain_findings(state, domain: str, default: str | None, channels: list, *,
                    scope: str | None = None) -> list[Finding]:
    """Findings about one override ``domain`` for the channels it applies to."""
    findings: list[Finding] = []
    host = callback.host_of(domain)
    private = callback.is_private_host(host)
    gateways = {channel.uuid: gateway_urls(state, channel) for channel in channels}
    if default and domain == default.rstrip("/"):
        findings.append(Finding("redundant", INFO, _(
            "%(domain)s is already the site's own address: the override changes nothing. Clear it unless the "
            "site URL is about to change.", domain=domain), scope))
    if private:
        local_gateways = channels and all(callback.is_private_host(callback.host_of(url))
                                          for urls in gateways.values() for url in urls)
        if local_gateways:
            message = _("%(host)s is a local or private address that a payment gateway on the internet cannot "
                        "reach (fine here: the configured gateways are local too).", host=host)
        else:
            message = _("%(host)s is a local or private address that a payment gateway on the internet cannot "
                        "reach. Use the public domain of this site, such as https://pay.example.com.", host=host)
        findings.append(Finding("private_address", INFO if local_gateways else ERROR, message, scope))
    own_site = _origin(default)
    for channel in channels:
        # A gateway on the very server the domain names is the gateway calling itself, unless that server is
        # this site (PanelPay's sandbox is served by the site it is mounted in).
        if any(_origin(url) == _origin(domain) != own_site for url in gateways[channel.uuid]):
            findings.append(Finding(
                "gateway_host", ERROR,
                _("%(host)s is the host of the gateway of '%(name)s', not of this site: the gateway would call "
                  "itself. Use this site's own domain.", host=host, name=channel.name), channel.uuid))
    if domain.startswith("http://"):
        https_gateways = any(url.startswith("https://") for urls in gateways.values() for url in urls)
        if https_gateways:
            findings.append(Finding(
                "plain_http", WARNING,
                _("%(domain)s uses plain http while the gateway speaks https: the notification travels "
                  "unencrypted, and a forced-https redirect on this site would drop it. Use %(https)s if the "
                  "site has a certificate.", domain=domain, https=domain.replace("http://", "https://", 1)),
                scope))
        else:
            findings.append(Finding(
                "plain_http", INFO if private else WARNING,
                _("%(domain)s uses plain http: notifications reach it unencrypted, and a forced-https redirect on "
                  "this site would drop them. Use %(https)s once the site has a certificate.",
                  domain=domain, https=domain.replace("http://", "https://", 1)), scope))
    port = callback.port_of(domain)
    if port not in (80, 443):
        findings.append(Finding(
            "nonstandard_port", WARNING,
            _("port %(port)s is not 80 or 443: some gateways (Alipay among them) and many firewalls only call "
              "back on the standard ports. Serve the callbacks on 443 behind the reverse proxy.", port=port),
            scope))
    return findings


def static_findings(state, global_domain: str | None, channels: list) -> list[Finding]:
    """Every finding about the configured overrides and site URL (no network, no host app checks)."""
    default = callback.default_base(state.settings.site_url)
    enabled = [c for c in channels if c.enabled]
    findings: list[Finding] = []
    if global_domain:
        findings += domain_findings(state, global_domain, default, [c for c in enabled if not c.notify_domain])
    elif not state.settings.site_url:
        findings.append(Finding(
            "no_site_url", WARNING,
            _("PANELPAY_SITE_URL is not set and there is no callback domain: each order's notify URL follows the "
              "host the user happened to visit (an IP, a mirror). Set PANELPAY_SITE_URL or fill the callback "
              "domain.")))
    for channel in enabled:
        if channel.notify_domain:
            for finding in domain_findings(state, channel.notify_domain, default, [channel], scope=channel.uuid):
                message = _("'%(name)s': %(message)s", name=channel.name, message=finding.message)
                findings.append(Finding(finding.code, finding.level, message, channel.uuid))
    for channel in enabled:
        findings += _plain_http_gateways(state, channel)
    by_kind: dict[str, set] = {}
    for channel in enabled:
        base = callback.effective_base(channel.notify_domain, global_domain, state.settings.site_url)
        by_kind.setdefault(channel.kind, set()).add(base)
    for kind, bases in sorted(by_kind.items()):
        if len(bases) > 1:
            shown = ", ".join(sorted(str(b) for b in bases))
            findings.append(Finding(
                "differs_between_channels", WARNING,
                _("the %(kind)s channels call back on different domains (%(domains)s). That is allowed, but "
                  "usually a leftover: check that each of them is reachable, or set the domain once globally.",
                  kind=kind, domains=shown)))
    return findings


def _plain_http_gateways(state, channel) -> list[Finding]:
    """A channel whose gateway is reached over plain http (on the internet): its signed requests, and for
    EPay MD5 its merchant key in every query, travel unencrypted."""
    findings = []
    for url in gateway_urls(state, channel):
        if url.startswith("http://") and not callback.is_private_host(callback.host_of(url)):
            findings.append(Finding("plain_http_gateway", WARNING, _(
                "'%(name)s' reaches its gateway over plain http (%(url)s): what PanelPay sends there (an EPay "
                "query carries the merchant key itself) travels unencrypted. Use the gateway's https:// address.",
                name=channel.name, url=url), channel.uuid))
    return findings


def _probe_path(app) -> str:
    state = app.extensions["panelpay"]
    kind = next(iter(state.channel_kinds))  # any installed kind: every notify path is one route
    return callback.notify_path(state.settings.url_prefix, kind, "0123456789abcdef")


def route_findings(app) -> list[Finding]:
    """A host route that would answer the notify path instead of PanelPay (checked from the URL map)."""
    path = _probe_path(app)
    findings: list[Finding] = []
    adapter = app.url_map.bind("localhost")
    for method in ("GET", "POST"):
        try:
            endpoint, _arguments = adapter.match(path, method=method)
        except RequestRedirect:
            endpoint = _("(a redirect)")
        except HTTPException:
            endpoint = None
        if endpoint != "panelpay_notify.notify":
            findings.append(Finding(
                "route_collision", ERROR,
                _("the host's route %(endpoint)s answers %(method)s %(path)s instead of PanelPay: change the host "
                  "route or PANELPAY_URL_PREFIX.", endpoint=endpoint or _("(none)"), method=method, path=path)))
            break
    return findings


def host_findings(app) -> list[Finding]:
    """What the host app does to a gateway's request on the notify path: a route of its own claiming
    the path, or CSRF protection / a login wall rejecting the POST before PanelPay sees it."""
    findings = route_findings(app)
    if findings:
        return findings
    state = app.extensions["panelpay"]
    path = _probe_path(app)
    client = app.test_client()
    nonce = new_nonce()
    response = client.post(f"{path}?{PROBE_PARAM}={nonce}", headers={"Content-Length": "0"})
    if response.status_code != 200 or not (response.is_json and (response.get_json() or {}).get("panelpay")):
        findings.append(Finding(
            "host_blocks_notify", ERROR,
            _("the host app answers a gateway's POST to the notify path with HTTP %(status)s before PanelPay "
              "sees it: CSRF protection, a login requirement or a before_request hook must exempt %(path)s.",
              status=response.status_code, path=f"{state.settings.url_prefix}/notify/")))
    return findings


def all_findings(state, global_domain, channels) -> list[Finding]:
    app = current_app._get_current_object()
    return static_findings(state, global_domain, channels) + host_findings(app)
