"""Alipay: page/wap/precreate/query/close with signed sync answers, notifications, returns, cert mode."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import re

import pytest

from panelpay.keys import cert_sn, load_certificates, root_cert_sn
from panelpay.channels.signing import alipay_notify_content, rsa_valid

from .sandbox_support import (
    BEIJING,
    alipay_params,
    alipay_public_key,
    alipay_sync,
    query_of,
    unique_no,
)


def biz(product_code="FAST_INSTANT_TRADE_PAY", amount="10.00", **extra):
    return {"out_trade_no": unique_no("A"), "total_amount": amount, "subject": "充值 {10} \"元\"",
            "product_code": product_code, **extra}


def call(http, config, method, biz_content, **kwargs):
    params = alipay_params(config, method, biz_content, **kwargs)
    response = http.post(config["gateway"], data=params)
    assert response.headers["Content-Type"].startswith("text/html;charset=utf-8")
    return alipay_sync(response.text, method, config), response.text


def query(http, config, out_trade_no):
    return call(http, config, "alipay.trade.query", {"out_trade_no": out_trade_no})[0]


def open_page(http, config, biz_content, notify_url, method="alipay.trade.page.pay"):
    """The browser follows the signed page URL: common params in the query, biz_content in the form."""
    params = alipay_params(config, method, biz_content, notify_url=notify_url, return_url="http://shop.test/back")
    form = {"biz_content": params.pop("biz_content")}
    return http.post(config["gateway"], params=params, data=form, allow_redirects=False)


def verify_notification(form, config):
    return rsa_valid(alipay_notify_content(form), form["sign"], alipay_public_key(config))


def test_page_pay_flow(http, configs, receiver, sandbox):
    config = configs["alipay"]
    path = receiver.path("success")
    trade = biz(passback_params="uid=42")

    node = query(http, config, trade["out_trade_no"])
    assert node["code"] == "40004" and node["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    redirected = open_page(http, config, trade, receiver.url(path))
    assert redirected.status_code == 302 and "/cashier/" in redirected.headers["Location"]
    assert query(http, config, trade["out_trade_no"])["sub_code"] == "ACQ.TRADE_NOT_EXIST"  # not opened yet

    cashier = redirected.headers["Location"]
    page = http.get(cashier)
    assert page.status_code == 200 and trade["out_trade_no"] in page.text and "10.00" in page.text
    waiting = query(http, config, trade["out_trade_no"])
    assert waiting["code"] == "10000" and waiting["trade_status"] == "WAIT_BUYER_PAY"
    assert re.fullmatch(r"\d{28}", waiting["trade_no"])

    paid = http.post(cashier + "/pay", allow_redirects=False)
    assert paid.status_code == 302 and paid.headers["Location"].startswith("http://shop.test/back?")
    back = query_of(paid.headers["Location"])
    assert back["method"] == "alipay.trade.page.pay.return" and "trade_status" not in back
    assert back["total_amount"] == "10.00" and back["seller_id"] == config["seller_id"]
    assert verify_notification(back, config)

    hit = receiver.wait(path)[0]
    form = hit["form"]
    assert hit["method"] == "POST" and hit["content_type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert verify_notification(form, config)
    assert form["trade_status"] == "TRADE_SUCCESS" and form["total_amount"] == "10.00"
    assert form["app_id"] == config["app_id"] == form["auth_app_id"] and form["seller_id"] == config["seller_id"]
    assert form["subject"] == trade["subject"] and form["passback_params"] == "uid=42"
    assert json.loads(form["fund_bill_list"])[0]["fundChannel"] == "ALIPAYACCOUNT"
    for name in ("notify_time", "notify_type", "notify_id", "charset", "version", "sign_type", "trade_no",
                 "buyer_id", "buyer_logon_id", "seller_email", "receipt_amount", "invoice_amount",
                 "buyer_pay_amount", "point_amount", "gmt_create", "gmt_payment"):
        assert form[name], name

    done = query(http, config, trade["out_trade_no"])
    assert done["trade_status"] == "TRADE_SUCCESS" and done["buyer_pay_amount"] == "10.00"
    assert done["send_pay_date"] and done["total_amount"] == "10.00" and done["trade_no"] == waiting["trade_no"]
    again = http.post(cashier + "/pay")
    assert again.status_code == 409 and "已完成支付" in again.text


def test_wap_requires_quick_wap_way_and_cancel_goes_to_quit_url(http, configs, receiver):
    config = configs["alipay_wap"]
    wrong = open_page(http, config, biz("QUICK_WAP_PAY"), receiver.url(receiver.path()),
                      method="alipay.trade.wap.pay")
    assert wrong.status_code == 200 and "QUICK_WAP_WAY" in wrong.text
    trade = biz("QUICK_WAP_WAY", quit_url="http://shop.test/quit")
    cashier = open_page(http, config, trade, receiver.url(receiver.path()),
                        method="alipay.trade.wap.pay").headers["Location"]
    http.get(cashier)
    assert http.post(cashier + "/cancel", allow_redirects=False).headers["Location"] == "http://shop.test/quit"
    assert query(http, config, trade["out_trade_no"])["trade_status"] == "WAIT_BUYER_PAY"
    back = query_of(http.post(cashier + "/pay", allow_redirects=False).headers["Location"])
    assert back["method"] == "alipay.trade.wap.pay.return" and verify_notification(back, config)


def test_precreate_query_close_and_closed_notification(http, configs, receiver, sandbox):
    config = configs["alipay_qr"]
    path = receiver.path("success")
    trade = biz(product_code="FACE_TO_FACE_PAYMENT", amount="0.01")
    node, raw = call(http, config, "alipay.trade.precreate", trade, notify_url=receiver.url(path))
    assert raw.startswith('{"alipay_trade_precreate_response":{') and '"alipay_cert_sn"' not in raw
    assert node["code"] == "10000" and node["out_trade_no"] == trade["out_trade_no"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/sandbox/cashier/\d{28}", node["qr_code"])
    assert query(http, config, trade["out_trade_no"])["trade_status"] == "WAIT_BUYER_PAY"

    closed = call(http, config, "alipay.trade.close", {"out_trade_no": trade["out_trade_no"]})[0]
    assert closed["code"] == "10000" and closed["trade_no"]
    assert query(http, config, trade["out_trade_no"])["trade_status"] == "TRADE_CLOSED"
    form = receiver.wait(path)[0]["form"]
    assert form["trade_status"] == "TRADE_CLOSED" and verify_notification(form, config)
    assert http.post(node["qr_code"] + "/pay").status_code == 409
    again = call(http, config, "alipay.trade.close", {"out_trade_no": trade["out_trade_no"]})[0]
    assert again["sub_code"] == "ACQ.TRADE_STATUS_ERROR"


def test_close_of_an_unopened_page_order_is_trade_not_exist(http, configs, receiver, sandbox):
    config = configs["alipay"]
    trade = biz()
    open_page(http, config, trade, receiver.url(receiver.path()))
    node = call(http, config, "alipay.trade.close", {"out_trade_no": trade["out_trade_no"]})[0]
    assert node["code"] == "40004" and node["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    sandbox.pay(trade["out_trade_no"])  # the buyer may still pay later
    node = call(http, config, "alipay.trade.close", {"out_trade_no": trade["out_trade_no"]})[0]
    assert node["sub_code"] == "ACQ.TRADE_STATUS_ERROR"


def test_resubmission_rules(http, configs, receiver, sandbox):
    config = configs["alipay_qr"]
    trade = biz(product_code="FACE_TO_FACE_PAYMENT")
    first = call(http, config, "alipay.trade.precreate", trade)[0]
    assert call(http, config, "alipay.trade.precreate", trade)[0]["qr_code"] == first["qr_code"]
    changed = call(http, config, "alipay.trade.precreate", trade | {"total_amount": "11.00"})[0]
    assert changed["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    sandbox.pay(trade["out_trade_no"])
    assert call(http, config, "alipay.trade.precreate", trade)[0]["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"


def test_time_expire_closes_the_trade(http, configs, receiver, sandbox):
    config = configs["alipay_qr"]
    path = receiver.path("success")
    expire = (dt.datetime.now(BEIJING) + dt.timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S")
    trade = biz(product_code="FACE_TO_FACE_PAYMENT", time_expire=expire)
    node = call(http, config, "alipay.trade.precreate", trade, notify_url=receiver.url(path))[0]
    page_trade = biz(time_expire=expire)
    cashier = open_page(http, configs["alipay"], page_trade, receiver.url(receiver.path())).headers["Location"]
    assert query(http, config, trade["out_trade_no"])["trade_status"] == "WAIT_BUYER_PAY"
    form = receiver.wait(path, timeout=4)[0]["form"]  # closed by the expiry timer
    assert form["trade_status"] == "TRADE_CLOSED" and form["gmt_close"]
    assert query(http, config, trade["out_trade_no"])["trade_status"] == "TRADE_CLOSED"
    assert http.post(node["qr_code"] + "/pay").status_code == 409
    # a page order nobody opened never existed for Alipay; opened after expiry, it is closed
    assert query(http, config, page_trade["out_trade_no"])["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    assert "交易已关闭" in http.get(cashier).text and http.post(cashier + "/pay").status_code == 409
    assert query(http, config, page_trade["out_trade_no"])["trade_status"] == "TRADE_CLOSED"


def test_alipay_wants_exactly_success_and_retries_on_its_schedule(http, configs, receiver, sandbox):
    sandbox.behaviour.time_scale = 0.00004  # 15 h last 2.2 s
    config = configs["alipay_qr"]
    path = receiver.path("success\n")
    trade = biz(product_code="FACE_TO_FACE_PAYMENT")
    call(http, config, "alipay.trade.precreate", trade, notify_url=receiver.url(path))
    sandbox.pay(trade["out_trade_no"])
    deliveries = sandbox.wait_for_deliveries(trade["out_trade_no"], 8, timeout=8)
    hits = receiver.hits(path)
    assert len(deliveries) == 8 and not any(d["accepted"] for d in deliveries)
    assert len({hit["form"]["notify_id"] for hit in hits}) == 1
    offsets = [d["since_first_ms"] / 1000 for d in deliveries]
    expected = itertools.accumulate(minutes * 60 * 0.00004 for minutes in (4, 10, 10, 60, 120, 360, 900))
    for offset, due in zip(offsets[1:], expected):  # never early; late only by scheduling jitter
        assert due - 0.002 <= offset <= due + 0.5, offsets
    assert sandbox.notifier.jobs(trade["out_trade_no"])[0]["state"] == "gave_up"


@pytest.mark.parametrize("answer,accepted", [("success", True), ("SUCCESS", False), ("ok, success", False)])
def test_alipay_success_rule(http, configs, receiver, sandbox, answer, accepted):
    config = configs["alipay_qr"]
    path = receiver.path(answer)
    trade = biz(product_code="FACE_TO_FACE_PAYMENT")
    call(http, config, "alipay.trade.precreate", trade, notify_url=receiver.url(path))
    sandbox.pay(trade["out_trade_no"])
    assert sandbox.wait_for_deliveries(trade["out_trade_no"])[0]["accepted"] is accepted


def test_bad_signatures_are_refused(http, configs, receiver):
    config = configs["alipay_qr"]
    params = alipay_params(config, "alipay.trade.precreate", biz(product_code="FACE_TO_FACE_PAYMENT"))
    params["biz_content"] = params["biz_content"].replace("10.00", "0.01")
    raw = http.post(config["gateway"], data=params).text
    node = alipay_sync(raw, "alipay.trade.precreate", config)  # failures are signed too
    assert node["code"] == "40002" and node["sub_code"] == "isv.invalid-signature"
    assert "sign_type=RSA2" in node["sub_msg"]  # sign_type is part of the request's signed string

    page = alipay_params(config, "alipay.trade.page.pay", biz(), return_url="http://shop.test/x")
    page["sign"] = page["sign"][::-1]
    response = http.get(config["gateway"], params=page, allow_redirects=False)
    assert response.status_code == 200 and "isv.invalid-signature" in response.text


def test_unknown_method_and_app(http, configs):
    config = configs["alipay"]
    raw = http.post(config["gateway"], data=alipay_params(config, "alipay.trade.nope", {})).text
    assert alipay_sync(raw, "error", config)["sub_code"] == "isv.invalid-method"
    other = dict(config, app_id="2021000000009999")
    raw = http.post(config["gateway"], data=alipay_params(other, "alipay.trade.query", {"out_trade_no": "x"})).text
    assert alipay_sync(raw, "alipay.trade.query", config)["sub_code"] == "isv.invalid-app-id"


def test_certificate_mode(http, configs, receiver):
    config = configs["alipay_cert"]
    assert len(load_certificates(config["alipay_root_cert"])) == 2
    assert "_" not in root_cert_sn(config["alipay_root_cert"])  # the ECDSA root is skipped
    trade = biz(product_code="FACE_TO_FACE_PAYMENT")
    node, raw = call(http, config, "alipay.trade.precreate", trade)
    assert node["code"] == "10000"
    expected_sn = cert_sn(load_certificates(config["alipay_cert"])[0])
    assert re.search(r'^\{"alipay_trade_precreate_response":\{.*\},"alipay_cert_sn":"' + expected_sn
                     + r'","sign":"[^"]+"\}$', raw)
    assert json.loads(raw)["alipay_cert_sn"] == expected_sn

    for name in ("app_cert_sn", "alipay_root_cert_sn"):
        node = call(http, config, "alipay.trade.query", {"out_trade_no": trade["out_trade_no"]},
                    extra={name: "0" * 32})[0]
        assert node["code"] == "40002" and "cert-sn" in node["sub_code"]


def test_query_by_trade_no_wins(http, configs):
    config = configs["alipay_qr"]
    trade = biz(product_code="FACE_TO_FACE_PAYMENT")
    call(http, config, "alipay.trade.precreate", trade)
    trade_no = query(http, config, trade["out_trade_no"])["trade_no"]
    node = call(http, config, "alipay.trade.query", {"trade_no": trade_no, "out_trade_no": "other"})[0]
    assert node["out_trade_no"] == trade["out_trade_no"]
