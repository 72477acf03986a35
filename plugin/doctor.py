"""The callback doctor: probes each enabled channel's effective notify URL the way a gateway would.

The probe carries a nonce; only a deployment holding this app's secret can answer it with the right
proof, so "reachable and ours" is told apart from another deployment, a catch-all or a CDN page. It
probes nothing but the configured notify URLs.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import jsonify

PROBE_PARAM = "__panelpay_probe"
PROBE_HEADER = "X-PanelPay-Probe"


def _proof(state, nonce: str) -> str:
    key = hashlib.sha256(b"panelpay-probe:" + state.settings.secret_key.encode()).digest()
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def probe_nonce(args, content_length) -> str | None:
    """The nonce when a request is a doctor probe (only the probe parameter, no body), else None."""
    if list(args.keys()) != [PROBE_PARAM] or content_length:
        return None
    nonce = args.get(PROBE_PARAM, "")
    return nonce if 16 <= len(nonce) <= 64 and nonce.isalnum() else None


def probe_answer(state, nonce: str, kind: str, uuid: str):
    response = jsonify({"panelpay": "notify", "kind": kind, "uuid": uuid, "proof": _proof(state, nonce)})
    response.headers[PROBE_HEADER] = "1"
    return response


def new_nonce() -> str:
    return secrets.token_hex(16)
