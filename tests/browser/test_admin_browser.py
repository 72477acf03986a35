"""The operator's settings page in a real browser: the callback domain checked as typed, saved and
cleared; the delivery log showing a hostile notification as text; the page in Chinese."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _settings(context, base_url: str) -> dict:
    return context.request.get(f"{base_url}/payment/admin/api/settings").json()


def test_callback_domain_error_then_preview_save_and_clear(login, demo):
    context = login("admin")
    page = context.new_page()
    page.goto(f"{demo.base_url}/payment/admin")
    urls = page.locator("#pp-urls .pp-notify-url")
    default = f"{demo.base_url}/payment/notify/"
    assert urls.first.inner_text().startswith(default)
    try:
        page.fill("#pp-domain", "https://pay.example.com/api/notify")
        page.wait_for_selector("#pp-domain-error:not([hidden])")  # checked live, debounced
        assert "without a path" in page.inner_text("#pp-domain-error")
        page.click("#pp-domain-save")  # the save is refused too, and the previous value stays
        expect(page.locator("#pp-domain-error")).to_contain_text("https://pay.example.com")
        assert _settings(context, demo.base_url)["callback_domain"] is None

        page.fill("#pp-domain", "pay.example.com")
        page.wait_for_selector("#pp-domain-error", state="hidden")
        expect(urls.first).to_have_text(re.compile(r"^https://pay\.example\.com/payment/notify/"))
        assert page.locator("#pp-preview-tag").is_visible()
        page.click("#pp-domain-save")
        page.wait_for_selector("#pp-preview-tag", state="hidden")
        assert "https://pay.example.com" in page.inner_text("#pp-domain-saved")
        assert _settings(context, demo.base_url)["callback_domain"] == "https://pay.example.com"
        for text in urls.all_inner_texts():
            assert text.startswith("https://pay.example.com/payment/notify/")

        page.click("#pp-domain-clear")
        expect(urls.first).to_have_text(re.compile("^" + re.escape(default)))
        assert page.input_value("#pp-domain") == ""
        assert _settings(context, demo.base_url)["callback_domain"] is None
        page.reload()
        assert urls.first.inner_text().startswith(default)
    finally:
        context.request.put(f"{demo.base_url}/payment/admin/api/settings", data={"callback_domain": None})


def test_a_notification_carrying_script_is_shown_as_text(login, demo):
    context = login("admin")
    channels = context.request.get(f"{demo.base_url}/payment/admin/api/channels").json()
    channel = next(c for c in channels if c["kind"] == "epay")
    hostile = "<script>alert(1)</script>"
    response = context.request.get(
        f"{demo.base_url}/payment/notify/epay/{channel['uuid']}?out_trade_no={quote(hostile)}&sign=x")
    assert response.status == 400 and response.text() == "fail"  # recorded, then rejected
    log = context.request.get(f"{demo.base_url}/payment/admin/api/notifications",
                              params={"channel": channel["uuid"], "verdict": "rejected"}).json()
    recorded = log["items"][0]["id"]

    page = context.new_page()
    page.add_init_script("window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{demo.base_url}/payment/admin#log")
    page.select_option("#pp-log-filters select[name=channel]", channel["uuid"])
    page.select_option("#pp-log-filters select[name=verdict]", "rejected")
    row = page.locator(f'#pp-log-rows tr[data-id="{recorded}"]')
    row.wait_for()
    assert row.locator(".pp-verdict").inner_text() == "rejected"
    row.get_by_role("button", name="Details").click()
    details = page.locator("#pp-log-rows .pp-detail-row:visible")
    assert hostile in details.inner_text()  # the decoded parameter, as text
    assert details.locator("table.pp-params td", has_text=hostile).count() == 1

    details.get_by_role("button", name="Replay").click()  # re-judged: rejected again, shown as text
    notice = page.locator("#pp-log-notice")
    expect(notice).to_contain_text("rejected")  # and the list is loaded again, the copy on top
    expect(page.locator("#pp-log-rows tr").first).to_contain_text(hostile[:10])

    assert page.locator("#log script").count() == 0
    assert page.evaluate("window.__alerts") == [] and dialogs == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.inner_html("#pp-log-rows")


def test_the_doctor_reports_its_findings(login, demo):
    page = login("admin").new_page()
    page.goto(f"{demo.base_url}/payment/admin#doctor")
    page.click("#pp-doctor-run")
    page.wait_for_selector("#pp-doctor-results .pp-finding")
    summary = page.locator("#pp-doctor-summary")
    assert summary.get_attribute("class").split()[-1] in ("pp-ok", "pp-bad")
    levels = page.eval_on_selector_all("#pp-doctor-results .pp-finding", "nodes => nodes.map(n => n.className)")
    assert all(any(f"pp-level-{level}" in c for level in ("error", "warning", "info", "ok")) for c in levels)


def test_the_settings_page_in_chinese(login, demo):
    context = login("admin", locale="zh-CN")  # no language chosen in the panel: the browser's decides
    page = context.new_page()
    page.goto(f"{demo.base_url}/payment/admin")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("#pp-channels-title") == "支付通道"
    assert page.inner_text("label[for=pp-domain]") == "回调域名（可选）"  # the manifest's label
    page.wait_for_selector("#pp-log-pager span")
    assert "共" in page.inner_text("#pp-log-pager span")  # a script string, translated too

    page.locator(".pp-channel-item", has_text="EPay (sandbox)").get_by_role("link", name="编辑").click()
    assert page.inner_text("label[for=pp-f-name]").startswith("显示名称")
    assert page.get_attribute("#pp-f-config-key", "placeholder") == "已保存 — 留空则保持不变"

    # The host's own language setting wins over the browser's.
    page.goto(f"{demo.base_url}/lang/en")
    page.goto(f"{demo.base_url}/payment/admin")
    assert page.inner_text("#pp-channels-title") == "Channels"


def test_the_settings_page_is_for_admins_only(login, demo):
    page = login("alice").new_page()
    response = page.goto(f"{demo.base_url}/payment/admin")
    assert response.status == 403
    assert page.locator("#pp-domain").count() == 0


def test_a_callback_domain_with_errors_is_saved_only_when_the_admin_confirms(login, demo):
    """In the demo the sandbox gateways answer on the site's own address: that address is no error, so it
    saves at once; a private address that a public gateway cannot reach is an error and needs a yes."""
    context = login("admin")
    channels = context.request.get(f"{demo.base_url}/payment/admin/api/channels").json()
    epay = next(c for c in channels if c["kind"] == "epay")
    own = demo.base_url
    page = context.new_page()
    answers, agree = [], [False]
    page.on("dialog", lambda dialog: (answers.append(dialog.message),
                                      dialog.accept() if agree[0] else dialog.dismiss()))
    page.goto(f"{demo.base_url}/payment/admin")
    try:
        page.fill("#pp-domain", own)
        page.click("#pp-domain-save")
        expect(page.locator("#pp-domain-saved")).to_have_text(f"Saved: {own}")
        assert answers == [] and _settings(context, demo.base_url)["callback_domain"] == own
        assert "error" not in {c["level"] for c in _settings(context, demo.base_url)["conflicts"]}

        moved = context.request.patch(f"{demo.base_url}/payment/admin/api/channels/{epay['uuid']}",
                                      data={"config": {"gateway": "https://pay.example.net/", "key": "k" * 32}})
        assert moved.ok, moved.text()
        page.reload()
        page.fill("#pp-domain", "http://10.0.0.5")
        page.click("#pp-domain-save")
        page.wait_for_timeout(500)
        assert len(answers) == 1 and "Save it anyway?" in answers[0]  # dismissed: not saved
        assert _settings(context, demo.base_url)["callback_domain"] == own
        agree[0] = True
        page.click("#pp-domain-save")
        expect(page.locator("#pp-domain-saved")).to_have_text("Saved: http://10.0.0.5")
        assert len(answers) == 2 and _settings(context, demo.base_url)["callback_domain"] == "http://10.0.0.5"
    finally:
        context.request.put(f"{demo.base_url}/payment/admin/api/settings", data={"callback_domain": None})
        restored = demo.app.extensions["panelpay"].sandbox.channel_configs(demo.base_url + "/payment/sandbox")["epay"]
        context.request.patch(f"{demo.base_url}/payment/admin/api/channels/{epay['uuid']}",
                              data={"config": restored})


@pytest.mark.parametrize("locale, rsa_label, labelled, made", [
    ("en", "Merchant private key (RSA)", "RSA signing needs", "was made with the sandbox's credentials"),
    ("zh-CN", "商户私钥 (RSA)", "RSA 签名需要填写商户私钥 (RSA)", "已用沙箱的凭据创建"),
])
def test_the_channel_form_speaks_in_labels_shows_what_applies_and_offers_the_sandbox(login, demo, locale, rsa_label,
                                                                                   labelled, made):
    context = login("admin", locale=locale, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{demo.base_url}/payment/admin/channels/new?kind=epay")
    rsa_key = page.locator(".pp-field", has=page.locator("#pp-f-config-merchant_private_key"))
    md5_key = page.locator(".pp-field", has=page.locator("#pp-f-config-key"))
    expect(rsa_key).to_be_hidden()  # MD5 signing: the RSA keys do not apply
    expect(md5_key).to_be_visible()
    page.select_option("#pp-f-config-sign_type", "RSA")
    expect(rsa_key).to_be_visible()
    expect(md5_key).to_be_hidden()
    assert page.inner_text("label[for=pp-f-config-merchant_private_key]").startswith(rsa_label)

    page.fill("#pp-f-name", "Broken")
    page.fill("#pp-f-config-gateway", "https://pay.example.net/")
    page.fill("#pp-f-config-pid", "1001")
    page.fill("#pp-f-fee_percent", "abc")
    page.fill("#pp-f-max_amount", "-3")
    page.click("#pp-channel-form button[type=submit]")
    errors = page.locator("#pp-channel-form .pp-error")
    expect(errors.first).to_be_visible()
    said = " ".join(errors.all_inner_texts())
    assert "merchant_private_key" not in said and "platform_public_key" not in said
    if locale == "en":
        assert "Merchant private key (RSA) is required for RSA signing" in said
        assert "Enter a percentage such as 1.5" in said and "Must be at least 0.01." in said  # all at once
    else:
        assert "RSA 签名需要填写商户私钥 (RSA)" in said and "请输入百分比" in said and "至少为 0.01" in said
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.goto(f"{demo.base_url}/payment/admin/channels/new?kind=alipay")
    page.select_option("#pp-sandbox-variant", "alipay_wap")
    page.click("#pp-sandbox-offer button")
    expect(page.locator(".pp-alert[role=status]")).to_contain_text(made)
    uuid = page.url.rsplit("/", 1)[-1]
    try:
        page.fill("#pp-f-fee_percent", "1.5")
        page.click("#pp-channel-form button[type=submit]")  # saved: said on the settings page it returns to
        expect(page.locator(".pp-alert[role=status]")).to_contain_text(
            "was saved" if locale == "en" else "已保存")
        alice = login("alice")
        order = alice.request.post(f"{demo.base_url}/payment/api/orders", data={"channel": uuid, "amount": "1.00"})
        assert order.status == 201  # the sandbox's credentials work as they are
    finally:
        context.request.delete(f"{demo.base_url}/payment/admin/api/channels/{uuid}")
