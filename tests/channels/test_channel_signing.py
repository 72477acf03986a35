"""Known-answer vectors for the canonical strings (PROTOCOLS.md §1.3, §3.3, §3.5, §3.6)."""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from panelpay.channels import signing

EPAY_VECTOR = {
    "pid": "1001",
    "trade_no": "2024112210400012345",
    "out_trade_no": "TOPUP202411221040000101",
    "type": "alipay",
    "name": "VIP会员 月卡",
    "money": "10.00",
    "trade_status": "TRADE_SUCCESS",
    "param": "uid:42",
}


def test_epay_md5_known_answer():
    key = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i"
    params = {**EPAY_VECTOR, "sign_type": "MD5", "sign": "ignored", "empty": "", "blank": "  "}
    assert signing.epay_content(params) == (
        "money=10.00&name=VIP会员 月卡&out_trade_no=TOPUP202411221040000101&param=uid:42&pid=1001"
        "&trade_no=2024112210400012345&trade_status=TRADE_SUCCESS&type=alipay"
    )
    assert signing.epay_md5(params, key) == "e276611b4732ba8b700c4b602154abc5"
    assert signing.epay_md5_valid({**params, "sign": "e276611b4732ba8b700c4b602154abc5"}, key)
    assert not signing.epay_md5_valid({**params, "sign": "e276611b4732ba8b700c4b602154abc6"}, key)


def test_epay_content_keeps_json_numbers_as_php_prints_them():
    """PHP's signer keeps integers (``"code":0``, ``time()``) and drops null, false and arrays."""
    answer = {"code": 0, "timestamp": 1700000000, "money": Decimal("9.90"), "ok": True, "no": False,
              "x": None, "list": [1], "obj": {"a": "b"}, "msg": "", "sign": "s", "sign_type": "RSA"}
    assert signing.epay_content(answer) == "code=0&money=9.9&ok=1&timestamp=1700000000"


def test_epay_content_does_not_trim_or_encode_kept_values():
    assert signing.epay_content({"b": " x ", "a": "a&b=c"}) == "a=a&b=c&b= x "


def test_alipay_request_content_includes_sign_type_and_drops_sign_and_empty():
    params = {
        "app_id": "2021000000000001",
        "method": "alipay.trade.page.pay",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "sign": "must-not-appear",
        "timestamp": "2024-11-22 10:40:00",
        "version": "1.0",
        "notify_url": "https://panel.example.com/payment/notify/alipay/u?x=1&y=2",
        "app_auth_token": "",
        "biz_content": '{"out_trade_no":"T1","total_amount":"10.00","subject":"充值 & more"}',
    }
    assert signing.alipay_request_content(params) == (
        'app_id=2021000000000001&biz_content={"out_trade_no":"T1","total_amount":"10.00","subject":"充值 & more"}'
        "&charset=utf-8&format=JSON&method=alipay.trade.page.pay"
        "&notify_url=https://panel.example.com/payment/notify/alipay/u?x=1&y=2"
        "&sign_type=RSA2&timestamp=2024-11-22 10:40:00&version=1.0"
    )


def test_alipay_notify_content_excludes_sign_and_sign_type():
    params = {"trade_status": "TRADE_SUCCESS", "app_id": "2021", "sign": "s", "sign_type": "RSA2",
              "total_amount": "10.00", "subject": "a=b&c", "body": ""}
    assert signing.alipay_notify_content(params) == (
        "app_id=2021&subject=a=b&c&total_amount=10.00&trade_status=TRADE_SUCCESS"
    )


def test_response_node_is_the_raw_text_with_braces_and_quotes_in_strings():
    node = '{"code":"10000","msg":"Success","store":"} { \\" }\\\\","n":{"x":[1,{"y":"}"}]},"v":"\\u5e97"}'
    raw = ('{"alipay_trade_query_response": ' + node + ' ,\n "alipay_cert_sn":"abc123",'
           '"sign":"c2lnbg=="}')
    assert signing.response_node(raw, "alipay_trade_query_response") == node
    assert json.loads(node)["store"] == '} { " }\\'


def test_response_node_ignores_the_same_name_nested_or_inside_a_string():
    raw = ('{"other":{"alipay_trade_close_response":{"code":"evil"}},'
           '"note":"\\"alipay_trade_close_response\\":{\\"code\\":\\"evil\\"}",'
           '"alipay_trade_close_response":{"code":"10000"},"sign":"x"}')
    assert signing.response_node(raw, "alipay_trade_close_response") == '{"code":"10000"}'


def test_response_node_missing():
    with pytest.raises(signing.ResponseFormatError):
        signing.response_node('{"error_response":{"code":"40002"}}', "alipay_trade_query_response")


def test_rsa_sign_round_trip_and_space_for_plus(rsa_keys):
    key = rsa_keys["alipay"]
    sign = signing.rsa_sign("a=1&b=中文", key)
    assert signing.rsa_valid("a=1&b=中文", sign, key.public_key())
    assert signing.rsa_valid("a=1&b=中文", sign.replace("+", " "), key.public_key())  # form-decoded "+"
    assert not signing.rsa_valid("a=1&b=中文 ", sign, key.public_key())
    assert not signing.rsa_valid("a=1&b=中文", "not base64!", key.public_key())
    assert not signing.rsa_valid("a=1&b=中文", hashlib.md5(b"x").hexdigest(), key.public_key())
