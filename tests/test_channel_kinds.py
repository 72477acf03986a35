"""A channel kind from outside PanelPay's package (HMAC Pay, ``tests/support/hmacpay.py``): a gateway that
POSTs a JSON body signed in an HTTP header and expects a JSON answer. Registered the ways a third-party
author can (an entry point, or ``PanelPay(channel_kinds=...)``), it is recorded, verified, settled exactly
once, answered in its own format, probed by the doctor and shown in the delivery log, with no change to
PanelPay's code."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa

from panelpay.channels import ChannelKindError
from panelpay.models import LedgerEntry
from tests.conftest import add_user
from tests.support import hmacpay
from tests.support.gateway import create_channel, create_order, login
from tests.support.servers import free_port, serve_app

SECRET = "hmacpay-merchant-secret-0123"


def _distribution(where, entry: str) -> None:
    """An installed distribution naming ``entry`` in the ``panelpay.channels`` group (as pip leaves one)."""
    info = where / "hmacpay_channel-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hmacpay-channel\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[panelpay.channels]\nhmacpay = {entry}\n")


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """HMAC Pay installed as a distribution with an entry point."""
    _distribution(tmp_path, "tests.support.hmacpay:HmacPayChannel")
    monkeypatch.syspath_prepend(str(tmp_path))


def _world(app):
    admin = login(app, add_user(app, "admin", is_admin=True))
    alice_id = add_user(app, "alice")
    channel = create_channel(admin, "hmacpay", {"gateway": "https://pay.hmacpay.example/", "merchant": "M-1",
                                                "secret": SECRET}, name="HMAC Pay")
    return admin, alice_id, channel


def _balance(app, user_id) -> Decimal:
    with app.app_context():
        return app.db.session.execute(sa.select(app.User.balance).where(app.User.id == user_id)).scalar_one()


def test_a_kind_from_an_entry_point_is_settled_once_under_a_storm_and_answered_in_its_own_format(
        make_app, installed):
    port = free_port()
    app = make_app(PANELPAY_SITE_URL=f"http://127.0.0.1:{port}")
    admin, alice_id, channel = _world(app)
    order = create_order(login(app, alice_id), channel["uuid"], "12.34")
    assert order["pay"]["url"].startswith("https://pay.hmacpay.example/pay?merchant=M-1&order=")
    body, headers = hmacpay.notification(SECRET, merchant="M-1", order=order["trade_no"], amount="12.34",
                                         status="paid", payment_id="hp_0001")
    with serve_app(app, port):
        url = channel["notify_url"]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: requests.post(url, data=body, headers=headers, timeout=60), range(200)))
        forged = requests.post(url, data=body.replace(b"12.34", b"99.99"), headers=headers, timeout=30)
        checks = admin.post("/payment/admin/api/doctor").get_json()["checks"]
    assert {(a.status_code, a.headers["Content-Type"], a.text) for a in answers} == \
        {(200, "application/json", '{"received": true}')}
    assert (forged.status_code, forged.json()) == (400, {"received": False})
    assert _balance(app, alice_id) == Decimal("12.34")
    with app.app_context(), app.extensions["panelpay"].session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one() == 1

    def logged(verdict: str = "") -> int:
        return admin.get(f"/payment/admin/api/notifications?verdict={verdict}").get_json()["total"]

    assert (logged(), logged("accepted"), logged("duplicate"), logged("rejected")) == (201, 1, 199, 1)
    refused = admin.get("/payment/admin/api/notifications?verdict=rejected").get_json()["items"][0]
    assert refused["kind"] == "hmacpay" and refused["answer_body"] == '{"received": false}'
    assert "does not match the body" in refused["reason"]
    accepted = admin.get("/payment/admin/api/notifications?verdict=accepted").get_json()["items"][0]
    assert accepted["trade_no"] == order["trade_no"] and accepted["body"] == body.decode()
    shown = {name.lower(): value for name, value in accepted["headers"]}  # HTTP header names ignore case
    assert shown[hmacpay.SIGNATURE_HEADER.lower()] == headers[hmacpay.SIGNATURE_HEADER]
    assert accepted["content_type"] == "application/json"

    probes = {(c["code"], c["level"]) for c in checks if c.get("channel") == channel["uuid"]}
    assert probes == {("reachable", "info")}, checks


def test_a_kind_passed_to_panelpay_is_offered_to_users_and_admins(make_app):
    app = make_app(channel_kinds=[hmacpay.HmacPayChannel])
    admin, alice_id, channel = _world(app)
    offered = login(app, alice_id).get("/payment/api/channels").get_json()
    assert [(c["kind"], c["name"]) for c in offered] == [("hmacpay", "HMAC Pay")]
    shown = admin.get(f"/payment/admin/api/channels/{channel['uuid']}").get_json()
    assert shown["config"] == {"gateway": "https://pay.hmacpay.example/", "merchant": "M-1", "secret": "********"}
    form = admin.get("/payment/admin/channels/new?kind=hmacpay").get_data(as_text=True)
    assert "Signing secret" in form and SECRET not in form
    refused = admin.post("/payment/admin/api/channels", json={"kind": "hmacpay", "name": "x", "config": {}})
    assert refused.status_code == 422 and set(refused.get_json()["fields"]) >= {"config.merchant", "config.secret"}


def test_a_kind_that_cannot_be_loaded_stops_the_app_with_its_name(make_app, tmp_path, monkeypatch):
    _distribution(tmp_path, "tests.support.no_such_module:Channel")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ChannelKindError, match="'hmacpay'.*cannot be loaded.*ModuleNotFoundError"):
        make_app()


def test_two_kinds_of_one_name_are_refused(make_app):
    class Impostor(hmacpay.HmacPayChannel):
        kind = "epay"

    with pytest.raises(ChannelKindError, match="two channel kinds are called 'epay'"):
        make_app(channel_kinds=[Impostor])
