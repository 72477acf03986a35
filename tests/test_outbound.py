"""Where PanelPay sends requests: admin-set URLs cannot make it call cloud metadata, link-local or (unless
allowed) private addresses, and a gateway's redirect is never followed."""
from __future__ import annotations

import pytest

from panelpay.outbound import GuardedSession, RefusedAddress
from tests.conftest import World
from tests.support.servers import stand_in

ALWAYS_REFUSED = ["http://169.254.169.254", "http://[fe80::1]", "http://0.0.0.0", "http://2130706433",
                  "http://0x7f.1", "http://100.100.100.200", "http://metadata.google.internal"]
PRIVATE = ["http://127.0.0.1:8080", "http://10.0.0.5", "http://localhost:8000", "http://[::1]:8000"]


@pytest.fixture
def strict(make_app, sandbox):
    """An app as production runs it: private addresses not allowed."""
    return World(make_app(PANELPAY_ALLOW_PRIVATE_URLS=False), sandbox, configs=())


@pytest.fixture(params=[True, False], ids=["private-allowed", "strict"])
def either(request, make_app, sandbox):
    return World(make_app(PANELPAY_ALLOW_PRIVATE_URLS=request.param), sandbox, configs=())


def _domain_error(world, value):
    response = world.admin.put("/payment/admin/api/settings", json={"callback_domain": value})
    assert response.status_code == 422, response.get_json()
    return response.get_json()["fields"]["callback_domain"][0]


def _gateway_error(world, value):
    response = world.admin.post("/payment/admin/api/channels", json={
        "kind": "epay", "name": "x", "config": {"gateway": value + "/", "pid": "1001", "key": "k" * 16}})
    assert response.status_code == 422, response.get_json()
    return response.get_json()["fields"]["config.gateway"][0]


@pytest.mark.parametrize("value", ALWAYS_REFUSED)
def test_metadata_link_local_unspecified_and_odd_ip_forms_are_always_refused(either, value):
    assert "PanelPay does not call this address" in _gateway_error(either, value)
    message = _domain_error(either, value)
    assert "not an address gateways can call back" in message or "unusual form" in message


@pytest.mark.parametrize("value", PRIVATE)
def test_private_and_loopback_addresses_are_refused_without_the_setting(strict, value):
    assert "PANELPAY_ALLOW_PRIVATE_URLS" in _gateway_error(strict, value)
    assert "PANELPAY_ALLOW_PRIVATE_URLS" in _domain_error(strict, value)


@pytest.mark.parametrize("value", PRIVATE)
def test_private_and_loopback_addresses_are_allowed_with_the_setting(world, value):
    assert world.admin.put("/payment/admin/api/settings", json={"callback_domain": value}).status_code == 200


def test_a_gateway_redirect_is_never_followed(world, caplog):
    """A gateway answering 302 to an internal URL: PanelPay does not fetch it, and the user is told the
    gateway could not be asked, nothing of what sits behind the redirect."""
    with stand_in(200, b'{"code": 1, "status": 1, "money": "10.00", "secret": "INTERNAL"}',
                  Content_Type="application/json") as internal:
        with stand_in(302, b"", Location=internal + "/latest/meta-data/") as redirecting:
            uuid = world.channels["epay"]["uuid"]
            order = world.order("epay")
            patched = world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                                        json={"config": {"gateway": redirecting + "/", "key": "k" * 32}})
            assert patched.status_code == 200
            synced = world.alice.post(f"/payment/api/orders/{order['trade_no']}/sync")
    assert synced.status_code == 502 and "INTERNAL" not in synced.get_data(as_text=True)
    assert synced.get_json()["message"].startswith("The payment gateway could not be asked just now.")
    assert "HTTP 302" in caplog.text  # the detail is the operator's


def test_the_guarded_session_checks_the_host_the_connection_goes_to_not_the_one_python_reads():
    """``http://127.0.0.1:9\\@example.com/`` is example.com to urlsplit, 127.0.0.1 to the HTTP client."""
    with pytest.raises(RefusedAddress):
        GuardedSession(allow_private=False).get("http://127.0.0.1:9\\@example.com/latest/meta-data", timeout=1)


def test_the_guarded_session_refuses_addresses_as_they_resolve():
    session = GuardedSession(allow_private=False)
    for url in ("http://127.1:9/", "http://localhost:9/", "http://[::1]:9/", "http://169.254.169.254/latest"):
        with pytest.raises(RefusedAddress):
            session.get(url, timeout=1)
    with pytest.raises(RefusedAddress):
        GuardedSession(allow_private=True).get("http://169.254.169.254/latest", timeout=1)


def test_the_doctor_does_not_probe_a_private_domain_saved_before_the_setting_changed(strict):
    """A callback domain on a private address stays in the database when the operator turns the setting
    off; the doctor then refuses to probe it instead of reporting what answers there."""
    from panelpay.store import put_settings

    world = strict
    with world.app.app_context():
        put_settings(world.state, {"callback_domain": "http://10.1.2.3:8080"})
    created = world.admin.post("/payment/admin/api/channels", json={
        "kind": "epay", "name": "e", "config": {"gateway": "https://pay.example.net/", "pid": "1", "key": "k" * 16}})
    assert created.status_code == 201
    checks = world.admin.post("/payment/admin/api/doctor").get_json()["checks"]
    assert {c["code"] for c in checks if c.get("channel") == created.get_json()["uuid"]} == {"refused_address"}
