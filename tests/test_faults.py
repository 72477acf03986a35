"""Fault tests: the database goes away, a worker dies mid-settle, a row stays locked. Nothing is lost,
nothing is doubled, nothing answers 500."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa

from panelpay import spool
from panelpay.models import LedgerEntry, Notification, Order
from tests.conftest import World, add_user, database_url
from tests.support.gateway import create_channel, login
from tests.support.servers import free_port, serve_app
from tests.support.tcpproxy import TcpProxy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
servers_only = pytest.mark.parametrize("backend", ["postgresql", "mariadb"], indirect=True)


def wait_until(predicate, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def rows(url, model):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.select(model.__table__)).all()
    finally:
        engine.dispose()


@contextmanager
def through_proxy(make_app, backend, **config):
    """A host app whose database connections pass through a :class:`TcpProxy` the test can cut."""
    direct = sa.engine.make_url(database_url(backend))
    proxy = TcpProxy(direct.host, direct.port)
    try:
        yield make_app(db_url=direct.set(port=proxy.port).render_as_string(hide_password=False), **config), proxy
    finally:
        proxy.close()


@servers_only
def test_database_outage_during_a_burst_is_answered_503_spooled_and_credited_once_after(make_app, backend, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with through_proxy(make_app, backend, PANELPAY_SITE_URL=base, PANELPAY_SANDBOX=True,
                       PANELPAY_SPOOL_DIR=str(tmp_path / "spool")) as (app, proxy):
        state = app.extensions["panelpay"]
        with serve_app(app, port):
            admin = login(app, add_user(app, "admin", is_admin=True))
            alice_id = add_user(app, "alice")
            alice = requests.Session()
            alice.post(f"{base}/_login/{alice_id}")
            config = state.sandbox.channel_configs(base + "/payment/sandbox")["epay_mapi"]
            channel = create_channel(admin, "epay", config, name="epay")
            orders = [alice.post(f"{base}/payment/api/orders", json={"channel": channel["uuid"], "amount": "3.00"})
                      .json()["trade_no"] for _ in range(10)]
            state.sandbox.behaviour.time_scale = 0.002  # retries after 0.12 s, 0.36 s, 2.3 s, 6.6 s

            proxy.cut()
            for trade_no in orders:
                state.sandbox.pay(trade_no)
            assert wait_until(lambda: len(spool.pending(state)) >= 10, timeout=10)
            time.sleep(0.5)
            proxy.restore()

            def credited():
                return len(rows(database_url(backend), LedgerEntry)) == 10
            assert wait_until(credited, timeout=30)
            for trade_no in orders:
                attempts = state.sandbox.deliveries(trade_no)
                statuses = [a["status"] if isinstance(a, dict) else a.status for a in attempts]
                assert statuses[0] == 503, statuses
                assert 500 not in statuses
            with app.app_context():
                counts = spool.drain(state)
            assert counts.get("duplicate", 0) >= 10 and not spool.pending(state)
    assert len(rows(database_url(backend), LedgerEntry)) == 10
    with app.app_context():
        engine = sa.create_engine(database_url(backend))
        with engine.connect() as connection:
            balance = connection.execute(sa.text("SELECT balance FROM host_users WHERE id = :i"), {"i": alice_id}).scalar()
        engine.dispose()
    assert Decimal(balance) == Decimal("30.00")
    logged = rows(database_url(backend), Notification)
    assert {r.verdict for r in logged} <= {"accepted", "duplicate"}


@servers_only
def test_a_verdict_that_cannot_be_written_leaves_the_answer_and_a_record_to_replay(make_app, backend, sandbox,
                                                                                  signer):
    """The record is committed before anything is judged, so nothing is lost when the database goes away
    afterwards. Here it goes away after the request was judged (an anomaly receiver of the host cuts it)
    and before the verdict is written: the gateway still gets the answer the verdict earned, the log keeps
    the request as received, and a replay once the database is back judges it the same way."""
    from panelpay import payment_anomaly

    with through_proxy(make_app, backend) as (app, proxy):
        world = World(app, sandbox, configs=("epay",))
        uuid = world.channels["epay"]["uuid"]
        unknown = signer.epay("PP00000000000000000000", "10.00")

        def database_gone(sender, **kwargs):
            proxy.cut()

        with payment_anomaly.connected_to(database_gone, app):
            first = app.test_client().get(f"/payment/notify/epay/{uuid}?{urlencode(unknown)}")
        assert (first.status_code, first.get_data(as_text=True)) == (200, "success")
        proxy.restore()
        with app.app_context():
            app.extensions["panelpay"].engine.dispose()  # the cut connections
        recorded = world.notifications()[-1]
        assert recorded.verdict == "received" and recorded.trade_no is None
        replayed = world.admin.post(f"/payment/admin/api/notifications/{recorded.id}/replay").get_json()
        assert replayed["verdict"] == "anomaly" and "unknown order" in replayed["outcome"]
        assert world.notifications()[-1].replay_of == recorded.id


@servers_only
def test_a_connection_broken_under_a_notification_is_never_handed_out_again(make_app, backend, sandbox, signer,
                                                                           tmp_path):
    """The pooled connection a notification was using dies (the proxy drops it): that notification is
    answered 503 and spooled, and the pool forgets the connection, so the first notification after the
    database is back is credited at once instead of failing on the dead one."""
    with through_proxy(make_app, backend, PANELPAY_SPOOL_DIR=str(tmp_path / "spool")) as (app, proxy):
        world = World(app, sandbox, configs=("epay",))
        uuid = world.channels["epay"]["uuid"]
        orders = [world.order("epay") for _ in range(3)]
        client = app.test_client()

        def deliver(order):
            params = signer.epay(order["trade_no"], order["total"])
            response = client.get(f"/payment/notify/epay/{uuid}?{urlencode(params)}")
            return response.status_code, response.get_data(as_text=True)

        assert deliver(orders[0]) == (200, "success")
        proxy.cut()
        assert deliver(orders[1]) == (503, "fail")
        proxy.restore()
        assert deliver(orders[2]) == (200, "success")
        assert world.order_row(orders[2]["trade_no"]).status == "paid"
        assert world.order_row(orders[1]["trade_no"]).status == "pending"  # its notification waits in the spool


def _start(env):
    return subprocess.Popen([sys.executable, "-m", "tests.support.kill_host"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_worker_killed_inside_settle_leaves_no_partial_write_and_the_retry_credits_once(app, backend, signer, sandbox,
                                                                                         tmp_path):
    world = World(app, sandbox, configs=("alipay",))
    order = world.order("alipay", "6.00")
    params = signer.alipay(order["trade_no"], order["total"])
    port = free_port()
    path = f"http://127.0.0.1:{port}/payment/notify/alipay/{world.channels['alipay']['uuid']}"
    marker = tmp_path / "blocked"
    env = {**os.environ, "PANELPAY_TEST_DB_URL": database_url(backend), "PANELPAY_TEST_PORT": str(port),
           "PANELPAY_TEST_BLOCK_MARKER": str(marker)}
    worker = _start(env)
    try:
        assert wait_until(lambda: _up(path), timeout=30)
        answer = {}
        sender = threading.Thread(target=lambda: answer.update(r=_post(path, params)), daemon=True)
        sender.start()
        assert wait_until(marker.exists, timeout=20)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        sender.join(10)
        assert "r" not in answer or answer["r"] is None  # the gateway never got an answer
    finally:
        if worker.poll() is None:
            worker.kill()
    row = world.order_row(order["trade_no"])
    assert row.status == "pending" and row.paid_at is None
    assert rows(database_url(backend), LedgerEntry) == []
    assert world.balance() == 0
    assert [n.verdict for n in world.notifications()] == ["received"]  # recorded before it was judged

    del env["PANELPAY_TEST_BLOCK_MARKER"]
    worker = _start(env)
    try:
        assert wait_until(lambda: _up(path), timeout=30)
        for _ in range(2):
            response = requests.post(path, data=params, timeout=30)
            assert (response.status_code, response.text) == (200, "success")
    finally:
        worker.kill()
        worker.wait(10)
    assert world.balance() == Decimal("6.00") and len(rows(database_url(backend), LedgerEntry)) == 1


def _up(url):
    """Whether the worker answers (a doctor probe: answered without being recorded)."""
    try:
        return requests.get(url, params={"__panelpay_probe": "0" * 32}, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _post(url, params):
    try:
        return requests.post(url, data=params, timeout=30)
    except requests.RequestException:
        return None


@servers_only
def test_a_row_lock_held_elsewhere_makes_the_notification_wait_then_answer_503(make_app, backend, signer, sandbox):
    app = make_app(PANELPAY_LOCK_TIMEOUT=1)
    world = World(app, sandbox, configs=("epay",))
    order = world.order("epay", "4.00")
    query = urlencode(signer.epay(order["trade_no"], order["total"]))
    path = f"/payment/notify/epay/{world.channels['epay']['uuid']}?{query}"
    engine = sa.create_engine(database_url(backend))
    with engine.connect() as holder:
        transaction = holder.begin()
        holder.execute(sa.select(Order.__table__).where(Order.__table__.c.trade_no == order["trade_no"])
                       .with_for_update())
        started = time.monotonic()
        response = app.test_client().get(path)
        waited = time.monotonic() - started
        assert (response.status_code, response.get_data(as_text=True)) == (503, "fail")
        assert 0.9 <= waited < 10
        transaction.rollback()
    engine.dispose()
    assert world.notifications()[-1].verdict == "error" and world.balance() == 0
    for _ in range(2):
        assert app.test_client().get(path).get_data(as_text=True) == "success"
    assert world.balance() == Decimal("4.00") and len(rows(database_url(backend), LedgerEntry)) == 1


def test_spool_drains_once_however_many_drains_run_and_sets_unreadable_files_aside(make_app, sandbox, signer, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from panelpay.channels.base import GatewayRequest
    from panelpay.models import utcnow
    from panelpay.notify import Received

    app = make_app(PANELPAY_SPOOL_DIR=str(tmp_path / "spool"))
    world = World(app, sandbox, configs=("epay",))
    state = world.state
    uuid = world.channels["epay"]["uuid"]
    orders = [world.order("epay", "2.00") for _ in range(6)]
    for order in orders:
        query = urlencode(signer.epay(order["trade_no"], order["total"])).encode()
        spool.keep(state, Received("epay", uuid, "127.0.0.1", GatewayRequest("GET", (), query, b"", "", utcnow())))
    (tmp_path / "spool" / "broken.json").write_text("{not json")

    def drain():
        with app.app_context():
            return spool.drain(state)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: drain(), range(4)))
    assert sum(r.get("accepted", 0) for r in results) == 6
    assert sum(r.get("unreadable", 0) for r in results) == 1
    assert spool.pending(state) == []
    assert len(list((tmp_path / "spool" / "quarantine").iterdir())) == 1
    assert world.balance() == Decimal("12.00")
    assert len(world.notifications()) == 6


def test_a_request_an_outage_left_unjudged_is_marked_once_its_copy_is_answered(world, signer):
    """After a database flap a delivery-log row can stay "received" with no answer (its verdict could not be
    written); the gateway's copy of the same request was judged. Reconcile marks the old row as sent
    again, naming the row that answered it; rows without a judged copy stay for a replay."""
    from datetime import timedelta

    from panelpay import reconcile
    from tests.support.faults import statement_fails

    uuid = world.channels["epay"]["uuid"]
    path = f"/payment/notify/epay/{uuid}?{urlencode(signer.epay('PP00000000000000000001', '10.00'))}"
    lonely = f"/payment/notify/epay/{uuid}?{urlencode(signer.epay('PP00000000000000000002', '10.00'))}"
    client = world.app.test_client()
    with world.app.app_context():
        engine = world.state.engine
    for target in (path, lonely):
        with statement_fails(engine, "UPDATE panelpay_notifications"):
            assert client.get(target).status_code == 200
    assert client.get(path).status_code == 200  # the gateway sends the first one again
    first, second, copy = world.notifications()
    assert (first.verdict, second.verdict, copy.verdict) == ("received", "received", "anomaly")
    with world.app.app_context(), world.state.session() as session, session.begin():
        for row in (first, second):
            session.execute(sa.update(Notification).where(Notification.id == row.id)
                            .values(received_at=row.received_at - timedelta(minutes=10)))
    with world.app.app_context():
        reconcile.run(world.state)
    first, second, _ = world.notifications()
    assert first.verdict == "retried" and f"#{copy.id} answered it (anomaly)" in first.outcome
    assert second.verdict == "received"  # no copy was judged: left for a replay
