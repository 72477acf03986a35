"""A tiny host panel with its own Alembic history, used to check that installing PanelPay and running
``flask panelpay db upgrade`` leaves the host's tables and migration history alone.

Run as ``flask --app tests.support.tinyhost panelpay db upgrade`` with ``TINYHOST_DB`` set.
"""
import os
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from panelpay import BalanceColumn, PanelPay

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["TINYHOST_DB"]
app.config["SECRET_KEY"] = "tinyhost-secret"
db = SQLAlchemy(app)


class Member(db.Model):
    __tablename__ = "members"
    id = sa.Column(sa.Integer, primary_key=True)
    credit = sa.Column(sa.Numeric(12, 2), default=Decimal("0"))


PanelPay(app, db=db, current_user_id=lambda: None, is_admin=lambda: False, balance=BalanceColumn(Member.credit))
