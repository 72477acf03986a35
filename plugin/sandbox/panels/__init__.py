"""Emulated panels: the merchant side of EPay as Xboard (PHP) and New-API (Go) speak it, for gateway-mode
tests and the demo. Each is a small Flask app on its own tables (SQLite or MariaDB), signing and verifying
with its own code written the way that panel does it, answering its notify exactly as the panel does, and
recording every request that reaches it.

    from panelpay.sandbox.panels import XboardPanel, NewApiPanel

    xboard = XboardPanel(db_url, url=gateway, pid="1001", key="…")
    newapi = NewApiPanel(db_url, PayAddress=gateway, EpayId="1002", EpayKey="…")
    # serve xboard.app / newapi.app, then set_base_url(served_url)

Their pages link under ``request.script_root``, so they may be mounted under a path (the demo serves them
at ``/xboard`` and ``/newapi`` with werkzeug's ``DispatcherMiddleware``).

Facts: docs panels.md (Xboard §2.2–2.4, New-API §3.2–3.5, the EPay contract §4).
"""
from __future__ import annotations

from .common import BEHAVIOURS, Received, php_money
from .newapi import NewApiPanel, go_epay_sign, go_epay_verify
from .xboard import XboardPanel, http_build_query, xboard_sign

__all__ = [
    "XboardPanel", "NewApiPanel", "Received", "BEHAVIOURS",
    "php_money", "http_build_query", "xboard_sign", "go_epay_sign", "go_epay_verify",
]
