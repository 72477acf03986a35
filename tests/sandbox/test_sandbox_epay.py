"""EPay v1 (MD5): submit.php, the cashier, GET notifications with PHP float money, mapi.php, api.php."""
from __future__ import annotations

import re

import pytest
from .sandbox_support import epay_signed, query_of, unique_no

from panelpay.channels.signing import epay_md5_valid


def order_params(config, receiver, *, money="10.00", name="VIP会员 月卡", answer="success", **extra):
    notify_path = receiver.path(answer)
    params = {
        "pid": config["pid"], "type": "alipay", "out_trade_no": unique_no(),
        "notify_url": receiver.url(notify_path), "return_url": "http://shop.test/return",
        "name": name, "money": money, "param": "uid:42",
    }
    params.update(extra)
    return params, notify_path


def submit(http, config, params):
    return http.post(config["gateway"] + "submit.php", data=epay_signed(params, config["key"]),
                     allow_redirects=False)


def submit_and_pay(http, config, params):
    response = submit(http, config, params)
    assert response.status_code == 302, response.text
    cashier = response.headers["Location"]
    assert http.get(cashier).status_code == 200
    return http.post(cashier + "/pay", allow_redirects=False)


@pytest.mark.parametrize("money,sent", [("10.00", "10"), ("9.90", "9.9"), ("0.01", "0.01"), ("10.5", "10.5")])
def test_submit_pay_and_get_notification_with_php_float_money(http, configs, receiver, money, sent):
    config = configs["epay"]
    params, notify_path = order_params(config, receiver, money=money, name='Tom & "Jerry" <VIP>')
    paid = submit_and_pay(http, config, params)

    assert paid.status_code == 302
    returned = query_of(paid.headers["Location"])
    assert paid.headers["Location"].startswith("http://shop.test/return?")
    assert epay_md5_valid(returned, config["key"])
    assert returned["money"] == sent and returned["trade_status"] == "TRADE_SUCCESS"

    hit = receiver.wait(notify_path)[0]
    args = hit["args"]
    assert hit["method"] == "GET" and "Chrome/" in hit["user_agent"]
    assert epay_md5_valid(args, config["key"])
    assert args["money"] == sent
    assert args["name"] == "Tom &amp; &quot;Jerry&quot; &lt;VIP&gt;"
    assert args["param"] == "uid:42" and args["pid"] == "1001" and args["type"] == "alipay"
    assert args["sign_type"] == "MD5" and args["out_trade_no"] == params["out_trade_no"]
    assert re.fullmatch(r"\d{14}\d{5}", args["trade_no"])


def test_cashier_shows_the_order_and_a_pay_form(http, configs, receiver):
    config = configs["epay"]
    params, _ = order_params(config, receiver, name="<script>alert(1)</script>", type="")
    cashier = submit(http, config, params).headers["Location"]
    page = http.get(cashier).text
    assert params["out_trade_no"] in page and "10.00" in page and "1001" in page
    assert "<script>alert" not in page  # autoescaped (and stored escaped, like EPay)
    assert 'method="post"' in page and "/pay" in page and 'name="type"' in page


def test_legacy_money_switch_sends_two_decimals(http, configs, receiver, sandbox):
    sandbox.behaviour.legacy_money = True
    config = configs["epay"]
    params, path = order_params(config, receiver, money="10.00")
    submit_and_pay(http, config, params)
    args = receiver.wait(path)[0]["args"]
    assert args["money"] == "10.00" and epay_md5_valid(args, config["key"])


def test_notify_url_with_query_gets_ampersand(http, configs, receiver):
    config = configs["epay"]
    params, path = order_params(config, receiver)
    params["notify_url"] += "?channel=7"
    submit_and_pay(http, config, params)
    hit = receiver.wait(path)[0]
    assert hit["query_string"].startswith("channel=7&pid=1001&")
    assert not epay_md5_valid({k: v for k, v in hit["args"].items()}, config["key"])  # the pitfall
    assert epay_md5_valid({k: v for k, v in hit["args"].items() if k != "channel"}, config["key"])


def test_failing_merchant_gets_retries_at_1_3_19_55_minutes_then_nothing(http, configs, receiver, sandbox):
    config = configs["epay"]
    params, path = order_params(config, receiver, answer="fail")
    submit_and_pay(http, config, params)
    assert len(receiver.wait(path, 5, timeout=6)) == 5
    deliveries = sandbox.wait_for_deliveries(params["out_trade_no"], 5)
    assert [d["attempt"] for d in deliveries] == [1, 2, 3, 4, 5]
    offsets = [d["since_first_ms"] / 1000 for d in deliveries]
    scale = sandbox.behaviour.time_scale
    for offset, minutes in zip(offsets[1:], (1, 3, 19, 55)):  # never early; late only by scheduling jitter
        assert minutes * 60 * scale - 0.002 <= offset <= minutes * 60 * scale + 0.5, offsets
    assert not any(d["accepted"] for d in deliveries) and deliveries[0]["body"] == "fail"
    assert sandbox.notifier.jobs(params["out_trade_no"])[0]["state"] == "gave_up"
    assert len(receiver.wait(path, 6, timeout=0.4)) == 5


@pytest.mark.parametrize("body,accepted", [("ok, success", True), ("SUCCESS", True), ("<b>Success</b>", True),
                                           ("sUcCeSs", False), ("fail", False)])
def test_success_is_a_substring_match(http, configs, receiver, sandbox, body, accepted):
    config = configs["epay"]
    params, path = order_params(config, receiver, answer=body)
    submit_and_pay(http, config, params)
    receiver.wait(path)
    deliveries = sandbox.wait_for_deliveries(params["out_trade_no"], 1)
    assert deliveries[0]["accepted"] is accepted
    if accepted:
        assert len(receiver.wait(path, 2, timeout=0.2)) == 1


@pytest.mark.parametrize("change,message", [
    ({"sign": "0" * 32}, "签名校验失败"),
    ({"out_trade_no": "bad no"}, "out_trade_no"),
    ({"money": "10.001"}, "金额"),
    ({"money": "0"}, "金额"),
    ({"money": "-1"}, "金额"),
    ({"money": "1e3"}, "金额"),
    ({"notify_url": ""}, "notify_url"),
    ({"return_url": ""}, "return_url"),
    ({"pid": "9999"}, "商户不存在"),
    ({"type": "bitcoin"}, "支付方式"),
])
def test_submit_refuses_bad_requests_with_an_error_page(http, configs, receiver, change, message):
    config = configs["epay"]
    params, _ = order_params(config, receiver)
    signed = epay_signed({**params, **{k: v for k, v in change.items() if k != "sign"}}, config["key"])
    signed.update({k: v for k, v in change.items() if k == "sign"})
    response = http.post(config["gateway"] + "submit.php", data=signed, allow_redirects=False)
    assert response.status_code == 200 and "text/html" in response.headers["Content-Type"]
    assert message in response.text


def test_name_is_cut_to_127_bytes(http, configs, receiver, sandbox):
    config = configs["epay"]
    params, _ = order_params(config, receiver, name="月" * 60)  # 180 bytes
    submit(http, config, params)
    assert sandbox.order(params["out_trade_no"])["subject"] == "月" * 42  # 126 bytes


def test_resubmission_rules(http, configs, receiver):
    config = configs["epay"]
    params, _ = order_params(config, receiver)
    first = submit(http, config, params).headers["Location"]
    assert submit(http, config, params).headers["Location"] == first  # same parameters: same order
    changed = submit(http, config, {**params, "money": "11.00"})
    assert "支付参数有变化" in changed.text
    http.post(first + "/pay", allow_redirects=False)
    assert "已完成支付" in submit(http, config, params).text


def test_get_submit_works_too(http, configs, receiver):
    config = configs["epay"]
    params, _ = order_params(config, receiver)
    response = http.get(config["gateway"] + "submit.php", params=epay_signed(params, config["key"]),
                        allow_redirects=False)
    assert response.status_code == 302 and "/cashier/" in response.headers["Location"]


# -- mapi.php -----------------------------------------------------------------------------------------

def mapi(http, config, params):
    return http.post(config["gateway"] + "mapi.php", data=epay_signed(params, config["key"])).json()


@pytest.mark.parametrize("device,switch,key", [("mobile", "auto", "payurl"), ("pc", "auto", "qrcode"),
                                               ("pc", "urlscheme", "urlscheme"), ("mobile", "qrcode", "qrcode")])
def test_mapi_answers_payurl_or_qrcode(http, configs, receiver, sandbox, device, switch, key):
    sandbox.behaviour.mapi_answer = switch
    config = configs["epay_mapi"]
    params, _ = order_params(config, receiver, clientip="203.0.113.9", device=device)
    del params["return_url"]  # optional for mapi
    answer = mapi(http, config, params)
    assert answer["code"] == 1 and answer["msg"] == "succ" and re.fullmatch(r"\d{19}", answer["trade_no"])
    assert set(answer) == {"code", "msg", "trade_no", key}
    assert answer[key].endswith("/cashier/" + answer["trade_no"])
    assert http.get(answer[key]).status_code == 200


def test_mapi_is_post_only_and_requires_clientip(http, configs, receiver):
    config = configs["epay_mapi"]
    params, _ = order_params(config, receiver)
    assert http.get(config["gateway"] + "mapi.php", params=epay_signed(params, config["key"])).json()["code"] == -4
    assert mapi(http, config, params)["code"] == -4
    bad = epay_signed({**params, "clientip": "1.2.3.4"}, config["key"]) | {"sign": "f" * 32}
    assert http.post(config["gateway"] + "mapi.php", data=bad).json()["code"] == -3


# -- api.php?act=order --------------------------------------------------------------------------------

def test_api_order_query_status_string_then_int(http, configs, receiver, sandbox):
    config = configs["epay_mapi"]
    params, _ = order_params(config, receiver, clientip="203.0.113.9")
    trade_no = mapi(http, config, params)["trade_no"]
    url = config["gateway"] + "api.php"
    query = {"act": "order", "pid": "1001", "key": config["key"], "out_trade_no": params["out_trade_no"]}

    before = http.get(url, params=query).json()
    assert before["code"] == 1 and before["status"] == "0" and before["money"] == "10.00"
    assert before["trade_no"] == trade_no and before["endtime"] is None
    sandbox.pay(trade_no)
    after = http.get(url, params=query).json()
    assert after["status"] == "1" and after["endtime"] and after["api_trade_no"]
    sandbox.behaviour.epay_status_as_int = True
    assert http.get(url, params=query).json()["status"] == 1
    by_trade_no = http.get(url, params={**query, "trade_no": trade_no, "out_trade_no": "nope"}).json()
    assert by_trade_no["out_trade_no"] == params["out_trade_no"]  # trade_no wins


@pytest.mark.parametrize("change,code", [({"key": "wrong"}, -3), ({"pid": "1"}, -3),
                                         ({"out_trade_no": "unknown"}, -1), ({"out_trade_no": ""}, -4),
                                         ({"act": "nope"}, -5)])
def test_api_order_query_errors(http, configs, change, code):
    config = configs["epay"]
    query = {"act": "order", "pid": "1001", "key": config["key"], "out_trade_no": "x"} | change
    assert http.get(config["gateway"] + "api.php", params=query).json()["code"] == code
