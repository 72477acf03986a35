"""The channel form and its refusals (issue 15.8, 15.9): the settings are named by the form's labels in the
page's language, every problem is said in one round, fields that do not apply are marked so the page can
hide them, and the sandbox's credentials are offered only where the sandbox is mounted."""
from __future__ import annotations

import pytest

import re

from tests.conftest import add_user
from tests.support.gateway import login

#: What is said to a person does not depend on the database: one is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
ALIPAY_KEYS = ("app_private_key", "alipay_public_key", "app_cert", "alipay_cert", "alipay_root_cert")


def test_refused_settings_are_named_by_their_labels_in_both_languages(world):
    body = {"kind": "alipay", "name": "A", "config": {"gateway": "ftp://x", "app_id": "1", "app_private_key": "abc"}}
    english = world.admin.post("/payment/admin/api/channels", json=body).get_json()["fields"]
    assert english["config.app_private_key"][0].startswith("App private key is not an RSA private key")
    assert english["config.gateway"] == ["Gateway must be an http:// or https:// URL such as "
                                         "https://openapi.alipay.com/gateway.do."]
    mode = english["config.alipay_public_key"][0]
    assert mode.startswith("Neither mode is complete: fill Alipay public key (public-key mode; not the app public "
                           "key), or all of App public-key certificate (certificate mode), ")
    chinese = world.admin.post("/payment/admin/api/channels", json=body, headers=ZH).get_json()["fields"]
    assert chinese["config.app_private_key"][0].startswith("应用私钥：不是 RSA 私钥（PKCS#1 或 PKCS#8）。请粘贴")
    assert chinese["config.gateway"][0].startswith("网关地址 必须是 http:// 或 https:// 开头的地址")
    for said in [*english.values(), *chinese.values()]:
        assert not any(key in message for message in said for key in ALIPAY_KEYS), said


def test_a_bad_fee_and_a_bad_maximum_are_said_together(world):
    uuid = world.channels["epay"]["uuid"]
    fields = world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                               json={"fee_percent": "abc", "max_amount": "-3"}).get_json()["fields"]
    assert fields == {"fee_percent": ["Enter a percentage such as 1.5 (at most two decimals)."],
                      "max_amount": ["Must be at least 0.01."]}
    over = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"fee_percent": "101"}).get_json()
    assert over["fields"] == {"fee_percent": ["Must be 100 or less."]}


def test_the_epay_form_marks_the_fields_of_each_signing_mode(world):
    form = world.admin.get("/payment/admin/channels/new?kind=epay").get_data(as_text=True)
    marked = dict((key, values) for values, key in re.findall(r'data-when="config\.sign_type" data-when-values="(\w+)">\s*<label for="pp-f-config-(\w+)"',
                             form))
    assert marked == {"key": "MD5", "merchant_private_key": "RSA",
                                                 "platform_public_key": "RSA"}
    assert "channel-form.js" in form
    assert "pp-sandbox-offer" not in form  # no sandbox here


def test_without_the_sandbox_there_is_nothing_to_make_a_channel_from(world):
    answer = world.admin.post("/payment/admin/channels/sandbox", data={"variant": "epay"})
    assert answer.status_code == 404


def test_the_sandbox_offer_makes_a_working_channel_without_a_secret_in_the_page(make_app, sandbox):
    app = make_app(PANELPAY_SANDBOX=True)
    admin = login(app, add_user(app, "admin", is_admin=True))
    form = admin.get("/payment/admin/channels/new?kind=alipay").get_data(as_text=True)
    offered = re.findall(r'<option value="(\w+)">([^<]+)</option>', form.split('id="pp-sandbox-variant"')[1])
    assert [name for name, _ in offered][:4] == ["alipay", "alipay_wap", "alipay_qr", "alipay_cert"]
    state = app.extensions["panelpay"]
    assert state.sandbox.credentials.alipay_app_private_b64()[20:60] not in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    made = admin.post("/payment/admin/channels/sandbox",
                      data={"variant": "alipay_cert", **({"csrf_token": token.group(1)} if token else {})})
    assert made.status_code == 302
    page = admin.get(made.headers["Location"]).get_data(as_text=True)
    assert "was made with the sandbox&#39;s credentials" in page or "was made with the sandbox's credentials" in page
    channels = admin.get("/payment/admin/api/channels").get_json()
    assert [(c["kind"], c["name"]) for c in channels] == [("alipay", "Alipay, certificate mode (sandbox)")]
    alice = login(app, add_user(app, "alice"))
    assert alice.post("/payment/api/orders", json={"channel": channels[0]["uuid"], "amount": "1.00"}).status_code == 201
