"""PanelPay's blueprints, all under ``PANELPAY_URL_PREFIX``."""
from __future__ import annotations

from flask import Flask


def register_web(app: Flask, state) -> None:
    """Mount every blueprint, exempt the gateway-facing ones from the host's CSRF protection."""
    from .notify import notify_blueprint

    prefix = state.settings.url_prefix
    notify_bp = notify_blueprint()
    app.register_blueprint(notify_bp, url_prefix=prefix)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(notify_bp)
