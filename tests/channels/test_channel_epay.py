"""EPayChannel: config, notifications (MD5 and RSA), and create/query against a fake EPay over HTTP."""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from panelpay.channels import signing
from panelpay.channels.base import (
    ConfigInvalid,
    GatewayError,
    InvalidNotification,
    InvalidSignature,
    MalformedNotification,
    PaymentStatus,
)
from panelpay.channels.epay import EPayChannel

from . import channel_fakes as fakes
from .channel_fakes import form_request
from .conftest import EPAY_KEY

GATEWAY = "https://pay.example.net"


def md5_config(**overrides):
    return {"gateway": GATEWAY, "pid": "1001", "key": EPAY_KEY, **overrides}


@pytest.fixture
def rsa_config(rsa_keys):
    def build(**overrides):
        return {"gateway": GATEWAY, "pid": "1001", "sign_type": "RSA",
                "merchant_private_key": fakes.bare(fakes.private_der_pkcs8(rsa_keys["merchant"])),
                "platform_public_key": fakes.bare(fakes.public_der_spki(rsa_keys["platform"])), **overrides}
    return build


def channel(config, http=None, timeout=3.0):
    return EPayChannel(config, http=http, timeout=timeout)


# -- config ------------------------------------------------------------------------------------------


def test_clean_config_fills_defaults_and_normalises_gateway():
    cleaned = EPayChannel.clean_config(md5_config(pid=" 1001 ", sign_type="md5"))
    assert cleaned == {"gateway": GATEWAY + "/", "pid": "1001", "key": EPAY_KEY, "sign_type": "MD5",
                       "merchant_private_key": "", "platform_public_key": "", "type": "alipay",
                       "api": "submit", "device": "pc"}


def test_clean_config_keeps_empty_type_for_the_cashier():
    assert EPayChannel.clean_config(md5_config(type=""))["type"] == ""


@pytest.mark.parametrize("field,value", [("sign_type", "SHA1"), ("api", "json"), ("device", "tv"), ("type", "cash")])
def test_clean_config_refuses_values_out_of_choices(field, value):
    with pytest.raises(ConfigInvalid) as info:
        EPayChannel.clean_config(md5_config(**{field: value}))
    assert list(info.value.fields) == [field]
    assert field in info.value.fields[field][0]


@pytest.mark.parametrize("gateway", ["pay.example.net", "ftp://pay.example.net/", "https://pay.example.net/submit.php",
                                     "https://pay.example.net/api/pay/create", "https://pay.example.net/?a=1"])
def test_clean_config_refuses_a_gateway_that_is_not_the_site_root(gateway):
    with pytest.raises(ConfigInvalid) as info:
        EPayChannel.clean_config(md5_config(gateway=gateway))
    assert "https://pay.example.net/" in info.value.fields["gateway"][0]


def test_md5_needs_the_key_and_pid():
    with pytest.raises(ConfigInvalid) as info:
        EPayChannel.clean_config({"gateway": GATEWAY, "pid": "", "key": ""})
    assert set(info.value.fields) == {"pid", "key"}
    assert "商户密钥" in info.value.fields["key"][0]


@pytest.mark.parametrize("fmt", ["pem_pkcs1", "pem_pkcs8", "bare_one_line", "wrapped_crlf_spaces"])
def test_rsa_keys_load_in_every_format(rsa_keys, rsa_config, fmt):
    config = rsa_config(merchant_private_key=fakes.private_formats(rsa_keys["merchant"])[fmt],
                        platform_public_key=fakes.public_formats(rsa_keys["platform"])[
                            {"pem_pkcs8": "pem_spki"}.get(fmt, fmt)])
    assert EPayChannel.clean_config(config)["sign_type"] == "RSA"


def test_rsa_needs_both_keys(rsa_config):
    with pytest.raises(ConfigInvalid) as info:
        EPayChannel.clean_config(rsa_config(merchant_private_key="", platform_public_key=""))
    assert set(info.value.fields) == {"merchant_private_key", "platform_public_key"}


def test_garbage_keys_are_refused_naming_the_field(rsa_config):
    with pytest.raises(ConfigInvalid) as info:
        EPayChannel.clean_config(rsa_config(merchant_private_key="MIIEv-garbage", platform_public_key="hello world"))
    assert set(info.value.fields) == {"merchant_private_key", "platform_public_key"}
    assert "API信息" in info.value.fields["platform_public_key"][0]


def test_own_public_key_in_the_platform_field_is_refused(rsa_keys, rsa_config):
    with pytest.raises(ConfigInvalid) as info:
        EPayChannel.clean_config(rsa_config(platform_public_key=fakes.public_pem_spki(rsa_keys["merchant"])))
    message = info.value.fields["platform_public_key"][0]
    assert "your own merchant public key" in message and "API信息" in message
    assert list(info.value.fields) == ["platform_public_key"]


def test_config_errors_never_echo_the_secret():
    with pytest.raises(ConfigInvalid) as info:
        EPayChannel.clean_config(md5_config(sign_type="RSA", merchant_private_key="SECRETSECRET"))
    assert "SECRETSECRET" not in str(info.value)


# -- MD5 notifications ---------------------------------------------------------------------------------


def test_md5_notification_verifies_without_mutating_params():
    params = fakes.epay_md5_notification(EPAY_KEY)
    before = dict(params)
    report = channel(md5_config()).verify_notification(form_request(params))
    assert params == before
    assert report.status is PaymentStatus.PAID
    assert report.trade_no == "TOPUP202411221040000101"
    assert report.gateway_trade_no == "2024112210400012345"
    assert report.merchant_id == "1001" and channel(md5_config()).owns(report)
    assert report.amount == Decimal("10.00")


@pytest.mark.parametrize("money,amount", [("10", "10.00"), ("9.9", "9.90"), ("10.00", "10.00"), ("0.1", "0.10")])
def test_md5_money_as_php_float_casts_it(money, amount):
    report = channel(md5_config()).verify_notification(form_request(fakes.epay_md5_notification(EPAY_KEY, money=money)))
    assert report.amount == Decimal(amount)


def test_md5_money_with_three_decimals_is_malformed():
    with pytest.raises(MalformedNotification):
        channel(md5_config()).verify_notification(form_request(fakes.epay_md5_notification(EPAY_KEY, money="10.001")))


@pytest.mark.parametrize("field", list(fakes.epay_md5_notification(EPAY_KEY)))
def test_md5_every_tampered_field_is_refused(field):
    params = fakes.epay_md5_notification(EPAY_KEY)
    params[field] = "RSA" if field == "sign_type" else params[field][:-1] + ("0" if params[field][-1] != "0" else "1")
    with pytest.raises(InvalidSignature):
        channel(md5_config()).verify_notification(form_request(params))


def test_md5_added_field_is_refused():
    params = {**fakes.epay_md5_notification(EPAY_KEY), "extra": "1"}
    with pytest.raises(InvalidSignature):
        channel(md5_config()).verify_notification(form_request(params))


def test_md5_wrong_key_is_refused():
    with pytest.raises(InvalidSignature):
        channel(md5_config()).verify_notification(form_request(fakes.epay_md5_notification("another-merchant-key")))


def test_md5_wrong_merchant_verifies_but_is_not_owned():
    ch = channel(md5_config())
    report = ch.verify_notification(form_request(fakes.epay_md5_notification(EPAY_KEY, pid="2002")))
    assert report.merchant_id == "2002" and not ch.owns(report)


@pytest.mark.parametrize("missing", ["out_trade_no", "money"])
def test_md5_signed_notification_without_required_field_is_malformed(missing):
    with pytest.raises(MalformedNotification):
        channel(md5_config()).verify_notification(form_request(fakes.epay_md5_notification(EPAY_KEY, **{missing: ""})))


def test_md5_without_sign_is_malformed():
    params = fakes.epay_md5_notification(EPAY_KEY)
    del params["sign"]
    with pytest.raises(MalformedNotification):
        channel(md5_config()).verify_notification(form_request(params))


def test_md5_other_trade_status_is_ignored_and_return_is_the_same():
    ch = channel(md5_config())
    assert ch.verify_notification(form_request(fakes.epay_md5_notification(EPAY_KEY, trade_status="WAIT"))).status \
        is PaymentStatus.IGNORED
    assert EPayChannel.return_is_evidence is True
    assert ch.verify_return(form_request(fakes.epay_md5_notification(EPAY_KEY))).status is PaymentStatus.PAID


def test_md5_channel_refuses_an_rsa_notification(rsa_keys):
    with pytest.raises(InvalidSignature):
        channel(md5_config()).verify_notification(form_request(fakes.epay_rsa_notification(rsa_keys["platform"])))


# -- RSA notifications ----------------------------------------------------------------------------------


def test_rsa_notification_verifies(rsa_keys, rsa_config):
    params = fakes.epay_rsa_notification(rsa_keys["platform"])
    before = dict(params)
    report = channel(rsa_config()).verify_notification(form_request(params))
    assert params == before
    assert report.status is PaymentStatus.PAID and report.amount == Decimal("9.90")


RSA_FIELDS = ["pid", "trade_no", "out_trade_no", "type", "name", "money", "trade_status", "api_trade_no", "buyer",
              "timestamp", "sign", "sign_type"]


def test_rsa_fields_cover_the_notification(rsa_keys):
    assert sorted(fakes.epay_rsa_notification(rsa_keys["platform"])) == sorted(RSA_FIELDS)


@pytest.mark.parametrize("field", RSA_FIELDS)
def test_rsa_every_tampered_field_is_refused(rsa_keys, rsa_config, field):
    now = int(time.time())
    params = fakes.epay_rsa_notification(rsa_keys["platform"], timestamp=now)
    value = params[field]
    if field == "sign_type":
        params[field] = "MD5"
    elif field == "sign":
        params[field] = ("B" if value[0] == "A" else "A") + value[1:]
    elif field == "timestamp":
        params[field] = str(now - 1)
    else:
        params[field] = value + "0"
    with pytest.raises(InvalidSignature):
        channel(rsa_config()).verify_notification(form_request(params))


def test_rsa_wrong_key_is_refused(rsa_keys, rsa_config):
    with pytest.raises(InvalidSignature):
        channel(rsa_config()).verify_notification(form_request(fakes.epay_rsa_notification(rsa_keys["stranger"])))


def test_rsa_channel_refuses_an_md5_notification(rsa_config):
    with pytest.raises(InvalidSignature):
        channel(rsa_config(key=EPAY_KEY)).verify_notification(form_request(fakes.epay_md5_notification(EPAY_KEY)))


def test_rsa_timestamp_window_is_300_seconds(rsa_keys, rsa_config):
    ch = channel(rsa_config())
    params = fakes.epay_rsa_notification(rsa_keys["platform"], timestamp=1700000000)
    sent = dt.datetime(2023, 11, 14, 22, 13, 20)  # 1700000000 as naive UTC
    assert ch.verify_notification(form_request(params, received_at=sent + dt.timedelta(seconds=300))).status is PaymentStatus.PAID
    for late in (301, -301):
        with pytest.raises(InvalidSignature, match="300"):
            ch.verify_notification(form_request(params, received_at=sent + dt.timedelta(seconds=late)))


def test_rsa_replay_of_an_old_notification_verifies_at_its_received_time(rsa_keys, rsa_config):
    ch = channel(rsa_config())
    params = fakes.epay_rsa_notification(rsa_keys["platform"], timestamp=int(time.time()) - 2 * 86400)
    with pytest.raises(InvalidSignature):
        ch.verify_notification(form_request(params))  # against now: too old
    received = dt.datetime.fromtimestamp(int(params["timestamp"]) + 4, dt.timezone.utc).replace(tzinfo=None)
    assert ch.verify_notification(form_request(params, received_at=received)).status is PaymentStatus.PAID


def test_rsa_notification_without_timestamp_is_malformed(rsa_keys, rsa_config):
    params = fakes.epay_rsa_notification(rsa_keys["platform"], without=("timestamp",))
    with pytest.raises(MalformedNotification):
        channel(rsa_config()).verify_notification(form_request(params))


# -- create and query over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def fake_epay(gateway, rsa_keys):
    fake = fakes.FakeEPay(pid="1001", key=EPAY_KEY, merchant_public=rsa_keys["merchant"].public_key(),
                          platform_private=rsa_keys["platform"])
    gateway.handler = fake
    fake.url = gateway.url
    return fake


def test_md5_submit_is_a_signed_form(pay_request):
    action = channel(md5_config(type="")).create(pay_request())
    assert action.method == "form" and action.url == GATEWAY + "/submit.php"
    assert action.fields["sign_type"] == "MD5" and action.fields["money"] == "10.00"
    assert "type" not in action.fields  # the buyer picks on the gateway's cashier
    assert signing.epay_md5_valid(action.fields, EPAY_KEY)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_payment_form_panelpay_signed_never_verifies_as_a_notification(pay_request, method):
    """The MD5 key signs PanelPay's own payment forms too, which the buyer's browser sees: such a form, as
    it is or with a notification's fields added, is refused as a notification and as a return."""
    ch = channel(md5_config())
    form = ch.create(pay_request(subject="Top-up&trade_status=TRADE_SUCCESS")).fields
    extended = {**form, "trade_no": "2024112210400012345", "trade_status": "TRADE_SUCCESS"}
    extended["sign"] = signing.epay_md5(extended, EPAY_KEY)  # even if it could be signed again
    for params in (form, extended):
        for verify in (ch.verify_notification, ch.verify_return):
            with pytest.raises(InvalidNotification):
                verify(form_request(params, method=method))


def test_notify_url_with_a_query_string_is_refused(pay_request):
    with pytest.raises(GatewayError) as info:
        channel(md5_config()).create(pay_request(notify_url="https://panel.example.com/notify?x=1"))
    assert info.value.transient is False


def test_rsa_submit_is_an_rsa_signed_form(rsa_keys, rsa_config, pay_request):
    action = channel(rsa_config()).create(pay_request())
    assert action.method == "form" and action.url == GATEWAY + "/api/pay/submit"
    fields = action.fields
    assert fields["sign_type"] == "RSA" and len(fields["timestamp"]) == 10
    assert signing.rsa_valid(signing.epay_content(fields), fields["sign"], rsa_keys["merchant"].public_key())


@pytest.mark.parametrize("answer,method", [(("payurl", "https://pay.example.net/pay/1"), "redirect"),
                                           (("qrcode", "weixin://wxpay/bizpayurl?pr=abc"), "qrcode"),
                                           (("urlscheme", "alipays://platformapi/startapp"), "redirect")])
def test_mapi_creates_server_side(fake_epay, http, pay_request, answer, method):
    fake_epay.mapi_answer = answer
    action = channel(md5_config(gateway=fake_epay.url, api="mapi"), http).create(pay_request())
    assert action.method == method and action.gateway_trade_no == "2024112210400012345"
    assert (action.qr_code if method == "qrcode" else action.url) == answer[1]
    assert fake_epay.orders["TOPUP202411221040000101"]["money"] == "10.00"


def test_mapi_refusal_is_not_transient(fake_epay, http, pay_request):
    with pytest.raises(GatewayError) as info:
        channel(md5_config(gateway=fake_epay.url, api="mapi", key="wrong-key"), http).create(pay_request())
    assert info.value.transient is False and info.value.code == "-3" and "签名校验失败" in str(info.value)


@pytest.mark.parametrize("answer,method", [(("jump", "https://pay.example.net/pay/jump/1"), "redirect"),
                                           (("urlscheme", "weixin://dl/business/?t=x"), "redirect"),
                                           (("qrcode", "https://qr.alipay.com/bax02"), "qrcode")])
def test_rsa_create_verifies_the_signed_answer(fake_epay, http, rsa_config, pay_request, answer, method):
    fake_epay.create_answer = answer
    action = channel(rsa_config(gateway=fake_epay.url, api="mapi"), http).create(pay_request())
    assert action.method == method and action.gateway_trade_no == "2024112210400099999"
    assert (action.qr_code if method == "qrcode" else action.url) == answer[1]


def test_rsa_create_refuses_a_pay_type_it_cannot_show(fake_epay, http, rsa_config, pay_request):
    fake_epay.create_answer = ("html", "<form></form>")
    with pytest.raises(GatewayError, match="html") as info:
        channel(rsa_config(gateway=fake_epay.url, api="mapi"), http).create(pay_request())
    assert info.value.transient is False


def test_rsa_create_refuses_an_answer_signed_by_another_key(fake_epay, http, rsa_keys, rsa_config, pay_request):
    fake_epay.answer_key = rsa_keys["stranger"]
    with pytest.raises(GatewayError) as info:
        channel(rsa_config(gateway=fake_epay.url, api="mapi"), http).create(pay_request())
    assert info.value.code == "bad_signature"


def test_rsa_create_refuses_a_stale_answer(fake_epay, http, rsa_config, pay_request):
    fake_epay.answer_clock = -400
    with pytest.raises(GatewayError) as info:
        channel(rsa_config(gateway=fake_epay.url, api="mapi"), http).create(pay_request())
    assert info.value.code == "timestamp"


def test_rsa_unsigned_error_answer(fake_epay, http, rsa_keys, rsa_config, pay_request):
    config = rsa_config(gateway=fake_epay.url, api="mapi",
                        merchant_private_key=fakes.private_pem_pkcs1(rsa_keys["stranger"]))
    with pytest.raises(GatewayError) as info:
        channel(config, http).create(pay_request())
    assert info.value.code == "-3" and not info.value.transient


@pytest.mark.parametrize("as_int", [False, True])
@pytest.mark.parametrize("status,expected", [("0", "pending"), ("1", "paid"), ("2", "refunded"), ("3", "refunded"),
                                             ("4", "pending")])
def test_md5_query(fake_epay, http, pay_request, status, expected, as_int):
    ch = channel(md5_config(gateway=fake_epay.url, api="mapi"), http)
    ch.create(pay_request())
    fake_epay.orders["TOPUP202411221040000101"]["status"] = status
    fake_epay.status_as_int = as_int
    report = ch.query("TOPUP202411221040000101")
    assert report.status.value == expected and ch.owns(report)
    assert report.amount == Decimal("10.00") and report.gateway_trade_no == "2024112210400012345"


def test_md5_query_unknown_order_is_not_found(fake_epay, http):
    ch = channel(md5_config(gateway=fake_epay.url), http)
    report = ch.query("NOPE")
    assert report.status is PaymentStatus.NOT_FOUND and report.trade_no == "NOPE" and ch.owns(report)


def test_md5_query_refusal_does_not_leak_the_key(fake_epay, http):
    with pytest.raises(GatewayError) as info:
        channel(md5_config(gateway=fake_epay.url, key="k" * 32), http).query("NOPE")
    assert info.value.code == "-3" and "k" * 32 not in str(info.value)


def test_md5_query_answer_about_another_merchant_is_refused(fake_epay, http, pay_request):
    ch = channel(md5_config(gateway=fake_epay.url, api="mapi"), http)
    ch.create(pay_request())
    fake_epay.orders["TOPUP202411221040000101"]["pid"] = "2002"
    with pytest.raises(GatewayError, match="another"):
        ch.query("TOPUP202411221040000101")


def test_rsa_query(fake_epay, http, rsa_config, pay_request):
    ch = channel(rsa_config(gateway=fake_epay.url, api="mapi"), http)
    ch.create(pay_request(amount=Decimal("9.90")))
    fake_epay.orders["TOPUP202411221040000101"]["status"] = "1"
    report = ch.query("TOPUP202411221040000101")
    assert report.status is PaymentStatus.PAID and report.amount == Decimal("9.90")
    assert ch.query("NOPE").status is PaymentStatus.NOT_FOUND


def test_transient_failures(gateway, http):
    ch = channel(md5_config(gateway=gateway.url, key="s" * 32), http)
    for handler in (lambda r: fakes.json_response({"oops": 1}, status=502),
                    lambda r: fakes.Response("<html>maintenance</html>", content_type="text/html")):
        gateway.handler = handler
        with pytest.raises(GatewayError) as info:
            ch.query("T1")
        assert info.value.transient is True


def test_wrong_gateway_path_is_not_transient(gateway, http):
    gateway.handler = lambda request: fakes.Response("Not Found", status=404)
    with pytest.raises(GatewayError) as info:
        channel(md5_config(gateway=gateway.url + "epay/"), http).query("T1")
    assert info.value.transient is False and info.value.code == "http_404"
    assert gateway.seen[-1].path == "/epay/api.php"


def test_unreachable_gateway_is_transient_and_keeps_the_key_out_of_the_message(http):
    ch = channel(md5_config(gateway="http://127.0.0.1:9/", key="s" * 32), http, timeout=1)
    with pytest.raises(GatewayError) as info:
        ch.query("T1")
    assert info.value.transient is True
    assert "s" * 32 not in str(info.value) and info.value.__cause__ is None


def test_close_is_not_supported():
    assert channel(md5_config()).close("T1") is False
