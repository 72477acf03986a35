"""What a user is told about the amount and about a gateway that refuses (issue 15.11, 15.12, 15.15): limits
are checked before the gateway is called, a refusal is a sentence in the page's language with the detail kept
for the operator, the refused order is closed, and amounts carry the currency symbol."""
from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from panelpay.models import Order
from tests.conftest import World, add_user
from tests.support.gateway import create_channel, login

#: What is said to a person does not depend on the database: one is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _refusal(response, status=422) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _orders(world) -> list[Order]:
    with world.app.app_context(), world.state.session() as session:
        return session.execute(sa.select(Order)).scalars().all()


@pytest.mark.parametrize("amount, message", [
    ("0", "The amount must be more than 0.00."),
    ("-5", "The amount must be more than 0.00."),
    ("", "Enter an amount."),
    ("99999999999999999999", "This amount is too large."),
    ("10.001", "Use at most two decimals, such as 10.50."),
    ("ten", "Enter an amount such as 10 or 10.50 (at most two decimals)."),
])
def test_each_wrong_amount_gets_its_own_message(world, amount, message):
    body = _refusal(world.alice.post("/payment/api/orders", json={"channel": world.channels["epay"]["uuid"],
                                                                    "amount": amount}))
    assert body["fields"]["amount"] == [message]
    assert _orders(world) == []


def test_a_missing_amount_and_channel_are_said_in_words(world):
    body = _refusal(world.alice.post("/payment/api/orders", json={}))
    assert body["fields"] == {"amount": ["Enter the amount to top up."], "channel": ["Choose a payment method."]}
    chinese = _refusal(world.alice.post("/payment/api/orders", json={"amount": "0"}, headers=ZH))
    assert chinese["message"] == "有些字段填写有误。"
    assert chinese["fields"]["channel"] == ["请选择支付方式。"]


def test_the_default_maximum_stops_a_runaway_amount_before_the_gateway(world):
    uuid = world.channels["alipay"]["uuid"]
    body = _refusal(world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": "9999999999.99"}))
    assert body["fields"]["amount"] == ["The largest top-up with alipay is ¥50000.00."]
    chinese = _refusal(world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": "50000.01"},
                                        headers=ZH))
    assert chinese["fields"]["amount"] == ["使用 alipay 单笔最多充值 ¥50000.00。"]
    assert _orders(world) == []
    assert world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": "50000.00"}).status_code == 201


def test_a_channels_own_limits_and_the_gateways_are_said_with_the_currency(make_app, sandbox):
    world = World(make_app(PANELPAY_MAX_AMOUNT="999999999999.99", PANELPAY_CURRENCY_SYMBOL="US$"), sandbox)
    alipay, epay = world.channels["alipay"]["uuid"], world.channels["epay"]["uuid"]
    # Alipay takes at most 100,000,000 for one payment, whatever the site allows.
    over = _refusal(world.alice.post("/payment/api/orders", json={"channel": alipay, "amount": "100000000.01"}))
    assert over["fields"]["amount"] == ["The largest top-up with alipay is US$100000000.00."]
    assert world.admin.patch(f"/payment/admin/api/channels/{epay}",
                             json={"min_amount": "5.00", "max_amount": "500.00"}).status_code == 200
    low = _refusal(world.alice.post("/payment/api/orders", json={"channel": epay, "amount": "4.99"}))
    assert low["fields"]["amount"] == ["The smallest top-up with epay is US$5.00."]
    high = _refusal(world.alice.post("/payment/api/orders", json={"channel": epay, "amount": "500.01"}))
    assert high["fields"]["amount"] == ["The largest top-up with epay is US$500.00."]
    assert _orders(world) == []

    page = world.alice.get("/payment/checkout").get_data(as_text=True)
    assert 'data-lowest="5.00" data-highest="500.00"' in page
    assert "US$5.00 to US$500.00" in page and "US$10.00</button>" in page


def test_the_checkout_shows_yuan_and_the_limits_it_enforces(world):
    page = world.alice.get("/payment/checkout").get_data(as_text=True)
    assert "¥10.00</button>" in page
    assert "¥0.01 to ¥50000.00" in page
    assert 'data-highest="50000.00"' in page


@pytest.mark.parametrize("value", ["0", "-1", "lots", "0.001"])
def test_a_bad_maximum_amount_setting_is_refused_at_startup(make_app, value):
    from panelpay.config import ConfigError

    with pytest.raises(ConfigError) as info:
        make_app(PANELPAY_MAX_AMOUNT=value)
    assert "PANELPAY_MAX_AMOUNT" in info.value.problems


def test_a_gateway_refusal_is_a_sentence_for_the_user_and_the_detail_for_the_operator(live):
    app, base = live
    state = app.extensions["panelpay"]
    admin = login(app, add_user(app, "admin", is_admin=True))
    alice = requests.Session()
    assert alice.post(f"{base}/_login/{add_user(app, 'alice')}").status_code == 200
    config = state.sandbox.channel_configs(base + "/payment/sandbox")["alipay_qr"] | {"app_id": "2021009999999999"}
    channel = create_channel(admin, "alipay", config, name="Alipay QR")

    refused = alice.post(f"{base}/payment/api/orders", json={"channel": channel["uuid"], "amount": "10.00"})
    assert refused.status_code == 502
    assert refused.json()["message"] == ("The payment gateway did not accept this top-up. Try another amount or "
                                         "payment method, or try again in a few minutes.")
    assert "isv" not in refused.text and "Alipay" not in refused.text  # nothing of the gateway's own words
    chinese = alice.post(f"{base}/payment/api/orders", json={"channel": channel["uuid"], "amount": "10.00"},
                         headers=ZH)
    assert chinese.status_code == 502 and chinese.json()["message"].startswith("支付网关未接受此次充值")

    orders = admin.get("/payment/admin/api/orders").get_json()["items"]
    assert [o["status"] for o in orders] == ["closed", "closed"]  # never left waiting for a payment
    assert all("gateway refused" in o["anomaly"] and "isv.invalid-app-id" in o["anomaly"] for o in orders)
    mine = alice.get(f"{base}/payment/api/orders").json()["items"]
    assert {o["status"] for o in mine} == {"closed"}
