"""The OpenAPI document of PanelPay's JSON API, generated from the marshmallow schemas."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .common import state


def openapi_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_openapi", __name__)

    @bp.get("/api/openapi.json")
    def openapi():
        from ..openapi import build_spec

        return jsonify(build_spec(state().settings.url_prefix))

    return bp
