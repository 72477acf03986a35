"""Issue 15's acceptance walk: at desktop (1280×900) and phone (390×844) width, in English and in Chinese, a
user tops up (checkout → the sandbox cashier → paid) and the operator reads the settings page, the delivery
log, the orders and a channel's form. On every page nothing spills out of its card (a table may scroll inside
it), the page never scrolls sideways, and a Chinese page holds no English sentence of PanelPay's or the
demo's: only values (order numbers, addresses, amounts, names the operator typed) and product names."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.demo_server import balance

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

#: What a Chinese page may show in Latin letters: values and names, never sentences (``merchant:1001`` is
#: the user of a gateway-mode order, which the demo's emulated panels make).
ALLOWED_LATIN = re.compile(
    r"https?://\S+|/\S*|\bPP[0-9A-Z]+\b|\bmerchant:\d+\b|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+\b|\b[a-z]+_[a-z_]+\b|\b\d{6,}\b|[\w.+-]+@[\w.-]+|"
    r"\b(?:PanelPay|EPay|Alipay|APPID|ID|pid|MD5|RSA2?|PEM|base64|PKCS#\d|SPKI|QR|HTTP|HTTPS|TLS|URL|API|mapi|submit|"
    r"wap|page|precreate|pc|mobile|qq|wechat|alipay|wxpay|qqpay|bank|jdpay|paypal|jump|sandbox|demo|alice|admin|"
    r"CNY|JSON|CSV|IP|UTC|Top-up|notify|v\d|GET|POST|PANELPAY_\w+|flask|panelpay|doctor|db|upgrade|"
    r"success|fail|TRADE_\w+|EN|ZH|English|"
    # gateway mode: the panels and the names of their settings fields, as the panels show them
    r"Xboard|New-API|PayMethods|PayAddress|EpayId|EpayKey|ServerAddress|CustomCallbackAddress|xboard|newapi)\b",
)

#: Names of channels other tests make (and may leave disabled, still named on their orders).
CHANNEL_NAMES = ["Alipay, mobile website (sandbox)", "Alipay, certificate mode (sandbox)"]

#: Finds what spills out of a card (outside any box that scrolls sideways), and whether the page does.
OVERFLOW = """() => {
  const spilled = [];
  for (const card of document.querySelectorAll('.pp-card')) {
    if (card.closest('[hidden]')) continue;
    const box = card.getBoundingClientRect();
    for (const node of card.querySelectorAll('*')) {
      const rect = node.getBoundingClientRect();
      if (!rect.width || !rect.height || node.closest('[hidden]')) continue;
      let scroller = false;
      for (let up = node.parentElement; up && up !== card; up = up.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) { scroller = true; break; }
      }
      if (!scroller && (rect.right > box.right + 1 || rect.left < box.left - 1)) {
        spilled.push(`${node.tagName.toLowerCase()}.${node.className}: ${(node.textContent || '').trim().slice(0, 40)}`);
      }
    }
  }
  return {spilled, sideways: document.documentElement.scrollWidth > window.innerWidth};
}"""


def _fits(page, where: str) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["spilled"] == [], f"{where}: {found['spilled'][:5]}"
    assert not found["sideways"], f"{where}: the page scrolls sideways"


def _chinese_only(page, where: str, names: list[str]) -> None:
    # A request as it arrived (headers, body) and what the operator typed are data, not the page's words.
    text = page.evaluate("""() => {
      const copy = document.body.cloneNode(true);
      copy.querySelectorAll('pre, code, .pp-mono, .pp-params, script, style').forEach(n => n.remove());
      document.body.appendChild(copy);
      copy.hidden = false;
      const seen = copy.innerText;
      copy.remove();
      return seen;
    }""")
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 20, f"{where}: not a Chinese page"
    for name in names:  # what the operator named the channels is theirs, in their words
        text = text.replace(name, " ")
    latin = ALLOWED_LATIN.sub(" ", text)
    words = sorted(set(re.findall(r"[A-Za-z]{3,}(?:[ '-][A-Za-z]+)*", latin)))
    assert words == [], f"{where}: English left on a Chinese page: {words[:20]}"


def typed_names(page) -> list[str]:
    """What the operator named: the channels, and the merchants when the page's user may see them."""
    base = page.url.split("/payment/")[0].split("/submit.php")[0]
    names = [channel["name"] for channel in page.context.request.get(base + "/payment/api/channels").json()]
    merchants = page.context.request.get(base + "/payment/admin/api/merchants")
    if merchants.ok:
        names += [merchant["name"] for merchant in merchants.json()]
    return sorted(names + CHANNEL_NAMES, key=len, reverse=True)


def _looked_at(page, locale: str, where: str) -> None:
    _fits(page, where)
    if locale == "zh-CN":
        _chinese_only(page, where, typed_names(page))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_a_top_up_and_the_operators_pages_at_every_width_in_both_languages(login, demo, locale, size):
    options = {"viewport": SIZES[size], "locale": locale}
    if size == "phone":
        options.update(is_mobile=True, has_touch=True)
    alice = login("alice", **options)
    before = balance(alice, demo.base_url)
    page = alice.new_page()
    page.goto(f"{demo.base_url}/payment/checkout")
    page.wait_for_function("() => document.querySelector('#pp-history-note').textContent || "
                           "document.querySelector('#pp-history-rows tr')")
    _looked_at(page, locale, "checkout")

    page.fill("#pp-amount", "0")
    expect(page.locator("#pp-amount-error")).to_be_visible()
    _looked_at(page, locale, "checkout, amount refused")
    page.fill("#pp-amount", "12.34")
    page.locator('input[name="channel"][data-name="EPay (sandbox)"]').check()
    expect(page.locator("#pp-sum-total")).to_have_text("¥12.34")
    page.click("#pp-pay")
    page.wait_for_url("**/payment/sandbox/**")
    page.click("#pay")
    page.wait_for_url("**/payment/orders/**")
    expect(page.locator('#pp-order-status [data-status="paid"]')).to_be_visible()
    _looked_at(page, locale, "order, paid")
    assert balance(alice, demo.base_url) - before == Decimal("12.34")

    operator = login("admin", **options).new_page()
    operator.goto(f"{demo.base_url}/payment/admin")
    operator.wait_for_selector("#pp-log-rows tr")
    operator.wait_for_selector("#pp-order-rows tr")
    _looked_at(operator, locale, "settings, log and orders")
    operator.locator("#pp-log-rows tr button").first.click()  # a delivery's details
    operator.wait_for_selector("#pp-log-rows .pp-details")
    _looked_at(operator, locale, "delivery details")
    operator.click("#pp-doctor-run")
    operator.wait_for_selector("#pp-doctor-results .pp-finding")
    _looked_at(operator, locale, "doctor")

    operator.goto(f"{demo.base_url}/payment/admin/channels/new?kind=alipay")
    operator.fill("#pp-f-name", "x")
    operator.fill("#pp-f-config-app_id", "2021000000000000")
    operator.fill("#pp-f-config-app_private_key", "not a key")
    operator.click("#pp-channel-form button[type=submit]")
    operator.wait_for_selector("#pp-channel-form .pp-error")
    _looked_at(operator, locale, "new channel, refused")
