"""WSGI entry for gunicorn: the ceiling. A bare Flask app that does only what crediting a notification
needs, on tables of its own (``bench_ceiling_users``, ``bench_ceiling_orders``) as small as the job allows:

1. the same signature check as PanelPay's, with ``panelpay.channels.signing`` and the sandbox's keys: EPay MD5, or
   Alipay RSA2 with the public key parsed once;
2. merchant and status check;
3. one transaction: a conditional UPDATE of the order (pending -> paid, amount equal) RETURNING the user
   and credit, and one balance UPDATE; commit; answer ``success``.

No delivery log, no ledger row, no signals, no metrics: that difference is what ``notify`` prices.
``BENCH_DB_URL``: the database; ``BENCH_INSTANCE``: the instance folder holding the sandbox keys.
"""
from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import Flask, Response, request

from panelpay.sandbox import Sandbox
from panelpay.channels.signing import alipay_notify_content, epay_md5_valid, rsa_valid

SCHEMA = (
    "CREATE TABLE bench_ceiling_users (id INTEGER PRIMARY KEY, balance NUMERIC(14, 2) NOT NULL DEFAULT 0)",
    "CREATE TABLE bench_ceiling_orders (id BIGSERIAL PRIMARY KEY, trade_no VARCHAR(32) NOT NULL UNIQUE, "
    "user_id INTEGER NOT NULL, total NUMERIC(14, 2) NOT NULL, credit NUMERIC(14, 2) NOT NULL, "
    "status VARCHAR(16) NOT NULL)",
)
SETTLE = sa.text("UPDATE bench_ceiling_orders SET status = 'paid' WHERE trade_no = :trade_no "
                 "AND status = 'pending' AND total = :total RETURNING user_id, credit")
CREDIT = sa.text("UPDATE bench_ceiling_users SET balance = balance + :credit WHERE id = :user_id")


def create_app(db_url: str, instance: str) -> Flask:
    keys = Sandbox(state_file=os.path.join(instance, "panelpay-sandbox.json")).credentials
    epay_key, alipay_public = keys.epay_key, keys.alipay_private.public_key()
    engine = sa.create_engine(db_url, pool_size=5, max_overflow=10)
    app = Flask("ceiling")

    def verified(kind: str, params: dict) -> Decimal | str:
        """The amount of a verified success notification, or the answer to give instead."""
        if kind == "epay":
            if not epay_md5_valid(params, epay_key) or params.get("pid") != Sandbox.EPAY_PID:
                return "fail"
            amount = params.get("money", "")
        elif kind == "alipay":
            if (not rsa_valid(alipay_notify_content(params), params.get("sign"), alipay_public)
                    or params.get("app_id") != Sandbox.ALIPAY_APP_ID
                    or params.get("seller_id") != Sandbox.ALIPAY_SELLER_ID):
                return "fail"
            amount = params.get("total_amount", "")
        else:
            return "fail"
        if params.get("trade_status") != "TRADE_SUCCESS":
            return "success"
        try:
            return Decimal(amount).quantize(Decimal("0.01"))
        except InvalidOperation:
            return "fail"

    @app.route("/ceiling/notify/<kind>", methods=["GET", "POST"])
    def notify(kind: str):
        params = {**request.args.to_dict(), **request.form.to_dict()}
        total = verified(kind, params)
        if not isinstance(total, Decimal):
            return Response(total, 200 if total == "success" else 400, mimetype="text/plain")
        with engine.begin() as conn:
            row = conn.execute(SETTLE, {"trade_no": params.get("out_trade_no", ""), "total": total}).first()
            if row is not None:
                conn.execute(CREDIT, {"credit": row.credit, "user_id": row.user_id})
        return Response("success", mimetype="text/plain")

    @app.get("/")
    def index():
        return Response("ceiling", mimetype="text/plain")

    return app


if os.environ.get("BENCH_DB_URL"):
    app = create_app(os.environ["BENCH_DB_URL"], os.environ["BENCH_INSTANCE"])
