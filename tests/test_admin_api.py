"""The admin and user JSON APIs: every endpoint, error shapes, ownership, secrets never shown."""
from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate

from panelpay.models import Channel
from tests.conftest import add_user
from tests.support.gateway import login


def test_channel_secrets_are_encrypted_at_rest_and_masked_in_answers(world, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    key = sandbox.credentials.epay_key
    private = sandbox.channel_configs("http://x")["alipay"]["app_private_key"]
    with world.app.app_context(), world.state.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM panelpay_channels")).all()
    dumped = repr(rows)
    assert key not in dumped and private[:60] not in dumped
    for response in (world.admin.get("/payment/admin/api/channels"),
                     world.admin.get(f"/payment/admin/api/channels/{world.channels['epay']['uuid']}"),
                     world.alice.get("/payment/api/channels"),
                     world.admin.get("/payment/admin/api/settings")):
        assert response.status_code == 200
        assert key not in response.get_data(as_text=True)
        assert private[:60] not in response.get_data(as_text=True)
    shown = world.admin.get(f"/payment/admin/api/channels/{world.channels['epay']['uuid']}").get_json()["config"]
    assert shown["key"] == "********" and shown["merchant_private_key"] == ""
    assert key not in caplog.text and private[:60] not in caplog.text


def test_blank_or_masked_secret_keeps_the_stored_one(world, signer):
    uuid = world.channels["epay"]["uuid"]
    for value in ("", "********", None):
        response = world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                                     json={"name": "renamed", "config": {"key": value, "type": "wxpay"}})
        assert response.status_code == 200, response.get_json()
    order = world.order("epay")
    params = urlencode(signer.epay(order["trade_no"], order["total"]))
    assert world.app.test_client().get(f"/payment/notify/epay/{uuid}?{params}").get_data(as_text=True) == "success"


def test_channel_validation_errors_name_the_field(world, sandbox):
    config = sandbox.channel_configs("http://127.0.0.1:5999/payment/sandbox")["alipay"]
    import base64

    from cryptography.hazmat.primitives import serialization

    from panelpay.keys import load_private_key

    # the app's own public key, pasted where Alipay's public key belongs
    public = load_private_key(sandbox.credentials.alipay_app_private_pem).public_key()
    bare = base64.b64encode(public.public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    response = world.admin.post("/payment/admin/api/channels", json={
        "kind": "alipay", "name": "wrong key", "config": config | {"alipay_public_key": bare}})
    assert response.status_code == 422
    assert "config.alipay_public_key" in response.get_json()["fields"]
    garbage = world.admin.post("/payment/admin/api/channels", json={
        "kind": "alipay", "name": "garbage", "config": config | {"app_private_key": "not a key"}})
    assert "config.app_private_key" in garbage.get_json()["fields"]
    for body, field in (({"kind": "nope", "name": "x", "config": {}}, "kind"),
                        ({"kind": "epay", "config": {}}, "name"),
                        ({"kind": "epay", "name": "x", "config": {}, "fee_percent": "101"}, "fee_percent"),
                        ({"kind": "epay", "name": "x", "config": {}, "min_amount": "5", "max_amount": "1"}, "max_amount"),
                        ({"kind": "epay", "name": "x", "config": {}, "fee_fixed": 1.005}, "fee_fixed")):
        answer = world.admin.post("/payment/admin/api/channels", json=body)
        assert answer.status_code == 422, body
        assert field in answer.get_json()["fields"], answer.get_json()
        assert set(answer.get_json()) == {"error", "message", "fields"}


def test_order_creation_enforces_min_max_and_computes_fee_and_total(world):
    uuid = world.channels["epay"]["uuid"]
    world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={
        "fee_fixed": "0.30", "fee_percent": "1.50", "min_amount": "1.00", "max_amount": "500.00"})
    order = world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": "10.00"}).get_json()
    assert (order["amount"], order["fee"], order["total"], order["credit"]) == ("10.00", "0.45", "10.45", "10.00")
    assert order["pay"]["fields"]["money"] == "10.45"
    for amount, status in (("0.99", 422), ("500.01", 422), ("-1", 422), ("abc", 422), ("10.001", 422)):
        response = world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": amount})
        assert response.status_code == status and "amount" in response.get_json()["fields"], amount
    number = world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": 12.5})
    assert number.status_code == 201 and number.get_json()["amount"] == "12.50"
    unknown = world.alice.post("/payment/api/orders", json={"channel": "nope", "amount": "10"})
    assert unknown.status_code == 422 and "channel" in unknown.get_json()["fields"]


def test_json_endpoints_refuse_other_content_types_and_cross_site_origins(world):
    uuid = world.channels["epay"]["uuid"]
    form = world.alice.post("/payment/api/orders", data={"channel": uuid, "amount": "10"})
    assert form.status_code == 415 and form.get_json()["error"] == "unsupported_media_type"
    cross = world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": "10"},
                             headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and cross.get_json()["error"] == "cross_origin"
    same = world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": "10"},
                            headers={"Origin": "http://localhost"})
    assert same.status_code == 201
    broken = world.alice.post("/payment/api/orders", data="{", content_type="application/json")
    assert broken.status_code == 400 and broken.get_json()["error"] == "bad_request"


def test_behind_a_proxy_that_rewrites_host_the_site_url_is_this_site(make_app, sandbox):
    """nginx passes "Host: 127.0.0.1:8000" to the app while the browser says "Origin:
    https://panel.example.com": with PANELPAY_SITE_URL naming that address, checkout works; another site
    is still refused."""
    from tests.conftest import World

    world = World(make_app(PANELPAY_SITE_URL="https://panel.example.com"), sandbox, configs=("epay",))
    order = {"channel": world.channels["epay"]["uuid"], "amount": "10"}
    alice = world.app.test_client()
    assert alice.post(f"/_login/{world.alice_id}", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    proxied = {"Host": "127.0.0.1:8000", "Origin": "https://panel.example.com"}
    assert alice.post("/payment/api/orders", json=order, headers=proxied).status_code == 201
    assert alice.post("/payment/api/orders", json=order,
                      headers={**proxied, "Origin": "https://evil.example"}).status_code == 403


def test_users_see_only_their_own_orders(world):
    order = world.order("epay")
    bob = login(world.app, add_user(world.app, "bob"))
    assert bob.get(f"/payment/api/orders/{order['trade_no']}").status_code == 404
    assert bob.post(f"/payment/api/orders/{order['trade_no']}/sync").status_code == 404
    assert bob.get("/payment/api/orders").get_json()["total"] == 0
    mine = world.alice.get("/payment/api/orders").get_json()
    assert [o["trade_no"] for o in mine["items"]] == [order["trade_no"]]
    anonymous = world.app.test_client()
    assert anonymous.get(f"/payment/api/orders/{order['trade_no']}").status_code == 401


@pytest.mark.parametrize("path,method", [
    ("/payment/admin/api/settings", "get"), ("/payment/admin/api/channels", "get"),
    ("/payment/admin/api/orders", "get"), ("/payment/admin/api/notifications", "get"),
    ("/payment/admin/api/doctor", "post"), ("/payment/admin/api/notifications/1/replay", "post"),
])
def test_admin_endpoints_refuse_users_with_403(world, path, method):
    response = getattr(world.alice, method)(path)
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"


def test_admin_orders_and_delivery_log_filter(world, signer):
    first = world.order("epay")
    second = world.order("alipay", "3.00")
    client = world.app.test_client()
    client.get(f"/payment/notify/epay/{world.channels['epay']['uuid']}?" +
               urlencode(signer.epay(first["trade_no"], first["total"])))
    client.get(f"/payment/notify/epay/{world.channels['epay']['uuid']}?out_trade_no={second['trade_no']}&sign=x")
    orders = world.admin.get("/payment/admin/api/orders?status=paid").get_json()
    assert [o["trade_no"] for o in orders["items"]] == [first["trade_no"]]
    assert orders["items"][0]["user_id"] == str(world.alice_id)
    by_channel = world.admin.get(f"/payment/admin/api/orders?channel={world.channels['alipay']['uuid']}").get_json()
    assert [o["trade_no"] for o in by_channel["items"]] == [second["trade_no"]]
    assert world.admin.get(f"/payment/admin/api/orders?trade_no={second['trade_no']}").get_json()["total"] == 1
    assert world.admin.get(f"/payment/admin/api/orders?user={world.alice_id}").get_json()["total"] == 2
    log = world.admin.get("/payment/admin/api/notifications").get_json()
    assert log["total"] == 2 and [n["verdict"] for n in log["items"]] == ["rejected", "accepted"]
    rejected = world.admin.get("/payment/admin/api/notifications?verdict=rejected").get_json()["items"]
    assert rejected[0]["trade_no"] == second["trade_no"] and rejected[0]["answer_status"] == 400
    by_order = world.admin.get(f"/payment/admin/api/notifications?order={first['trade_no']}").get_json()["items"]
    assert len(by_order) == 1 and "out_trade_no=" + first["trade_no"] in by_order[0]["query"]
    detail = world.admin.get(f"/payment/admin/api/notifications/{by_order[0]['id']}").get_json()
    assert detail["method"] == "GET" and detail["answer_body"] == "success" and detail["outcome"] == "credited"
    assert world.admin.get("/payment/admin/api/notifications/999999").status_code == 404
    assert world.admin.post("/payment/admin/api/notifications/999999/replay").status_code == 404
    assert world.admin.get("/payment/admin/api/notifications?page=x").status_code == 400


def test_delivery_log_masks_a_key_parameter_whatever_sent_it(world):
    client = world.app.test_client()
    client.get(f"/payment/notify/epay/{world.channels['epay']['uuid']}?key=topsecretvalue&out_trade_no=PPX")
    item = world.admin.get("/payment/admin/api/notifications").get_json()["items"][0]
    assert "topsecretvalue" not in item["query"] and "key=%2A%2A%2A%2A%2A%2A%2A%2A" in item["query"]


def test_delete_channel_without_orders_removes_it(world):
    uuid = world.channels["epay_rsa"]["uuid"]
    assert world.admin.delete(f"/payment/admin/api/channels/{uuid}").status_code == 204
    assert world.admin.get(f"/payment/admin/api/channels/{uuid}").status_code == 404
    with world.app.app_context(), world.state.session() as session:
        assert session.execute(sa.select(Channel).where(Channel.uuid == uuid)).scalar() is None


def test_settings_enable_switch_stops_new_orders_only(world, signer):
    order = world.order("epay")
    assert world.admin.put("/payment/admin/api/settings", json={"enabled": False}).get_json()["enabled"] is False
    refused = world.alice.post("/payment/api/orders", json={"channel": world.channels["epay"]["uuid"], "amount": "1"})
    assert refused.status_code == 409 and refused.get_json()["error"] == "disabled"
    params = urlencode(signer.epay(order["trade_no"], order["total"]))
    path = f"/payment/notify/epay/{world.channels['epay']['uuid']}?{params}"
    assert world.app.test_client().get(path).get_data(as_text=True) == "success"


def test_posts_without_a_body_accept_empty_or_an_empty_object(world):
    order = world.order("epay")
    for kwargs in ({}, {"json": {}}):
        response = world.alice.post(f"/payment/api/orders/{order['trade_no']}/sync", **kwargs)
        assert response.status_code in (200, 502, 429), response.get_json()  # 429: asked moments ago
    assert world.admin.post("/payment/admin/api/doctor", json={}).status_code == 200
    odd = world.alice.post(f"/payment/api/orders/{order['trade_no']}/sync", json={"x": 1})
    assert odd.status_code == 422


def test_openapi_document_validates_and_lists_every_endpoint(world):
    document = world.app.test_client().get("/payment/api/openapi.json").get_json()
    validate(document)
    for path in ("/payment/api/orders", "/payment/admin/api/settings", "/payment/admin/api/doctor",
                 "/payment/admin/api/notifications/{id}/replay", "/payment/admin/api/reconcile"):
        assert path in document["paths"]


def test_moving_a_channel_to_another_gateway_needs_its_secrets_entered_again(world, sandbox):
    """An admin who cannot read the write-only key must not learn it by pointing the channel at a server of
    their own: the stored key is never sent to a gateway address it was not entered for."""
    from tests.support.servers import stand_in

    uuid = world.channels["epay"]["uuid"]
    with stand_in(200, b'{"code": -1, "msg": "no such order"}', Content_Type="application/json") as evil:
        moved = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"config": {"gateway": evil + "/"}})
        assert moved.status_code == 422
        assert "Enter it again: EPay site URL changed" in moved.get_json()["fields"]["config.key"][0]
        shown = world.admin.get(f"/payment/admin/api/channels/{uuid}").get_json()["config"]
        assert shown["gateway"] != evil + "/"  # nothing was saved
        rekeyed = world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                                    json={"config": {"gateway": evil + "/", "key": "a-new-key-for-the-new-site"}})
        assert rekeyed.status_code == 200
    renamed = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"name": "renamed", "config": {}})
    assert renamed.status_code == 200  # the address unchanged: the stored key stays without retyping


def test_moving_an_alipay_channel_needs_its_app_key_again(world):
    uuid = world.channels["alipay"]["uuid"]
    moved = world.admin.patch(f"/payment/admin/api/channels/{uuid}",
                              json={"config": {"gateway": "https://openapi.alipay.com/gateway.do"}})
    assert moved.status_code == 422 and set(moved.get_json()["fields"]) == {"config.app_private_key"}


def test_late_payments_and_anomalies_are_found_and_resolved_by_name(make_app, sandbox, signer):
    """The operator filters orders by flag, finds a user by the start of their name (the host's
    user_name/find_users hooks), marks an anomaly reviewed or credits it through settle() by hand; each
    decision carries the operator's name."""
    from tests.conftest import World

    app = make_app()
    names = {}
    app.panelpay.user_name = lambda user_id: names.get(str(user_id))
    app.panelpay.find_users = lambda text: [i for i, n in names.items() if n.lower().startswith(text.lower())]
    world = World(app, sandbox, configs=("epay",))
    names.update({str(world.alice_id): "Alice Liddell", str(world.admin_id): "Ada Admin"})
    late, wrong, fine = world.order("epay"), world.order("epay", "20.00"), world.order("epay", "5.00")
    with world.app.app_context(), world.state.session() as session, session.begin():
        session.execute(sa.text("UPDATE panelpay_orders SET status = 'expired' WHERE trade_no = :t"),
                        {"t": late["trade_no"]})
    uuid = world.channels["epay"]["uuid"]
    for order, paid in ((late, late["total"]), (wrong, "2.00"), (fine, fine["total"])):
        world.app.test_client().get(f"/payment/notify/epay/{uuid}?" + urlencode(signer.epay(order["trade_no"], paid)))

    def listed(**filters):
        return [(o["trade_no"], o["user_name"]) for o in
                world.admin.get("/payment/admin/api/orders", query_string=filters).get_json()["items"]]

    assert listed(flag="paid_late") == [(late["trade_no"], "Alice Liddell")]
    assert listed(flag="anomaly") == [(wrong["trade_no"], "Alice Liddell")]
    assert len(listed(user="ali")) == 3 and listed(user="ada") == [] and len(listed(user=str(world.alice_id))) == 3
    assert listed(trade_no=fine["trade_no"][:20]) and all(t.startswith(fine["trade_no"][:20])
                                                         for t, _ in listed(trade_no=fine["trade_no"][:20]))

    review = f"/payment/admin/api/orders/{wrong['trade_no']}/review"
    refused = world.admin.post(f"/payment/admin/api/orders/{fine['trade_no']}/review", json={"action": "credit"})
    assert refused.status_code == 409
    looked = world.admin.post(review, json={"action": "reviewed"}).get_json()
    assert looked["reviewed_by"] == "Ada Admin" and looked["status"] == "anomaly" and listed(flag="reviewed")
    assert world.balance() == Decimal("15.00")  # late 10.00 + fine 5.00; the mismatch not credited
    credited = world.admin.post(review, json={"action": "credit"}).get_json()
    assert (credited["status"], credited["settled_by"], credited["reviewed_by"]) == ("paid", "manual", "Ada Admin")
    assert world.balance() == Decimal("35.00")
    again = world.admin.post(review, json={"action": "credit"})
    assert again.status_code == 409 and world.balance() == Decimal("35.00")


def test_renaming_a_channel_keeps_the_name_old_orders_were_made_with(world):
    order = world.order("epay")
    uuid = world.channels["epay"]["uuid"]
    assert world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"name": "EPay 2027"}).status_code == 200
    assert world.alice.get(f"/payment/api/orders/{order['trade_no']}").get_json()["channel_name"] == "epay"
    assert world.order("epay")["channel_name"] == "EPay 2027"
