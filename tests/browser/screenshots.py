"""Screenshots of the checkout, the order page (QR) and the settings page, for the README.

    .venv/bin/python -m tests.browser.screenshots [OUTPUT_DIR]     # default: docs/screenshots

Runs its own demo panel (fresh data) and Debian's Chromium; a test runs it into a temporary folder so it
keeps working.
"""
from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.demo_server import launch_chromium, logged_in_context, start_demo

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _topup(page, base_url: str, amount: str, channel: str) -> None:
    page.goto(f"{base_url}/payment/checkout")
    page.fill("#pp-amount", amount)
    page.get_by_label(channel).check()
    page.click("#pp-pay")


def take_screenshots(browser, base_url: str, output: Path) -> list[Path]:
    """Write checkout.png, order-qr.png and settings.png into ``output``; returns their paths."""
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
        return shots
    finally:
        admin.request.patch(alipay_url, data={"fee_percent": alipay["fee_percent"]})
        alice.close()
        admin.close()


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
