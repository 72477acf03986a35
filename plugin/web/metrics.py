"""Prometheus metrics at ``<prefix>/metrics``, behind ``PANELPAY_METRICS_TOKEN`` sent as
``Authorization: Bearer <token>`` (never in the URL, which access logs keep)."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, request

from .common import state


def metrics_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_metrics", __name__)

    @bp.get("/metrics")
    def metrics():
        token = state().settings.metrics_token
        if not token:
            abort(404)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return Response("wrong or missing token\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
        return Response(state().metrics.render(), mimetype="text/plain; version=0.0.4")

    return bp
