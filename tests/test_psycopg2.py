"""PostgreSQL through psycopg2, the driver a plain ``postgresql://`` URL picks: the notify path's two
statements, their refusals and NUL input behave as they do through psycopg 3 (which the rest of the suite
uses). Runs when PostgreSQL answers; required in CI like the other servers."""
from __future__ import annotations

import tempfile
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from panelpay import Evidence, settle
from tests.conftest import World, add_channel_row, add_order
from tests.support import databases
from tests.support.hostapp import make_host


@pytest.fixture
def world(sandbox):
    """A World on a fresh PostgreSQL database, reached through psycopg2."""
    databases.require("postgresql")
    url = sa.engine.make_url(databases.create_database("postgresql", tempfile.mkdtemp(prefix="pp-db-")))
    app = make_host(url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False))
    with app.app_context():
        assert app.extensions["panelpay"].engine.driver == "psycopg2"
    yield World(app, sandbox, configs=("epay", "alipay"))
    with app.app_context():
        app.db.engine.dispose()
    databases.drop_database(url.render_as_string(hide_password=False))


def test_each_order_is_credited_once_however_often_notified(world, signer):
    uuid = {name: world.channels[name]["uuid"] for name in ("epay", "alipay")}
    client = world.app.test_client()
    epay, alipay = world.order("epay", "3.10"), world.order("alipay", "4.20")
    epay_query = urlencode(signer.epay(epay["trade_no"], epay["total"]))
    alipay_form = signer.alipay(alipay["trade_no"], alipay["total"])
    for _ in range(2):
        assert client.get(f"/payment/notify/epay/{uuid['epay']}?{epay_query}").get_data(as_text=True) == "success"
        assert client.post(f"/payment/notify/alipay/{uuid['alipay']}", data=alipay_form).get_data(as_text=True) \
            == "success"
    assert world.balance() == Decimal("7.30")
    assert sorted(n.verdict for n in world.notifications()) == ["accepted", "accepted", "duplicate", "duplicate"]


def test_a_user_that_is_gone_is_an_anomaly_not_a_malformed_request(world):
    order = add_order(world.app, add_channel_row(world.app), 424242, "3.00")
    with world.app.app_context():
        result = settle(order, Evidence("notify", order.total, "G-gone"))
    assert result.outcome == "anomaly" and "not found" in result.reason


def test_nul_in_paths_and_filters_is_a_clear_answer_never_a_500(world):
    uuid = world.channels["epay"]["uuid"]
    for path in ("/payment/orders/a%00b", f"/payment/return/epay/{uuid}?out_trade_no=a%00b",
                 "/payment/return/epay/a%00b", "/payment/notify/epay/a%00b", "/payment/api/orders/a%00b"):
        assert world.alice.get(path).status_code < 500, path
    for query in ("order=%00", "channel=a%00b", "verdict=%00"):
        response = world.admin.get(f"/payment/admin/api/notifications?{query}")
        assert response.status_code == 200 and response.get_json()["total"] == 0, query
    assert world.admin.get("/payment/admin/channels/a%00b").status_code < 500
