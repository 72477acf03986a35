"""PanelPay's own Alembic migrations: exact, isolated from the host, shipped in the wheel."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from panelpay import migrate
from panelpay.models import Base
from tests.support import databases

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_db(backend):
    url = databases.create_database(backend, tempfile.mkdtemp(prefix="pp-mig-"))
    yield url
    databases.drop_database(url)


def _host_history(engine):
    """Give the database a host table and a host Alembic history, as a real panel has."""
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('host_rev_42')"))
        connection.execute(sa.text("CREATE TABLE members (id INTEGER PRIMARY KEY, credit NUMERIC(12,2))"))
        connection.execute(sa.text("INSERT INTO members VALUES (1, 5.00)"))


def _assert_host_untouched(engine):
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == ["host_rev_42"]
        assert connection.execute(sa.text("SELECT id FROM members")).scalars().all() == [1]


def test_upgrade_from_empty_produces_exactly_the_models(fresh_db):
    engine = sa.create_engine(fresh_db)
    _host_history(engine)
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": migrate.include_object, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    _assert_host_untouched(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"panelpay_channels", "panelpay_orders", "panelpay_notifications", "panelpay_ledger",
            "panelpay_settings", "panelpay_alembic_version"} <= tables
    migrate.upgrade(engine)  # a second upgrade is a no-op
    migrate.downgrade(engine, "base")
    assert not [t for t in sa.inspect(engine).get_table_names() if t.startswith("panelpay_") and
                t != "panelpay_alembic_version"]
    _assert_host_untouched(engine)
    engine.dispose()


def test_0002_keeps_the_delivery_log_and_adds_headers_and_reasons(fresh_db):
    """An install at 0001 with rows in its delivery log upgrades in place: every row and value stays, the
    new columns read as empty, and a channel's longer acknowledgement fits afterwards."""
    engine = sa.create_engine(fresh_db)
    migrate.upgrade(engine, "0001")
    row = {"kind": "epay", "channel_uuid": "0123456789abcdef", "method": "GET", "query_string": b"a=1&sign=x",
           "body": b"", "content_type": "", "source_ip": "203.0.113.7", "received_at": dt.datetime(2026, 11, 30, 8),
           "trade_no": "PP1", "order_id": None, "verdict": "accepted", "outcome": "credited", "answer_status": 200,
           "answer_body": "success", "replay_of": None}
    old = sa.Table("panelpay_notifications", sa.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(old.insert(), [row, {**row, "verdict": "rejected", "answer_status": 400,
                                                "answer_body": "fail"}])
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    table = sa.Table("panelpay_notifications", sa.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        kept = connection.execute(sa.select(table).order_by(table.c.id)).mappings().all()
        connection.execute(table.update().where(table.c.id == kept[0]["id"]).values(answer_body='{"received": true}'))
    assert [(r["verdict"], r["answer_body"], r["headers"], r["reason"]) for r in kept] == \
        [("accepted", "success", "[]", ""), ("rejected", "fail", "[]", "")]
    assert bytes(kept[0]["query_string"]) == b"a=1&sign=x" and kept[0]["source_ip"] == "203.0.113.7"
    migrate.downgrade(engine, "0001")
    assert "headers" not in {c["name"] for c in sa.inspect(engine).get_columns("panelpay_notifications")}
    engine.dispose()


def test_0003_gives_existing_orders_their_channels_name_and_room_for_reviews(fresh_db):
    engine = sa.create_engine(fresh_db)
    migrate.upgrade(engine, "0002")
    meta = sa.MetaData()
    channels = sa.Table("panelpay_channels", meta, autoload_with=engine)
    orders = sa.Table("panelpay_orders", meta, autoload_with=engine)
    now = dt.datetime(2026, 12, 1, 8)
    with engine.begin() as connection:
        channel_id = connection.execute(channels.insert().values(
            uuid="0123456789abcdef", kind="epay", name="EPay main", config="{}", secrets="", enabled=True,
            fee_fixed=0, fee_percent=0, min_amount=1, sort=0, revision=1, created_at=now, updated_at=now,
        )).inserted_primary_key[0]
        connection.execute(orders.insert().values(
            trade_no="PP1", user_id="7", channel_id=channel_id, amount=1000, fee=0, total=1000, credit=1000,
            status="paid", notify_url="https://x/payment/notify/epay/0123456789abcdef", pay="{}", subject="Top-up",
            created_at=now, expires_at=now, paid_late=False))
    migrate.upgrade(engine)
    upgraded = sa.Table("panelpay_orders", sa.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        row = connection.execute(sa.select(upgraded)).mappings().one()
    assert (row["trade_no"], row["status"], row["channel_name"], row["reviewed_by"]) == ("PP1", "paid", "EPay main", None)
    migrate.downgrade(engine, "0002")
    engine.dispose()


def test_0004_adds_gateway_mode_beside_existing_orders_and_credits(fresh_db):
    """An install at 0003 with a channel, a paid order and its ledger row upgrades in place: the rows stay as
    they were (the order is a top-up: no merchant), and a relay order with its outbox row fits afterwards."""
    engine = sa.create_engine(fresh_db)
    migrate.upgrade(engine, "0003")
    meta = sa.MetaData()
    channels, orders, ledger = (sa.Table(name, meta, autoload_with=engine)
                                for name in ("panelpay_channels", "panelpay_orders", "panelpay_ledger"))
    now = dt.datetime(2026, 12, 5, 8)
    with engine.begin() as connection:
        channel_id = connection.execute(channels.insert().values(
            uuid="0123456789abcdef", kind="epay", name="EPay", config="{}", secrets="", enabled=True, fee_fixed=0,
            fee_percent=0, min_amount=1, sort=0, revision=1, created_at=now, updated_at=now)).inserted_primary_key[0]
        order_id = connection.execute(orders.insert().values(
            trade_no="PP1", user_id="7", channel_id=channel_id, channel_name="EPay", amount=990, fee=0, total=990,
            credit=990, status="paid", notify_url="https://x/payment/notify/epay/0123456789abcdef", pay="{}",
            subject="Top-up", created_at=now, expires_at=now, paid_late=False)).inserted_primary_key[0]
        connection.execute(ledger.insert().values(order_id=order_id, user_id="7", channel_id=channel_id, credit=990,
                                                  source="notify", created_at=now))
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    meta = sa.MetaData()
    orders, merchants, deliveries = (sa.Table(name, meta, autoload_with=engine) for name in (
        "panelpay_orders", "panelpay_merchants", "panelpay_deliveries"))
    with engine.begin() as connection:
        kept = connection.execute(sa.select(orders)).mappings().one()
        merchant_id = connection.execute(merchants.insert().values(
            pid="1001", name="Xboard", key="sealed", notify_hosts='["panel.example.com"]', return_hosts="[]",
            channels="[]", enabled=True, confirm_profile="", confirm_url="", created_at=now,
            updated_at=now)).inserted_primary_key[0]
        relay_id = connection.execute(orders.insert().values(
            trade_no="PP2", user_id="merchant:1001", channel_id=channel_id, channel_name="EPay", amount=990, fee=0,
            total=990, credit=990, status="paid", notify_url="https://x/n", pay="{}", subject="2026", created_at=now,
            expires_at=now, paid_late=False, merchant_id=merchant_id, out_trade_no="2026120512000012345612345",
            relay='{"money": "9.9"}')).inserted_primary_key[0]
        connection.execute(deliveries.insert().values(order_id=relay_id, merchant_id=merchant_id, status="pending",
                                                      attempts=0, next_attempt_at=now, last_outcome="", created_at=now))
    assert (kept["trade_no"], kept["status"], kept["merchant_id"], kept["out_trade_no"]) == ("PP1", "paid", None, None)
    migrate.downgrade(engine, "0003")
    assert "panelpay_merchants" not in sa.inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM panelpay_ledger")).scalar() == 1
    engine.dispose()


@pytest.mark.slow
def test_pip_installed_plugin_runs_flask_panelpay_db_upgrade(installed_wheel, fresh_db):
    engine = sa.create_engine(fresh_db)
    _host_history(engine)
    env = {**os.environ, "TINYHOST_DB": fresh_db, "PYTHONPATH": str(ROOT / "tests" / "support")}
    flask = installed_wheel.script("flask")
    result = subprocess.run([str(flask), "--app", "tinyhost", "panelpay", "db", "upgrade"],
                            env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    assert result.returncode == 0, result.stderr
    assert "PanelPay tables at revision" in result.stdout
    location = subprocess.run([str(installed_wheel.python), "-c", "import panelpay; print(panelpay.__file__)"],
                              capture_output=True, text=True, check=True, cwd=tempfile.gettempdir()).stdout
    assert "site-packages" in location
    assert migrate.current(engine) == migrate.head()
    _assert_host_untouched(engine)
    engine.dispose()
