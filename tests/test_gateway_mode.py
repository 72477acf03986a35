"""Gateway mode with the emulated panels (panelpay.sandbox.panels, written from panels.md): an Xboard and a
New-API as PanelPay's merchants, paying through the sandbox's Alipay and EPay, over real HTTP, with the
panels' own tables on SQLite and MariaDB."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from panelpay import delivery
from panelpay.models import Delivery, DeliveryAttempt, LedgerEntry, Order, utcnow
from panelpay.orders import load_order
from panelpay.sandbox.panels import NewApiPanel, XboardPanel
from panelpay.signals import panel_notification_failed
from tests.conftest import add_channel_row, add_user
from tests.support import databases
from tests.support.gateway import Signer, create_channel, login
from tests.support.servers import free_port, hanging_server, serve_app, wait_for

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "mariadb"], indirect=True)

UPSTREAMS = {"epay": ("epay", "epay"), "alipay_qr": ("alipay", "alipay_qr")}
LATER = timedelta(days=2)


class Site:
    """PanelPay served on a port with the sandbox, an admin, one upstream channel and helpers."""

    def __init__(self, app, base):
        self.app, self.base = app, base
        self.state = app.extensions["panelpay"]
        self.admin = login(app, add_user(app, "admin", is_admin=True))

    def channel(self, product: str) -> dict:
        kind, key = UPSTREAMS[product]
        config = self.state.sandbox.channel_configs(self.base + "/payment/sandbox")[key]
        return create_channel(self.admin, kind, config, name=product)

    def merchant(self, panel_base: str, channel: dict, **extra) -> dict:
        host = urlsplit(panel_base).netloc
        answer = self.admin.post("/payment/admin/api/merchants", json={
            "name": "Panel", "notify_hosts": [host], "return_hosts": [host], "channels": [channel["uuid"]], **extra})
        assert answer.status_code == 201, answer.text
        return answer.json

    def pay(self, cashier: requests.Response) -> str:
        """At PanelPay's cashier: open the upstream's payment, then pay it in the sandbox. The trade number."""
        assert cashier.status_code == 200 and "/epay/pay/" in cashier.url, cashier.text[:300]
        trade_no = cashier.url.split("/pay/")[1].split("/")[0]
        with self.app.app_context():
            pay = json.loads(load_order(self.state, trade_no).pay)
        if pay["method"] == "form":
            assert requests.post(pay["url"], data=pay["fields"]).status_code == 200
        else:
            assert requests.get(pay.get("qr_code") or pay["url"]).status_code == 200
        assert requests.post(f"{self.base}/payment/sandbox/_pay/{trade_no}").status_code == 200
        return trade_no

    def rows(self, model, *where):
        with self.app.app_context(), self.state.session() as session:
            return session.execute(sa.select(model).where(*where)).scalars().all()


@pytest.fixture
def site(make_app):
    def start(**config):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        app = make_app(PANELPAY_SITE_URL=base, PANELPAY_SANDBOX=True, **config)
        stack.enter_context(serve_app(app, port))
        return Site(app, base)

    with ExitStack() as stack:
        yield start


@pytest.fixture
def panel_db(backend):
    url = databases.create_database(backend, tempfile.mkdtemp(prefix="pp-panel-"))
    yield url
    databases.drop_database(url)


@contextmanager
def served(panel, port=None):
    with serve_app(panel.app, port) as base:
        panel.set_base_url(base)
        yield base


def xboard_for(site: Site, panel_db: str, merchant: dict, port: int) -> XboardPanel:
    return XboardPanel(panel_db, url=site.base, pid=merchant["pid"], key=merchant["key"],
                       base_url=f"http://127.0.0.1:{port}")


def newapi_for(site: Site, panel_db: str, merchant: dict, port: int, **options) -> NewApiPanel:
    return NewApiPanel(panel_db, PayAddress=site.base, EpayId=merchant["pid"], EpayKey=merchant["key"],
                       ServerAddress=f"http://127.0.0.1:{port}", **options)


def panel_for(site: Site, kind: str, panel_db: str, product: str = "epay", options: dict | None = None,
              **merchant_extra):
    """A merchant whose panel (``xboard`` or ``newapi``, on ``panel_db``) is to be served on a free port:
    ``(panel, merchant, port)``. ``options``: the New-API panel's settings; the rest go to the merchant."""
    port = free_port()
    merchant = site.merchant(f"http://127.0.0.1:{port}", site.channel(product), **merchant_extra)
    if kind == "xboard":
        return xboard_for(site, panel_db, merchant, port), merchant, port
    return newapi_for(site, panel_db, merchant, port, **(options or {})), merchant, port


def buy_on_xboard(xboard: XboardPanel, cents: int = 990) -> tuple[str, requests.Response]:
    trade_no = xboard.create_order(xboard.add_user(f"u{time.monotonic_ns()}@example.com"), cents)
    return trade_no, requests.get(xboard.submit_url(trade_no))  # the browser's GET redirect


def topup_on_newapi(newapi: NewApiPanel, amount: int = 2) -> tuple[str, int, requests.Response]:
    user = newapi.add_user(f"user{time.monotonic_ns()}")
    trade_no, fields, action = newapi.create_topup(user, amount)
    return trade_no, user, requests.post(action, data=fields)  # the browser's form POST


@pytest.mark.parametrize("product", list(UPSTREAMS))
@pytest.mark.parametrize("panel_kind", ["xboard", "newapi"])
def test_each_panel_is_paid_once_with_a_notification_it_verifies_under_its_own_key(site, panel_db, panel_kind,
                                                                                   product):
    site = site()
    panel, merchant, port = panel_for(site, panel_kind, panel_db, product)
    if panel_kind == "xboard":
        with served(panel, port):
            out_trade_no, cashier = buy_on_xboard(panel)
            submitted = panel.submit_params(out_trade_no)
            site.pay(cashier)
            assert wait_for(lambda: panel.order(out_trade_no)["status"] == 3)
    else:
        with served(panel, port):
            out_trade_no, user, cashier = topup_on_newapi(panel, 2)
            submitted = None
            site.pay(cashier)
            assert wait_for(lambda: panel.topup(out_trade_no)["status"] == "success")
            assert panel.quota(user) == 2 * 500000
    [received] = panel.received
    assert panel.verifies(received) and received.method == "GET"
    if submitted is not None:
        assert received.query["money"] == submitted["money"] == "9.9"
        assert received.query["name"] == submitted["name"] == out_trade_no
    else:
        assert received.query["money"] == "14.60" and received.query["name"] == "TUC2"
    assert received.query["out_trade_no"] == out_trade_no and received.query["pid"] == merchant["pid"]
    [owed] = site.rows(Delivery)
    assert owed.status == "delivered"
    assert [a.classification for a in site.rows(DeliveryAttempt)] == ["delivered"]
    [order] = site.rows(Order)
    assert order.out_trade_no == out_trade_no and order.status == "paid" and len(site.rows(LedgerEntry)) == 1


def test_duplicate_upstream_notifications_and_reconcile_settle_once_and_deliver_once(site, panel_db):
    site = site()
    panel, merchant, port = panel_for(site, "newapi", panel_db)
    with served(panel, port):
        out_trade_no, user, cashier = topup_on_newapi(panel, 3)
        trade_no = cashier.url.split("/pay/")[1].split("/")[0]
        with site.app.app_context():
            order = load_order(site.state, trade_no)
        pay = json.loads(order.pay)
        assert requests.post(pay["url"], data=pay["fields"]).status_code == 200
        # Paid at the gateway, its own notification dropped: 20 copies of it arrive at once, and a reconcile runs.
        site.state.sandbox.behaviour.drop = True
        paid = requests.post(f"{site.base}/payment/sandbox/_pay/{trade_no}").json()["order"]
        copy = Signer(site.state.sandbox).epay(trade_no, f"{order.total:.2f}", gateway_trade_no=paid["trade_no"],
                                               money=f"{order.total:.2f}")
        start = threading.Barrier(21)

        def deliver_copy():
            start.wait()
            return requests.get(order.notify_url, params=copy).text

        def reconcile():
            start.wait()
            with site.app.app_context():
                from panelpay import reconcile as rec
                rec.run(site.state)

        threads = [threading.Thread(target=deliver_copy) for _ in range(20)] + [threading.Thread(target=reconcile)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert wait_for(lambda: panel.topup(out_trade_no)["status"] == "success")
        # The app's deliverer records its attempt; then a run two days later (any lease long over) finds nothing.
        assert wait_for(lambda: [d.status for d in site.rows(Delivery)] == ["delivered"])
        with site.app.app_context():
            assert delivery.run(site.state, now=utcnow() + LATER) == {}
    assert len(site.rows(LedgerEntry)) == 1 and len(site.rows(Delivery)) == 1
    assert panel.quota(user) == 3 * 500000
    assert not any(r.overlapped for r in panel.received)
    assert [a.classification for a in site.rows(DeliveryAttempt)] == ["delivered"]


def test_a_panel_down_then_failing_then_up_is_delivered_once_with_every_attempt_classified(site, panel_db):
    site = site(PANELPAY_DELIVER_IN_APP=False)
    panel, merchant, port = panel_for(site, "xboard", panel_db)
    with served(panel, port):  # the buyer reaches the panel; its notify route is down from here on
        out_trade_no, cashier = buy_on_xboard(panel)
    site.pay(cashier)
    assert wait_for(lambda: site.rows(Delivery))
    now = utcnow()
    with site.app.app_context():
        assert delivery.run(site.state, now=now) == {"connection": 1}  # closed port
        assert delivery.run(site.state, now=now) == {}  # not due again yet
        with served(panel, port):
            panel.behaviour = "error"
            assert delivery.run(site.state, now=now + timedelta(minutes=1)) == {"server_error": 1}
            panel.behaviour = "normal"
            assert delivery.run(site.state, now=now + timedelta(minutes=10)) == {"delivered": 1}
            assert delivery.run(site.state, now=now + LATER) == {}
    assert panel.order(out_trade_no)["status"] == 3
    assert [a.classification for a in site.rows(DeliveryAttempt)] == ["connection", "server_error", "delivered"]
    [owed] = site.rows(Delivery)
    assert owed.status == "delivered" and owed.attempts == 3


def test_a_deliverer_killed_mid_delivery_loses_nothing_and_doubles_nothing(site, panel_db, backend):
    site = site(PANELPAY_DELIVER_IN_APP=False, PANELPAY_HTTP_TIMEOUT=30)
    with hanging_server() as hanging:
        port = urlsplit(hanging).port
        merchant = site.merchant(hanging, site.channel("epay"))
        panel = xboard_for(site, panel_db, merchant, port)
        trade_no = panel.create_order(panel.add_user("k@example.com"), 990)
        cashier = requests.get(panel.submit_url(trade_no))
        site.pay(cashier)
        assert wait_for(lambda: site.rows(Delivery))
        env = {**os.environ, "PANELPAY_TEST_DB_URL": site.app.config["SQLALCHEMY_DATABASE_URI"],
               "PANELPAY_TEST_CONFIG": json.dumps({"PANELPAY_HTTP_TIMEOUT": 30, "PANELPAY_DELIVER_IN_APP": False})}
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "tests.support.cli_host", "panelpay",
                                   "deliver"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert wait_for(lambda: site.rows(Delivery)[0].lease_until is not None, 20)  # claimed, the GET in flight
        time.sleep(0.3)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    [owed] = site.rows(Delivery)
    assert owed.status == "pending" and owed.attempts == 1  # still owed: nothing lost
    with site.app.app_context(), served(panel, port):
        assert delivery.run(site.state) == {}  # the dead worker's lease still holds: no second attempt in flight
        assert delivery.run(site.state, now=utcnow() + timedelta(minutes=5)) == {"delivered": 1}
        assert delivery.run(site.state, now=utcnow() + LATER) == {}
    assert panel.order(trade_no)["status"] == 3 and len(panel.received) == 1


def test_a_catch_all_answering_html_is_not_delivered_and_the_doctor_says_so(site, panel_db):
    site = site(PANELPAY_DELIVER_IN_APP=False)
    panel, merchant, port = panel_for(site, "xboard", panel_db)
    with served(panel, port):
        out_trade_no, cashier = buy_on_xboard(panel)
        site.pay(cashier)
        assert wait_for(lambda: site.rows(Delivery))
        panel.behaviour = "catch_all_html"
        with site.app.app_context():
            assert delivery.run(site.state) == {"html": 1}
        [owed] = site.rows(Delivery)
        assert owed.status == "pending" and "web page" in owed.last_outcome
        probe = site.admin.post(f"/payment/admin/api/merchants/{merchant['pid']}/doctor", json={}).json
        assert probe["ok"] is False and probe["classification"] == "html" and "catch-all" in probe["message"]
        checks = site.admin.post("/payment/admin/api/doctor", json={}).json["checks"]
        assert [c["level"] for c in checks if c["code"] == "panel_html"] == ["error"]
        panel.behaviour = "normal"
        probe = site.admin.post(f"/payment/admin/api/merchants/{merchant['pid']}/doctor", json={}).json
        assert probe["ok"] is True and panel.order(out_trade_no)["status"] == 0  # the probe changed nothing
    wrong_key = site.admin.post(f"/payment/admin/api/merchants/{merchant['pid']}/key", json={}).json
    assert wrong_key["key"] != merchant["key"]
    with served(panel, port):  # the panel still has the old key: Xboard answers 422 verify error
        probe = site.admin.post(f"/payment/admin/api/merchants/{merchant['pid']}/doctor", json={}).json
    assert probe["classification"] == "verify_error" and "key" in probe["message"]


def test_submits_outside_the_allowlist_or_at_localhost_are_refused_before_any_order(site, panel_db):
    site = site(PANELPAY_ALLOW_PRIVATE_URLS=False)  # as in production: the sandbox channel is written directly
    merchant = site.merchant("https://panel.example.com", {"uuid": add_channel_row(site.app, "epay").uuid})
    localhost = NewApiPanel(panel_db, PayAddress=site.base, EpayId=merchant["pid"], EpayKey=merchant["key"])
    _, fields, action = localhost.create_topup(localhost.add_user("bob"), 1)  # ServerAddress left at its default
    refused = requests.post(action, data=fields)
    assert refused.status_code == 400 and "ServerAddress" in refused.text and "localhost" in refused.text
    elsewhere = NewApiPanel(panel_db, PayAddress=site.base,
                            EpayId=merchant["pid"], EpayKey=merchant["key"], ServerAddress="https://evil.example.net")
    _, fields, action = elsewhere.create_topup(elsewhere.add_user("eve"), 1)
    refused = requests.post(action, data=fields)
    assert refused.status_code == 400 and "evil.example.net" in refused.text and "notify hosts" in refused.text
    xboard = XboardPanel(panel_db, url=site.base, pid=merchant["pid"], key=merchant["key"],
                         base_url="https://evil.example.net", notify_domain="https://panel.example.com")
    refused = requests.get(xboard.submit_url(xboard.create_order(xboard.add_user("r@example.com"), 100)))
    assert refused.status_code == 400 and "return hosts" in refused.text and "evil.example.net" in refused.text
    assert site.rows(Order) == []


@pytest.mark.parametrize("panel_kind", ["xboard", "newapi"])
def test_confirm_by_read_catches_a_panel_that_answers_success_without_applying_it(site, panel_db, panel_kind):
    site = site(PANELPAY_DELIVER_IN_APP=False)
    panel, merchant, port = panel_for(site, panel_kind, panel_db, confirm_profile=panel_kind, confirm_url=panel_db)
    alerts = []
    panel_notification_failed.connect(lambda sender, **kw: alerts.append(kw["reason"]), site.app, weak=False)
    if panel_kind == "xboard":
        buy = lambda: buy_on_xboard(panel)  # noqa: E731
        status = lambda trade_no: panel.order(trade_no)["status"]  # noqa: E731
    else:
        buy = lambda: topup_on_newapi(panel)[::2]  # noqa: E731
        status = lambda trade_no: panel.topup(trade_no)["status"]  # noqa: E731
    with served(panel, port):
        out_trade_no, cashier = buy()
        unpaid = status(out_trade_no)
        site.pay(cashier)
        assert wait_for(lambda: site.rows(Delivery))
        panel.behaviour = "success_without_apply"
        now = utcnow()
        with site.app.app_context():
            assert delivery.run(site.state, now=now) == {"delivered": 1}
            assert delivery.run(site.state, now=now + timedelta(seconds=10)) == {"confirm_redelivered": 1}
            assert delivery.run(site.state, now=now + timedelta(seconds=20)) == {"delivered": 1}
            assert delivery.run(site.state, now=now + timedelta(seconds=30)) == {"confirm_not_applied": 1}
    [owed] = site.rows(Delivery)
    assert owed.confirmed == "not_applied" and status(out_trade_no) == unpaid
    assert alerts and "did not apply it" in alerts[0]


def test_newapi_answering_fail_is_explained_as_its_key_epay_switch_or_compliance(site, panel_db):
    site = site(PANELPAY_DELIVER_IN_APP=False)
    panel, merchant, port = panel_for(site, "newapi", panel_db, options={"compliance_confirmed": False})
    with served(panel, port):
        probe = site.admin.post(f"/payment/admin/api/merchants/{merchant['pid']}/doctor", json={
            "notify_url": panel.callback_address + "/api/user/epay/notify"}).json
    assert probe["ok"] is False and probe["classification"] == "fail" and "compliance" in probe["message"]


def test_forged_or_changed_submits_are_refused_and_create_no_order(site, panel_db):
    site = site()
    port = free_port()
    channel = site.channel("epay")
    merchant = site.merchant(f"http://127.0.0.1:{port}", channel)
    other = site.admin.post("/payment/admin/api/merchants", json={
        "name": "Other", "notify_hosts": [f"127.0.0.1:{port}"], "channels": [channel["uuid"]]}).json
    panel = xboard_for(site, panel_db, merchant, port)
    trade_no = panel.create_order(panel.add_user("f@example.com"), 990)
    params = panel.submit_params(trade_no)
    signed_by_other = XboardPanel(panel_db, url=site.base, pid=merchant["pid"], key=other["key"],
                                  base_url=f"http://127.0.0.1:{port}").submit_params(trade_no)
    tampered = {**params, "money": "0.01"}
    for forged in (signed_by_other, tampered):
        answer = requests.get(f"{site.base}/submit.php", params=forged)
        assert answer.status_code == 400 and "signature does not match" in answer.text
    mapi = requests.post(f"{site.base}/mapi.php", data=tampered).json()
    assert mapi["code"] != 1 and "signature" in mapi["msg"]
    assert site.rows(Order) == []
    assert requests.get(f"{site.base}/submit.php", params=params).status_code == 200
    with panel.engine.begin() as connection:  # the same panel order, now for another amount, signed correctly
        connection.execute(sa.text("UPDATE v2_order SET total_amount = 10 WHERE trade_no = :t"), {"t": trade_no})
    changed = requests.get(f"{site.base}/submit.php", params=panel.submit_params(trade_no))
    assert changed.status_code == 400 and "支付参数有变化" in changed.text
    assert len(site.rows(Order)) == 1 and site.rows(Order)[0].total == Decimal("9.90")
    status = requests.get(f"{site.base}/api.php", params={"act": "order", "pid": merchant["pid"], "key": merchant["key"],
                                                          "out_trade_no": trade_no}).json()
    assert status["code"] == 1 and status["status"] == 0 and status["money"] == "9.9"
    wrong = requests.get(f"{site.base}/api.php", params={"act": "order", "pid": merchant["pid"], "key": other["key"],
                                                         "out_trade_no": trade_no}).json()
    assert wrong["code"] != 1


def test_a_payment_after_the_order_expired_is_still_forwarded_and_flagged(site, panel_db):
    site = site()
    panel, merchant, port = panel_for(site, "newapi", panel_db)
    with served(panel, port):
        out_trade_no, user, cashier = topup_on_newapi(panel, 1)
        trade_no = cashier.url.split("/pay/")[1].split("/")[0]
        with site.app.app_context(), site.state.session() as session, session.begin():
            session.execute(sa.update(Order).where(Order.trade_no == trade_no).values(
                status="expired", expires_at=utcnow() - timedelta(minutes=1)))
        site.pay(requests.get(cashier.url))
        assert wait_for(lambda: panel.topup(out_trade_no)["status"] == "success")
    [order] = site.rows(Order)
    assert order.status == "paid" and order.paid_late is True
    listed = site.admin.get("/payment/admin/api/deliveries").json
    assert listed["items"][0]["paid_late"] is True and listed["items"][0]["status"] == "delivered"


def test_a_newapi_subscription_name_and_signed_timestamp_come_back_byte_for_byte(site, panel_db):
    site = site()
    panel, merchant, port = panel_for(site, "newapi", panel_db, "alipay_qr")
    with served(panel, port):
        user = panel.add_user("carol")
        out_trade_no, fields, action = panel.create_subscription(user, "套餐 A&B", 9.9, signed_timestamp=True)
        assert "timestamp" in fields
        site.pay(requests.post(action, data=fields))
        assert wait_for(lambda: panel.subscription(out_trade_no)["status"] == "success")
    [received] = panel.received
    assert panel.verifies(received)
    assert received.query["name"] == "SUB:套餐 A&B" and received.query["money"] == "9.90"
    assert received.query["type"] == "alipay" and received.path == "/api/subscription/epay/notify"
