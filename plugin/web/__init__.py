"""PanelPay's blueprints, all under ``PANELPAY_URL_PREFIX``."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from ..conflicts import host_findings, route_findings

log = logging.getLogger("panelpay")

#: Blueprints a gateway or a JSON client calls: exempt from the host's form-CSRF protection (the notify
#: path verifies signatures; the JSON API checks Origin and accepts only application/json).
_CSRF_EXEMPT = ("panelpay_notify", "panelpay_api", "panelpay_admin_api", "panelpay_metrics", "panelpay_sandbox")


def register_web(app: Flask, state) -> None:
    """Mount every blueprint and keep the gateway-facing ones out of the host's CSRF protection."""
    from .admin_api import admin_api_blueprint
    from .api import api_blueprint
    from .metrics import metrics_blueprint
    from .notify import notify_blueprint
    from .openapi import openapi_blueprint
    from .pages import pages_blueprint

    prefix = state.settings.url_prefix
    for blueprint in (notify_blueprint(), api_blueprint(), admin_api_blueprint(), pages_blueprint(),
                      metrics_blueprint(), openapi_blueprint()):
        app.register_blueprint(blueprint, url_prefix=prefix)
    if state.sandbox is not None:
        app.register_blueprint(state.sandbox.blueprint(), url_prefix=prefix + "/sandbox")
    _exempt_from_csrf(app)

    _log_findings(route_findings(app))
    checked = threading.Lock()

    # A host that sets up CSRFProtect after PanelPay: its check runs after this hook, which exempts us in
    # time for the very first request. The first request also checks what the finished host app does to a
    # gateway's request on the notify path (routes added later, CSRF, a login wall) and logs any problem.
    # Both are done once; the hook then only tests a flag.
    @app.before_request
    def _panelpay_startup_checks():
        if checked.locked():
            return
        _exempt_from_csrf(app)
        if checked.acquire(blocking=False):
            _log_findings(host_findings(app))


def _log_findings(findings) -> None:
    for finding in findings:
        log.error("PanelPay: %s: %s", finding.code, finding.message)


def _exempt_from_csrf(app: Flask) -> None:
    csrf = app.extensions.get("csrf")
    if csrf is None:
        return
    exempt = getattr(csrf, "_exempt_blueprints", set())
    for name in _CSRF_EXEMPT:
        if name not in exempt and name in app.blueprints:
            csrf.exempt(app.blueprints[name])
