"""A tiny host panel for tests: a user table with a decimal, a cents and a quota balance, a login
route, and PanelPay mounted with the balance adapter a test asks for."""
from __future__ import annotations

import tempfile
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask, jsonify, session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from panelpay import BalanceCallable, BalanceColumn, PanelPay
from panelpay import migrate

#: New-API's defaults: 500,000 quota per US dollar (QuotaPerUnit), a dollar sold for 7.3 yuan (Price).
NEWAPI_QUOTA_PER_DOLLAR = 500000
NEWAPI_PRICE = "7.3"


def make_host(db_url: str, *, balance: str = "decimal", config: dict | None = None, migrate_tables: bool = True,
              channel_kinds=()):
    """Build a host app on ``db_url``. ``balance``: decimal, cents, quota or callable; ``channel_kinds``:
    channel classes of the host's own."""

    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class User(db.Model):
        __tablename__ = "host_users"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        username: Mapped[str] = mapped_column(sa.String(64), unique=True)
        is_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
        balance: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=Decimal("0.00"))
        balance_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
        quota: Mapped[int] = mapped_column(sa.BigInteger, default=0)
        # Columns named like values PanelPay binds when it credits: a credit must leave them alone.
        amount: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=Decimal("0.00"))
        credit: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=Decimal("0.00"))
        units: Mapped[int] = mapped_column(sa.BigInteger, default=0)
        source: Mapped[str] = mapped_column(sa.String(16), default="signup")
        order_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)
        channel_id: Mapped[int] = mapped_column(sa.Integer, default=0)
        gateway_trade_no: Mapped[str] = mapped_column(sa.String(64), default="")

    class CreditLog(db.Model):
        __tablename__ = "host_credit_log"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        user_id: Mapped[int] = mapped_column(sa.Integer)
        amount: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))

    def credit_callable(sess, user_id, credit):
        sess.execute(sa.update(User).where(User.id == int(user_id)).values(balance=User.balance + credit))
        sess.execute(sa.insert(CreditLog).values(user_id=int(user_id), amount=credit))
        return None

    adapters = {
        "decimal": lambda: BalanceColumn(User.balance),
        "cents": lambda: BalanceColumn(User.balance_cents, units_per_yuan=100),
        "quota": lambda: BalanceColumn(User.quota, units=NEWAPI_QUOTA_PER_DOLLAR, price=NEWAPI_PRICE),
        "callable": lambda: BalanceCallable(credit_callable),
        # A misconfigured host: the id column it names is not unique.
        "non_unique": lambda: BalanceColumn(CreditLog.amount, id_column=CreditLog.user_id),
    }
    app = Flask("testhost", instance_path=tempfile.mkdtemp(prefix="pp-instance-"))
    options = {"pool_pre_ping": True}
    if db_url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30}
    else:
        options.update(pool_size=24, max_overflow=8)
    app.config.update(
        SECRET_KEY="host-secret-for-tests",
        SQLALCHEMY_DATABASE_URI=db_url,
        SQLALCHEMY_ENGINE_OPTIONS=options,
        PANELPAY_SITE_URL="http://127.0.0.1:5999",
        PANELPAY_ALLOW_PRIVATE_URLS=True,  # the sandbox gateways and stand-in servers are on 127.0.0.1
        TESTING=True,
    )
    app.config.update(config or {})
    db.init_app(app)
    panelpay = PanelPay(
        app,
        db=db,
        current_user_id=lambda: session.get("uid"),
        is_admin=lambda: bool(session.get("admin")),
        balance=adapters[balance](),
        channel_kinds=channel_kinds,
    )

    @app.post("/_login/<int:uid>")
    def login(uid):
        user = db.session.get(User, uid)
        session["uid"] = uid
        session["admin"] = bool(user and user.is_admin)
        return jsonify(ok=True)

    app.db = db
    app.User = User
    app.CreditLog = CreditLog
    app.panelpay = panelpay
    with app.app_context():
        if db_url.startswith("sqlite"):
            with db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        db.create_all()
        if migrate_tables:
            migrate.upgrade(db.engine)
    return app
