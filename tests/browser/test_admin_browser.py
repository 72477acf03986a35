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
