"""Misbehaviour switches, the JSON test helpers, persistence, mounting, and no 500 on junk."""
from __future__ import annotations

import time

import pytest
from flask import Flask

from panelpay.sandbox import BehaviourError, Sandbox, notifier
from panelpay.channels.signing import epay_md5_valid

from .sandbox_support import ServerThread, alipay_params, epay_signed, unique_no


def epay_order(http, config, receiver, answer="success", **receiver_options):
    path = receiver.path(answer, **receiver_options)
    params = {"pid": "1001", "type": "alipay", "out_trade_no": unique_no("B"), "notify_url": receiver.url(path),
              "return_url": "http://shop.test/r", "name": "n", "money": "1.00", "clientip": "127.0.0.1"}
    answer = http.post(config["gateway"] + "mapi.php", data=epay_signed(params, config["key"])).json()
    assert answer["code"] == 1, answer
    return params["out_trade_no"], path


def alipay_order(http, config, receiver, answer="success"):
    path = receiver.path(answer)
    biz = {"out_trade_no": unique_no("B"), "total_amount": "1.00", "subject": "s"}
    params = alipay_params(config, "alipay.trade.precreate", biz, notify_url=receiver.url(path))
    assert '"10000"' in http.post(config["gateway"], data=params).text
    return biz["out_trade_no"], path


def test_drop_pays_but_never_notifies(http, configs, receiver, sandbox, base_url):
    sandbox.behaviour.drop = True
    out_trade_no, path = epay_order(http, configs["epay_mapi"], receiver)
    assert http.post(f"{base_url}/_pay/{out_trade_no}").json()["ok"]
    time.sleep(0.3)
    assert receiver.hits(path) == [] and sandbox.deliveries(out_trade_no) == []
    assert sandbox.order(out_trade_no)["status"] == "paid"


def test_duplicate_sends_concurrent_copies(http, configs, receiver, sandbox):
    sandbox.behaviour.duplicate = 3
    out_trade_no, path = epay_order(http, configs["epay_mapi"], receiver)
    sandbox.pay(out_trade_no)
    hits = receiver.wait(path, 3)
    assert len(hits) == 3 and len({hit["args"]["sign"] for hit in hits}) == 1
    assert max(hit["at"] for hit in hits) - min(hit["at"] for hit in hits) < 0.5
    deliveries = sandbox.wait_for_deliveries(out_trade_no, 3)
    assert sorted(d["copy"] for d in deliveries) == [1, 2, 3] and {d["attempt"] for d in deliveries} == {1}
    assert len(receiver.wait(path, 4, timeout=0.2)) == 3  # accepted: no retry


def test_method_override_posts_epay_and_gets_alipay(http, configs, receiver, sandbox):
    sandbox.behaviour.method_override = "POST"
    out_trade_no, path = epay_order(http, configs["epay_mapi"], receiver)
    sandbox.pay(out_trade_no)
    hit = receiver.wait(path)[0]
    assert hit["method"] == "POST" and hit["args"] == {} and epay_md5_valid(hit["form"], configs["epay"]["key"])

    sandbox.behaviour.method_override = "get"
    out_trade_no, path = alipay_order(http, configs["alipay_qr"], receiver)
    sandbox.pay(out_trade_no)
    hit = receiver.wait(path)[0]
    assert hit["method"] == "GET" and hit["form"] == {} and hit["args"]["trade_status"] == "TRADE_SUCCESS"


def test_delay_postpones_the_first_attempt(http, configs, receiver, sandbox):
    sandbox.behaviour.delay = 0.4
    out_trade_no, path = epay_order(http, configs["epay_mapi"], receiver)
    paid_at = time.monotonic()
    sandbox.pay(out_trade_no)
    hit = receiver.wait(path)[0]
    assert hit["at"] - paid_at >= 0.39


def test_notification_timeout_counts_as_failure(http, configs, receiver, sandbox, monkeypatch):
    monkeypatch.setattr(notifier, "TIMEOUT", 0.2)
    out_trade_no, path = epay_order(http, configs["epay_mapi"], receiver, sleep=0.6)
    sandbox.pay(out_trade_no)
    first = sandbox.wait_for_deliveries(out_trade_no, 1)[0]
    assert first["accepted"] is False and first["status"] is None and "Timeout" in first["error"]


def test_behaviour_endpoint_reset_and_deliveries(http, configs, receiver, sandbox, base_url):
    answer = http.post(base_url + "/_behaviour", json={"duplicate": 2, "epay_status_as_int": True}).json()
    assert answer["behaviour"]["duplicate"] == 2 and sandbox.behaviour.epay_status_as_int is True
    assert http.get(base_url + "/_behaviour").json()["behaviour"]["duplicate"] == 2
    for bad in ({"duplicate": 0}, {"drop": "yes"}, {"nope": 1}, {"mapi_answer": "html"}, {"time_scale": 0}, [1]):
        refused = http.post(base_url + "/_behaviour", json=bad)
        assert refused.status_code == 400 and refused.json()["error"]
    assert sandbox.behaviour.duplicate == 2  # refused updates change nothing
    with pytest.raises(BehaviourError):
        sandbox.behaviour.method_override = "PUT"

    out_trade_no, path = epay_order(http, configs["epay_mapi"], receiver)
    paid = http.post(f"{base_url}/_pay/{out_trade_no}").json()
    assert paid["ok"] and paid["order"]["status"] == "paid" and paid["redirect_url"].startswith("http://shop.test/r?")
    assert http.post(f"{base_url}/_pay/{out_trade_no}").status_code == 409
    assert http.post(f"{base_url}/_pay/unknown-order").status_code == 404
    sandbox.wait_for_deliveries(out_trade_no, 2)
    listed = http.get(f"{base_url}/_deliveries/{out_trade_no}").json()
    assert len(listed["deliveries"]) == 2 and listed["deliveries"][0]["method"] == "GET"
    assert {"time", "status", "body", "accepted"} <= set(listed["deliveries"][0])
    assert listed["notifications"][0]["state"] == "accepted"
    assert http.get(f"{base_url}/_orders/{paid['order']['trade_no']}").json()["order"]["out_trade_no"] == out_trade_no

    reset = http.post(base_url + "/_reset").json()
    assert reset["behaviour"]["duplicate"] == 1 and reset["behaviour"]["time_scale"] == sandbox.behaviour.time_scale
    assert sandbox.order(out_trade_no) is None and sandbox.deliveries(out_trade_no) == []


def test_state_file_keeps_the_keys(tmp_path):
    state = tmp_path / "sandbox.json"
    first = Sandbox(state_file=state).channel_configs("http://a")
    assert state.stat().st_mode & 0o077 == 0
    assert Sandbox(state_file=state).channel_configs("http://a") == first
    assert Sandbox().channel_configs("http://a")["epay"]["key"] != first["epay"]["key"]
    state.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        Sandbox(state_file=state).credentials


@pytest.mark.parametrize("csrf_first", [True, False])
def test_blueprint_mounts_at_any_prefix_past_the_hosts_csrf(sandbox, http, csrf_first):
    from flask_wtf.csrf import CSRFProtect

    app = Flask("host")
    app.config["SECRET_KEY"] = "test"
    csrf = CSRFProtect(app) if csrf_first else CSRFProtect()
    app.register_blueprint(sandbox.blueprint("sbx_a"), url_prefix="/pay/gw")
    app.register_blueprint(sandbox.blueprint("sbx_b"), url_prefix="/other")
    app.add_url_rule("/host-form", "host_form", lambda: "posted", methods=["POST"])
    if not csrf_first:
        csrf.init_app(app)
    server = ServerThread(app)
    try:
        config = sandbox.channel_configs(server.base_url + "/pay/gw")["alipay_qr"]
        biz = {"out_trade_no": unique_no(), "total_amount": "2.00", "subject": "s"}
        text = http.post(config["gateway"], data=alipay_params(config, "alipay.trade.precreate", biz)).text
        assert f'"qr_code":"{server.base_url}/pay/gw/cashier/' in text
        assert http.get(server.base_url + "/other/_behaviour").status_code == 200
        assert http.post(server.base_url + "/host-form").status_code == 400  # the host stays protected
    finally:
        server.stop()


JUNK = [
    ("GET", "epay/submit.php", {}), ("POST", "epay/submit.php", {"pid": "1001", "money": "\x00"}),
    ("POST", "epay/mapi.php", {"pid": "x" * 5000}), ("GET", "epay/api.php", {"act": "order"}),
    ("POST", "epay/api/pay/create", {"pid": "1001", "timestamp": "abc", "sign": "%%"}),
    ("POST", "epay/api/pay/query", {"pid": "1001", "timestamp": "9" * 40, "sign": "x"}),
    ("GET", "epay/api/nothing/here", {}), ("GET", "alipay/gateway.do", {}),
    ("POST", "alipay/gateway.do", {"method": "alipay.trade.page.pay", "app_id": "2021000000000001"}),
    ("POST", "alipay/gateway.do", {"method": "alipay.trade.query", "biz_content": "[", "sign": "x"}),
    ("GET", "cashier/nope", {}), ("POST", "cashier/nope/pay", {}), ("POST", "cashier/nope/cancel", {}),
    ("GET", "_deliveries/nope", {}), ("POST", "_behaviour", {"x": "y"}), ("GET", "_orders/nope", {}),
]


@pytest.mark.parametrize("method,path,data", JUNK)
def test_junk_never_500s(http, base_url, method, path, data):
    response = http.request(method, f"{base_url}/{path}", data=data if method == "POST" else None,
                            params=data if method == "GET" else None, allow_redirects=False)
    assert response.status_code < 500


def test_signed_junk_biz_content_never_500s(http, configs):
    config = configs["alipay"]
    for biz in ({"out_trade_no": "x", "total_amount": "NaN", "subject": "s"},
                {"out_trade_no": "x", "total_amount": {"a": 1}, "subject": ["s"]},
                {"out_trade_no": "x" * 65, "total_amount": "1", "subject": "s"},
                {"out_trade_no": "x", "total_amount": "1", "subject": "s", "time_expire": "tomorrow"},
                {"out_trade_no": "x", "total_amount": "1", "subject": "s", "timeout_express": "5y"}):
        params = alipay_params(config, "alipay.trade.precreate", biz)
        response = http.post(config["gateway"], data=params)
        assert response.status_code == 200 and '"40004"' in response.text, response.text


def test_the_test_helpers_answer_only_this_machine(sandbox):
    """Mounted by mistake where others reach it, the sandbox does not let them pay orders without a browser."""
    from panelpay.sandbox import create_app

    sandbox_client = create_app(sandbox, "").test_client()
    for environ in ({"REMOTE_ADDR": "203.0.113.5"}, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}):
        for method, path in (("post", "/_pay/x"), ("get", "/_behaviour"), ("post", "/_reset"), ("get", "/_orders/x")):
            answer = getattr(sandbox_client, method)(path, environ_base=environ)
            assert answer.status_code == 403 and "only this machine" in answer.get_json()["error"], (environ, path)
    assert sandbox_client.get("/_behaviour").status_code == 200


def test_gunicorn_access_logs_of_the_sandbox_hide_the_merchant_key():
    import datetime
    from types import SimpleNamespace

    from gunicorn.config import Config

    from panelpay.sandbox.gunicorn_logging import RedactingLogger

    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/payment/sandbox/epay/api.php?act=order&pid=1001&key=S3CRET&x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/payment/sandbox/epay/api.php",
               "QUERY_STRING": "act=order&pid=1001&key=S3CRET&sign=abc", "REMOTE_ADDR": "127.0.0.1"}
    answer, request = SimpleNamespace(status="200 OK", sent=10, headers=[]), SimpleNamespace(headers=[])
    atoms = RedactingLogger(Config()).atoms(answer, request, environ, datetime.timedelta(seconds=0.01))
    assert "S3CRET" not in atoms["r"] + atoms["q"] and "key=***" in atoms["r"] and "sign=***" in atoms["q"]
