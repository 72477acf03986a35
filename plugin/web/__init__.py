"""PanelPay's blueprints, all under ``PANELPAY_URL_PREFIX``."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from ..conflicts import host_findings, route_findings
from . import csrf
from .guards import guard

log = logging.getLogger("panelpay")

#: Blueprints a gateway or a JSON client calls: exempt from the host's form-CSRF protection.
_CSRF_EXEMPT = ("panelpay_notify", "panelpay_api", "panelpay_admin_api", "panelpay_metrics", "panelpay_epay",
                "panelpay_epay_root")


def register_web(app: Flask, state) -> None:
    """Mount every blueprint, keep the gateway-facing ones out of the host's CSRF protection, and check
    once, at the first request, what the finished host app does to a gateway's request."""
    from .admin_api import admin_api_blueprint
    from .api import api_blueprint
    from .callbacks import callbacks_blueprint
    from .epay_site import epay_blueprints
    from .metrics import metrics_blueprint
    from .openapi import openapi_blueprint
    from .pages import pages_blueprint

    prefix = state.settings.url_prefix
    pages, callbacks = pages_blueprint(), callbacks_blueprint()
    guard(pages, pages=True)
    guard(callbacks, body_limit=False)  # the notify path bounds its body itself (PANELPAY_MAX_NOTIFY_BYTES)
    blueprints = [pages, callbacks, api_blueprint(), admin_api_blueprint(), metrics_blueprint(), openapi_blueprint()]
    for blueprint in blueprints[2:]:
        guard(blueprint)
    for blueprint in blueprints:
        app.register_blueprint(blueprint, url_prefix=prefix)
    for blueprint, at in epay_blueprints(prefix):  # gateway mode: PanelPay as a panel's EPay site
        guard(blueprint, pages=True)
        app.register_blueprint(blueprint, url_prefix=at or None)
    if state.sandbox is not None:
        app.register_blueprint(state.sandbox.blueprint(), url_prefix=prefix + "/sandbox")
    csrf.exempt(app, _CSRF_EXEMPT)

    _log_findings(route_findings(app))
    checked = threading.Lock()

    # Routes added later, CSRF, a login wall: the first request checks what the finished host app does to
    # a gateway's request on the notify path and logs any problem. Done once; the hook then tests a flag.
    @app.before_request
    def _panelpay_startup_checks():
        if checked.locked():
            return
        if checked.acquire(blocking=False):
            _log_findings(host_findings(app))


def _log_findings(findings) -> None:
    for finding in findings:
        log.error("PanelPay: %s: %s", finding.code, finding.message)
