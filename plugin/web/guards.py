"""What every PanelPay route sends and refuses besides its own work: a bound on request bodies, and the
security headers (no sniffing, no framing by other sites, a restrictive Content-Security-Policy on pages).

A host with a policy of its own sets ``PANELPAY_CONTENT_SECURITY_POLICY`` to ``""`` (PanelPay then sends
none and the host's applies) or to the policy PanelPay's pages should carry; headers the host's response
already has are never replaced.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, request

from ..store import gateway_urls

#: PanelPay's pages load their scripts, styles and images from this site only and may be framed by this
#: site only; ``form-action`` also allows the gateways a payment form is posted to.
_PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'")


def guard(bp: Blueprint, *, pages: bool = False, body_limit: bool = True) -> None:
    """Bound ``bp``'s request bodies (413; a body without a length, 411) and add the security headers to
    its answers; ``pages``: it serves HTML pages (they get the Content-Security-Policy)."""
    if body_limit:
        bp.before_request(_bounded_body)

    @bp.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        policy = current_app.extensions["panelpay"].settings.content_security_policy
        if pages and policy and response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", _page_policy(policy))
        return response


def _bounded_body():
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = current_app.extensions["panelpay"].settings.max_request_bytes
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        abort(411, description="Send the body with a Content-Length.")
    if (request.content_length or 0) > limit:
        abort(413, description=f"The body is larger than PanelPay accepts ({limit} bytes).")


def allow_forms_to(state, channels) -> None:
    """Let this page post payment forms to the gateways of ``channels``."""
    origins = g.setdefault("panelpay_form_targets", set())
    for channel in channels:
        for url in gateway_urls(state, channel):
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")


def _page_policy(policy: str) -> str:
    if policy != "default":
        return policy
    return _PAGE_POLICY + "".join(f" {origin}" for origin in sorted(g.get("panelpay_form_targets", ())))
