"""Keeping PanelPay's gateway-facing and JSON blueprints out of the host's form-CSRF protection.

Gateways post without a form token (the notify path verifies signatures instead), and the JSON endpoints
check the Origin and accept only ``application/json``. Flask-WTF's ``CSRFProtect.exempt`` is the public
way to say so; a host may set ``CSRFProtect`` up after PanelPay, so the exemption is made by a hook that
runs before any other ``before_request`` function, CSRFProtect's check included.
"""
from __future__ import annotations

from typing import Iterable

from flask import Flask


def exempt(app: Flask, blueprint_names: Iterable[str]) -> None:
    """Exempt the named blueprints of ``app`` from Flask-WTF's CSRFProtect, now or as soon as it is set up."""
    wanted = set(blueprint_names)

    def exempt_blueprints() -> None:
        csrf = app.extensions.get("csrf")
        if csrf is None or not wanted:
            return
        for name in sorted(wanted & set(app.blueprints)):
            csrf.exempt(app.blueprints[name])
            wanted.discard(name)

    app.before_request_funcs.setdefault(None, []).insert(0, exempt_blueprints)
    exempt_blueprints()
