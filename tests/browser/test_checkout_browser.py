"""A user tops up in a real browser: EPay's submit form and Alipay's QR code, each through the sandbox
cashier, and the balance rises by exactly the amount."""
from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.demo_server import balance

pytestmark = pytest.mark.browser


def _same_machine_only(context, base_url: str) -> list[str]:
    """Collect every URL the pages load from anywhere but the demo server (there must be none)."""
    foreign: list[str] = []
    origin = urlsplit(base_url).netloc

    def seen(request):
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.netloc != origin:
            foreign.append(request.url)

    context.on("request", seen)
    return foreign


def test_epay_topup_of_10_through_the_sandbox_cashier(login, demo):
    context = login("alice")
    foreign = _same_machine_only(context, demo.base_url)
    before = balance(context, demo.base_url)
    page = context.new_page()
    page.goto(f"{demo.base_url}/payment/checkout")
    page.click('.pp-chip[data-amount="10.00"]')
    page.get_by_label("EPay (sandbox)").check()
    assert page.inner_text("#pp-sum-total") == "10.00"

    page.click("#pp-pay")
    page.wait_for_url("**/payment/sandbox/**")  # the auto-submitted form reached the gateway's cashier
    page.click("#pay")
    page.wait_for_url("**/payment/orders/**")
    expect(page.locator('#pp-order-status [data-status="paid"]')).to_be_visible()

    after = balance(context, demo.base_url)
    assert after - before == Decimal("10.00")
    expect(page.locator("#balance")).to_have_text(str(after))  # the host layout's balance, re-rendered
    assert foreign == []


def test_alipay_qr_topup_of_001_turns_paid_by_polling(login, demo):
    context = login("alice")
    foreign = _same_machine_only(context, demo.base_url)
    before = balance(context, demo.base_url)
    page = context.new_page()
    page.goto(f"{demo.base_url}/payment/checkout")
    page.fill("#pp-amount", "0.01")
    page.get_by_label("Alipay QR (sandbox)").check()
    assert page.inner_text("#pp-sum-total") == "0.01"

    page.click("#pp-pay")
    page.wait_for_url("**/payment/orders/**")
    assert page.locator("#pp-qr svg path").count() >= 1  # drawn by the server, inline
    assert page.locator("#pp-qr img").count() == 0
    assert "Expires in" in page.inner_text("#pp-countdown")

    page.click("#pp-sync")  # "I have paid" before paying: the gateway's answer is shown, nothing credited
    expect(page.locator("#pp-sync-result")).not_to_have_text(re.compile(r"^$|Asking"))
    assert page.locator('#pp-order-status [data-status="pending"]').count() == 1

    with context.expect_page() as opened:
        page.click("#pp-cashier-link")
    cashier = opened.value
    cashier.wait_for_load_state()
    cashier.click("#pay")

    # Polling sees the payment and reloads the page once, so the host layout shows the new balance.
    expect(page.locator('#pp-order-status [data-status="paid"]')).to_be_visible(timeout=20000)
    after = balance(context, demo.base_url)
    assert after - before == Decimal("0.01")
    expect(page.locator("#balance")).to_have_text(str(after))
    expect(page.locator("#pp-qr")).to_have_count(0)
    assert foreign == []


def test_the_servers_limit_message_is_shown_beside_the_amount(login, demo):
    admin = login("admin")
    channels = admin.request.get(f"{demo.base_url}/payment/admin/api/channels").json()
    epay = next(c for c in channels if c["kind"] == "epay")
    url = f"{demo.base_url}/payment/admin/api/channels/{epay['uuid']}"
    assert admin.request.patch(url, data={"max_amount": "500.00"}).ok
    try:
        page = login("alice").new_page()
        page.goto(f"{demo.base_url}/payment/checkout")
        page.fill("#pp-amount", "0.001")
        page.click("#pp-pay")
        assert page.locator("#pp-amount-error").is_visible()  # more than two decimals: not even sent

        page.fill("#pp-amount", "600")
        page.get_by_label("EPay (sandbox)").check()
        page.click("#pp-pay")
        page.wait_for_selector("#pp-amount-error:not([hidden])")
        assert "500.00" in page.inner_text("#pp-amount-error")  # the server's own words
        assert page.url.endswith("/payment/checkout")
    finally:
        admin.request.patch(url, data={"max_amount": None})


def test_an_order_page_is_only_for_its_owner(login, demo):
    alice = login("alice")
    channel = alice.request.get(f"{demo.base_url}/payment/api/channels").json()[0]["uuid"]
    order = alice.request.post(f"{demo.base_url}/payment/api/orders",
                               data={"channel": channel, "amount": "1.00"}).json()
    admin = login("admin")
    response = admin.new_page().goto(f"{demo.base_url}/payment/orders/{order['trade_no']}")
    assert response.status == 404
    response = alice.new_page().goto(f"{demo.base_url}/payment/orders/{order['trade_no']}")
    assert response.status == 200


def test_checkout_fits_a_phone(login, demo):
    context = login("alice", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{demo.base_url}/payment/checkout")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    fields = 'input:not([type="radio"]):not([type="checkbox"]):not([type="hidden"]), select, textarea'
    sizes = page.eval_on_selector_all(fields,
                                      "nodes => nodes.map(n => parseFloat(getComputedStyle(n).fontSize))")
    assert sizes and min(sizes) >= 16  # smaller text makes phones zoom in on focus
