"""Gateway mode end to end with a minimal panel stand-in (the emulated Xboard and New-API are in
test_gateway_mode.py)."""
from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa

from panelpay.channels.signing import epay_md5
from panelpay.orders import load_order
from tests.conftest import add_user
from tests.support.gateway import Signer, create_channel, login
from tests.support.servers import panel_stand_in, wait_for


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_panel_order_paid_through_the_sandbox_is_notified_once(live):
    app, base = live
    state = app.extensions["panelpay"]
    with panel_stand_in() as (panel_base, received):
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
        got = received[0]
        assert got["money"] == "9.9" and got["out_trade_no"] == params["out_trade_no"] and got["trade_no"] == trade_no
        assert got["sign"] == epay_md5(got, merchant["key"])
        page = admin.get("/payment/admin/api/deliveries").json
        assert page["total"] == 1 and page["items"][0]["status"] == "delivered"
        assert page["items"][0]["history"][0]["classification"] == "delivered"
        again = buyer.get(cashier.url)
        assert "Paid" in again.text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_settlement_while_the_apps_deliverer_is_ending_is_still_delivered(live):
    """The app's deliverer ends when nothing is owed. A payment settled just after its last check (an event
    listener of the test's holds the thread right there) still reaches the panel, with no cron."""
    app, base = live
    state = app.extensions["panelpay"]
    signer = Signer(state.sandbox)
    checked = threading.Event()

    def hold_after_the_last_check(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT panelpay_deliveries.id \nFROM") and "JOIN panelpay_merchants" in statement \
                and not checked.is_set():
            checked.set()
            time.sleep(1.0)

    with panel_stand_in() as (panel_base, received):
        admin = login(app, add_user(app, "admin", is_admin=True))
        channel = create_channel(admin, "epay", state.sandbox.channel_configs(base + "/payment/sandbox")["epay"])
        merchant = admin.post("/payment/admin/api/merchants", json={
            "name": "Panel", "notify_hosts": [urlsplit(panel_base).netloc], "channels": [channel["uuid"]]}).json
        orders = []
        for n in range(2):
            params = {"pid": merchant["pid"], "out_trade_no": f"B{n}", "money": "1", "name": f"B{n}",
                      "notify_url": panel_base + "/notify"}
            params["sign"] = epay_md5(params, merchant["key"])
            orders.append(requests.get(f"{base}/submit.php", params=params).url.split("/pay/")[1].split("/")[0])
        with app.app_context():
            notify_url = load_order(state, orders[0]).notify_url
            sa.event.listen(state.engine, "after_cursor_execute", hold_after_the_last_check)
        assert requests.get(notify_url, params=signer.epay(orders[0], "1.00", gateway_trade_no="G1")).text == "success"
        assert checked.wait(10)  # delivered B0, found nothing more owed, about to end
        assert requests.get(notify_url, params=signer.epay(orders[1], "1.00", gateway_trade_no="G2")).text == "success"
        assert wait_for(lambda: len(received) == 2, 15), received
    assert sorted(r["out_trade_no"] for r in received) == ["B0", "B1"]
