"""Gateway mode end to end with a minimal panel stand-in (the emulated Xboard and New-API are in
test_gateway_mode.py)."""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from flask import Flask, request

from panelpay.channels.signing import epay_md5
from panelpay.orders import load_order
from tests.conftest import add_user
from tests.support.gateway import create_channel, login
from tests.support.servers import free_port, serve_app


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_panel_order_paid_through_the_sandbox_is_notified_once(make_app):
    received = []
    panel = Flask("panel")

    @panel.get("/notify")
    def notify():
        received.append(request.query_string.decode())
        return "success"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(PANELPAY_SITE_URL=base, PANELPAY_SANDBOX=True)
    state = app.extensions["panelpay"]
    with serve_app(app, port), serve_app(panel) as panel_base:
        admin = login(app, add_user(app, "admin", is_admin=True))
        config = state.sandbox.channel_configs(base + "/payment/sandbox")["epay"]
        create_channel(admin, "epay", config, name="EPay")
        created = admin.post("/payment/admin/api/merchants", json={
            "name": "My panel", "notify_hosts": [urlsplit(panel_base).netloc], "return_hosts": ["127.0.0.1"]})
        assert created.status_code == 201, created.text
        merchant = created.json
        assert len(merchant["key"]) == 32 and merchant["settings"]["newapi"]["EpayId"] == merchant["pid"]
        params = {"pid": merchant["pid"], "out_trade_no": "2026120612000012345612345", "money": "9.9",
                  "name": "2026120612000012345612345", "notify_url": panel_base + "/notify",
                  "return_url": "http://127.0.0.1/#/order/2026120612000012345612345"}
        params["sign"] = epay_md5(params, merchant["key"])
        params["sign_type"] = "MD5"
        buyer = requests.Session()
        cashier = buyer.get(f"{base}/submit.php?{urlencode(params)}")
        assert cashier.status_code == 200, cashier.text[:500]
        assert "9.90" in cashier.text
        trade_no = cashier.url.split("/pay/")[1].split("/")[0]
        with app.app_context():
            pay = json.loads(load_order(state, trade_no).pay)
        assert buyer.post(pay["url"], data=pay["fields"]).status_code == 200  # "Continue to pay"
        assert requests.post(f"{base}/payment/sandbox/_pay/{trade_no}").status_code == 200
        assert wait_for(lambda: received)
        got = dict(parse_qsl(received[0], keep_blank_values=True))
        assert got["money"] == "9.9" and got["out_trade_no"] == params["out_trade_no"] and got["trade_no"] == trade_no
        assert got["sign"] == epay_md5(got, merchant["key"])
        page = admin.get("/payment/admin/api/deliveries").json
        assert page["total"] == 1 and page["items"][0]["status"] == "delivered"
        assert page["items"][0]["history"][0]["classification"] == "delivered"
        again = buyer.get(cashier.url)
        assert "Paid" in again.text
