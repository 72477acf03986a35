"""AlipayChannel: config, notifications and returns, and create/query/close against a fake Alipay."""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from panelpay import keys
from panelpay.channels import signing
from panelpay.channels.alipay import AlipayChannel
from panelpay.channels.base import (
    ConfigInvalid,
    GatewayError,
    InvalidSignature,
    MalformedNotification,
    PaymentStatus,
)

from . import channel_fakes as fakes
from .channel_fakes import form_request
from .conftest import APP_ID, SELLER_ID

PRODUCTION = "https://openapi.alipay.com/gateway.do"


@pytest.fixture
def key_config(rsa_keys):
    """A public-key-mode config, keys as the console shows them (bare base64)."""
    def build(**overrides):
        return {"app_id": APP_ID,
                "app_private_key": fakes.bare(fakes.private_der_pkcs8(rsa_keys["app"])),
                "alipay_public_key": fakes.bare(fakes.public_der_spki(rsa_keys["alipay"])), **overrides}
    return build


@pytest.fixture
def cert_config(rsa_keys, alipay_certs):
    def build(**overrides):
        return {"app_id": APP_ID, "app_private_key": fakes.private_pem_pkcs1(rsa_keys["app"]),
                "app_cert": alipay_certs["app_pem"], "alipay_cert": alipay_certs["alipay_pem"],
                "alipay_root_cert": alipay_certs["root_pem"], **overrides}
    return build


def channel(config, http=None):
    return AlipayChannel(config, http=http, timeout=3.0)


# -- config ---------------------------------------------------------------------------------------------


def test_clean_config_fills_defaults(key_config):
    cleaned = AlipayChannel.clean_config(key_config())
    assert cleaned["gateway"] == PRODUCTION and cleaned["product"] == "page" and cleaned["seller_id"] == ""
    assert set(cleaned) == {"gateway", "app_id", "app_private_key", "alipay_public_key", "app_cert", "alipay_cert",
                            "alipay_root_cert", "seller_id", "product"}


@pytest.mark.parametrize("private_fmt,public_fmt", [("pem_pkcs1", "pem_spki"), ("pem_pkcs8", "pem_pkcs1"),
                                                    ("bare_one_line", "bare_one_line"),
                                                    ("wrapped_crlf_spaces", "wrapped_crlf_spaces")])
def test_keys_load_in_every_format(rsa_keys, key_config, private_fmt, public_fmt):
    config = key_config(app_private_key=fakes.private_formats(rsa_keys["app"])[private_fmt],
                        alipay_public_key=fakes.public_formats(rsa_keys["alipay"])[public_fmt])
    assert AlipayChannel.clean_config(config)["app_id"] == APP_ID


@pytest.mark.parametrize("field,value", [("app_private_key", "MIIE-this-is-not-a-key"),
                                         ("alipay_public_key", "支付宝公钥"),
                                         ("app_cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
                                         ("product", "app"), ("gateway", "openapi.alipay.com/gateway.do")])
def test_garbage_is_refused_naming_the_field(key_config, field, value):
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(key_config(**{field: value}))
    assert field in info.value.fields
    assert field in info.value.fields[field][0]


def test_public_key_pasted_as_the_private_key(rsa_keys, key_config):
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(key_config(app_private_key=fakes.public_pem_spki(rsa_keys["app"])))
    assert "public key" in info.value.fields["app_private_key"][0]


def test_app_public_key_in_the_alipay_field_is_refused(rsa_keys, key_config):
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(key_config(alipay_public_key=fakes.bare(fakes.public_der_spki(rsa_keys["app"]))))
    message = info.value.fields["alipay_public_key"][0]
    assert "APP public key" in message and "支付宝公钥" in message
    assert list(info.value.fields) == ["alipay_public_key"]


def test_neither_mode_complete_names_the_missing_fields(key_config, alipay_certs):
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(key_config(alipay_public_key=""))
    assert list(info.value.fields) == ["alipay_public_key"]
    assert all(f in info.value.fields["alipay_public_key"][0] for f in ("app_cert", "alipay_cert", "alipay_root_cert"))
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(key_config(alipay_public_key="", app_cert=alipay_certs["app_pem"]))
    assert set(info.value.fields) == {"alipay_public_key", "alipay_cert", "alipay_root_cert"}


def test_cert_mode_config(cert_config):
    assert AlipayChannel.clean_config(cert_config())["alipay_public_key"] == ""


def test_app_cert_of_another_key_is_refused(cert_config, alipay_certs):
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(cert_config(app_cert=alipay_certs["alipay_pem"]))
    assert "app_private_key" in info.value.fields["app_cert"][0]


def test_app_cert_in_the_alipay_cert_field_is_refused(cert_config, alipay_certs):
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(cert_config(alipay_cert=alipay_certs["app_pem"]))
    assert list(info.value.fields) == ["alipay_cert"]
    assert "alipayCertPublicKey_RSA2.crt" in info.value.fields["alipay_cert"][0]


def _issued(subject_key, issuer_name, issuer_key, *, cn="alipay", serial=99, days=(-30, 3650)):
    """A certificate for ``subject_key`` signed by ``issuer_key``, valid from/to ``days`` around now."""
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.timezone.utc)
    return (fakes.x509.CertificateBuilder().subject_name(fakes.name(cn, ou="Alipay")).issuer_name(issuer_name)
            .public_key(subject_key.public_key()).serial_number(serial)
            .not_valid_before(now + dt.timedelta(days=days[0])).not_valid_after(now + dt.timedelta(days=days[1]))
            .sign(issuer_key, hashes.SHA256()))


def test_an_alipay_cert_not_issued_by_the_root_is_refused(cert_config, rsa_keys):
    """A certificate made by anyone for a key of their own must not become the key notifications are
    verified with: the chain up to alipay_root_cert is checked when the channel is saved."""
    impostor_ca = fakes.new_key()
    forged = _issued(rsa_keys["alipay"], fakes.name("Ant Financial Test Root"), impostor_ca)
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(cert_config(alipay_cert=fakes.pem(forged)))
    assert "not issued by the Alipay root certificate" in info.value.fields["alipay_cert"][0]


def test_an_expired_or_not_yet_valid_certificate_is_refused(cert_config, rsa_keys, alipay_certs):
    root_key, root_name = alipay_certs["root_key"], alipay_certs["root"].subject
    for days, words in (((-800, -10), "expired on"), ((10, 800), "is not valid before")):
        stale = _issued(rsa_keys["alipay"], root_name, root_key, days=days)
        with pytest.raises(ConfigInvalid) as info:
            AlipayChannel.clean_config(cert_config(alipay_cert=fakes.pem(stale)))
        assert words in info.value.fields["alipay_cert"][0]


def test_a_certificate_issued_through_an_intermediate_in_the_same_file_is_accepted(cert_config, rsa_keys,
                                                                                     alipay_certs):
    """Alipay's alipayCertPublicKey_RSA2.crt holds the certificate and the intermediate that issued it."""
    intermediate_key = fakes.new_key()
    intermediate = _issued(intermediate_key, alipay_certs["root"].subject, alipay_certs["root_key"],
                           cn="Ant Financial Class 2 R1", serial=5)
    leaf = _issued(rsa_keys["alipay"], intermediate.subject, intermediate_key)
    cleaned = AlipayChannel.clean_config(cert_config(alipay_cert=fakes.pem(leaf, intermediate)))
    assert cleaned["alipay_cert"]


def test_root_bundle_without_an_rsa_root_is_refused(cert_config):
    with pytest.raises(ConfigInvalid) as info:
        AlipayChannel.clean_config(cert_config(alipay_root_cert=fakes.pem(fakes.ec_root())))
    assert "alipay_root_cert" in info.value.fields


# -- notifications and returns ----------------------------------------------------------------------------


def test_notification_verifies_without_mutating_params(rsa_keys, key_config):
    ch = channel(key_config(seller_id=SELLER_ID))
    params = fakes.alipay_notification(rsa_keys["alipay"])
    before = dict(params)
    report = ch.verify_notification(form_request(params))
    assert params == before
    assert report.status is PaymentStatus.PAID and report.amount == Decimal("10.00")
    assert (report.trade_no, report.gateway_trade_no) == ("TOPUP202411221040000101", "2024112222001400000000000001")
    assert report.merchant_id == APP_ID and report.seller_id == SELLER_ID and ch.owns(report)


@pytest.mark.parametrize("status,expected", [("TRADE_SUCCESS", "paid"), ("TRADE_FINISHED", "paid"),
                                             ("TRADE_CLOSED", "closed"), ("WAIT_BUYER_PAY", "ignored"),
                                             ("SOMETHING_NEW", "ignored")])
def test_notification_statuses(rsa_keys, key_config, status, expected):
    report = channel(key_config()).verify_notification(form_request(fakes.alipay_notification(rsa_keys["alipay"],
                                                                                trade_status=status)))
    assert report.status.value == expected


NOTIFICATION_FIELDS = [
    "notify_time", "notify_type", "notify_id", "app_id", "auth_app_id", "charset", "version", "trade_no",
    "out_trade_no", "buyer_id", "seller_id", "trade_status", "total_amount", "receipt_amount", "subject",
    "gmt_create", "gmt_payment", "fund_bill_list", "sign", "sign_type"]


def test_fields_cover_the_notification(rsa_keys):
    assert sorted(fakes.alipay_notification(rsa_keys["alipay"])) == sorted(NOTIFICATION_FIELDS)


@pytest.mark.parametrize("field", NOTIFICATION_FIELDS)
def test_every_tampered_field_is_refused(rsa_keys, key_config, field):
    params = fakes.alipay_notification(rsa_keys["alipay"])
    value = params[field]
    if field == "sign_type":
        params[field] = "RSA"
    elif field == "sign":
        params[field] = ("B" if value[0] == "A" else "A") + value[1:]
    else:
        params[field] = value + "0"
    with pytest.raises(InvalidSignature):
        channel(key_config()).verify_notification(form_request(params))


def test_wrong_key_is_refused(rsa_keys, key_config):
    with pytest.raises(InvalidSignature):
        channel(key_config()).verify_notification(form_request(fakes.alipay_notification(rsa_keys["stranger"])))


@pytest.mark.parametrize("field,value", [("app_id", "2021000000009999"), ("seller_id", "2088000000009999")])
def test_wrong_merchant_verifies_but_is_not_owned(rsa_keys, key_config, field, value):
    ch = channel(key_config(seller_id=SELLER_ID))
    report = ch.verify_notification(form_request(fakes.alipay_notification(rsa_keys["alipay"], **{field: value})))
    assert report.status is PaymentStatus.PAID and not ch.owns(report)


def test_seller_is_not_checked_when_not_configured(rsa_keys, key_config):
    ch = channel(key_config())
    assert ch.owns(ch.verify_notification(form_request(fakes.alipay_notification(rsa_keys["alipay"], seller_id="2088000000009999"))))


def test_malformed_notifications(rsa_keys, key_config):
    ch = channel(key_config())
    params = fakes.alipay_notification(rsa_keys["alipay"])
    del params["sign"]
    with pytest.raises(MalformedNotification):
        ch.verify_notification(form_request(params))
    for fields in ({"out_trade_no": None}, {"total_amount": "10.001"}, {"total_amount": None}):
        with pytest.raises(MalformedNotification):
            ch.verify_notification(form_request(fakes.alipay_notification(rsa_keys["alipay"], **fields)))


def test_return_verifies_but_is_never_evidence(rsa_keys, key_config):
    ch = channel(key_config())
    params = fakes.alipay_notification(rsa_keys["alipay"], method="alipay.trade.page.pay.return", trade_status=None,
                                       notify_id=None, notify_type=None)
    report = ch.verify_return(form_request(params))
    assert report.status is PaymentStatus.PENDING and report.amount == Decimal("10.00")
    assert AlipayChannel.return_is_evidence is False


def test_cert_mode_notification_verifies_with_the_alipay_cert_key(rsa_keys, cert_config):
    ch = channel(cert_config())
    assert ch.verify_notification(form_request(fakes.alipay_notification(rsa_keys["alipay"]))).status is PaymentStatus.PAID
    with pytest.raises(InvalidSignature):
        ch.verify_notification(form_request(fakes.alipay_notification(rsa_keys["app"])))


# -- create ---------------------------------------------------------------------------------------------------


def biz(action) -> dict:
    return json.loads(action.fields["biz_content"])


@pytest.mark.parametrize("product,method,code", [("page", "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
                                                 ("wap", "alipay.trade.wap.pay", "QUICK_WAP_WAY")])
def test_page_and_wap_are_signed_forms(rsa_keys, key_config, pay_request, product, method, code):
    action = channel(key_config(product=product)).create(pay_request())
    fields = action.fields
    assert action.method == "form" and action.url == PRODUCTION + "?charset=utf-8"  # as Alipay's SDKs post it
    assert {k: fields[k] for k in ("app_id", "method", "format", "charset", "sign_type", "version")} == {
        "app_id": APP_ID, "method": method, "format": "JSON", "charset": "utf-8", "sign_type": "RSA2",
        "version": "1.0"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", fields["timestamp"])
    assert fields["notify_url"].startswith("https://") and fields["return_url"].startswith("https://")
    assert biz(action) == {"out_trade_no": "TOPUP202411221040000101", "total_amount": "10.00",
                           "subject": "余额充值 10.00", "product_code": code,
                           "time_expire": "2024-11-23 00:30:00",  # 16:30 UTC is 00:30 the next day in GMT+8
                           **({"quit_url": fields["return_url"]} if product == "wap" else {})}
    assert fields["biz_content"] == json.dumps(biz(action), ensure_ascii=False, separators=(",", ":"))
    # sign_type is part of what is signed
    assert signing.rsa_valid(signing.alipay_request_content(fields), fields["sign"], rsa_keys["app"].public_key())
    assert not signing.rsa_valid(signing.alipay_notify_content(fields), fields["sign"], rsa_keys["app"].public_key())


def test_cert_mode_requests_carry_the_sns(cert_config, alipay_certs, pay_request):
    fields = channel(cert_config()).create(pay_request()).fields
    assert fields["app_cert_sn"] == keys.cert_sn(alipay_certs["app"])
    assert fields["alipay_root_cert_sn"] == keys.root_cert_sn(alipay_certs["root_pem"])
    assert fields["alipay_root_cert_sn"].count("_") == 1


@pytest.fixture
def fake_alipay(gateway, rsa_keys):
    fake = fakes.FakeAlipay(app_id=APP_ID, app_public=rsa_keys["app"].public_key(), alipay_private=rsa_keys["alipay"])
    gateway.handler = fake
    fake.url = gateway.url + "gateway.do"
    return fake


def test_precreate_answers_a_qr_code(fake_alipay, http, key_config, pay_request):
    ch = channel(key_config(gateway=fake_alipay.url, product="precreate"), http)
    action = ch.create(pay_request())
    assert action.method == "qrcode" and action.qr_code == "https://qr.alipay.com/bax01"
    sent = fake_alipay.requests[-1]
    assert sent["method"] == "alipay.trade.precreate" and "return_url" not in sent
    assert json.loads(sent["biz_content"])["total_amount"] == "10.00"


def test_precreate_refused(fake_alipay, http, key_config, pay_request, rsa_keys):
    config = key_config(gateway=fake_alipay.url, product="precreate",
                        app_private_key=fakes.private_pem_pkcs8(rsa_keys["stranger"]))
    with pytest.raises(GatewayError) as info:
        channel(config, http).create(pay_request())
    assert info.value.code == "isv.invalid-signature" and not info.value.transient


# -- query and close ---------------------------------------------------------------------------------------------


def paid_order(fake, status="TRADE_SUCCESS"):
    fake.orders["T1"] = {"out_trade_no": "T1", "trade_no": "2024112222001400000000000009",
                         "trade_status": status, "total_amount": "9.90"}


@pytest.mark.parametrize("status,expected", [("TRADE_SUCCESS", "paid"), ("TRADE_FINISHED", "paid"),
                                             ("WAIT_BUYER_PAY", "pending"), ("TRADE_CLOSED", "closed")])
def test_query(fake_alipay, http, key_config, status, expected):
    paid_order(fake_alipay, status)
    ch = channel(key_config(gateway=fake_alipay.url, seller_id=SELLER_ID), http)
    report = ch.query("T1")
    assert report.status.value == expected and report.amount == Decimal("9.90") and ch.owns(report)
    assert report.trade_no == "T1" and report.gateway_trade_no == "2024112222001400000000000009"


def test_query_unknown_order_is_not_found(fake_alipay, http, key_config):
    ch = channel(key_config(gateway=fake_alipay.url), http)
    report = ch.query("NEVER-OPENED")
    assert report.status is PaymentStatus.NOT_FOUND and ch.owns(report)


def test_query_answer_signed_by_another_key_is_refused(fake_alipay, http, key_config, rsa_keys):
    paid_order(fake_alipay)
    fake_alipay.alipay_private = rsa_keys["stranger"]
    with pytest.raises(GatewayError) as info:
        channel(key_config(gateway=fake_alipay.url), http).query("T1")
    assert info.value.code == "bad_signature"


def test_query_with_a_second_forged_node_uses_the_signed_one(fake_alipay, http, key_config, rsa_keys):
    paid_order(fake_alipay, "WAIT_BUYER_PAY")

    def forged(method, node):
        raw = fakes.signed_answer(method, node, rsa_keys["alipay"])
        evil = json.dumps({**node, "trade_status": "TRADE_SUCCESS"})
        return raw[:-1] + f',"alipay_trade_query_response":{evil}}}'

    fake_alipay.raw_override = forged
    assert channel(key_config(gateway=fake_alipay.url), http).query("T1").status is PaymentStatus.PENDING


def test_error_response_and_garbage(fake_alipay, gateway, http, key_config):
    ch = channel(key_config(gateway=fake_alipay.url, app_id="2021000000000002"), http)
    with pytest.raises(GatewayError) as info:
        ch.query("T1")
    assert info.value.code == "isv.invalid-app-id" and not info.value.transient
    gateway.handler = lambda request: fakes.Response("<html>502 Bad Gateway</html>", content_type="text/html")
    with pytest.raises(GatewayError) as info:
        ch.query("T1")
    assert info.value.transient


def test_cert_mode_query_and_a_changed_alipay_cert(fake_alipay, http, cert_config, alipay_certs):
    paid_order(fake_alipay)
    ours = keys.cert_sn(alipay_certs["alipay"])
    fake_alipay.alipay_cert_sn = ours
    fake_alipay.expect_cert_sns = (keys.cert_sn(alipay_certs["app"]), keys.root_cert_sn(alipay_certs["root_pem"]))
    ch = channel(cert_config(gateway=fake_alipay.url), http)
    assert ch.query("T1").status is PaymentStatus.PAID
    fake_alipay.alipay_cert_sn = "0" * 32
    with pytest.raises(GatewayError, match="certificate has changed") as info:
        ch.query("T1")
    assert info.value.code == "alipay_cert_changed" and not info.value.transient


def test_close(fake_alipay, http, key_config):
    ch = channel(key_config(gateway=fake_alipay.url), http)
    paid_order(fake_alipay, "WAIT_BUYER_PAY")
    assert ch.close("T1") is True and fake_alipay.orders["T1"]["trade_status"] == "TRADE_CLOSED"
    assert ch.close("UNKNOWN") is False
    assert ch.close("T1") is False  # already closed: a refusal, not an error


def test_close_network_failure_raises(http, key_config):
    with pytest.raises(GatewayError) as info:
        channel(key_config(gateway="http://127.0.0.1:9/gateway.do"), http).close("T1")
    assert info.value.transient


def test_timestamp_and_time_expire_are_gmt8():
    from panelpay.channels.alipay_api import gmt8

    assert gmt8(dt.datetime(2024, 12, 31, 16, 0, 0)) == "2025-01-01 00:00:00"
    assert gmt8(dt.datetime(2024, 12, 31, 16, 0, 0, tzinfo=dt.timezone.utc)) == "2025-01-01 00:00:00"
