"""EPay v2 (RSA): api/pay/create, api/pay/submit, api/pay/query, RSA notifications with a timestamp."""
from __future__ import annotations

import time

import pytest

from panelpay.keys import load_public_key
from panelpay.channels.signing import epay_content, rsa_valid

from .sandbox_support import epay_v2_answer_valid, epay_v2_signed, unique_no


def create_params(config, receiver, path, **extra):
    return {
        "pid": config["pid"], "method": "web", "device": "pc", "type": "alipay",
        "out_trade_no": unique_no("V2"), "notify_url": receiver.url(path),
        "return_url": "http://shop.test/return", "name": "Top-up", "money": "9.90",
        "clientip": "203.0.113.9", **extra,
    }


def post(http, config, func, params):
    return http.post(config["gateway"] + "api/pay/" + func, data=params).json()


def test_create_query_pay_and_rsa_notification(http, configs, receiver, sandbox):
    config = configs["epay_rsa"]
    path = receiver.path("success")
    params = create_params(config, receiver, path, param="u=1")
    created = post(http, config, "create", epay_v2_signed(params, config["merchant_private_key"]))
    assert created["code"] == 0 and created["sign_type"] == "RSA", created
    assert created["pay_type"] == "qrcode" and created["pay_info"].endswith("/cashier/" + created["trade_no"])
    assert epay_v2_answer_valid(created, config["platform_public_key"])

    query = {"pid": "1001", "out_trade_no": params["out_trade_no"]}
    before = post(http, config, "query", epay_v2_signed(query, config["merchant_private_key"]))
    assert before["code"] == 0 and before["status"] == "0" and before["money"] == "9.90"
    assert "endtime" not in before and "buyer" not in before  # empty fields removed
    assert epay_v2_answer_valid(before, config["platform_public_key"])

    sandbox.pay(created["trade_no"])
    args = receiver.wait(path)[0]["args"]
    assert args["sign_type"] == "RSA" and args["money"] == "9.9" and args["param"] == "u=1"
    assert abs(int(args["timestamp"]) - time.time()) < 60
    assert args["api_trade_no"] and args["buyer"]
    assert rsa_valid(epay_content(args), args["sign"], load_public_key(config["platform_public_key"]))

    after = post(http, config, "query", epay_v2_signed(query, config["merchant_private_key"]))
    assert after["status"] == "1" and after["endtime"] and epay_v2_answer_valid(after, config["platform_public_key"])


def test_rewritten_form_and_status_as_int(http, configs, receiver, sandbox):
    config = configs["epay_rsa"]
    params = create_params(config, receiver, receiver.path(), method="jump")
    created = http.post(config["gateway"] + "api.php?s=pay/create",
                        data=epay_v2_signed(params, config["merchant_private_key"])).json()
    assert created["code"] == 0 and created["pay_type"] == "jump"
    sandbox.behaviour.epay_status_as_int = True
    answer = post(http, config, "query", epay_v2_signed({"pid": "1001", "trade_no": created["trade_no"]},
                                                        config["merchant_private_key"]))
    assert answer["status"] == 0 and epay_v2_answer_valid(answer, config["platform_public_key"])


def test_submit_redirects_to_the_cashier(http, configs, receiver):
    config = configs["epay_rsa"]
    params = create_params(config, receiver, receiver.path())
    del params["method"], params["clientip"]
    response = http.post(config["gateway"] + "api/pay/submit",
                         data=epay_v2_signed(params, config["merchant_private_key"]), allow_redirects=False)
    assert response.status_code == 302 and "/cashier/" in response.headers["Location"]


@pytest.mark.parametrize("case", ["old_timestamp", "future_timestamp", "bad_sign", "wrong_key", "no_timestamp"])
def test_refusals_are_unsigned_errors(http, configs, receiver, case):
    config = configs["epay_rsa"]
    params = create_params(config, receiver, receiver.path())
    if case == "old_timestamp":
        signed = epay_v2_signed(params, config["merchant_private_key"], timestamp=int(time.time()) - 360)
    elif case == "future_timestamp":
        signed = epay_v2_signed(params, config["merchant_private_key"], timestamp=int(time.time()) + 360)  # past the 300 s window however slow the run
    elif case == "bad_sign":
        signed = epay_v2_signed(params, config["merchant_private_key"]) | {"money": "0.01"}
    elif case == "wrong_key":  # the platform's key is not the merchant's
        signed = epay_v2_signed(params, configs["alipay"]["app_private_key"])
    else:
        signed = {k: v for k, v in epay_v2_signed(params, config["merchant_private_key"]).items() if k != "timestamp"}
    answer = post(http, config, "create", signed)
    assert answer["code"] < 0 and "sign" not in answer and answer["msg"]


def test_create_is_post_only(http, configs, receiver):
    config = configs["epay_rsa"]
    params = epay_v2_signed(create_params(config, receiver, receiver.path()), config["merchant_private_key"])
    assert http.get(config["gateway"] + "api/pay/create", params=params).json()["code"] == -4


def test_md5_is_still_accepted_on_v2(http, configs, receiver):
    from .sandbox_support import epay_signed

    config = configs["epay_rsa"]
    params = create_params(config, receiver, receiver.path()) | {"timestamp": str(int(time.time()))}
    assert post(http, config, "create", epay_signed(params, config["key"]))["code"] == 0
