"""The doctor's probe: how a request to a notify path is recognised as a self-test, and answered.

A probe carries a nonce in one query parameter and no body. Only a deployment holding this app's secret
can answer it with the right proof, so "reachable and ours" is told apart from another deployment, a
catch-all or a CDN page. A probe is answered without being recorded.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import jsonify

PROBE_PARAM = "__panelpay_probe"
PROBE_HEADER = "X-PanelPay-Probe"


def proof(state, nonce: str) -> str:
    """What only this deployment can answer to ``nonce``."""
    key = hashlib.sha256(b"panelpay-probe:" + state.settings.secret_key.encode()).digest()
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def probe_nonce(request) -> str | None:
    """The nonce when a request is a probe (only the probe parameter, no body), else None. A query that
    does not start with the probe parameter is not parsed: a notification is not a probe."""
    if request.content_length or not request.query_string.startswith(PROBE_PARAM.encode()):
        return None
    args = request.args
    if list(args.keys()) != [PROBE_PARAM]:
        return None
    nonce = args.get(PROBE_PARAM, "")
    return nonce if 16 <= len(nonce) <= 64 and nonce.isalnum() else None


def probe_answer(state, nonce: str, kind: str, uuid: str):
    """The answer to a probe: which path answered, and the proof."""
    response = jsonify({"panelpay": "notify", "kind": kind, "uuid": uuid, "proof": proof(state, nonce)})
    response.headers[PROBE_HEADER] = "1"
    return response
