"""Round trips over real HTTP through PanelPay's sandbox gateway, for every product: create the order,
pay at the cashier, the notification arrives and is verified, the query answers paid."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from panelpay.channels.base import PaymentStatus
from panelpay.store import channel_impl, get_channel
from tests.conftest import add_user
from tests.support.gateway import create_channel, login
from tests.support.servers import wait_for

PRODUCTS = ["epay", "epay_mapi", "epay_rsa", "alipay", "alipay_wap", "alipay_qr", "alipay_cert"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("product", PRODUCTS)
def test_pay_at_the_sandbox_cashier_and_get_credited(live, product):
    app, base = live
    state = app.extensions["panelpay"]
    admin = login(app, add_user(app, "admin", is_admin=True))
    alice_id = add_user(app, "alice")
    alice = requests.Session()
    assert alice.post(f"{base}/_login/{alice_id}").status_code == 200
    config = state.sandbox.channel_configs(base + "/payment/sandbox")[product]
    channel = create_channel(admin, state.sandbox.CHANNEL_KINDS[product], config, name=product)

    created = alice.post(f"{base}/payment/api/orders", json={"channel": channel["uuid"], "amount": "9.90"})
    assert created.status_code == 201, created.text
    order = created.json()
    pay = order["pay"]
    browser = requests.Session()
    if pay["method"] == "form":
        cashier = browser.post(pay["url"], data=pay["fields"])
    else:
        cashier = browser.get(pay["url"] if pay["method"] == "redirect" else pay["qr_code"])
    assert cashier.status_code == 200 and "9.90" in cashier.text, cashier.text[:500]

    with app.app_context():
        impl = channel_impl(state, get_channel(state, channel["uuid"]))
        assert impl.query(order["trade_no"]).status in (PaymentStatus.PENDING, PaymentStatus.NOT_FOUND)
    paid = requests.post(f"{base}/payment/sandbox/_pay/{order['trade_no']}")
    assert paid.status_code == 200, paid.text

    assert wait_for(lambda: alice.get(f"{base}/payment/api/orders/{order['trade_no']}").json()["status"] == "paid", 10.0)
    assert alice.get(f"{base}/payment/api/orders/{order['trade_no']}").json()["paid_at"]
    with app.app_context():
        report = impl.query(order["trade_no"])
        balance = app.db.session.get(app.User, alice_id).balance
    assert report.status is PaymentStatus.PAID and report.amount == Decimal("9.90")
    assert balance == Decimal("9.90")
    synced = alice.post(f"{base}/payment/api/orders/{order['trade_no']}/sync")
    assert synced.status_code == 200 and synced.json()["status"] == "paid"
    deliveries = requests.get(f"{base}/payment/sandbox/_deliveries/{order['trade_no']}").json()
    assert deliveries and deliveries_accepted(deliveries)


def deliveries_accepted(document) -> bool:
    items = document if isinstance(document, list) else document.get("deliveries", [])
    return any(d.get("accepted") for d in items)


def _setup(app, base, product):
    state = app.extensions["panelpay"]
    admin = login(app, add_user(app, "admin", is_admin=True))
    alice_id = add_user(app, "alice")
    alice = requests.Session()
    assert alice.post(f"{base}/_login/{alice_id}").status_code == 200
    config = state.sandbox.channel_configs(base + "/payment/sandbox")[product]
    channel = create_channel(admin, state.sandbox.CHANNEL_KINDS[product], config, name=product)
    return state, alice, alice_id, channel


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("product", ["epay", "alipay", "alipay_wap"])
def test_browser_return_settles_through_an_active_query_when_no_notification_arrives(live, product):
    import re

    app, base = live
    state, alice, alice_id, channel = _setup(app, base, product)
    state.sandbox.behaviour.drop = True
    order = alice.post(f"{base}/payment/api/orders", json={"channel": channel["uuid"], "amount": "5.00"}).json()
    cashier = alice.post(order["pay"]["url"], data=order["pay"]["fields"])
    action = re.search(r'action="([^"]*/pay)"', cashier.text).group(1).replace("&amp;", "&")
    back = alice.post(requests.compat.urljoin(cashier.url, action))
    assert back.url.endswith(f"/payment/orders/{order['trade_no']}"), back.url
    settled = alice.get(f"{base}/payment/api/orders/{order['trade_no']}").json()
    assert settled["status"] == "paid"
    with app.app_context():
        assert app.db.session.get(app.User, alice_id).balance == Decimal("5.00")
        from panelpay.orders import load_order

        assert load_order(state, order["trade_no"]).settled_by == "return"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_signed_alipay_return_alone_never_credits(live, signer):
    from urllib.parse import urlencode

    from panelpay.keys import load_private_key
    from panelpay.channels.signing import alipay_notify_content, rsa_sign

    app, base = live
    state, alice, alice_id, channel = _setup(app, base, "alipay")
    order = alice.post(f"{base}/payment/api/orders", json={"channel": channel["uuid"], "amount": "5.00"}).json()
    params = {"charset": "utf-8", "out_trade_no": order["trade_no"], "method": "alipay.trade.page.pay.return",
              "total_amount": "5.00", "trade_no": "2026112222000000000000000001", "auth_app_id": "2021000000000001",
              "version": "1.0", "app_id": "2021000000000001", "seller_id": "2088000000000001",
              "timestamp": "2026-11-22 12:00:00"}
    key = load_private_key(state.sandbox.credentials.alipay_private_pem)
    params["sign"] = rsa_sign(alipay_notify_content(params), key)
    params["sign_type"] = "RSA2"
    returns = f"{base}/payment/return/alipay/{channel['uuid']}/{order['trade_no']}"  # the order's return URL
    back = alice.get(f"{returns}?{urlencode(params)}")
    assert back.url.endswith(f"/payment/orders/{order['trade_no']}")
    assert alice.get(f"{base}/payment/api/orders/{order['trade_no']}").json()["status"] == "pending"
    forged = dict(params, total_amount="0.01")
    for refused in (alice.get(f"{returns}?{urlencode(forged)}", allow_redirects=False),
                    alice.get(returns, allow_redirects=False)):  # forged, or cancelled (unsigned)
        assert refused.status_code == 302 and refused.headers["Location"].endswith(f"/payment/orders/{order['trade_no']}")
    legacy = f"{base}/payment/return/alipay/{channel['uuid']}"  # issued before return URLs named the order
    assert alice.get(f"{legacy}?{urlencode(params)}").url.endswith(f"/payment/orders/{order['trade_no']}")
    cancelled = alice.get(legacy, allow_redirects=False)
    assert cancelled.status_code == 302 and cancelled.headers["Location"].endswith("/payment/checkout")
    with app.app_context():
        assert app.db.session.get(app.User, alice_id).balance == Decimal("0.00")
