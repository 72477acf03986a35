"""Gateway mode at its edges: ambiguous URLs, values the signature does not cover, a slow panel, a gateway that
refused once, confirm by read that cannot read, odd input on the EPay endpoints (found in review)."""
from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
import requests

from panelpay import delivery
from panelpay.channels.signing import epay_md5
from panelpay.models import Delivery, Order, utcnow
from panelpay.merchants import get_merchant
from panelpay.panel_calls import call_panel
from tests.support.servers import free_port, panel_stand_in, serve_app, wait_for
from tests.test_gateway_mode import Site

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def site(make_app):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(PANELPAY_SITE_URL=base, PANELPAY_SANDBOX=True, PANELPAY_HTTP_TIMEOUT=1)
    with serve_app(app, port):
        yield Site(app, base)


def signed(merchant: dict, **params) -> dict:
    params = {"pid": merchant["pid"], "money": "1.00", "name": "Plan", **params}
    params["sign"] = epay_md5(params, merchant["key"])
    params["sign_type"] = "MD5"
    return params


@SQLITE
def test_urls_that_name_one_host_to_python_and_another_to_a_client_are_refused(site):
    merchant = site.merchant("https://panel.example.com", site.channel("epay"))
    for notify, return_ in (("http://127.0.0.1:9\\@panel.example.com/notify", ""),
                            ("https://user@panel.example.com/notify", ""),
                            ("https://panel.example.com/notify", "https://evil.example.net\\@panel.example.com/")):
        answer = requests.get(f"{site.base}/submit.php", params=signed(
            merchant, out_trade_no="A1", notify_url=notify, **({"return_url": return_} if return_ else {})))
        assert answer.status_code == 400 and "backslash, a space or a user name" in answer.text, answer.text[-500:]
    assert site.rows(Order) == []


@SQLITE
def test_values_the_signature_leaves_out_are_not_taken_and_not_echoed(site):
    merchant = site.merchant("https://panel.example.com", site.channel("epay"))
    params = signed(merchant, out_trade_no="A2", notify_url="https://panel.example.com/notify")
    params.update(param=" ", type="")  # unsigned: EPay's signer drops values empty after trim
    assert requests.get(f"{site.base}/submit.php", params=params).status_code == 200
    [order] = site.rows(Order)
    assert json.loads(order.relay)["param"] == "" and json.loads(order.relay)["type"] == ""


@SQLITE
def test_mapi_with_several_channels_answers_a_link_to_choose_whatever_else_was_added(site):
    first, second = site.channel("epay"), site.channel("alipay_qr")
    merchant = site.merchant("https://panel.example.com", first)
    site.admin.patch(f"/payment/admin/api/merchants/{merchant['pid']}", json={"channels": [first["uuid"],
                                                                                          second["uuid"]]})
    params = signed(merchant, out_trade_no="A3", notify_url="https://panel.example.com/notify")
    params.update(endpoint="", _external="")  # empty, so unsigned
    answer = requests.post(f"{site.base}/mapi.php", data=params, headers={"Host": "internal:8000"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 1 and answer.json()["payurl"].startswith(site.base + "/submit.php?")
    assert "A3" in answer.json()["payurl"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_nul_anywhere_in_the_epay_endpoints_is_answered_never_a_500(site):
    for path, method in (("/submit.php", "GET"), ("/mapi.php", "POST"), ("/api.php", "GET")):
        for field in ("pid", "out_trade_no", "trade_no"):
            params = {"act": "order", "pid": "1001", "key": "k", field: "10\x0001"}
            answer = requests.request(method, site.base + path, **({"params": params} if method == "GET"
                                                                   else {"data": params}))
            assert answer.status_code < 500, (path, field, answer.status_code)


@contextmanager
def dripping_panel():
    """Answers 200 at once, then one byte of its body every 0.4 s (a 2-second drip)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\n")
            for byte in b"success":
                if stop.wait(0.4):
                    break
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        sock.close()


@SQLITE
def test_a_panel_that_drips_its_answer_is_cut_off_within_the_lease(site):
    with dripping_panel() as panel:
        merchant = site.merchant(panel, site.channel("epay"))
        with site.app.app_context():
            row = get_merchant(site.state, merchant["pid"])
            started = time.monotonic()
            classification, _ = call_panel(site.state, row, panel + "/notify", {"a": "1"}, purpose="probe")
            took = time.monotonic() - started
    assert classification == "timeout" and took < 2 * 1 + 1  # twice PANELPAY_HTTP_TIMEOUT, whatever the drip


@SQLITE
def test_a_relay_order_its_gateway_refused_is_payable_when_submitted_again(site):
    channel = site.channel("alipay_qr")
    config = site.state.sandbox.channel_configs(site.base + "/payment/sandbox")["alipay_qr"]  # a new gateway: keys again
    live = config["gateway"]
    dead = f"http://127.0.0.1:{free_port()}/payment/sandbox/alipay/gateway.do"
    assert site.admin.patch(f"/payment/admin/api/channels/{channel['uuid']}",
                            json={"config": {**config, "gateway": dead}}).status_code == 200
    merchant = site.merchant("https://panel.example.com", channel)
    params = signed(merchant, out_trade_no="A4", notify_url="https://panel.example.com/notify")
    refused = requests.post(f"{site.base}/mapi.php", data=params).json()
    assert refused["code"] != 1 and "try again" in refused["msg"]
    assert site.admin.patch(f"/payment/admin/api/channels/{channel['uuid']}",
                            json={"config": {**config, "gateway": live}}).status_code == 200
    again = requests.post(f"{site.base}/mapi.php", data=params).json()
    assert again["code"] == 1 and again["qrcode"], again
    [order] = site.rows(Order)
    assert order.status == "pending" and order.anomaly is None


@SQLITE
def test_confirm_by_read_that_cannot_read_says_so_once_and_leaves_nothing_owed(site, tmp_path):
    with panel_stand_in() as (panel_base, received):
        merchant = site.merchant(panel_base, site.channel("epay"), confirm_profile="newapi",
                                 confirm_url=f"sqlite:///{tmp_path}/missing/newapi.sqlite")
        for out_trade_no in ("USR1NOabcdef1700000000", "SUBUSR1NOabcdef1700000000"):
            cashier = requests.get(f"{site.base}/submit.php", params=signed(
                merchant, out_trade_no=out_trade_no, notify_url=panel_base + "/notify"))
            site.pay(cashier)
        assert wait_for(lambda: len(received) == 2)
        with site.app.app_context():
            counts = delivery.run(site.state, now=utcnow() + timedelta(seconds=10))
            assert delivery.run(site.state, now=utcnow() + timedelta(seconds=20)) == {}
    assert counts == {"confirm_unreadable": 1, "confirm_unchecked": 1}
    assert sorted(d.confirmed for d in site.rows(Delivery)) == ["unchecked", "unreadable"]


@SQLITE
def test_a_disabled_merchant_takes_no_order_and_says_so_only_to_whoever_holds_its_key(site):
    merchant = site.merchant("https://panel.example.com", site.channel("epay"))
    assert site.admin.patch(f"/payment/admin/api/merchants/{merchant['pid']}", json={"enabled": False}).status_code == 200
    params = signed(merchant, out_trade_no="A5", notify_url="https://panel.example.com/notify")
    answer = requests.get(f"{site.base}/submit.php", params=params)
    assert answer.status_code == 400 and "disabled" in answer.text
    forged = requests.get(f"{site.base}/submit.php", params={**params, "sign": "0" * 32})
    assert forged.status_code == 400 and "disabled" not in forged.text and "signature does not match" in forged.text
    assert site.rows(Order) == []


@SQLITE
def test_the_cashier_status_answers_only_its_link(site):
    merchant = site.merchant("https://panel.example.com", site.channel("epay"))
    cashier = requests.get(f"{site.base}/submit.php", params=signed(
        merchant, out_trade_no="A6", notify_url="https://panel.example.com/notify"))
    assert requests.get(cashier.url + "/status").json() == {"status": "pending"}
    forged = cashier.url.rsplit("/", 1)[0] + "/" + "0" * 20 + "/status"
    assert requests.get(forged).status_code == 404
    assert 'id="pp-data"' in cashier.text and "cashier.js" in cashier.text
