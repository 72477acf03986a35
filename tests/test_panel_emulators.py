"""The emulated panels (panelpay.sandbox.panels): Xboard and New-API as EPay merchants, faithful to
docs panels.md. Signatures here are computed by the tests' own plain md5 (panels.md §4), not by the
emulators' code nor PanelPay's, so each check is a real cross-check. SQLite and MariaDB only."""
from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from panelpay.sandbox.panels import BEHAVIOURS, NewApiPanel, XboardPanel, go_epay_sign, php_money, xboard_sign
from panelpay.sandbox.panels.newapi import go_submit_url
from panelpay.sandbox.panels.xboard import http_build_query, stripslashes
from tests.support import databases
from tests.support.servers import serve_app

KEY = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i"
GATEWAY = "http://127.0.0.1:5999"


def md5_sign(params: dict, key: str) -> str:
    """EPay's rule in plain Python: sorted non-empty params but sign/sign_type, raw k=v&, key, md5."""
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", "sign_type") and v != "")
    return hashlib.md5((content + key).encode()).hexdigest()


def signed(params: dict, key: str = KEY) -> dict:
    return {**params, "sign": md5_sign(params, key), "sign_type": "MD5"}


def notification(out_trade_no: str, name: str, money: str, *, pid="1001", trade_no="PP2026000001",
                 type_="alipay", key=KEY, **extra) -> dict:
    return signed({"pid": pid, "trade_no": trade_no, "out_trade_no": out_trade_no, "type": type_, "name": name,
                   "money": money, "trade_status": "TRADE_SUCCESS", **extra}, key)


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request, tmp_path):
    databases.require(request.param)
    url = databases.create_database(request.param, str(tmp_path))
    yield url
    databases.drop_database(url)


@pytest.fixture
def xboard(db_url):
    panel = XboardPanel(db_url, url=GATEWAY, pid="1001", key=KEY, type="alipay", base_url="http://xboard.test")
    yield panel
    panel.close()


@pytest.fixture
def newapi(db_url):
    panel = NewApiPanel(db_url, PayAddress=GATEWAY, EpayId="1002", EpayKey=KEY)
    panel.set_base_url("http://newapi.test")
    yield panel
    panel.close()


# --- signing and money, no database ------------------------------------------------------------------------

def test_go_epay_known_vector_and_the_shared_vector():
    assert go_epay_sign({"device": "devicev", "money": "moneyv"}, "1234567") == "3854cc9f022e0fb821bd2e002260245d"
    assert go_epay_sign({"device": "devicev", "money": "moneyv", "sign": "x", "sign_type": "MD5", "e": ""},
                        "1234567") == "3854cc9f022e0fb821bd2e002260245d"
    # PanelPay's known answer (tests/channels/test_channel_signing.py), reproduced by both panels' own code.
    vector = {"pid": "1001", "trade_no": "2024112210400012345", "out_trade_no": "TOPUP202411221040000101",
              "type": "alipay", "name": "VIP会员 月卡", "money": "10.00", "trade_status": "TRADE_SUCCESS",
              "param": "uid:42"}
    assert go_epay_sign({**vector, "empty": ""}, KEY) == "e276611b4732ba8b700c4b602154abc5"
    assert xboard_sign({**vector, "empty": None}, KEY) == "e276611b4732ba8b700c4b602154abc5"


def test_php_steps():
    assert http_build_query({"a": "x y~", "b": None, "c": 1, "d": "中"}) == "a=x+y%7E&c=1&d=%E4%B8%AD"
    assert stripslashes(b"a\\'b\\\\c\\0d\\") == b"a'b\\c\x00d"
    # stripslashes is part of Xboard's rule: a backslash in a value changes what is signed.
    assert xboard_sign({"name": "a\\b"}, "k") == hashlib.md5(b"name=abk").hexdigest()


@pytest.mark.parametrize("cents, text", [(1000, "10"), (990, "9.9"), (1, "0.01"), (10, "0.1"), (12345, "123.45"),
                                         (100000, "1000"), (29, "0.29"), (1999, "19.99")])
def test_xboard_money_is_total_over_100_as_php_prints_it(cents, text):
    assert php_money(cents) == text


def test_go_epay_submit_address():
    assert go_submit_url("http://gw.test") == "http://gw.test/submit.php"
    assert go_submit_url("http://gw.test/") == "http://gw.test/submit.php"
    assert go_submit_url("https://gw.test/pay/") == "https://gw.test/pay/submit.php"


def test_behaviour_knob_is_checked():
    panel = XboardPanel("sqlite://", url=GATEWAY, pid="1", key="k")
    assert panel.behaviour == "normal" and "catch_all_html" in BEHAVIOURS
    with pytest.raises(ValueError):
        panel.behaviour = "sometimes"
    with pytest.raises(ValueError):
        NewApiPanel("sqlite://", PayAddress=GATEWAY, EpayId="1", EpayKey="k", version="ancient")


# --- Xboard ------------------------------------------------------------------------------------------------

def test_xboard_order_and_submit_url(xboard):
    uid = xboard.add_user("a@example.com")
    trade_no = xboard.create_order(uid, 990)
    assert re.fullmatch(r"\d{25}", trade_no)
    order = xboard.order(trade_no)
    assert (order["status"], order["total_amount"], order["user_id"], order["callback_no"]) == (0, 990, uid, None)

    url = xboard.submit_url(trade_no)
    assert url.startswith(GATEWAY + "/submit.php?money=9.9&name=" + trade_no + "&notify_url=http%3A%2F%2Fxboard.test")
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert [k for k, _ in pairs] == ["money", "name", "notify_url", "out_trade_no", "pid", "return_url", "type",
                                     "sign", "sign_type"]
    params = dict(pairs)
    assert params["notify_url"] == f"http://xboard.test/api/v1/guest/payment/notify/EPay/{xboard.payment_uuid}"
    assert params["return_url"] == f"http://xboard.test/#/order/{trade_no}"
    assert (params["name"], params["out_trade_no"], params["pid"], params["type"]) == (trade_no, trade_no, "1001",
                                                                                       "alipay")
    assert params["sign_type"] == "MD5" and params["sign"] == md5_sign(params, KEY)
    assert "device" not in params and "param" not in params

    xboard.set_payment(notify_domain="https://pay-notify.example", type=None)
    params = dict(parse_qsl(urlsplit(xboard.submit_url(trade_no)).query))
    assert params["notify_url"] == f"https://pay-notify.example/api/v1/guest/payment/notify/EPay/{xboard.payment_uuid}"
    assert "type" not in params and params["sign"] == md5_sign(params, KEY)
    assert dict(parse_qsl(urlsplit(xboard.submit_url(xboard.create_order(uid, 1000))).query))["money"] == "10"


def test_xboard_paid_applies_once(xboard):
    uid = xboard.add_user("a@example.com")
    trade_no = xboard.create_order(uid, 990, plan_id=2)
    client = xboard.app.test_client()
    answer = client.get(xboard.notify_path + "?" + urlencode(notification(trade_no, trade_no, "9.9")))
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "success")
    order = xboard.order(trade_no)
    assert (order["status"], order["callback_no"]) == (3, "PP2026000001") and order["paid_at"]
    assert xboard.user(uid)["plan_id"] == 2

    again = client.post(xboard.notify_path, data=notification(trade_no, trade_no, "9.9", trade_no="OTHER"))
    assert again.get_data(as_text=True) == "success"
    assert xboard.order(trade_no) == order

    first, second = xboard.received
    assert first.method == "GET" and first.status == 200 and first.answer == "success"
    assert first.query["name"] == trade_no and first.query["money"] == "9.9" and first.query_string.startswith("pid=")
    assert second.method == "POST" and second.form["trade_no"] == "OTHER"
    assert xboard.verifies(first) and xboard.verifies(second) and not xboard.verifies(first, key="other")


def test_xboard_ignores_money_pid_and_status_and_drops_empty_values(xboard):
    uid = xboard.add_user("a@example.com")
    trade_no = xboard.create_order(uid, 990)
    params = notification(trade_no, trade_no, "0.01", pid="9", trade_status="WAIT_BUYER_PAY")
    params["param"] = ""  # sent empty, not signed: Laravel makes it null and http_build_query skips it
    answer = xboard.app.test_client().get(xboard.notify_path + "?" + urlencode(params))
    assert answer.get_data(as_text=True) == "success" and xboard.order(trade_no)["status"] == 3


def test_xboard_refusals(db_url):
    panel = XboardPanel(db_url, url=GATEWAY, pid="1001", key="not-the-gateways-key", base_url="http://x.test")
    try:
        uid = panel.add_user("a@example.com")
        trade_no = panel.create_order(uid, 990)
        client = panel.app.test_client()
        query = "?" + urlencode(notification(trade_no, trade_no, "9.9"))
        bad = client.get(panel.notify_path + query)
        assert bad.status_code == 422 and bad.get_json() == {"status": "fail", "message": "verify error"}
        tampered = notification(trade_no, trade_no, "9.9", key="not-the-gateways-key")
        tampered["money"] = "0.01"
        assert client.get(panel.notify_path + "?" + urlencode(tampered)).status_code == 422

        unknown = client.get(f"/api/v1/guest/payment/notify/EPay/nosuchuuid{query}")
        assert unknown.status_code == 500 and unknown.get_json() == {"status": "fail", "message": "fail"}
        panel.set_payment(enable=False)
        good = notification(trade_no, trade_no, "9.9", key="not-the-gateways-key")
        disabled = client.get(panel.notify_path + "?" + urlencode(good))
        assert disabled.status_code == 500 and disabled.get_json() == {"status": "fail", "message": "fail"}
        assert panel.order(trade_no)["status"] == 0
        assert [r.status for r in panel.received] == [422, 422, 500, 500]
    finally:
        panel.close()


def test_xboard_unknown_order_answers_success_and_changes_nothing(xboard):
    uid = xboard.add_user("a@example.com")
    trade_no = xboard.create_order(uid, 990)
    before = xboard.order(trade_no)
    answer = xboard.app.test_client().get(
        xboard.notify_path + "?" + urlencode(notification("PPPROBE123", "probe", "0.01")))
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "success")
    assert xboard.order(trade_no) == before and xboard.order("PPPROBE123") is None


def test_xboard_two_hour_cancel_then_a_late_payment_is_answered_success_and_lost(xboard):
    uid = xboard.add_user("a@example.com")
    old = xboard.create_order(uid, 990, created_at=int(time.time()) - 7201)
    fresh = xboard.create_order(uid, 990)
    assert xboard.cancel_stale() == 1
    assert (xboard.order(old)["status"], xboard.order(fresh)["status"]) == (2, 0)
    answer = xboard.app.test_client().get(xboard.notify_path + "?" + urlencode(notification(old, old, "9.9")))
    assert answer.get_data(as_text=True) == "success" and xboard.order(old)["status"] == 2


def test_xboard_faults(xboard):
    uid = xboard.add_user("a@example.com")
    trade_no = xboard.create_order(uid, 990)
    client = xboard.app.test_client()
    query = "?" + urlencode(notification(trade_no, trade_no, "9.9"))

    xboard.behaviour = "catch_all_html"
    for path in (xboard.notify_path, "//api/v1/guest/payment/notify/EPay/x", "/anything"):
        page = client.get(path + query)
        assert page.status_code == 200 and page.get_data(as_text=True).startswith("<!doctype html>")
    xboard.behaviour = "error"
    error = client.get(xboard.notify_path + query)
    assert error.status_code == 500 and error.mimetype == "text/plain"
    xboard.behaviour = "success_without_apply"
    assert client.get(xboard.notify_path + query).get_data(as_text=True) == "success"
    assert xboard.order(trade_no)["status"] == 0
    xboard.behaviour = "normal"
    assert client.get(xboard.notify_path + query).get_data(as_text=True) == "success"
    assert xboard.order(trade_no)["status"] == 3
    assert [r.status for r in xboard.received] == [200, 200, 200, 500, 200, 200]


def test_xboard_pages(xboard):
    xboard.add_user("<b>a</b>@example.com")
    client = xboard.app.test_client()
    home = client.get("/").get_data(as_text=True)
    assert "emulated Xboard" in home and "Plan A" in home and "¥9.90 / month" in home
    assert "&lt;b&gt;a&lt;/b&gt;@example.com" in home and "<b>a</b>" not in home
    bought = client.post("/buy", data={"plan_id": "1", "email": "<b>a</b>@example.com"})
    assert bought.status_code == 302 and bought.location.startswith(GATEWAY + "/submit.php?money=9.9&")
    trade_no = dict(parse_qsl(urlsplit(bought.location).query))["out_trade_no"]
    assert trade_no in client.get("/").get_data(as_text=True) and "待支付" in client.get("/").get_data(as_text=True)
    assert xboard.received == []


# --- New-API -----------------------------------------------------------------------------------------------

def test_newapi_topup_request(newapi):
    uid = newapi.add_user("alice")
    trade_no, fields, action = newapi.create_topup(uid, 10)
    assert re.fullmatch(rf"USR{uid}NO[A-Za-z0-9]{{6}}\d{{10}}", trade_no)
    assert action == GATEWAY + "/submit.php"
    assert {k: v for k, v in fields.items() if k != "sign"} == {
        "pid": "1002", "type": "alipay", "out_trade_no": trade_no, "name": "TUC10", "money": "73.00",
        "device": "pc", "sign_type": "MD5", "notify_url": "http://newapi.test/api/user/epay/notify",
        "return_url": "http://newapi.test/console/log"}
    assert fields["sign"] == md5_sign(fields, KEY)
    row = newapi.topup(trade_no)
    assert (row["status"], row["amount"], row["money"], row["payment_provider"]) == ("pending", 10, 73.0, "epay")

    _, fields, _ = newapi.create_topup(uid, 3, pay_type="wxpay", signed_timestamp=True)
    assert fields["money"] == "21.90" and fields["type"] == "wxpay" and fields["timestamp"].isdigit()
    assert fields["sign"] == md5_sign(fields, KEY)
    with pytest.raises(ValueError):
        newapi.create_topup(uid, 0)


def test_newapi_addresses(db_url):
    panel = NewApiPanel(db_url, PayAddress="https://gw.test/pay/", EpayId="1", EpayKey=KEY)
    try:
        uid = panel.add_user("bob")
        _, fields, action = panel.create_topup(uid, 1)
        assert action == "https://gw.test/pay/submit.php"
        assert fields["notify_url"] == "http://localhost:3000/api/user/epay/notify"  # New-API's default
        panel.set_option("CustomCallbackAddress", "https://cb.test/")  # concatenated as typed
        _, fields, _ = panel.create_topup(uid, 1)
        assert fields["notify_url"] == "https://cb.test//api/user/epay/notify"
        assert fields["return_url"] == "http://localhost:3000/console/log"
    finally:
        panel.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_newapi_paid_applies_once(newapi, method):
    uid = newapi.add_user("alice")
    trade_no, fields, _ = newapi.create_topup(uid, 10)
    client = newapi.app.test_client()

    def send(params):
        if method == "GET":
            return client.get("/api/user/epay/notify?" + urlencode(params))
        return client.post("/api/user/epay/notify", data=params)

    answer = send(notification(trade_no, fields["name"], fields["money"], type_="wxpay"))
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "success")
    row = newapi.topup(trade_no)
    assert (row["status"], row["payment_method"]) == ("success", "wxpay") and row["complete_time"]
    assert newapi.quota(uid) == 10 * 500000
    assert send(notification(trade_no, fields["name"], fields["money"], trade_no="AGAIN")).get_data(as_text=True) \
        == "success"
    assert newapi.quota(uid) == 10 * 500000 and newapi.topup(trade_no) == row
    assert all(newapi.verifies(r) for r in newapi.received) and len(newapi.received) == 2


def test_newapi_refusals_answer_fail(newapi):
    uid = newapi.add_user("alice")
    trade_no, fields, _ = newapi.create_topup(uid, 10)
    client = newapi.app.test_client()
    good = notification(trade_no, fields["name"], fields["money"])

    def get(params):
        answer = client.get("/api/user/epay/notify?" + urlencode(params))
        return answer.status_code, answer.get_data(as_text=True)

    assert get(notification(trade_no, fields["name"], fields["money"], key="wrong")) == (200, "fail")
    assert get({**good, "money": "0.01"}) == (200, "fail")
    assert get({}) == (200, "fail")
    assert client.post("/api/user/epay/notify", json=good).get_data(as_text=True) == "fail"  # not a form
    newapi.compliance_confirmed = False
    assert get(good) == (200, "fail")
    newapi.compliance_confirmed = True
    newapi.set_option("PayMethods", [])
    assert get(good) == (200, "fail")
    assert newapi.topup(trade_no)["status"] == "pending" and newapi.quota(uid) == 0
    # a verified non-success status: success, nothing done
    newapi.set_option("PayMethods", [{"name": "支付宝", "type": "alipay"}])
    assert get(notification(trade_no, fields["name"], fields["money"], trade_status="WAIT")) == (200, "success")
    assert newapi.topup(trade_no)["status"] == "pending"


def test_newapi_old_version_refuses_post(newapi):
    uid = newapi.add_user("alice")
    trade_no, fields, _ = newapi.create_topup(uid, 1)
    newapi.version = "old"
    params = notification(trade_no, fields["name"], fields["money"])
    client = newapi.app.test_client()
    posted = client.post("/api/user/epay/notify", data=params)
    assert posted.status_code == 405 and newapi.topup(trade_no)["status"] == "pending"
    got = client.get("/api/user/epay/notify?" + urlencode(params))
    assert (got.status_code, got.get_data(as_text=True)) == (200, "success") and newapi.quota(uid) == 500000
    assert [(r.method, r.status) for r in newapi.received] == [("POST", 405), ("GET", 200)]


def test_newapi_unknown_order_and_faults(newapi):
    uid = newapi.add_user("alice")
    trade_no, fields, _ = newapi.create_topup(uid, 2)
    client = newapi.app.test_client()
    probe = client.get("/api/user/epay/notify?" + urlencode(notification("PPPROBE1", "probe", "0.01")))
    assert probe.get_data(as_text=True) == "success" and newapi.topup(trade_no)["status"] == "pending"

    query = "?" + urlencode(notification(trade_no, fields["name"], fields["money"]))
    newapi.behaviour = "catch_all_html"
    page = client.get("/v1/api/user/epay/notify" + query)
    assert page.status_code == 200 and page.get_data(as_text=True).startswith("<!doctype html>")
    newapi.behaviour = "error"
    assert client.get("/api/user/epay/notify" + query).status_code == 500
    newapi.behaviour = "success_without_apply"
    assert client.get("/api/user/epay/notify" + query).get_data(as_text=True) == "success"
    assert newapi.topup(trade_no)["status"] == "pending" and newapi.quota(uid) == 0
    newapi.behaviour = "normal"
    assert client.get("/api/user/epay/notify" + query).get_data(as_text=True) == "success"
    assert newapi.quota(uid) == 2 * 500000
    assert [r.path for r in newapi.received][1] == "/v1/api/user/epay/notify"


def test_newapi_subscription(newapi):
    uid = newapi.add_user("alice")
    trade_no, fields, _ = newapi.create_subscription(uid, "Pro 月付 & more", 29.9)
    assert trade_no.startswith(f"SUBUSR{uid}NO") and fields["name"] == "SUB:Pro 月付 & more"
    assert fields["money"] == "29.90" and fields["notify_url"] == "http://newapi.test/api/subscription/epay/notify"
    client = newapi.app.test_client()
    waiting = notification(trade_no, fields["name"], fields["money"], trade_status="WAIT_BUYER_PAY")
    assert client.get("/api/subscription/epay/notify?" + urlencode(waiting)).get_data(as_text=True) == "fail"
    paid = notification(trade_no, fields["name"], fields["money"])
    assert client.get("/api/subscription/epay/notify?" + urlencode(paid)).get_data(as_text=True) == "success"
    assert newapi.subscription(trade_no)["status"] == "success"


def test_newapi_pages(newapi):
    uid = newapi.add_user("<i>al</i>")
    client = newapi.app.test_client()
    page = client.get("/console/topup").get_data(as_text=True)
    assert "emulated New-API" in page and "&lt;i&gt;al&lt;/i&gt;" in page and "<i>al</i>" not in page
    form = client.post("/console/topup", data={"user": str(uid), "amount": "5", "pay_type": "alipay"})
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and f'action="{GATEWAY}/submit.php"' in html and 'value="36.50"' in html
    assert 'value="TUC5"' in html and ".submit()" in html
    log = client.get(f"/console/log?user={uid}").get_data(as_text=True)
    assert "TUC" not in log and "pending" in log and "quota 0" in log


# --- both, served: what a gateway would do -----------------------------------------------------------------

def test_served_round_trip_echoes_name_and_money_byte_exact(db_url):
    xboard = XboardPanel(db_url, url=GATEWAY, pid="1001", key=KEY)
    newapi = NewApiPanel(db_url, PayAddress=GATEWAY, EpayId="1002", EpayKey="another-key")
    try:
        with serve_app(xboard.app) as xbase, serve_app(newapi.app) as nbase:
            xboard.set_base_url(xbase)
            newapi.set_base_url(nbase)
            order_no = xboard.create_order(xboard.add_user("a@example.com"), 1990)
            submit = dict(parse_qsl(urlsplit(xboard.submit_url(order_no)).query))
            topup_no, fields, _ = newapi.create_topup(newapi.add_user("alice"), 7)
            for submitted, key in ((submit, KEY), (fields, "another-key")):
                echo = notification(submitted["out_trade_no"], submitted["name"], submitted["money"], key=key)
                answer = requests.get(submitted["notify_url"], params=echo, timeout=5)
                assert (answer.status_code, answer.text) == (200, "success")
        for panel, submitted in ((xboard, submit), (newapi, fields)):
            (received,) = panel.received
            assert panel.verifies(received)
            assert (received.query["name"], received.query["money"]) == (submitted["name"], submitted["money"])
            assert not received.overlapped
        assert xboard.order(order_no)["status"] == 3 and newapi.topup(topup_no)["status"] == "success"
        assert submit["money"] == "19.9" and fields["money"] == "51.10"
    finally:
        xboard.close()
        newapi.close()
