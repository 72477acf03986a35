"""The callback-domain override: normalisation, refusal with a useful message, conflicts, and orders
that keep the notify URL they were issued with."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from flask_wtf.csrf import CSRFProtect

from panelpay.callback import DomainError, normalise_domain
from tests.conftest import World, add_user
from tests.support.gateway import login

ACCEPTED = [
    ("pay.example.com", "https://pay.example.com"),
    ("https://pay.example.com/", "https://pay.example.com"),
    ("http://pay.example.com:8080", "http://pay.example.com:8080"),
    ("  HTTPS://Pay.Example.COM  ", "https://pay.example.com"),
    ("https://pay.example.com:443", "https://pay.example.com"),
    ("http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080"),
    ("支付.例子.中国", "https://" + "支付.例子.中国".encode("idna").decode()),
    ("", None),
    (None, None),
]

REFUSED = [
    ("https://pay.example.com/api/notify", "without a path"),
    ("https://pay.example.com/payment/notify/epay/0123456789abcdef", "full notify URL"),
    ("https://openapi.alipay.com/gateway.do", "gateway URL"),
    ("https://pay.example.com/?a=1", "query"),
    ("https://pay.example.com#top", "fragment"),
    ("https://user:secret@pay.example.com", "user name and password"),
    ("pay example.com", "spaces"),
    ("*.example.com", "Wildcards"),
    ("ftp://pay.example.com", "ftp://"),
    ("https://pay.example.com:99999", "port"),
    ("https://-bad-.example.com", "not a valid host"),
]


@pytest.mark.parametrize("value,stored", ACCEPTED)
def test_normalisation_accepts_and_stores_scheme_host_port(value, stored):
    assert normalise_domain(value) == stored


@pytest.mark.parametrize("value,hint", REFUSED)
def test_normalisation_refuses_with_what_to_type_instead(value, hint):
    with pytest.raises(DomainError) as info:
        normalise_domain(value)
    assert hint in str(info.value)
    assert "pay.example.com" in str(info.value) or "host" in str(info.value)


def test_settings_api_saves_normalised_clears_and_keeps_previous_on_refusal(world):
    put = lambda value: world.admin.put("/payment/admin/api/settings", json={"callback_domain": value})
    response = put("pay.example.com")
    assert response.status_code == 200
    body = response.get_json()
    assert body["callback_domain"] == "https://pay.example.com"
    assert body["effective_notify_base"] == "https://pay.example.com"
    assert body["default_notify_base"] == "http://127.0.0.1:5999"
    epay = world.channels["epay"]["uuid"]
    urls = {c["uuid"]: c["notify_url"] for c in body["channels"]}
    assert urls[epay] == f"https://pay.example.com/payment/notify/epay/{epay}"
    for value, hint in REFUSED:
        refused = put(value)
        assert refused.status_code == 422
        assert refused.get_json()["error"] == "invalid"
        assert hint in refused.get_json()["fields"]["callback_domain"][0]
        assert world.admin.get("/payment/admin/api/settings").get_json()["callback_domain"] == "https://pay.example.com"
    for clear in ("", None):
        put("https://pay.example.com")
        cleared = put(clear).get_json()
        assert cleared["callback_domain"] is None
        assert cleared["effective_notify_base"] == "http://127.0.0.1:5999"


def test_live_check_evaluates_without_saving(world):
    check = world.admin.post("/payment/admin/api/settings/check", json={"callback_domain": "pay.example.com/x"})
    assert check.status_code == 200 and check.get_json()["valid"] is False
    assert "without a path" in check.get_json()["error"]
    ok = world.admin.post("/payment/admin/api/settings/check", json={"callback_domain": "localhost:8080"}).get_json()
    assert ok["valid"] is True and ok["callback_domain"] == "https://localhost:8080"
    assert {"private_address", "nonstandard_port"} <= {c["code"] for c in ok["conflicts"]}
    assert world.admin.get("/payment/admin/api/settings").get_json()["callback_domain"] is None


def test_per_channel_override_wins_over_the_global_one(world):
    world.admin.put("/payment/admin/api/settings", json={"callback_domain": "https://pay.example.com"})
    uuid = world.channels["alipay"]["uuid"]
    patched = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"notify_domain": "cb.example.net"})
    assert patched.get_json()["notify_url"] == f"https://cb.example.net/payment/notify/alipay/{uuid}"
    refused = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"notify_domain": "https://x.com/cb"})
    assert refused.status_code == 422 and "notify_domain" in refused.get_json()["fields"]
    assert world.admin.get(f"/payment/admin/api/channels/{uuid}").get_json()["notify_domain"] == "https://cb.example.net"
    cleared = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"notify_domain": ""}).get_json()
    assert cleared["notify_url"] == f"https://pay.example.com/payment/notify/alipay/{uuid}"


def test_changing_the_domain_while_an_order_is_pending_still_credits_it_once(world, signer):
    order = world.order("epay", "12.00")
    assert order["notify_url"].startswith("http://127.0.0.1:5999/payment/notify/epay/")
    world.admin.put("/payment/admin/api/settings", json={"callback_domain": "https://new.example.com"})
    newer = world.order("epay", "1.00")
    assert newer["notify_url"].startswith("https://new.example.com/payment/notify/epay/")
    path = order["notify_url"].removeprefix("http://127.0.0.1:5999")
    params = urlencode(signer.epay(order["trade_no"], order["total"]))
    client = world.app.test_client()
    assert client.get(f"{path}?{params}").get_data(as_text=True) == "success"
    assert client.get(f"{path}?{params}").get_data(as_text=True) == "success"
    assert world.balance() == Decimal("12.00")
    assert world.order_row(order["trade_no"]).notify_url == order["notify_url"]


def codes(world, **settings):
    if settings:
        world.admin.put("/payment/admin/api/settings", json=settings)
    return {c["code"]: c for c in world.admin.get("/payment/admin/api/settings").get_json()["conflicts"]}


def test_static_conflicts_each_with_a_level_and_a_fix(world):
    assert codes(world, callback_domain="http://127.0.0.1:5999")["redundant"]["level"] == "info"
    found = codes(world, callback_domain="http://10.0.0.5")
    assert found["private_address"]["level"] == "info"  # the sandbox gateways are local too
    found = codes(world, callback_domain="http://pay.example.com:8443")
    assert found["nonstandard_port"]["level"] == "warning"
    uuid = world.channels["epay"]["uuid"]
    world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                      json={"config": {"gateway": "https://pay.example.net/", "key": "k" * 32}})
    assert "pay.example.net" in codes(world, callback_domain="https://pay.example.net")["gateway_host"]["message"]
    assert "gateway_host" not in codes(world, callback_domain="https://pay.example.net:8443")  # another server
    uuid = world.channels["epay_rsa"]["uuid"]
    world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"notify_domain": "https://other.example.com"})
    found = codes(world, callback_domain="https://pay.example.com")
    assert found["differs_between_channels"]["level"] == "warning"
    assert "route_collision" not in found and "host_blocks_notify" not in found
    for finding in found.values():
        assert finding["message"] and finding["level"] in ("error", "warning", "info")


def test_public_gateway_makes_a_private_domain_an_error_and_http_a_warning(world, sandbox):
    from tests.support.gateway import create_channel

    config = sandbox.channel_configs("https://openapi.alipay.com")["alipay"]
    config["gateway"] = "https://openapi.alipay.com/gateway.do"
    create_channel(world.admin, "alipay", config, name="real alipay")
    found = codes(world, callback_domain="http://192.168.1.10")
    assert found["private_address"]["level"] == "error"
    assert found["plain_http"]["level"] == "warning"


def test_site_url_missing_is_reported(make_app, sandbox):
    app = make_app(PANELPAY_SITE_URL=None)
    world = World(app, sandbox, configs=("epay",))
    assert "no_site_url" in codes(world)


def test_a_host_route_claiming_the_notify_path_is_a_conflict(make_app, sandbox):
    app = make_app()
    app.add_url_rule("/payment/notify/epay/<path:rest>", "host_catch_all", lambda rest: "hello", methods=["GET", "POST"])
    world = World(app, sandbox, configs=("epay",))
    assert codes(world)["route_collision"]["level"] == "error"


def test_host_csrf_protection_set_up_after_panelpay_does_not_block_gateways(make_app, sandbox, signer):
    app = make_app(WTF_CSRF_ENABLED=True)
    CSRFProtect(app).exempt(app.view_functions["login"])
    world = World(app, sandbox, configs=("alipay",))
    assert "host_blocks_notify" not in codes(world)
    order = world.order("alipay")
    response = app.test_client().post(f"/payment/notify/alipay/{world.channels['alipay']['uuid']}",
                                      data=signer.alipay(order["trade_no"], order["total"]))
    assert response.get_data(as_text=True) == "success"


def test_a_host_login_wall_in_front_of_the_notify_path_is_a_conflict(make_app, sandbox):
    from flask import request

    app = make_app()

    @app.before_request
    def login_wall():
        if not request.path.startswith(("/_login", "/payment/admin")):
            return "please log in", 302, {"Location": "/login"}

    world = World(app, sandbox, configs=("epay",))
    assert codes(world)["host_blocks_notify"]["level"] == "error"


def test_non_admins_cannot_read_or_change_settings(world):
    assert world.alice.get("/payment/admin/api/settings").status_code == 403
    assert world.alice.put("/payment/admin/api/settings", json={"callback_domain": "x.com"}).status_code == 403
    anonymous = world.app.test_client()
    assert anonymous.get("/payment/admin/api/settings").get_json()["error"] == "unauthenticated"
    assert add_user(world.app, "bob") and login(world.app, world.alice_id)


def test_conflicts_with_the_host_app_are_logged_at_startup(make_app, caplog):
    import logging

    from flask import request

    caplog.set_level(logging.ERROR, logger="panelpay")
    app = make_app()
    app.add_url_rule("/payment/notify/epay/<path:rest>", "host_catch_all", lambda rest: "hello")

    @app.before_request
    def login_wall():
        if request.path.startswith("/payment/notify/"):
            return "please log in", 302, {"Location": "/login"}

    app.test_client().get("/_nothing_here")
    assert "route_collision" in caplog.text
    caplog.clear()
    app.test_client().get("/_nothing_here")
    assert caplog.text == ""  # checked once per process


def test_a_gateway_on_plain_http_is_warned_about(world):
    """Every EPay MD5 query sends the merchant key: over plain http it travels unencrypted."""
    uuid = world.channels["epay"]["uuid"]
    patched = world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                                json={"config": {"gateway": "http://pay.example.net/", "key": "k" * 32}})
    assert patched.status_code == 200
    found = [c for c in world.admin.get("/payment/admin/api/settings").get_json()["conflicts"]
             if c["code"] == "plain_http_gateway"]
    assert len(found) == 1 and found[0]["level"] == "warning" and found[0]["channel"] == uuid
    assert "http://pay.example.net/" in found[0]["message"] and "https://" in found[0]["message"]


def test_the_sites_own_address_is_no_conflict_when_its_own_sandbox_is_the_gateway(world):
    """The demo: the sandbox gateways are served by the site itself (http://127.0.0.1:5999/payment/sandbox), and
    the callback domain typed is the site's own address: notes that it changes nothing and that plain http on
    a local address is for testing, the port remark, and no error (the gateway does not call "itself": it is
    this site)."""
    found = codes(world, callback_domain="http://127.0.0.1:5999")
    assert {code: f["level"] for code, f in found.items()} == \
        {"redundant": "info", "private_address": "info", "plain_http": "info", "nonstandard_port": "warning"}
    public = codes(world, callback_domain="http://pay.example.com")
    assert public["plain_http"]["level"] == "warning" and "https://pay.example.com" in public["plain_http"]["message"]


def test_without_javascript_a_domain_with_errors_needs_a_second_save(world):
    import re

    uuid = world.channels["epay"]["uuid"]
    world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                      json={"config": {"gateway": "https://pay.example.net/", "key": "k" * 32}})

    def post(**form):
        page = world.admin.get("/payment/admin").get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        return world.admin.post("/payment/admin/settings", data={"csrf_token": token, "action": "save_domain", **form})

    first = post(callback_domain="https://pay.example.net")
    page = first.get_data(as_text=True)
    assert first.status_code == 409 and "Press Save again" in page and 'name="confirmed" value="1"' in page
    assert world.admin.get("/payment/admin/api/settings").get_json()["callback_domain"] is None
    assert post(callback_domain="https://pay.example.net", confirmed="1").status_code == 302
    assert world.admin.get("/payment/admin/api/settings").get_json()["callback_domain"] == "https://pay.example.net"
    assert post(callback_domain="https://panel.example.org").status_code == 302  # no error: saved at once
