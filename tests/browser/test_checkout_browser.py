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
    assert page.inner_text("#pp-sum-total") == "¥10.00"

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
    assert page.inner_text("#pp-sum-total") == "¥0.01"

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


def test_the_amount_is_explained_as_it_is_typed_before_pay(login, demo):
    admin = login("admin")
    channels = admin.request.get(f"{demo.base_url}/payment/admin/api/channels").json()
    epay = next(c for c in channels if c["kind"] == "epay")
    url = f"{demo.base_url}/payment/admin/api/channels/{epay['uuid']}"
    assert admin.request.patch(url, data={"max_amount": "500.00"}).ok
    try:
        page = login("alice").new_page()
        page.goto(f"{demo.base_url}/payment/checkout")
        page.get_by_label("EPay (sandbox)").check()
        error = page.locator("#pp-amount-error")
        for typed, said in [("0", "The amount must be more than 0.00."),
                            ("-5", "The amount must be more than 0.00."),
                            ("0.001", "Use at most two decimals, such as 10.50."),
                            ("99999999999999999999", "The largest top-up with EPay (sandbox) is ¥500.00."),
                            ("600", "The largest top-up with EPay (sandbox) is ¥500.00."),
                            ("", "Enter the amount to top up.")]:
            page.fill("#pp-amount", typed)
            expect(error).to_have_text(said)  # as typed, before Pay
        page.fill("#pp-amount", "600")
        page.click("#pp-pay")
        expect(error).to_have_text("The largest top-up with EPay (sandbox) is ¥500.00.")
        assert page.url.endswith("/payment/checkout")  # nothing was sent
        page.fill("#pp-amount", "500")
        expect(error).to_be_hidden()
        assert page.inner_text("#pp-sum-total") == "¥500.00"

        chinese = login("alice", locale="zh-CN").new_page()
        chinese.goto(f"{demo.base_url}/payment/checkout")
        chinese.locator('input[name="channel"][data-name="EPay (sandbox)"]').check()
        chinese.fill("#pp-amount", "600")
        expect(chinese.locator("#pp-amount-error")).to_have_text("使用 EPay (sandbox) 单笔最多充值 ¥500.00。")
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
