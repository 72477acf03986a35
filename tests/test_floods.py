"""What a flood of anonymous requests can do: not bury a real alert, not fill the database or the spool,
not store bulk at a made-up path, and not stop the gateway's own notifications from counting."""
from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from panelpay import spool
from panelpay.models import Notification
from tests.conftest import World
from tests.support.faults import statement_fails

FORM = "application/x-www-form-urlencoded"
ATTACKER, GATEWAY = "203.0.113.66", "198.51.100.7"


class Webhook:
    """An alert webhook that is down (503) until told otherwise, and records what it accepts."""

    def __init__(self):
        self.down, self.received = True, []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(503 if webhook.down else 204)
                self.end_headers()
                if not webhook.down:
                    webhook.received.append(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"

    def wait_for(self, event: str, timeout: float = 15.0) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.received if r["event"] == event]
            if found:
                return found[0]
            time.sleep(0.05)
        return None


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def _stored_bytes(world) -> int:
    log = Notification.__table__
    with world.app.app_context(), world.state.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.coalesce(sa.func.sum(
            sa.func.length(log.c.query_string) + sa.func.length(log.c.body) + sa.func.length(log.c.headers)), 0))
        ).scalar_one()


def test_ten_thousand_junk_notifications_bury_no_alert_and_grow_the_database_by_little(make_app, sandbox, signer,
                                                                                        webhook):
    """The issue's load test: 10,000 junk notifications while the alert webhook is down, then one genuine
    anomaly once it is back: its alert arrives, and the delivery log grew by less than 2 MB."""
    world = World(make_app(PANELPAY_ALERT_WEBHOOK=webhook.url), sandbox, configs=("epay",))
    order = world.order("epay")
    path = f"/payment/notify/epay/{world.channels['epay']['uuid']}"
    client = world.app.test_client()
    junk = b"pid=1001&money=10&sign=" + b"0" * 30000
    statuses = [client.post(path, data=junk, content_type=FORM, environ_base={"REMOTE_ADDR": ATTACKER}).status_code
                for _ in range(10_000)]
    assert statuses.count(400) == 20 and statuses.count(429) == 9_980  # PANELPAY_REJECTIONS_PER_SOURCE
    assert len(world.notifications()) == 20 and _stored_bytes(world) < 2 * 1024 * 1024

    webhook.down = False
    wrong_amount = signer.epay(order["trade_no"], "0.01")
    answer = client.get(f"{path}?{urlencode(wrong_amount)}", environ_base={"REMOTE_ADDR": GATEWAY})
    assert answer.get_data(as_text=True) == "success"
    alert = webhook.wait_for("payment_anomaly")
    assert alert is not None and "amount mismatch" in alert["reason"]
    assert world.order_row(order["trade_no"]).status == "anomaly" and world.balance() == 0


def test_a_source_whose_requests_keep_being_refused_is_not_heard_others_are(world, signer):
    order = world.order("epay")
    path = f"/payment/notify/epay/{world.channels['epay']['uuid']}"
    client = world.app.test_client()

    def send(params, source):
        return client.get(f"{path}?{urlencode(params)}", environ_base={"REMOTE_ADDR": source})

    bad = {**signer.epay(order["trade_no"], order["total"]), "sign": "0" * 32}
    assert [send(bad, ATTACKER).status_code for _ in range(21)] == [400] * 20 + [429]
    assert send(bad, "203.0.113.67").status_code == 400  # another address has a budget of its own
    paid = send(signer.epay(order["trade_no"], order["total"]), GATEWAY)
    assert (paid.status_code, paid.get_data(as_text=True)) == (200, "success") and world.balance() == Decimal("10.00")
    assert len(world.notifications()) == 22  # the throttled request was answered, not recorded


def test_a_path_that_names_no_channel_keeps_only_a_trace(world):
    client = world.app.test_client()
    big = b"a=" + b"x" * 60000
    for path in ("/payment/notify/epay/0123456789abcdef", f"/payment/notify/alipay/{world.channels['epay']['uuid']}",
                 "/payment/notify/nosuchkind/whatever"):
        assert client.post(path, data=big, content_type=FORM).status_code == 404
    assert [len(n.body) for n in world.notifications()] == [1024, 1024, 1024]


def test_the_spool_has_a_size_cap_and_one_source_a_quarter_of_it(make_app, sandbox, signer, tmp_path, caplog):
    world = World(make_app(PANELPAY_SPOOL_DIR=str(tmp_path / "spool"), PANELPAY_SPOOL_MAX_BYTES=400_000),
                  sandbox, configs=("epay",))
    path = f"/payment/notify/epay/{world.channels['epay']['uuid']}"
    client = world.app.test_client()
    junk = b"a=" + b"x" * 20000
    with world.app.app_context():
        engine = world.state.engine
    with statement_fails(engine, "INSERT INTO panelpay_notifications", times=10_000):
        for _ in range(30):
            assert client.post(path, data=junk, content_type=FORM, environ_base={"REMOTE_ADDR": ATTACKER}) \
                .status_code == 503
        kept_from_one = len(spool.pending(world.state))
        assert 0 < kept_from_one <= 5  # a quarter of 400 kB at ~27 kB a file
        assert "the spool is full" in caplog.text and "a quarter of it from one source" in caplog.text
        order = world.order("epay")
        assert client.get(f"{path}?{urlencode(signer.epay(order['trade_no'], order['total']))}",
                          environ_base={"REMOTE_ADDR": GATEWAY}).status_code == 503
        assert len(spool.pending(world.state)) == kept_from_one + 1  # the gateway's is kept
    with world.app.app_context():
        counts = spool.drain(world.state)
    assert counts.get("accepted") == 1 and world.balance() == Decimal("10.00")
