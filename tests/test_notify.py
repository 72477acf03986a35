"""The built-in notify path over HTTP: every answer of the README's table, GET and POST, EPay and Alipay."""
from __future__ import annotations

import time
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from panelpay import payment_anomaly
from panelpay.models import LedgerEntry


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
    client = world.app.test_client()
    order = world.order("epay")
    query = urlencode(signer.epay(order["trade_no"], order["total"]))
    uuid = world.channels["epay"]["uuid"]
    for path in ("/payment/notify/epay/0000000000000000", f"/payment/notify/alipay/{uuid}",
                 f"/payment/notify/bitcoin/{uuid}"):
        response = client.get(path + "?" + query) if method == "GET" else client.post(
            path, data=query, content_type="application/x-www-form-urlencoded")
        assert (response.status_code, response.get_data(as_text=True)) == (404, "fail")
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
    from sqlalchemy.exc import OperationalError

    order = world.order(channel)
    params = sign(signer, channel, order)

    def fail(order):
        raise OperationalError("UPDATE", {}, Exception("server closed the connection unexpectedly"))

    world.state.on("settle:locked", fail)
    response = deliver(world, channel, params, "POST")
    assert (response.status_code, response.get_data(as_text=True)) == (503, "fail")
    assert world.notifications()[-1].verdict == "error" and world.balance() == 0
    world.state._hooks.clear()
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
    metrics = client.get("/payment/metrics?token=t").get_data(as_text=True)
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
    from sqlalchemy.exc import OperationalError

    def database_down(order):
        raise OperationalError("UPDATE", {}, Exception("server closed the connection unexpectedly"))

    world.state.on("settle:locked", database_down)
    assert world.app.test_client().get(f"/payment/notify/epay/{uuid}?{urlencode(params)}").status_code == 503
    world.state._hooks.clear()
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


def test_a_notification_costs_a_fixed_handful_of_statements(world, signer, backend):
    """No N+1 and nothing the credit does not need: on PostgreSQL the record (with its order lookup) and
    the credit are one statement each, each its own transaction; elsewhere a short, fixed list."""
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split())[:60])

    orders = [world.order("epay") for _ in range(3)]
    deliver(world, "epay", signer.epay(orders[0]["trade_no"], orders[0]["total"]), "GET")  # builds the channel
    with world.app.app_context():
        engine = world.state.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        for order in orders[1:]:
            assert deliver(world, "epay", signer.epay(order["trade_no"], order["total"]), "GET") \
                .get_data(as_text=True) == "success"
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    per_notification = len(statements) / 2
    if backend == "postgresql":
        assert per_notification == 2 and all(s.startswith("WITH ") for s in statements), statements
    else:  # INSERT, SELECT order; UPDATE order (+ read-back without UPDATE … RETURNING), ledger, balance, verdict
        assert per_notification <= 7 and not any("panelpay_channels" in s and "JOIN" not in s for s in statements), \
            statements
    assert world.balance() == sum(Decimal(o["credit"]) for o in orders)


def test_on_postgresql_a_credited_notification_waits_for_one_wal_flush_not_two(world, signer, backend):
    """The record's commit does not wait for the disk; the credit's does, and flushes both (the log is
    written in order). Counted by PostgreSQL itself: WAL syncs (pg_stat_wal, flushed when a backend exits)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's one-statement path")
    orders = [world.order("epay") for _ in range(20)]
    deliver(world, "epay", signer.epay(orders[0]["trade_no"], orders[0]["total"]), "GET")  # builds the channel
    with world.app.app_context():
        engine = world.state.engine
    url = engine.url

    def wal_syncs() -> int:
        engine.dispose()  # our backends exit, and report their WAL statistics as they do
        reader = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            last, deadline = None, time.monotonic() + 10
            while time.monotonic() < deadline:  # until the exiting backends have reported
                with reader.connect() as connection:
                    now = connection.execute(sa.text("SELECT wal_sync FROM pg_stat_wal")).scalar_one()
                    others = connection.execute(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()")).scalar_one()
                if now == last and others == 0:
                    return now
                last = now
                time.sleep(0.2)
            return last
        finally:
            reader.dispose()

    before = wal_syncs()
    for order in orders[1:]:
        assert deliver(world, "epay", signer.epay(order["trade_no"], order["total"]), "GET") \
            .get_data(as_text=True) == "success"
    flushes = wal_syncs() - before
    assert len(orders[1:]) <= flushes + 2 and flushes <= len(orders[1:]) + 8, flushes  # 2 each: 38 and more


def test_a_notification_holds_one_connection_at_a_time(world, signer, sandbox, backend):
    """On PostgreSQL the record and the credit share one checkout. On every database, no path (a cold
    channel cache, an anomaly, a rejection, a signal receiver that queries) waits for a second
    connection while holding one: with every thread doing that, a full pool would never give it."""
    from tests.support.gateway import SANDBOX_BASE, create_channel

    from panelpay import notification_rejected, payment_succeeded

    with world.app.app_context():
        engine = world.state.engine
    out, most, checkouts = [0], [0], [0]

    def checked_out(*args):
        out[0] += 1
        checkouts[0] += 1
        most[0] = max(most[0], out[0])

    def checked_in(*args):
        out[0] -= 1

    def queries(sender, **kwargs):  # a host's receiver that uses the database
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    twin = create_channel(world.admin, "epay", sandbox.channel_configs(SANDBOX_BASE)["epay"] | {"type": "wxpay"},
                          name="twin")
    orders = [world.order("epay") for _ in range(4)]
    assert deliver(world, "epay", signer.epay(orders[0]["trade_no"], orders[0]["total"]), "GET") \
        .get_data(as_text=True) == "success"  # builds the channel
    sa.event.listen(engine.pool, "checkout", checked_out)
    sa.event.listen(engine.pool, "checkin", checked_in)
    try:
        paid = signer.epay(orders[1]["trade_no"], orders[1]["total"])
        assert deliver(world, "epay", paid, "GET").get_data(as_text=True) == "success"
        assert checkouts[0] == 1 if backend == "postgresql" else checkouts[0] <= 3
        with payment_succeeded.connected_to(queries, world.app), payment_anomaly.connected_to(queries, world.app), \
                notification_rejected.connected_to(queries, world.app):
            world.state._channel_cache.clear()
            assert deliver(world, "epay", signer.epay(orders[2]["trade_no"], orders[2]["total"]), "GET") \
                .get_data(as_text=True) == "success"  # cold cache, then credited
            for params in (paid,  # duplicate
                           signer.epay("PPNOSUCHORDER", "10.00"),  # unknown order
                           signer.epay(orders[3]["trade_no"], orders[3]["total"], pid="9999"),  # wrong merchant
                           signer.epay(orders[3]["trade_no"], orders[3]["total"], money="1")):  # wrong amount
                assert deliver(world, "epay", params, "GET").get_data(as_text=True) == "success"
            assert deliver(world, "epay", {**signer.epay(orders[0]["trade_no"], "10.00"), "sign": "0" * 32},
                           "GET").status_code == 400
            params = signer.epay(orders[0]["trade_no"], orders[0]["total"])
            assert world.app.test_client().get(f"/payment/notify/epay/{twin['uuid']}?" + urlencode(params)) \
                .get_data(as_text=True) == "success"  # another channel's order
    finally:
        sa.event.remove(engine.pool, "checkout", checked_out)
        sa.event.remove(engine.pool, "checkin", checked_in)
    assert most[0] == 1 and out[0] == 0
    assert [n.verdict for n in world.notifications()[-8:]] == \
        ["accepted", "accepted", "duplicate", "anomaly", "anomaly", "anomaly", "rejected", "anomaly"]


def test_connections_go_back_to_the_pool_as_the_host_left_them(world, signer):
    """PanelPay's one-statement transactions run in autocommit on the host's pool; the connections it
    returns are transactional again: a host's rollback on any of them still undoes its work."""
    orders = [world.order("epay") for _ in range(3)]
    for order in orders:
        assert deliver(world, "epay", signer.epay(order["trade_no"], order["total"]), "GET") \
            .get_data(as_text=True) == "success"
    expected = world.balance()
    with world.app.app_context():
        engine, users = world.state.engine, world.app.User
    pooled = [engine.connect() for _ in range(max(engine.pool.checkedin(), 1))]
    try:
        for connection in pooled:
            connection.execute(sa.update(users).where(users.id == world.alice_id)
                               .values(balance=users.balance + 1))
            connection.rollback()
    finally:
        for connection in pooled:
            connection.close()
    assert world.balance() == expected == sum(Decimal(o["credit"]) for o in orders)


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_order_a_receiver_gets_is_the_order_as_stored(world, signer, channel):
    """Every column of the order handed to ``payment_succeeded`` equals the stored row, value and type
    (on PostgreSQL the notify path reads the order as JSON: money stays Decimal, timestamps datetimes)."""
    from panelpay import payment_succeeded
    from panelpay.models import ORDER_KEYS, Order, column_values

    order = world.order(channel, "12.34")
    with world.app.app_context(), world.state.session() as session, session.begin():
        session.execute(sa.update(Order).where(Order.trade_no == order["trade_no"])
                        .values(subject='充值 "quoted" \\ back\tslash', client_ip="203.0.113.9"))
    got = []
    with payment_succeeded.connected_to(lambda sender, **kw: got.append(kw["order"]), world.app):
        assert deliver(world, channel, sign(signer, channel, order), "POST").get_data(as_text=True) == "success"
    stored = column_values(world.order_row(order["trade_no"]), ORDER_KEYS)
    handed = column_values(got[0], ORDER_KEYS)
    assert handed == stored
    assert [type(handed[k]) for k in ORDER_KEYS] == [type(stored[k]) for k in ORDER_KEYS]
    assert handed["total"] == Decimal("12.34") and handed["subject"] == '充值 "quoted" \\ back\tslash'
