"""The delivery log and the orders' anomalies read in the operator's language (issue 15.13): what was
recorded in English ("credited", "bad signature: …", "amount mismatch: …") is said again in Chinese on a
zh-CN page, the values as they were; the recorded text stays as it was for scripts."""
from __future__ import annotations

import pytest

import re
from urllib.parse import urlencode

#: What is said to a person does not depend on the database: one is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _send(world, channel: str, params: dict, kind: str = "epay"):
    path = f"/payment/notify/{kind}/{world.channels[channel]['uuid']}?{urlencode(params)}"
    return world.app.test_client().get(path)


def test_every_outcome_of_the_delivery_log_is_said_in_chinese(world, signer):
    paid = world.order("epay")
    _send(world, "epay", signer.epay(paid["trade_no"], paid["total"], gateway_trade_no="2026120600000001"))
    _send(world, "epay", signer.epay(paid["trade_no"], paid["total"], gateway_trade_no="2026120600000001"))
    _send(world, "epay", signer.epay(paid["trade_no"], paid["total"], gateway_trade_no="2026120600000002"))
    _send(world, "epay", signer.epay(paid["trade_no"], paid["total"], key="not-the-key"))
    short = world.order("epay")
    _send(world, "epay", signer.epay(short["trade_no"], short["total"], money="9"))
    _send(world, "epay", signer.epay(world.order("epay")["trade_no"], "10.00", trade_status="WAIT"))
    _send(world, "epay", {"pid": "1001", "money": "1"})
    world.app.test_client().post("/payment/notify/epay/0000000000000000", data={"a": "b"})
    world.app.test_client().post(f"/payment/notify/alipay/{world.channels['alipay']['uuid']}",
                                 data=signer.alipay("PPNOSUCHORDER000000000000", "10.00"))

    rows = world.admin.get("/payment/admin/api/notifications?per_page=50", headers=ZH).get_json()["items"]
    said = {row["outcome"]: row["outcome_text"] for row in rows}
    assert said["credited"] == "已入账"
    assert said["already settled; nothing changed"] == "已入账过，没有任何变动"
    assert said["bad signature: MD5 signature does not match the merchant key"] == "签名错误：MD5 签名与商户密钥不符"
    assert said["amount mismatch: paid 9.00, order total 10.00"] == "金额不符：实付 9.00，订单总额 10.00"
    assert said["no such channel: check the notify URL"] == "没有这个支付通道：请检查回调地址"
    assert said["unknown order PPNOSUCHORDER000000000000"] == "未知订单 PPNOSUCHORDER000000000000"
    assert said["malformed: no sign"] == "格式错误：没有签名"
    assert said["second payment 2026120600000002 for an order already paid by 2026120600000001"] == \
        "重复付款 2026120600000002：订单已由 2026120600000001 付清"
    for recorded, chinese in said.items():  # nothing left in English but the values
        words = re.sub(r"PP\w+|trade_\w+|out_trade_no|\d[\d.]*|EPay|MD5|RSA2?|WAIT|#\d+", "", chinese)
        assert not re.search(r"[A-Za-z]{3,}", words), (recorded, chinese)

    english = world.admin.get("/payment/admin/api/notifications?per_page=50").get_json()["items"]
    assert all(row["outcome_text"] == row["outcome"] for row in english)

    orders = world.admin.get("/payment/admin/api/orders?flag=anomaly", headers=ZH).get_json()["items"]
    assert {o["anomaly"]: o["anomaly_text"] for o in orders} == {
        "amount mismatch: paid 9.00, order total 10.00": "金额不符：实付 9.00，订单总额 10.00",
        "second payment 2026120600000002 for an order already paid by 2026120600000001":
            "重复付款 2026120600000002：订单已由 2026120600000001 付清"}


def test_a_line_no_template_knows_is_shown_as_recorded(app):
    from panelpay.outcomes import explain

    from flask_babel import force_locale

    with app.test_request_context(headers=ZH), force_locale("zh_CN"):
        assert explain("the HMAC header does not match") == "the HMAC header does not match"
        assert explain("bad signature: the HMAC header does not match") == "签名错误：the HMAC header does not match"
        assert explain("") == "" and explain(None) == ""
