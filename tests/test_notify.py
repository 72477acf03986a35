"""The built-in notify path over HTTP: every answer of the README's table, GET and POST, EPay and Alipay."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from panelpay import payment_anomaly
from panelpay.models import LedgerEntry
from tests.support.faults import statement_fails


def notify_path(world, channel: str) -> str:
    ch = world.channels[channel]
    return f"/payment/notify/{ch['kind']}/{ch['uuid']}"


def deliver(world, channel: str, params: dict, method: str):
    client = world.app.test_client()
    path = notify_path(world, channel)
    if method == "GET":
        return client.get(path + "?" + urlencode(params))
    return client.post(path, data=params, content_type="application/x-www-form-urlencoded; charset=utf-8")


def sign(signer, channel, order, **kwargs):
    if channel == "epay":
        return signer.epay(order["trade_no"], order["total"], **kwargs)
    if channel == "epay_rsa":
        return signer.epay_rsa(order["trade_no"], order["total"], **kwargs)
    return signer.alipay(order["trade_no"], order["total"], **kwargs)


CHANNELS = ["epay", "epay_rsa", "alipay"]
METHODS = ["GET", "POST"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_verified_payment_is_credited_and_answered_success_after_commit(world, signer, channel, method):
    order = world.order(channel, "9.90")
    response = deliver(world, channel, sign(signer, channel, order), method)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    assert response.mimetype == "text/plain"
    assert world.balance() == Decimal("9.90")
    row = world.order_row(order["trade_no"])
    assert row.status == "paid" and row.settled_by == "notify" and row.gateway_trade_no
    log = world.notifications()[-1]
    assert (log.verdict, log.answer_status, log.answer_body, log.trade_no) == ("accepted", 200, "success", order["trade_no"])


@pytest.mark.parametrize("channel", CHANNELS)
def test_duplicates_answer_success_and_credit_nothing_more(world, signer, channel):
    order = world.order(channel, "10.00")
    params = sign(signer, channel, order, gateway_trade_no="20261122000000012345")
    for method in ("GET", "POST", "GET"):
        response = deliver(world, channel, params, method)
        assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    assert world.balance() == Decimal("10.00")
    assert [n.verdict for n in world.notifications()] == ["accepted", "duplicate", "duplicate"]


def test_epay_money_cast_like_php_float_matches_the_order(world, signer):
    for amount, money in (("10.00", "10"), ("9.90", "9.9"), ("0.01", "0.01"), ("12.30", "12.30")):
        order = world.order("epay", amount)
        response = deliver(world, "epay", signer.epay(order["trade_no"], amount, money=money), "GET")
        assert response.get_data(as_text=True) == "success"
    assert world.balance() == Decimal("32.21")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", ["TRADE_CLOSED", "WAIT_BUYER_PAY"])
def test_alipay_status_without_payment_is_ignored_with_success(world, signer, method, status):
    order = world.order("alipay")
    response = deliver(world, "alipay", signer.alipay(order["trade_no"], order["total"], trade_status=status), method)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    assert world.notifications()[-1].verdict == "ignored"
    assert world.order_row(order["trade_no"]).status == "pending" and world.balance() == 0


def test_alipay_trade_finished_after_trade_success_credits_once(world, signer):
    order = world.order("alipay")
    gateway_no = "2026112222001111111111111111"
    for status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        params = signer.alipay(order["trade_no"], order["total"], trade_status=status, gateway_trade_no=gateway_no)
        assert deliver(world, "alipay", params, "POST").get_data(as_text=True) == "success"
    assert world.balance() == Decimal("10.00")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_bad_signature_is_rejected_with_400_fail(world, signer, channel, method):
    order = world.order(channel)
    params = sign(signer, channel, order)
    params["sign"] = params["sign"][:-4] + ("AAAA" if channel != "epay" else "0000")
    response = deliver(world, channel, params, method)
    assert (response.status_code, response.get_data(as_text=True)) == (400, "fail")
    assert world.notifications()[-1].verdict == "rejected"
    assert world.balance() == 0


@pytest.mark.parametrize("channel", CHANNELS)
def test_tampered_amount_breaks_the_signature(world, signer, channel):
    order = world.order(channel, "100.00")
    params = sign(signer, channel, order)
    params["money" if channel.startswith("epay") else "total_amount"] = "0.01"
    assert deliver(world, channel, params, "POST").status_code == 400
    assert world.balance() == 0


def test_alipay_notification_signed_with_the_app_key_is_rejected(world, signer, sandbox):
    from panelpay.keys import load_private_key

    order = world.order("alipay")
    app_key = load_private_key(sandbox.credentials.alipay_app_private_pem)
    response = deliver(world, "alipay", signer.alipay(order["trade_no"], order["total"], private_key=app_key), "POST")
    assert response.status_code == 400 and world.balance() == 0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_malformed_requests_are_rejected_with_400(world, signer, channel, method):
    client = world.app.test_client()
    path = notify_path(world, channel)
    order = world.order(channel)
    params = sign(signer, channel, order)
    repeated = urlencode(params) + "&out_trade_no=PPother"
    bad_utf8 = urlencode(params).encode() + b"&name=%FF%FE"
    missing = {k: v for k, v in params.items() if k not in ("out_trade_no",)}
    for raw in (repeated.encode(), bad_utf8, urlencode(missing).encode(), b""):
        if method == "GET":
            response = client.get(path + "?" + raw.decode("latin-1"))
        else:
            response = client.post(path, data=raw, content_type="application/x-www-form-urlencoded")
        assert (response.status_code, response.get_data(as_text=True)) == (400, "fail"), raw
    assert {n.verdict for n in world.notifications()} == {"rejected"}
    assert world.balance() == 0


def test_wrong_content_type_is_rejected_not_a_500(world, signer):
    order = world.order("alipay")
    response = world.app.test_client().post(notify_path(world, "alipay"), data=b'{"a": 1}',
                                            content_type="application/json")
    assert response.status_code == 400 and order


@pytest.mark.parametrize("method", METHODS)
def test_unknown_channel_or_kind_is_404(world, signer, method):
    """A uuid of a known kind that names no channel of it is answered in that kind's terms; a kind PanelPay
    does not have gets a plain sentence. All are logged, none credits."""
    client = world.app.test_client()
    order = world.order("epay")
    query = urlencode(signer.epay(order["trade_no"], order["total"]))
    uuid = world.channels["epay"]["uuid"]
    for path, body in (("/payment/notify/epay/0000000000000000", "fail"), (f"/payment/notify/alipay/{uuid}", "fail"),
                       (f"/payment/notify/bitcoin/{uuid}", "no such notify path: check the notify URL")):
        response = client.get(path + "?" + query) if method == "GET" else client.post(
            path, data=query, content_type="application/x-www-form-urlencoded")
        assert (response.status_code, response.get_data(as_text=True)) == (404, body)
    assert len(world.notifications()) == 3 and world.balance() == 0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_unknown_order_with_a_valid_signature_is_an_anomaly_answered_success(world, signer, channel, method):
    seen = []
    params = sign(signer, channel, {"trade_no": "PPNOSUCHORDER", "total": "10.00"})
    with payment_anomaly.connected_to(lambda s, **kw: seen.append(kw["reason"]), world.app):
        response = deliver(world, channel, params, method)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    assert world.notifications()[-1].verdict == "anomaly" and "unknown order" in seen[0]


@pytest.mark.parametrize("channel", CHANNELS)
def test_wrong_amount_with_a_valid_signature_flags_the_order(world, signer, channel):
    order = world.order(channel, "10.00")
    kwargs = {"money": "1"} if channel.startswith("epay") else {"total_amount": "1.00"}
    response = deliver(world, channel, sign(signer, channel, order, **kwargs), "POST")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    row = world.order_row(order["trade_no"])
    assert row.status == "anomaly" and "amount mismatch" in row.anomaly
    assert world.notifications()[-1].verdict == "anomaly" and world.balance() == 0


@pytest.mark.parametrize("channel,kwargs", [
    ("epay", {"pid": "9999"}), ("epay_rsa", {"pid": "9999"}),
    ("alipay", {"app_id": "2021999999999999"}), ("alipay", {"seller_id": "2088999999999999"}),
])
def test_wrong_merchant_with_a_valid_signature_is_an_anomaly_and_leaves_the_order(world, signer, channel, kwargs):
    order = world.order(channel)
    response = deliver(world, channel, sign(signer, channel, order, **kwargs), "POST")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    assert world.notifications()[-1].verdict == "anomaly"
    assert world.order_row(order["trade_no"]).status == "pending" and world.balance() == 0
    assert deliver(world, channel, sign(signer, channel, order), "POST").get_data(as_text=True) == "success"
    assert world.balance() == Decimal("10.00")


def test_an_order_of_another_channel_is_not_credited_through_this_path(world, signer, sandbox):
    from tests.support.gateway import SANDBOX_BASE, create_channel

    twin = create_channel(world.admin, "epay", sandbox.channel_configs(SANDBOX_BASE)["epay"] | {"type": "wxpay"},
                          name="twin")
    order = world.order("epay")
    params = signer.epay(order["trade_no"], order["total"])
    response = world.app.test_client().get(f"/payment/notify/epay/{twin['uuid']}?" + urlencode(params))
    assert response.get_data(as_text=True) == "success"
    assert world.notifications()[-1].verdict == "anomaly" and world.balance() == 0
    assert deliver(world, "epay", params, "GET").get_data(as_text=True) == "success"
    assert world.balance() == Decimal("10.00")


def test_oversized_request_is_refused_with_413_before_recording(world):
    client = world.app.test_client()
    big = b"a=" + b"x" * 70000
    response = client.post(notify_path(world, "alipay"), data=big, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert world.notifications() == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_database_failure_while_settling_answers_503_and_the_retry_credits_once(world, signer, channel):
    """The connection drops inside settle's transaction, after the order row was updated and before the
    ledger row: everything is rolled back, the gateway is told to retry, and the retry credits once."""
    order = world.order(channel)
    params = sign(signer, channel, order)
    with world.app.app_context():
        engine = world.state.engine
    with statement_fails(engine, "INSERT INTO panelpay_ledger") as failed:
        response = deliver(world, channel, params, "POST")
    assert failed and (response.status_code, response.get_data(as_text=True)) == (503, "fail")
    assert world.notifications()[-1].verdict == "error" and world.balance() == 0
    row = world.order_row(order["trade_no"])
    assert row.status == "pending" and row.paid_at is None and row.settled_by is None
    assert deliver(world, channel, params, "POST").get_data(as_text=True) == "success"
    assert world.balance() == Decimal("10.00")


def test_disabled_channel_still_accepts_notifications_for_issued_orders(world, signer):
    order = world.order("epay")
    uuid = world.channels["epay"]["uuid"]
    assert world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"enabled": False}).status_code == 200
    refused = world.alice.post("/payment/api/orders", json={"channel": uuid, "amount": "5.00"})
    assert refused.status_code == 422
    assert deliver(world, "epay", signer.epay(order["trade_no"], order["total"]), "GET").get_data(as_text=True) == "success"
    assert world.balance() == Decimal("10.00")


def test_deleting_a_channel_with_orders_disables_it_and_its_path_keeps_working(world, signer):
    order = world.order("alipay")
    uuid = world.channels["alipay"]["uuid"]
    response = world.admin.delete(f"/payment/admin/api/channels/{uuid}")
    assert response.status_code == 200 and response.get_json()["enabled"] is False
    params = signer.alipay(order["trade_no"], order["total"])
    assert deliver(world, "alipay", params, "POST").get_data(as_text=True) == "success"
    assert world.balance() == Decimal("10.00")
    unused = world.admin.post("/payment/admin/api/channels", json={"kind": "epay", "name": "unused",
                                                                     "config": world.channels and {}})
    assert unused.status_code == 422


def test_expired_order_then_paid_is_credited_and_flagged_paid_late(world, signer):
    order = world.order("epay")
    with world.app.app_context(), world.state.session() as session, session.begin():
        session.execute(sa.text("UPDATE panelpay_orders SET status = 'expired' WHERE trade_no = :t"),
                        {"t": order["trade_no"]})
    assert deliver(world, "epay", signer.epay(order["trade_no"], order["total"]), "GET").get_data(as_text=True) == "success"
    row = world.order_row(order["trade_no"])
    assert row.status == "paid" and row.paid_late is True
    assert world.balance() == Decimal("10.00")


def test_replay_of_a_recorded_notification_is_idempotent(world, signer):
    order = world.order("epay_rsa")
    deliver(world, "epay_rsa", signer.epay_rsa(order["trade_no"], order["total"]), "GET")
    first = world.notifications()[0]
    for _ in range(2):
        response = world.admin.post(f"/payment/admin/api/notifications/{first.id}/replay")
        assert response.status_code == 200
        assert response.get_json()["verdict"] == "duplicate"
    with world.app.app_context(), world.state.session() as session:
        assert len(session.execute(sa.select(LedgerEntry)).scalars().all()) == 1
    assert [n.replay_of for n in world.notifications()] == [None, first.id, first.id]
    assert world.balance() == Decimal("10.00")


def test_a_channel_whose_secrets_cannot_be_read_answers_503_and_keeps_the_notification(world, signer):
    order = world.order("epay")
    with world.app.app_context(), world.state.session() as session, session.begin():
        session.execute(sa.text("UPDATE panelpay_channels SET secrets = 'gAAAAABnot-a-valid-token', "
                                "revision = revision + 1 WHERE uuid = :u"), {"u": world.channels["epay"]["uuid"]})
    response = deliver(world, "epay", signer.epay(order["trade_no"], order["total"]), "GET")
    assert (response.status_code, response.get_data(as_text=True)) == (503, "fail")
    logged = world.notifications()[-1]
    assert logged.verdict == "error" and "cannot be used" in logged.outcome and world.balance() == 0


def test_requests_to_paths_that_cannot_be_ours_are_logged_short_and_count_as_unknown(make_app, sandbox):
    from tests.conftest import World

    app = make_app(PANELPAY_METRICS_TOKEN="t")
    world = World(app, sandbox, configs=("epay",))
    client = app.test_client()
    for i in range(3):
        client.post(f"/payment/notify/kind{i}/whatever", data=b"a=" + b"x" * 30000,
                    content_type="application/x-www-form-urlencoded")
    logged = world.notifications()
    assert len(logged) == 3 and all(len(n.body) == 1024 for n in logged)
    metrics = client.get("/payment/metrics", headers={"Authorization": "Bearer t"}).get_data(as_text=True)
    assert 'kind="unknown"' in metrics and "kind0" not in metrics


def test_a_nul_byte_in_a_path_is_a_clear_answer_never_a_500(world, signer):
    client = world.alice
    for path in ("/payment/orders/a%00b", f"/payment/return/epay/{world.channels['epay']['uuid']}?out_trade_no=a%00b",
                 "/payment/return/epay/a%00b", "/payment/notify/epay/a%00b", "/payment/api/orders/a%00b"):
        assert client.get(path).status_code < 500, path
    assert world.admin.get("/payment/admin/channels/a%00b").status_code < 500


def test_a_nul_echoed_into_a_verdict_is_stored_escaped_never_a_500(world, signer):
    """The delivery log's outcome quotes what the gateway sent; PostgreSQL's text cannot hold NUL."""
    order = world.order("epay")
    response = deliver(world, "epay", {**signer.epay(order["trade_no"], order["total"]), "sign_type": "\x00"}, "GET")
    assert (response.status_code, response.get_data(as_text=True)) == (400, "fail")
    logged = world.notifications()[-1]
    assert logged.verdict == "rejected" and "signed with \\x00" in logged.outcome, logged.outcome
    assert world.balance() == 0


def test_a_replayed_notification_that_credits_is_marked_settled_by_replay(world, signer):
    order = world.order("epay")
    params = signer.epay(order["trade_no"], order["total"])
    uuid = world.channels["epay"]["uuid"]
    with world.app.app_context():
        engine = world.state.engine
    with statement_fails(engine, "INSERT INTO panelpay_ledger"):
        assert world.app.test_client().get(f"/payment/notify/epay/{uuid}?{urlencode(params)}").status_code == 503
    first = world.notifications()[0]
    assert world.admin.post(f"/payment/admin/api/notifications/{first.id}/replay").get_json()["verdict"] == "accepted"
    assert world.order_row(order["trade_no"]).settled_by == "replay"


def test_a_changed_key_takes_effect_on_the_next_notification(world, signer):
    """The notify path reuses the channel it built for a revision; an edit makes a new revision."""
    uuid = world.channels["epay"]["uuid"]
    first = world.order("epay")
    assert deliver(world, "epay", signer.epay(first["trade_no"], first["total"]), "GET").get_data(as_text=True) \
        == "success"
    response = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"config": {"key": "rotated-key-0123"}})
    assert response.status_code == 200, response.get_json()
    second = world.order("epay")
    stale = deliver(world, "epay", signer.epay(second["trade_no"], second["total"]), "GET")
    assert (stale.status_code, world.notifications()[-1].verdict) == (400, "rejected")
    fresh = deliver(world, "epay", signer.epay(second["trade_no"], second["total"], key="rotated-key-0123"), "GET")
    assert (fresh.status_code, fresh.get_data(as_text=True)) == (200, "success")
    assert world.balance() == Decimal(first["credit"]) + Decimal(second["credit"])


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_order_a_receiver_gets_is_the_order_as_stored(world, signer, channel):
    """Every column of the order handed to ``payment_succeeded`` equals the stored row, value and type:
    receivers get an ordinary Order, as the database has it after the credit."""
    from panelpay import payment_succeeded
    from panelpay.models import Order

    keys = [column.key for column in Order.__table__.columns]

    def column_values(order):
        return {key: getattr(order, key) for key in keys}

    order = world.order(channel, "12.34")
    with world.app.app_context(), world.state.session() as session, session.begin():
        session.execute(sa.update(Order).where(Order.trade_no == order["trade_no"])
                        .values(subject='充值 "quoted" \\ back\tslash', client_ip="203.0.113.9"))
    got = []
    with payment_succeeded.connected_to(lambda sender, **kw: got.append(kw["order"]), world.app):
        assert deliver(world, channel, sign(signer, channel, order), "POST").get_data(as_text=True) == "success"
    stored = column_values(world.order_row(order["trade_no"]))
    handed = column_values(got[0])
    assert handed == stored
    assert [type(handed[k]) for k in keys] == [type(stored[k]) for k in keys]
    assert got[0].channel.uuid == world.channels[channel]["uuid"]
    assert handed["total"] == Decimal("12.34") and handed["subject"] == '充值 "quoted" \\ back\tslash'


def test_order_numbers_and_channel_uuids_compare_exactly_on_every_database(world, signer):
    """MariaDB's default collation ignores case: a signed notification for "pp…" must not credit "PP…", nor
    a path with the uuid in capitals reach the channel, nor the API show an order under another case."""
    order = world.order("epay")
    lower = order["trade_no"].lower()
    answer = deliver(world, "epay", signer.epay(lower, order["total"]), "GET")
    assert answer.get_data(as_text=True) == "success"
    assert world.notifications()[-1].verdict == "anomaly" and "unknown order" in world.notifications()[-1].outcome
    assert world.order_row(order["trade_no"]).status == "pending" and world.balance() == 0
    upper = f"/payment/notify/epay/{world.channels['epay']['uuid'].upper()}?"
    assert world.app.test_client().get(upper + urlencode(signer.epay(order["trade_no"], order["total"]))) \
        .status_code == 404
    assert world.alice.get(f"/payment/api/orders/{lower}").status_code == 404
    assert world.admin.get(f"/payment/admin/api/channels/{world.channels['epay']['uuid'].upper()}").status_code == 404
    assert world.balance() == 0
