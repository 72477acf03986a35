"""The callback doctor: probes each enabled channel's effective notify URL the way a gateway would.

Each probe carries a nonce (:mod:`panelpay.probe`) that only this deployment can answer, so "reachable
and ours" is told apart from another deployment, a catch-all or a CDN page. It probes nothing but the
configured notify URLs, with the methods the channel's gateway calls back with (a failure there is an
error) and the others (a warning).
"""
from __future__ import annotations

import hmac
from urllib.parse import urlsplit

import requests

from .callback import Finding, notify_url
from .callback import translate as _
from .conflicts import all_findings
from .outbound import RefusedAddress
from .probe import PROBE_PARAM, new_nonce, proof
from .store import get_settings, list_channels


def run_doctor(state) -> list:
    """Probe the effective notify URL of each enabled channel (GET and POST, redirects off, short
    timeout) and return findings; plus the static and host findings of the current configuration."""
    settings = get_settings(state)
    channels = list_channels(state)
    findings = list(all_findings(state, settings["callback_domain"], channels))
    enabled = [c for c in channels if c.enabled]
    if not enabled:
        findings.append(Finding("no_channels", "info", _("No enabled channel: nothing to probe. Add a channel "
                                                         "first.")))
    for channel in enabled:
        url = notify_url(state, channel, settings["callback_domain"])
        if url is None:
            findings.append(Finding("no_site_url", "error", _(
                "The site's public URL is unknown here: set PANELPAY_SITE_URL (or a callback domain) so the doctor "
                "knows what to probe."), channel.uuid))
            continue
        for method in ("GET", "POST"):
            findings.append(probe(state, channel, url, method))
    return findings + panel_findings(state)


def panel_findings(state) -> list:
    """Gateway mode's second leg: each enabled merchant's panel gets a signed test notification at the notify
    URL of its latest order (:func:`panelpay.panel_calls.probe`); a merchant with no order yet is skipped."""
    from .panel_calls import probe as probe_panel
    from .merchants import list_merchants

    found = []
    for merchant in list_merchants(state):
        if not merchant.enabled:
            continue
        result = probe_panel(state, merchant)
        if result["classification"] == "no_url":
            continue
        found.append(Finding("panel_ok" if result["ok"] else "panel_" + result["classification"],
                             "info" if result["ok"] else "error",
                             _("Panel %(name)s (merchant %(pid)s, %(url)s): %(message)s", name=merchant.name,
                               pid=merchant.pid, url=result["notify_url"], message=result["message"])))
    return found


def _callback_methods(state, channel) -> tuple[str, ...]:
    """The methods the channel's gateway calls back with (both, for a kind no longer installed)."""
    cls = state.channel_kinds.get(channel.kind)
    return cls.callback_methods if cls is not None else ("GET", "POST")


def probe(state, channel, url: str, method: str):
    """One live probe of ``url`` with ``method``; a finding saying exactly what answered."""
    nonce = new_nonce()
    name = _("'%(name)s' (%(method)s %(url)s)", name=channel.name, method=method, url=url)
    level = "error" if method in _callback_methods(state, channel) else "warning"
    try:
        response = state.http_for("doctor").request(method, url, params={PROBE_PARAM: nonce},
                                                    timeout=state.settings.doctor_timeout,
                                                    headers={"User-Agent": "PanelPay-Doctor/0.1", "Content-Length": "0"})
    except RefusedAddress:
        return Finding("refused_address", "error", _(
            "%(probe)s: PanelPay does not send requests to this address (a link-local, metadata, or, without "
            "PANELPAY_ALLOW_PRIVATE_URLS, a private or loopback one). Use the site's public domain.", probe=name),
            channel.uuid)
    except requests.exceptions.SSLError as exc:
        return Finding("tls_error", "error", _(
            "%(probe)s: the TLS handshake failed: %(problem)s. Gateways refuse broken certificates: fix the "
            "certificate, or use the domain that has a valid one.", probe=name, problem=tls_problem(exc)),
            channel.uuid)
    except requests.exceptions.Timeout:
        return Finding("timeout", "error", _(
            "%(probe)s: no answer within %(seconds)s s. A firewall or a stopped reverse proxy is dropping the "
            "request; EPay gives up after 5 s.", probe=name, seconds=f"{state.settings.doctor_timeout:g}"),
            channel.uuid)
    except requests.exceptions.RequestException as exc:
        code, problem = _connection_problem(exc, urlsplit(url).hostname or url)
        return Finding(code, "error", _("%(probe)s: %(problem)s", probe=name, problem=problem), channel.uuid)
    return _classify(state, channel, name, method, level, nonce, response)


def _classify(state, channel, name, method, level, nonce, response):
    status = response.status_code
    if 300 <= status < 400:
        target = response.headers.get("Location", "")
        here, there = urlsplit(response.url), urlsplit(target)
        if there.scheme == "https" and here.scheme == "http" and (not there.hostname or there.hostname == here.hostname):
            return Finding("redirect_https", "error", _(
                "%(probe)s: the site redirects http to https (%(status)s). Gateways do not follow redirects (a "
                "POST loses its body): set the callback domain to https://%(netloc)s.",
                probe=name, status=status, netloc=here.netloc), channel.uuid)
        if there.hostname and there.hostname != here.hostname:
            return Finding("redirect_host", "error", _(
                "%(probe)s: answered %(status)s to another host (%(host)s), e.g. a CDN or a www redirect. Gateways "
                "do not follow it: point the callback domain straight at this site.",
                probe=name, status=status, host=there.hostname), channel.uuid)
        return Finding("redirect", "error", _(
            "%(probe)s: answered a %(status)s redirect to %(target)s. Gateways do not follow redirects: remove it "
            "for the notify path.", probe=name, status=status, target=target or _("(nowhere)")), channel.uuid)
    if status == 200:
        document = None
        if response.headers.get("Content-Type", "").startswith("application/json"):
            try:
                document = response.json()
            except ValueError:
                document = None
        if isinstance(document, dict) and document.get("panelpay") == "notify":
            if hmac.compare_digest(str(document.get("proof", "")), proof(state, nonce)):
                return Finding("reachable", "info", _(
                    "%(probe)s: reachable, and it is this PanelPay that answers.", probe=name), channel.uuid)
            return Finding("other_deployment", "error", _(
                "%(probe)s: another PanelPay deployment (a different secret key) answers this URL: the callback "
                "domain points at the wrong server.", probe=name), channel.uuid)
        if "html" in response.headers.get("Content-Type", ""):
            message = _("%(probe)s: answered 200 with HTML, not PanelPay: a catch-all route, a CDN or a different "
                        "site is in front of the notify path. Gateways will never see 'success'.", probe=name)
        else:
            message = _("%(probe)s: answered 200 with a non-PanelPay answer, not PanelPay: a catch-all route, a CDN "
                        "or a different site is in front of the notify path. Gateways will never see 'success'.",
                        probe=name)
        return Finding("catch_all", "error", message, channel.uuid)
    if status == 404:
        return Finding("not_found", level, _(
            "%(probe)s: 404. The path does not reach PanelPay: a reverse proxy rule or a different site serves this "
            "domain.", probe=name), channel.uuid)
    if status == 405:
        methods = " / ".join(_callback_methods(state, channel))
        return Finding("method_not_allowed", level, _(
            "%(probe)s: 405, %(method)s is not allowed on this path. This channel's gateway notifies with "
            "%(methods)s: allow it in the proxy or WAF.", probe=name, method=method, methods=methods), channel.uuid)
    if status >= 500:
        return Finding("server_error", "error", _(
            "%(probe)s: the server answered %(status)s. Check the site's logs.", probe=name, status=status),
            channel.uuid)
    return Finding("blocked", level, _(
        "%(probe)s: answered %(status)s: a login wall, WAF or CSRF protection blocks the gateway. Exempt the "
        "notify path.", probe=name, status=status), channel.uuid)


def _chain(exc: BaseException) -> str:
    """The text of an exception and of what caused it, lower-case: what the library said, to recognise it
    (never shown: the finding says it in plain words)."""
    seen, texts = set(), []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        texts.append(f"{type(exc).__name__} {exc}")
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException)
                                                  else getattr(exc, "reason", None))
    return " ".join(texts).lower()


def tls_problem(exc: BaseException) -> str:
    """What is wrong with a TLS connection that failed, in plain words (from what the library said)."""
    said = _chain(exc)
    for words, problem in ((("expired",), _("the certificate has expired")),
                           (("hostname mismatch", "doesn't match", "not valid for"),
                            _("the certificate is for another name")),
                           (("self-signed", "self signed"), _("the certificate is self-signed")),
                           (("unable to get local issuer",), _("the certificate's issuer is not a trusted one")),
                           (("wrong version number", "unknown protocol", "record layer failure"),
                            _("the server does not speak TLS on this port (is the address http:// instead?)"))):
        if any(word in said for word in words):
            return problem
    return _("the certificate cannot be verified")


def _connection_problem(exc: BaseException, host: str) -> tuple[str, str]:
    """(code, plain words) for a request that got no HTTP answer."""
    said = _chain(exc)
    if any(word in said for word in ("name or service not known", "nodename nor servname", "failed to resolve",
                                     "getaddrinfo failed", "temporary failure in name resolution",
                                     "nameresolutionerror", "no address associated")):
        return "dns", _("the name %(host)s does not resolve: check its DNS record.", host=host)
    if "refused" in said:
        return "refused", _("nothing accepts connections there (connection refused): check that the site is "
                            "running and the port is right.")
    if any(word in said for word in ("remotedisconnected", "badstatusline", "connection aborted", "protocolerror",
                                     "invalid http", "incompleteread", "headerparsingerror")):
        return "not_http", _("a server answered, but not with HTTP (is this the port of a database or another "
                             "service?): point the domain at the web server.")
    if "reset" in said:
        return "reset", _("the connection was cut (reset): a firewall or a proxy in front of the site is in "
                          "the way.")
    if any(word in said for word in ("unreachable", "no route to host")):
        return "no_route", _("this server has no route to that address: check the network and the firewall.")
    return "unreachable", _("cannot connect: check DNS, the firewall and that the site listens on this port.")
