"""Never lose a payment: reconcile, expiry, late payments, alerts and metrics."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa

from panelpay import reconcile
from panelpay.models import LedgerEntry, Order, utcnow
from tests.conftest import add_user
from tests.support.gateway import Signer, create_channel, login
from tests.support.servers import free_port, serve_app


class Live:
    """A served app with the sandbox mounted, an admin, alice and channels for the given sandbox configs."""

    def __init__(self, app, base, products):
        self.app, self.base = app, base
        self.state = app.extensions["panelpay"]
        self.sandbox = self.state.sandbox
        self.admin = login(app, add_user(app, "admin", is_admin=True))
        self.alice_id = add_user(app, "alice")
        self.alice = requests.Session()
        assert self.alice.post(f"{base}/_login/{self.alice_id}").status_code == 200
        configs = self.sandbox.channel_configs(base + "/payment/sandbox")
        self.channels = {p: create_channel(self.admin, self.sandbox.CHANNEL_KINDS[p], configs[p], name=p)
                         for p in products}

    def order(self, product, amount="10.00") -> dict:
        response = self.alice.post(f"{self.base}/payment/api/orders",
                                   json={"channel": self.channels[product]["uuid"], "amount": amount})
        assert response.status_code == 201, response.text
        order = response.json()
        if order["pay"]["method"] == "form":  # the buyer's browser opens the gateway's page
            assert requests.post(order["pay"]["url"], data=order["pay"]["fields"]).status_code == 200
        return order

    def pay(self, order):
        assert requests.post(f"{self.base}/payment/sandbox/_pay/{order['trade_no']}").status_code == 200

    def status(self, order) -> str:
        return self.row(order).status

    def row(self, order) -> Order:
        with self.app.app_context(), self.state.session() as session:
            return session.execute(sa.select(Order).where(Order.trade_no == order["trade_no"])).scalar_one()

    def balance(self) -> Decimal:
        with self.app.app_context():
            return self.app.db.session.get(self.app.User, self.alice_id).balance

    def ledger(self) -> int:
        with self.app.app_context(), self.state.session() as session:
            return len(session.execute(sa.select(LedgerEntry)).scalars().all())

    def reconcile(self, **kwargs):
        with self.app.app_context():
            return reconcile.run(self.state, **kwargs)

    def cli(self, *args):
        return self.app.test_cli_runner().invoke(args=["panelpay", *args])


class Receiver:
    """A local webhook that records the JSON alerts it receives."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"

    def events(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.received:
            time.sleep(0.05)
        return [r["event"] for r in self.received]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def live_factory(make_app):
    servers = []

    def factory(products=("epay_mapi", "alipay_qr"), channel_kinds=(), **config):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        app = make_app(PANELPAY_SITE_URL=base, PANELPAY_SANDBOX=True, channel_kinds=channel_kinds, **config)
        server = serve_app(app, port)
        server.__enter__()
        servers.append(server)
        return Live(app, base, products)

    yield factory
    for server in servers:
        server.__exit__(None, None, None)


@pytest.mark.parametrize("product", ["epay_mapi", "epay_rsa", "alipay_qr"])
def test_dropped_notifications_are_found_by_reconcile_and_credited_once(live_factory, product):
    live = live_factory((product,))
    live.sandbox.behaviour.drop = True
    paid, unpaid = live.order(product, "10.00"), live.order(product, "5.00")
    live.pay(paid)
    time.sleep(0.2)
    assert live.status(paid) == "pending"
    result = live.cli("reconcile")
    assert result.exit_code == 0, result.output
    assert "queried 2, paid 1, still pending 1" in result.output
    assert live.status(paid) == "paid" and live.row(paid).settled_by == "reconcile"
    assert live.status(unpaid) == "pending"
    assert live.balance() == Decimal("10.00") and live.ledger() == 1
    with live.app.app_context(), live.state.session() as session, session.begin():
        session.execute(sa.update(Order).values(queried_at=utcnow() - timedelta(minutes=5)))
    second = live.reconcile()
    assert (second.paid, second.queried) == (0, 1)
    assert live.balance() == Decimal("10.00") and live.ledger() == 1
    signer = Signer(live.sandbox)
    late = (signer.alipay if product.startswith("alipay") else
            signer.epay_rsa if product == "epay_rsa" else signer.epay)(paid["trade_no"], paid["total"],
                                                                      gateway_trade_no=live.row(paid).gateway_trade_no)
    path = f"/payment/notify/{live.channels[product]['kind']}/{live.channels[product]['uuid']}"
    answer = live.app.test_client().post(path, data=late)
    assert answer.get_data(as_text=True) == "success"
    assert live.balance() == Decimal("10.00") and live.ledger() == 1


def test_expired_order_then_paid_is_credited_once_flagged_late_and_alerted(live_factory, receiver):
    live = live_factory(("epay_mapi",), PANELPAY_ALERT_WEBHOOK=receiver.url)
    order = live.order("epay_mapi", "8.00")
    with live.app.app_context(), live.state.session() as session, session.begin():
        session.execute(sa.update(Order).where(Order.trade_no == order["trade_no"])
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
    result = live.cli("expire")
    assert result.exit_code == 0 and "expired 1" in result.output, result.output
    assert live.status(order) == "expired"
    live.pay(order)  # EPay cannot close orders: the buyer pays after expiry, the notification arrives
    deadline = time.monotonic() + 10
    while live.status(order) != "paid" and time.monotonic() < deadline:
        time.sleep(0.05)
    row = live.row(order)
    assert row.status == "paid" and row.paid_late is True
    assert live.balance() == Decimal("8.00") and live.ledger() == 1
    assert "payment_paid_late" in receiver.events()
    alert = next(r for r in receiver.received if r["event"] == "payment_paid_late")
    assert alert["order"]["trade_no"] == order["trade_no"] and alert["order"]["total"] == "8.00"
    assert live.reconcile().paid == 0 and live.balance() == Decimal("8.00")


def test_expiring_an_alipay_order_closes_it_at_the_gateway(live_factory):
    live = live_factory(("alipay_qr",))
    order = live.order("alipay_qr")
    with live.app.app_context(), live.state.session() as session, session.begin():
        session.execute(sa.update(Order).where(Order.trade_no == order["trade_no"])
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
    assert live.reconcile(expired_only=True).expired == 1
    assert live.status(order) == "expired"
    with live.app.app_context():
        from panelpay.store import channel_impl, get_channel

        impl = channel_impl(live.state, get_channel(live.state, live.channels["alipay_qr"]["uuid"]))
        assert impl.query(order["trade_no"]).status.value == "closed"


def test_a_gateway_that_is_down_is_reported_not_fatal(live_factory):
    live = live_factory(("epay_mapi", "alipay_qr"))
    kept = live.order("alipay_qr")
    broken = live.order("epay_mapi")
    uuid = live.channels["epay_mapi"]["uuid"]
    with live.app.app_context(), live.state.session() as session, session.begin():
        from panelpay.models import Channel

        channel = session.execute(sa.select(Channel).where(Channel.uuid == uuid)).scalar_one()
        config = json.loads(channel.config)
        config["gateway"] = f"http://127.0.0.1:{free_port()}/epay/"
        channel.config = json.dumps(config)
        channel.revision += 1
    live.pay(kept)
    summary = live.reconcile()
    assert summary.errors == 1 and uuid in summary.gateway_errors
    assert live.status(kept) == "paid" and live.status(broken) == "pending"
    with live.app.app_context(), live.state.session() as session, session.begin():
        session.execute(sa.update(Order).values(queried_at=utcnow() - timedelta(minutes=5)))
    response = live.admin.post("/payment/admin/api/reconcile")
    assert response.status_code == 200 and response.get_json()["errors"] == 1


def test_reconcile_reports_a_channel_whose_notifications_stopped(live_factory, receiver):
    live = live_factory(("epay_mapi",), PANELPAY_ALERT_WEBHOOK=receiver.url)
    live.sandbox.behaviour.drop = True
    order = live.order("epay_mapi")
    live.pay(order)
    assert live.reconcile().paid == 1
    assert "channel_silent" in receiver.events()
    alert = next(r for r in receiver.received if r["event"] == "channel_silent")
    assert alert["channel_uuid"] == live.channels["epay_mapi"]["uuid"] and alert["paid_without_notify"] == 1


def test_rejected_notifications_and_anomalies_are_alerted(live_factory, receiver):
    live = live_factory(("epay_mapi",), PANELPAY_ALERT_WEBHOOK=receiver.url)
    live.state.alerts.window = 0.3  # refusals are summed up per window (60 s by default)
    order = live.order("epay_mapi")
    client = live.app.test_client()
    path = f"/payment/notify/epay/{live.channels['epay_mapi']['uuid']}"
    client.get(f"{path}?out_trade_no={order['trade_no']}&sign=bad&money=10")
    params = Signer(live.sandbox).epay(order["trade_no"], order["total"], money="1")
    client.get(f"{path}?{urlencode(params)}")
    deadline = time.monotonic() + 5
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    events = {r["event"]: r for r in receiver.received}
    assert "notifications_rejected" in events and "payment_anomaly" in events
    assert "amount mismatch" in events["payment_anomaly"]["reason"]
    refused = events["notifications_rejected"]
    assert refused["count"] == 1 and refused["sources"][0]["source_ip"] == "127.0.0.1"
    assert refused["sources"][0]["untrusted"]["reasons"] == \
        ["malformed: trade_no or trade_status is missing: not an EPay notification"]
    assert live.sandbox.credentials.epay_key not in json.dumps(receiver.received)


def test_metrics_expose_the_counters_behind_a_token(make_app, sandbox, signer):
    from tests.conftest import World

    app = make_app(PANELPAY_METRICS_TOKEN="s3cret-token")
    world = World(app, sandbox, configs=("epay",))
    order = world.order("epay")
    client = app.test_client()
    client.get(f"/payment/notify/epay/{world.channels['epay']['uuid']}?" +
               urlencode(signer.epay(order["trade_no"], order["total"])))
    assert client.get("/payment/metrics").status_code == 401
    assert client.get("/payment/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/payment/metrics?token=s3cret-token").status_code == 401  # not in URLs (access logs)
    response = client.get("/payment/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for name in ('panelpay_notifications_total{answer="200",kind="epay",verdict="accepted"} 1.0',
                 "panelpay_settle_seconds_bucket", 'panelpay_credits_total{kind="epay",source="notify"} 1.0',
                 'panelpay_credited_amount_total{kind="epay"} 10.0', "panelpay_anomalies_total",
                 "panelpay_reconcile_orders_total"):
        assert name in text, name


def test_metrics_are_off_without_a_token(app):
    assert app.test_client().get("/payment/metrics").status_code == 404


def test_two_reconcile_processes_at_once_credit_each_paid_order_once_and_query_each_once(live_factory, backend):
    import os
    import subprocess
    import sys

    from panelpay.orders import create_order
    from tests.conftest import database_url

    live = live_factory(("epay_mapi",), PANELPAY_ORDERS_PER_USER=1000)
    live.sandbox.behaviour.drop = True
    uuid = live.channels["epay_mapi"]["uuid"]
    trade_nos = []
    with live.app.test_request_context(base_url=live.base):
        for _ in range(300):  # more than one claim's batch (200): both runs take some
            order = create_order(live.state, user_id=str(live.alice_id), channel_uuid=uuid,
                                 amount=Decimal("1.00"), client_ip="127.0.0.1", mobile=False)
            trade_nos.append(order.trade_no)
    paid = trade_nos[::2]
    for trade_no in paid:
        live.sandbox.pay(trade_no)
    env = {**os.environ, "PANELPAY_TEST_DB_URL": database_url(backend), "PANELPAY_TEST_SITE_URL": live.base,
           "FLASK_APP": "tests.support.cli_host"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = [subprocess.Popen([sys.executable, "-m", "flask", "panelpay", "reconcile"], env=env, cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=240) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    queried = [int(out.split("queried ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(queried) == 300, outputs
    counts = {t: live.sandbox.order(t)["queries"] for t in trade_nos}
    assert set(counts.values()) == {1}, {t: c for t, c in counts.items() if c != 1}
    assert live.ledger() == 150 and live.balance() == Decimal("150.00")
    assert {live.status({"trade_no": t}) for t in paid} == {"paid"}


def test_a_payment_settled_while_reconcile_expires_the_order_stays_paid(live_factory):
    live = live_factory(("epay_mapi",))
    live.sandbox.behaviour.drop = True
    order = live.order("epay_mapi", "10.00")
    with live.app.app_context(), live.state.session() as session, session.begin():
        session.execute(sa.update(Order).where(Order.trade_no == order["trade_no"])
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
    uuid = live.channels["epay_mapi"]["uuid"]
    params = Signer(live.sandbox).epay(order["trade_no"], order["total"],
                                       gateway_trade_no=live.row(order).gateway_trade_no)

    delivered = []

    def notification_arrives_meanwhile(conn, cursor, statement, parameters, context, executemany):
        """Just before reconcile writes the expiry (its gateway said "not paid"), the payment's
        notification arrives and settles the order: an event listener of the test's."""
        expiring = statement.lstrip().upper().startswith("UPDATE PANELPAY_ORDERS") and "paid_late" not in statement \
            and "expired" in str(parameters)
        if expiring and not delivered:
            delivered.append(None)
            delivered[0] = live.app.test_client().get(f"/payment/notify/epay/{uuid}?{urlencode(params)}")

    with live.app.app_context():
        engine = live.state.engine
    sa.event.listen(engine, "before_cursor_execute", notification_arrives_meanwhile)
    try:
        summary = live.reconcile(expired_only=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", notification_arrives_meanwhile)
    assert [answer.get_data(as_text=True) for answer in delivered] == ["success"]
    assert summary.queried == 1
    assert live.status(order) == "paid" and live.balance() == Decimal("10.00")
    again = live.app.test_client().get(f"/payment/notify/epay/{uuid}?{urlencode(params)}")
    assert again.get_data(as_text=True) == "success"
    assert live.status(order) == "paid" and live.row(order).anomaly is None
    assert live.balance() == Decimal("10.00") and live.ledger() == 1


def test_one_order_that_fails_unexpectedly_never_stops_the_run(live_factory):
    """A channel whose query breaks in a way nobody planned for (a bug in a third-party kind): that order is
    counted as an error and its claim released; every other order is still reconciled."""
    from tests.support import hmacpay

    class Crashing(hmacpay.HmacPayChannel):
        kind = "crashpay"

        def query(self, trade_no):
            raise RuntimeError("a bug nobody planned for")

    live = live_factory(("epay_mapi",), channel_kinds=[Crashing])
    crashing = create_channel(live.admin, "crashpay", {"gateway": "https://pay.example.net/", "merchant": "M-1",
                                                       "secret": "s3cret"}, name="crashing")
    broken = live.alice.post(f"{live.base}/payment/api/orders", json={"channel": crashing["uuid"], "amount": "5.00"})
    live.sandbox.behaviour.drop = True
    paid = live.order("epay_mapi")
    live.pay(paid)
    summary = live.reconcile()
    assert (summary.queried, summary.paid, summary.errors) == (2, 1, 1)
    assert "could not be checked (RuntimeError)" in summary.gateway_errors[crashing["uuid"]]
    assert live.status(paid) == "paid" and live.balance() == Decimal("10.00")
    assert live.row(broken.json()).lease_until is None


def test_one_account_cannot_multiply_gateway_calls(live_factory):
    """Orders per user are bounded in any 10 minutes, and "I have paid" asks the gateway about an order at
    most once per PANELPAY_CHECK_INTERVAL, however fast the clicks: both answer 429 with a sentence."""
    live = live_factory(("epay_mapi",), PANELPAY_ORDERS_PER_USER=3, PANELPAY_CHECK_INTERVAL=60)
    orders = [live.order("epay_mapi") for _ in range(3)]
    refused = live.alice.post(f"{live.base}/payment/api/orders",
                              json={"channel": live.channels["epay_mapi"]["uuid"], "amount": "10.00"})
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_orders"
    assert "in the last 10 minutes" in refused.json()["message"]
    sync = f"{live.base}/payment/api/orders/{orders[0]['trade_no']}/sync"
    clicks = [live.alice.post(sync, json={}) for _ in range(20)]
    assert [c.status_code for c in clicks].count(200) == 1
    assert {c.json()["error"] for c in clicks if c.status_code != 200} == {"too_soon"}
    assert live.sandbox.order(orders[0]["trade_no"])["queries"] == 1


def test_reconcile_asks_about_old_orders_rarely_and_new_ones_often(live_factory):
    """A back-off per order: one queried a minute ago is asked again when it is minutes old, not when it is
    hours old; a one-minute cron no longer queries every order every minute."""
    live = live_factory(("epay_mapi",))
    young, old = live.order("epay_mapi"), live.order("epay_mapi")
    now = utcnow()
    with live.app.app_context(), live.state.session() as session, session.begin():
        session.execute(sa.update(Order).where(Order.trade_no == young["trade_no"])
                        .values(created_at=now - timedelta(minutes=3), queried_at=now - timedelta(minutes=1)))
        session.execute(sa.update(Order).where(Order.trade_no == old["trade_no"])
                        .values(created_at=now - timedelta(hours=3), queried_at=now - timedelta(minutes=1),
                                expires_at=now + timedelta(hours=1)))
    assert live.reconcile().queried == 1  # the young one
    assert live.sandbox.order(young["trade_no"])["queries"] == 1 and live.sandbox.order(old["trade_no"])["queries"] == 0
    with live.app.app_context(), live.state.session() as session, session.begin():
        session.execute(sa.update(Order).where(Order.trade_no == old["trade_no"])
                        .values(queried_at=now - timedelta(minutes=11)))
    assert live.reconcile().queried == 1  # the old one, now that 10 minutes have passed
    assert live.sandbox.order(old["trade_no"])["queries"] == 1
