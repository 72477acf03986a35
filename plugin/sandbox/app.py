"""A standalone Flask app serving one sandbox (``python -m panelpay.sandbox`` runs it)."""
from __future__ import annotations

from flask import Flask

from .gateway import BaseSandbox


def create_app(sandbox: BaseSandbox, prefix: str = "") -> Flask:
    """A Flask app with the sandbox mounted at ``prefix`` ("" for the root)."""
    app = Flask("panelpay.sandbox", static_folder=None)
    app.extensions["panelpay_sandbox"] = sandbox
    app.register_blueprint(sandbox.blueprint(), url_prefix=prefix.rstrip("/") or None)
    return app
