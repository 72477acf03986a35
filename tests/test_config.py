"""PANELPAY_* configuration: read once in init_app, validated, one error naming every bad key."""
from __future__ import annotations

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from panelpay import BalanceColumn, ConfigError, PanelPay
from panelpay.config import DEFAULTS


def _host(**config):
    app = Flask("config-test")
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", **config)
    db = SQLAlchemy(app)

    class User(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        balance = db.Column(db.Numeric(12, 2))

    return app, db, User


def test_every_bad_key_is_named_in_one_error():
    app, db, User = _host(SECRET_KEY="s", PANELPAY_URL_PREFIX="payment/", PANELPAY_ORDER_TTL="soon",
                          PANELPAY_SITE_URL="ftp://x", PANELPAY_AMOUNT_PRESETS=["10", "x"], PANELPAY_COLOUR="red")
    with pytest.raises(ConfigError) as info:
        PanelPay(app, db=db, balance=BalanceColumn(User.balance))
    assert set(info.value.problems) == {"PANELPAY_URL_PREFIX", "PANELPAY_ORDER_TTL", "PANELPAY_SITE_URL",
                                        "PANELPAY_AMOUNT_PRESETS", "PANELPAY_COLOUR"}
    for key in info.value.problems:
        assert key in str(info.value)


def test_a_missing_secret_key_is_a_startup_error_not_plaintext():
    app, db, User = _host()
    with pytest.raises(ConfigError) as info:
        PanelPay(app, db=db, balance=BalanceColumn(User.balance))
    assert "PANELPAY_SECRET_KEY" in info.value.problems


def test_defaults_are_filled_in_and_read_once():
    app, db, User = _host(SECRET_KEY="s")
    PanelPay(app, db=db, balance=BalanceColumn(User.balance))
    for key, (default, _) in DEFAULTS.items():
        assert key in app.config
    state = app.extensions["panelpay"]
    app.config["PANELPAY_ORDER_TTL"] = 5
    assert state.settings.order_ttl == 1800


def test_registering_twice_and_missing_hooks_are_refused():
    app, db, User = _host(SECRET_KEY="s")
    PanelPay(app, db=db, balance=BalanceColumn(User.balance))
    with pytest.raises(RuntimeError, match="already been registered"):
        PanelPay(app, db=db, balance=BalanceColumn(User.balance))
    other, other_db, _ = _host(SECRET_KEY="s")
    with pytest.raises(RuntimeError, match="balance adapter"):
        PanelPay(other, db=other_db)
