"""Shared fixtures: the databases, host apps on them, users and channels."""
from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from panelpay.models import TABLES, Channel, Order, utcnow
from tests.support import databases
from tests.support.hostapp import make_host

_database_urls: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases():
    yield
    for url in _database_urls.values():
        try:
            databases.drop_database(url)
        except Exception:  # noqa: BLE001 - best effort at the end of the run
            pass


def database_url(backend: str) -> str:
    """One database per backend for the whole run; tests clean up after themselves."""
    if backend not in _database_urls:
        _database_urls[backend] = databases.create_database(backend, tempfile.mkdtemp(prefix="pp-db-"))
    return _database_urls[backend]


@pytest.fixture(params=databases.BACKENDS)
def backend(request) -> str:
    databases.require(request.param)
    return request.param


@pytest.fixture
def make_app(backend):
    """Factory: ``make_app(balance="decimal", **config)`` → a host app on this test's database."""
    apps = []

    def factory(balance: str = "decimal", db_url: str | None = None, channel_kinds=(), **config):
        app = make_host(db_url or database_url(backend), balance=balance, config=config, channel_kinds=channel_kinds)
        apps.append(app)
        return app

    yield factory
    for app in apps:  # no deliverer of this test's app may deliver the next test's rows
        if app.extensions["panelpay"].deliverer is not None:
            app.extensions["panelpay"].deliverer.stop()
    if apps:
        cleanup = sa.create_engine(database_url(backend))
        with cleanup.begin() as connection:
            for table in reversed(TABLES):
                connection.execute(table.delete())
        for app in apps:
            with app.app_context():
                app.db.engine.dispose()
                app.db.metadata.drop_all(cleanup)
        cleanup.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def live(make_app):
    """``(app, base)``: a host app with the sandbox, served on a port of its own."""
    from tests.support.servers import free_port, serve_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(PANELPAY_SITE_URL=base, PANELPAY_SANDBOX=True)
    with serve_app(app, port):
        yield app, base


def add_user(app, username="alice", *, is_admin=False) -> int:
    with app.app_context():
        user = app.User(username=username, is_admin=is_admin)
        app.db.session.add(user)
        app.db.session.commit()
        return user.id


def add_channel_row(app, kind="epay", **values) -> Channel:
    """A channel row written directly (for tests below the channel layer)."""
    state = app.extensions["panelpay"]
    with app.app_context(), state.session() as session, session.begin():
        row = Channel(uuid=values.pop("uuid", "c0ffee" + kind), kind=kind, name=values.pop("name", kind),
                      config=json.dumps(values.pop("config", {})), secrets=state.vault.seal({}), **values)
        session.add(row)
    return row


def add_order(app, channel: Channel, user_id: int, total="10.00", *, trade_no=None, status="pending",
              credit=None, expires_in=1800) -> Order:
    state = app.extensions["panelpay"]
    total = Decimal(total)
    with app.app_context(), state.session() as session, session.begin():
        order = Order(
            trade_no=trade_no or f"PPTEST{utcnow():%H%M%S%f}",
            user_id=str(user_id),
            channel_id=channel.id,
            amount=total if credit is None else Decimal(credit),
            fee=Decimal("0.00"),
            total=total,
            credit=total if credit is None else Decimal(credit),
            status=status,
            notify_url="http://127.0.0.1:5999/payment/notify/x/y",
            created_at=utcnow(),
            expires_at=utcnow() + timedelta(seconds=expires_in),
        )
        session.add(order)
    with app.app_context(), state.session() as session:
        return session.execute(sa.select(Order).where(Order.id == order.id)).scalar_one()


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory):
    """PanelPay's wheel, built from the checkout and installed in a fresh virtualenv: one per test run."""
    from tests.support.packaging import build_and_install

    return build_and_install(tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("venv"))


@pytest.fixture(scope="session")
def sandbox():
    """The sandbox gateway's keys (not served): what tests sign gateway messages with."""
    from panelpay.sandbox import Sandbox

    return Sandbox()


@pytest.fixture(scope="session")
def signer(sandbox):
    from tests.support.gateway import Signer

    return Signer(sandbox)


class World:
    """An app with an admin, a user (alice) and one channel per sandbox config, made through the API."""

    def __init__(self, app, sandbox, configs=("epay", "epay_rsa", "alipay")):
        from tests.support.gateway import SANDBOX_BASE, create_channel, login

        self.app = app
        self.state = app.extensions["panelpay"]
        self.admin_id = add_user(app, "admin", is_admin=True)
        self.alice_id = add_user(app, "alice")
        self.admin = login(app, self.admin_id)
        self.alice = login(app, self.alice_id)
        sandbox_configs = sandbox.channel_configs(SANDBOX_BASE)
        self.channels = {
            name: create_channel(self.admin, sandbox.CHANNEL_KINDS[name], sandbox_configs[name], name=name)
            for name in configs
        }

    def order(self, channel: str, amount: str = "10.00") -> dict:
        from tests.support.gateway import create_order

        return create_order(self.alice, self.channels[channel]["uuid"], amount)

    def balance(self, uid=None) -> Decimal:
        with self.app.app_context():
            return self.app.db.session.execute(
                sa.select(self.app.User.balance).where(self.app.User.id == (uid or self.alice_id))).scalar_one()

    def order_row(self, trade_no: str) -> Order:
        with self.app.app_context(), self.state.session() as session:
            return session.execute(sa.select(Order).where(Order.trade_no == trade_no)).scalar_one()

    def notifications(self):
        from panelpay.models import Notification

        with self.app.app_context(), self.state.session() as session:
            return session.execute(sa.select(Notification).order_by(Notification.id)).scalars().all()


@pytest.fixture
def world(app, sandbox):
    return World(app, sandbox)
