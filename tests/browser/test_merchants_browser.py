"""Gateway mode in a real browser, at desktop and phone width, in English and Chinese: the operator adds a
merchant, sees its key and the Xboard/New-API settings once (gone after a reload), makes a new key, and tests
the panel's notify URL (a panel answering ``success``, and one whose address reaches a web page); a panel's
buyer goes from ``/submit.php`` through the choice of method to the cashier. Nothing spills out of its card,
the page never scrolls sideways, and a Chinese page holds no English sentence."""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from panelpay.channels.signing import epay_md5
from tests.browser.test_walkthrough import SIZES, _chinese_only, _fits, _looked_at, typed_names
from tests.support.servers import stand_in

pytestmark = pytest.mark.browser

SAID = {
    "en-US": {"ok": "answered success to a signed test notification", "html": "answered with a web page",
              "works": "Works", "fails": "Does not work", "warning": "shown only now", "need_name": "Give the merchant a name"},
    "zh-CN": {"ok": "测试通知应答了 success", "html": "面板应答了一个网页", "works": "连通", "fails": "不通",
              "warning": "只在此刻显示一次", "need_name": "请为商户填写"},
}


def _options(locale: str, size: str) -> dict:
    options = {"viewport": SIZES[size], "locale": locale}
    if size == "phone":
        options.update(is_mobile=True, has_touch=True)
    return options


def _shown_settings(page) -> dict:
    box = page.locator("#pp-merchant-key")
    return {field.get_attribute("data-setting"): field.input_value() for field in box.locator("input[data-setting]").all()}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_operator_adds_a_merchant_sees_its_key_once_and_tests_the_panel(login, demo, locale, size):
    said = SAID[locale]
    context = login("admin", **_options(locale, size))
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    with stand_in(200, b"success") as panel, stand_in(200, b"<!doctype html><title>Panel</title>",
                                                        Content_Type="text/html") as front:
        page.goto(f"{demo.base_url}/payment/admin#merchants")
        page.click("#pp-merchant-add")  # nothing typed: said beside the name, the server not asked
        expect(page.locator("#pp-m-name-error")).to_contain_text(said["need_name"])
        name = f"Panel {locale} {size}"
        page.fill("#pp-m-name", name)
        page.fill("#pp-m-notify", f"{urlsplit(panel).netloc}, {urlsplit(front).netloc}")
        page.fill("#pp-m-return", "panel.example.com")
        page.locator("#pp-m-channels input").first.check()
        page.click("#pp-merchant-add")

        box = page.locator("#pp-merchant-key")
        expect(box).to_be_visible()
        expect(page.locator("#pp-key-warning")).to_contain_text(said["warning"])
        shown = _shown_settings(page)
        key = shown["xboard.key"]
        assert len(key) == 32 and shown["newapi.EpayKey"] == key
        assert shown["xboard.url"] == shown["newapi.PayAddress"] == demo.base_url
        pid = shown["xboard.pid"]
        assert shown["newapi.EpayId"] == pid and pid.isdigit()
        item = page.locator(f'.pp-merchant[data-pid="{pid}"]')
        expect(item).to_contain_text(urlsplit(panel).netloc)
        assert page.input_value("#pp-m-name") == ""  # the form is ready for the next one
        _looked_at(page, locale, "merchant added, key shown")

        page.reload()  # the key was shown once: it is nowhere now
        item.wait_for()
        expect(box).to_be_hidden()
        assert key not in page.content()
        listed = context.request.get(f"{demo.base_url}/payment/admin/api/merchants/{pid}").json()
        assert "key" not in listed and listed["settings"]["xboard"]["key"] == "KEY"

        item.locator('[data-action="new-key"]').click()  # asked first, then the new key shown once
        expect(box).to_be_visible()
        assert len(dialogs) == 1 and name in dialogs[0]
        again = _shown_settings(page)
        assert len(again["xboard.key"]) == 32 and again["xboard.key"] != key and again["newapi.EpayKey"] == again["xboard.key"]
        page.click("#pp-key-hide")
        expect(box).to_be_hidden()

        item.locator('[data-action="test"]').click()
        test = item.locator(".pp-merchant-test")
        test.locator("input[name=notify_url]").fill(panel + "/api/user/epay/notify")
        test.locator("button[type=submit]").click()
        result = test.locator(".pp-probe")
        expect(result).to_have_class("pp-probe pp-level-ok")
        expect(result).to_contain_text(said["works"])
        expect(result).to_contain_text(said["ok"])

        test.locator("input[name=notify_url]").fill(front + "/api/user/epay/notify")
        test.locator("button[type=submit]").click()
        expect(result).to_have_class("pp-probe pp-level-error")
        expect(result).to_contain_text(said["fails"])
        expect(result).to_contain_text(said["html"])

        item.locator('[data-action="edit"]').click()  # a host that is not one is refused beside its field
        edit = item.locator(".pp-merchant-edit")
        edit.locator("input[name=return_hosts]").fill("panel_example")
        edit.locator("button[type=submit]").click()
        expect(edit.locator('[data-field="return_hosts"] .pp-error')).to_contain_text("panel_example")
        page.click("#pp-deliver-now")
        expect(page.locator("#pp-deliveries-notice")).to_be_visible()
        _looked_at(page, locale, "merchant tested, edit refused")
    # The merchants of this test take no payments once it is over.
    context.request.patch(f"{demo.base_url}/payment/admin/api/merchants/{pid}", data={"enabled": False})


ITEM = "SUB:Pro (monthly)"


def _buyer_looked_at(page, locale: str, where: str) -> None:
    """As _looked_at, with what the panel sent (its name, the item) counted as data too."""
    _fits(page, where)
    if locale == "zh-CN":
        _chinese_only(page, where, ["Shop", ITEM] + typed_names(page))


def _submit_url(base_url: str, merchant: dict, out_trade_no: str, notify_url: str) -> str:
    params = {"pid": merchant["pid"], "out_trade_no": out_trade_no, "money": "9.9", "name": ITEM,
              "notify_url": notify_url, "return_url": "http://127.0.0.1/#/order/" + out_trade_no}
    params["sign"] = epay_md5(params, merchant["key"])
    params["sign_type"] = "MD5"
    return f"{base_url}/submit.php?{urlencode(params)}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_a_panels_buyer_chooses_a_method_and_pays_at_the_cashier(login, demo, locale, size):
    admin = login("admin")
    with stand_in(200, b"success") as panel:
        created = admin.request.post(f"{demo.base_url}/payment/admin/api/merchants", data={
            "name": "Shop", "notify_hosts": [urlsplit(panel).netloc], "return_hosts": ["127.0.0.1"]})
        assert created.status == 201, created.text()
        merchant = created.json()
        try:
            page = login("alice", **_options(locale, size)).new_page()
            number = f"{abs(hash((locale, size))) % 10**12:012d}{len(locale)}{size[0]}"
            page.goto(_submit_url(demo.base_url, merchant, "PPT" + number, panel + "/api/user/epay/notify"))
            expect(page.locator("#pp-choose-pay")).to_contain_text("9.90")
            assert page.locator("input[name=panelpay_channel]").count() >= 2
            _buyer_looked_at(page, locale, "the buyer's choice of method")

            page.locator(".pp-channel", has_text="Alipay QR").locator("input").check()
            page.click("#pp-choose-pay")
            page.wait_for_url("**/epay/pay/**")
            expect(page.locator("#pp-qr svg")).to_be_visible()
            _buyer_looked_at(page, locale, "the cashier, waiting")
            if size == "phone":  # paying once per language is enough; the page turns paid by itself
                trade_no = page.url.split("/pay/")[1].split("/")[0]
                assert requests.post(f"{demo.base_url}/payment/sandbox/_pay/{trade_no}", timeout=10).ok
                expect(page.locator("#pp-paid-note")).to_be_visible(timeout=10000)
                expect(page.locator("#pp-back")).to_contain_text("Shop")
                _buyer_looked_at(page, locale, "the cashier, paid")
        finally:
            admin.request.patch(f"{demo.base_url}/payment/admin/api/merchants/{merchant['pid']}",
                                data={"enabled": False})
