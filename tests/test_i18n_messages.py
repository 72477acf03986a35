"""The admin API answers in the page's language: callback-domain errors, conflict findings and doctor
findings are Chinese for a zh-CN request (Accept-Language or the host's locale hook) and English
otherwise; outside a request (the CLI) they stay English."""
from __future__ import annotations

import pytest
from flask import request

from panelpay.callback import DomainError, normalise_domain
from tests.conftest import World
from tests.support.servers import stand_in

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
PATHFUL = "https://pay.example.com/api/notify"


def _field_message(response) -> str:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "invalid"
    return body["fields"]["callback_domain"][0]


def test_a_refused_callback_domain_is_explained_in_the_pages_language(world):
    put = world.admin.put
    chinese = _field_message(put("/payment/admin/api/settings", json={"callback_domain": PATHFUL}, headers=ZH))
    assert "只需填写协议和主机名，不要带路径" in chinese
    assert "其中带有路径（/api/notify）" in chinese
    assert "https://pay.example.com" in chinese and "without a path" not in chinese

    english = _field_message(put("/payment/admin/api/settings", json={"callback_domain": PATHFUL}))
    assert "without a path" in english and "it has a path (/api/notify)" in english
    assert "不要带路径" not in english

    explicit = _field_message(put("/payment/admin/api/settings", json={"callback_domain": PATHFUL},
                                  headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert explicit == english
    assert world.admin.get("/payment/admin/api/settings").get_json()["callback_domain"] is None


def test_the_live_check_answers_errors_and_conflicts_in_chinese(world):
    check = lambda value, headers=None: world.admin.post(  # noqa: E731
        "/payment/admin/api/settings/check", json={"callback_domain": value}, headers=headers or {}).get_json()
    refused = check("ftp://pay.example.com", ZH)
    assert refused["valid"] is False
    assert "无法接收回调" in refused["error"] and "ftp://" in refused["error"]

    found = {c["code"]: c for c in check("localhost:8080", ZH)["conflicts"]}
    assert {"private_address", "nonstandard_port"} <= set(found)
    assert "localhost 是本机或内网地址" in found["private_address"]["message"]
    assert "端口 8080 不是 80 或 443" in found["nonstandard_port"]["message"]
    assert found["nonstandard_port"]["level"] == "warning"  # codes and levels are not translated

    english = {c["code"]: c for c in check("localhost:8080")["conflicts"]}
    assert english["nonstandard_port"]["message"].startswith("port 8080 is not 80 or 443")
    assert {c: f["level"] for c, f in english.items()} == {c: f["level"] for c, f in found.items()}


def test_saved_settings_conflicts_follow_the_hosts_locale_hook(world):
    uuid = world.channels["epay"]["uuid"]
    world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                      json={"config": {"gateway": "https://pay.example.net/", "key": "k" * 32}})
    world.admin.put("/payment/admin/api/settings", json={"callback_domain": "https://pay.example.net"})
    world.app.panelpay.locale_selector(lambda: "zh_CN")
    conflicts = {c["code"]: c for c in world.admin.get("/payment/admin/api/settings").get_json()["conflicts"]}
    assert "不是本站" in conflicts["gateway_host"]["message"]
    assert conflicts["gateway_host"]["message"].startswith("pay.example.net 是“")


@pytest.fixture
def doctor_world(make_app, sandbox):
    return World(make_app(PANELPAY_DOCTOR_TIMEOUT=0.5), sandbox, configs=("epay",))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_doctor_answers_in_chinese_and_the_cli_stays_english(doctor_world):
    world = doctor_world
    uuid = world.channels["epay"]["uuid"]
    with stand_in(404, b"not found", Content_Type="text/plain") as base:
        patched = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"notify_domain": base})
        assert patched.status_code == 200

        chinese = world.admin.post("/payment/admin/api/doctor", headers=ZH).get_json()
        probes = [c for c in chinese["checks"] if c["code"] == "not_found"]
        assert len(probes) == 2 and chinese["ok"] is False
        for check in probes:
            assert check["message"].startswith("“epay”（")
            assert "请求没有到达 PanelPay" in check["message"]
            assert f"{base}/payment/notify/epay/{uuid}" in check["message"]
        assert {c["level"] for c in probes} == {"error", "warning"}  # GET is EPay's method, POST is not

        english = world.admin.post("/payment/admin/api/doctor").get_json()
        assert all("The path does not reach PanelPay" in c["message"]
                   for c in english["checks"] if c["code"] == "not_found")

        # A host whose own Babel selector needs a request, and whose default language is Chinese: the
        # CLI neither calls it nor answers in Chinese.
        babel = world.app.extensions["babel"]
        babel.locale_selector = lambda: request.accept_languages.best_match(["zh_CN", "en"])
        babel.default_locale = "zh_CN"
        result = world.app.test_cli_runner().invoke(args=["panelpay", "doctor"])
    assert result.exit_code == 1, result.output
    assert "The path does not reach PanelPay" in result.output
    assert "请求没有到达" not in result.output


def test_outside_a_request_the_messages_are_english_even_if_the_hosts_default_is_chinese():
    from flask import Flask
    from flask_babel import Babel, force_locale

    host = Flask("zh_host")
    Babel(host, default_locale="zh_CN")
    with host.app_context():
        with pytest.raises(DomainError) as info:
            normalise_domain(PATHFUL)
    assert str(info.value) == ("Type only the scheme and host, without a path: it has a path (/api/notify). "
                               "Type https://pay.example.com instead; PanelPay adds the notify path itself.")
    with host.test_request_context(), force_locale("zh_CN"), pytest.raises(DomainError) as info:
        normalise_domain(PATHFUL)
    assert str(info.value) == ("只需填写协议和主机名，不要带路径：其中带有路径（/api/notify）。"
                               "请改为填写 https://pay.example.com，PanelPay 会自动加上回调路径。")
