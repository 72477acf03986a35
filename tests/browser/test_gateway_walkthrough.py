"""Gateway mode as a newcomer clicks it in the demo (1280×900): from the demo's home page to the emulated
Xboard, Buy a plan, choose PanelPay's EPay channel, continue to the sandbox cashier, Pay, see PanelPay's
cashier say Paid, go back to the panel, and see the order completed (已完成); the operator's deliveries list
shows the notification delivered."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_plan_bought_in_the_emulated_xboard_is_paid_at_panelpays_cashier(login, demo):
    started = time.monotonic()
    alice = login("alice", viewport={"width": 1280, "height": 900})
    page = alice.new_page()
    page.goto(f"{demo.base_url}/")
    page.click("#demo-xboard")
    page.wait_for_url("**/xboard/")
    page.locator("form:has(input[name=plan_id][value='1']) button").click()

    page.wait_for_url("**/submit.php?**")  # PanelPay: two channels take it, the buyer chooses
    expect(page.locator("#pp-choose-title")).to_have_text("Choose how to pay")
    page.locator("label.pp-channel", has_text="EPay (sandbox)").locator("input").check()
    page.click("#pp-choose-pay")

    page.wait_for_url("**/payment/epay/pay/**")  # PanelPay's cashier for the panel's order
    expect(page.locator('#pp-order-status [data-status="pending"]')).to_be_visible()
    cashier = page.url
    page.click("#pp-continue")
    page.wait_for_url("**/payment/sandbox/**")
    page.click("#pay")

    page.wait_for_url(cashier.split("?")[0] + "**")
    expect(page.locator('#pp-order-status [data-status="paid"]')).to_be_visible()
    expect(page.locator("#pp-paid-note")).to_be_visible()
    page.click("#pp-back")  # (the page also goes back by itself after 3 seconds)
    page.wait_for_url("**/xboard/?**")
    out_trade_no = parse_qs(urlsplit(page.url).query)["out_trade_no"][0]
    row = page.locator("tr", has_text=out_trade_no)
    for _ in range(50):  # the panel is told just after the cashier says Paid: reload as a person would
        if "已完成" in row.inner_text():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(row).to_contain_text("已完成 (completed)")

    operator = login("admin")
    deliveries = operator.request.get(f"{demo.base_url}/payment/admin/api/deliveries").json()["items"]
    mine = [d for d in deliveries if d["out_trade_no"] == out_trade_no]
    assert [(d["status"], d["attempts"]) for d in mine] == [("delivered", 1)], mine
    assert time.monotonic() - started < 15
