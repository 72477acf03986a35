"""Screenshots of the checkout, the order page (QR), the settings page, the merchant card of gateway mode
(with the settings shown after creating a merchant) and a panel buyer's cashier, for the README.

    .venv/bin/python -m tests.browser.screenshots [OUTPUT_DIR]     # default: docs/screenshots

Runs its own demo panel (fresh data) and Debian's Chromium; a test runs it into a temporary folder so it
keeps working.
"""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import expect

from panelpay.channels.signing import epay_md5

from tests.browser.demo_server import launch_chromium, logged_in_context, start_demo

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _topup(page, base_url: str, amount: str, channel: str) -> None:
    page.goto(f"{base_url}/payment/checkout")
    page.fill("#pp-amount", amount)
    page.get_by_label(channel).check()
    page.click("#pp-pay")


def take_screenshots(browser, base_url: str, output: Path) -> list[Path]:
    """Write checkout.png, order-qr.png, settings.png, merchant.png and cashier.png into ``output``; returns
    their paths."""
    output.mkdir(parents=True, exist_ok=True)
    admin = logged_in_context(browser, base_url, "admin")
    alice = logged_in_context(browser, base_url, "alice")
    channels = admin.request.get(f"{base_url}/payment/admin/api/channels").json()
    alipay = next(c for c in channels if c["kind"] == "alipay")
    alipay_url = f"{base_url}/payment/admin/api/channels/{alipay['uuid']}"
    try:
        admin.request.patch(alipay_url, data={"fee_percent": "0.60"})  # a fee, to show it computed

        page = alice.new_page()
        _topup(page, base_url, "10.00", "EPay (sandbox)")  # a paid top-up for the history
        page.wait_for_url("**/payment/sandbox/**")
        page.click("#pay")
        page.wait_for_url("**/payment/orders/**")

        page.goto(f"{base_url}/payment/checkout")
        page.click('.pp-chip[data-amount="30.00"]')
        page.get_by_label("Alipay QR (sandbox)").check()
        page.wait_for_selector("#pp-history-rows tr")
        shots = [output / "checkout.png", output / "order-qr.png", output / "settings.png"]
        page.screenshot(path=shots[0], full_page=True)

        page.click("#pp-pay")
        page.wait_for_url("**/payment/orders/**")
        expect(page.locator("#pp-countdown")).not_to_have_text("")
        page.screenshot(path=shots[1], full_page=True)

        settings = admin.new_page()
        settings.set_viewport_size({"width": 1100, "height": 1500})
        settings.goto(f"{base_url}/payment/admin")
        settings.fill("#pp-domain", "http://pay.example.com:8080")  # a live preview with its conflicts
        settings.wait_for_selector("#pp-preview-tag:not([hidden])")
        settings.screenshot(path=shots[2])
        shots += _gateway_mode(admin, base_url, output)
        return shots
    finally:
        admin.request.patch(alipay_url, data={"fee_percent": alipay["fee_percent"]})
        alice.close()
        admin.close()


def _gateway_mode(admin, base_url: str, output: Path) -> list[Path]:
    """The merchant card right after adding a panel (its key and the settings to paste), and the cashier a
    buyer of that panel lands on."""
    shots = [output / "merchant.png", output / "cashier.png"]
    page = admin.new_page()
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(f"{base_url}/payment/admin#merchants")
    page.fill("#pp-m-name", "My Xboard")
    page.fill("#pp-m-notify", "panel.example.com")
    page.fill("#pp-m-return", "panel.example.com")
    page.click("#pp-merchant-add")
    page.wait_for_selector("#pp-merchant-key:not([hidden])")
    pid = page.input_value('[data-setting="xboard.pid"]')
    key = page.input_value('[data-setting="xboard.key"]')
    page.locator("#merchants").screenshot(path=shots[0])

    out_trade_no = "2026120612000012345612345"  # as Xboard numbers its orders
    params = {"pid": pid, "out_trade_no": out_trade_no, "money": "30", "name": out_trade_no,
              "notify_url": "https://panel.example.com/api/v1/guest/payment/notify/EPay/6f1c2a",
              "return_url": f"https://panel.example.com/#/order/{out_trade_no}", "type": "alipay"}
    params["sign"] = epay_md5(params, key)
    params["sign_type"] = "MD5"
    buyer = admin.browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
    try:
        cashier = buyer.new_page()
        cashier.goto(f"{base_url}/submit.php?{urlencode(params)}")
        if cashier.locator("#pp-choose-pay").count():  # more than one channel takes alipay: take the QR
            cashier.locator(".pp-channel", has_text="QR").locator("input").check()
            cashier.click("#pp-choose-pay")
        cashier.wait_for_url("**/epay/pay/**")
        cashier.screenshot(path=shots[1], full_page=True)
    finally:
        buyer.close()
    return shots


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    server = start_demo()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                for path in take_screenshots(browser, server.base_url, output):
                    print(path)
            finally:
                browser.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
