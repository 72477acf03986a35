"""PanelPay's blueprints, all under ``PANELPAY_URL_PREFIX``."""
from __future__ import annotations

from flask import Flask

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

    # A host that sets up CSRFProtect after PanelPay: its check runs after this hook, which exempts us in
    # time for the very first request.
    @app.before_request
    def _panelpay_csrf_exemption():
        _exempt_from_csrf(app)


def _exempt_from_csrf(app: Flask) -> None:
    csrf = app.extensions.get("csrf")
    if csrf is None:
        return
    exempt = getattr(csrf, "_exempt_blueprints", set())
    for name in _CSRF_EXEMPT:
        if name not in exempt and name in app.blueprints:
            csrf.exempt(app.blueprints[name])
