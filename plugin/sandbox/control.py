"""JSON test helpers (not part of any gateway's protocol): pay without a browser, read deliveries and orders,
set the behaviour switches, reset.

``POST /_pay/<id>``, ``GET /_orders/<id>``, ``GET /_deliveries/<out_trade_no>``,
``GET|POST /_behaviour``, ``POST /_reset``.

They answer only this machine (a loopback address, and no proxy forwarding headers): a sandbox mounted by
mistake where others can reach it does not let them pay its orders without a browser.
"""
from __future__ import annotations

import ipaddress

from flask import Blueprint, request

from .behaviour import SWITCHES, BehaviourError
from .ledger import SandboxError
from .web import json_answer


_FORWARDED = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _from_this_machine() -> bool:
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    return loopback and not any(header in request.headers for header in _FORWARDED)


def register(bp: Blueprint, sandbox) -> None:
    @bp.before_request
    def this_machine_only():
        if request.endpoint and request.endpoint.rsplit(".", 1)[-1].startswith("control_") \
                and not _from_this_machine():
            return json_answer({"ok": False, "error": "the sandbox's test helpers answer only this machine"}, 403)
        return None

    @bp.route("/_pay/<ref>", methods=["POST"])
    def control_pay(ref: str):
        """Exactly what the cashier's Pay button does; answers JSON instead of redirecting."""
        body = request.get_json(silent=True)
        pay_type = body.get("type") if isinstance(body, dict) else request.form.get("type")
        try:
            payment = sandbox.pay(ref, pay_type if isinstance(pay_type, str) else None)
        except SandboxError as error:
            order = sandbox.order(ref)
            return json_answer({"ok": False, "error": error.message, "order": order}, error.status)
        return json_answer({"ok": True, "order": payment.order.snapshot(), "redirect_url": payment.redirect_url})

    @bp.route("/_orders/<ref>", methods=["GET"])
    def control_order(ref: str):
        order = sandbox.order(ref)
        if order is None:
            return json_answer({"ok": False, "error": f"no order {ref}"}, 404)
        return json_answer({"ok": True, "order": order})

    @bp.route("/_deliveries/<out_trade_no>", methods=["GET"])
    def control_deliveries(out_trade_no: str):
        return json_answer({
            "out_trade_no": out_trade_no,
            "deliveries": sandbox.deliveries(out_trade_no),
            "notifications": sandbox.notifier.jobs(out_trade_no),
        })

    @bp.route("/_behaviour", methods=["GET", "POST"])
    def control_behaviour():
        if request.method == "POST":
            changes = request.get_json(silent=True)
            try:
                sandbox.behaviour.update(changes if changes is not None else "")
            except BehaviourError as error:
                return json_answer({"ok": False, "error": str(error)}, 400)
        return json_answer({"ok": True, "behaviour": sandbox.behaviour.as_dict(),
                            "help": {name: meaning for name, (_, meaning) in SWITCHES.items()}})

    @bp.route("/_reset", methods=["POST"])
    def control_reset():
        sandbox.reset()
        return json_answer({"ok": True, "behaviour": sandbox.behaviour.as_dict()})
