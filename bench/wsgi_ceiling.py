"""WSGI entry for gunicorn: the ceiling. A bare Flask app that does only what crediting a notification
needs, on its own copy of the tables (``bench_ceiling_*``):

1. the same signature check as PanelPay, with PanelPay's primitives: EPay MD5 (``epay_md5_valid``) or
   Alipay RSA2 (``rsa_valid(alipay_notify_content(params), sign, key)`` with the public key parsed once);
2. merchant and status check;
3. one transaction: a conditional UPDATE of the order (pending -> paid, amount equal) RETURNING the
   user and credit, and one balance UPDATE; commit; answer ``success``.

No delivery log, no ledger row, no signals, no metrics: that difference is what the benchmark prices.

The same app also serves ``/floor/notify/<kind>``, the *design floor*: the least that PanelPay's design
(DESIGN.md, "The flow of a notification") asks for, written the cheapest way, on ``bench_floor_*`` tables
shaped and indexed like PanelPay's (the orders' indexes, the ledger's foreign key): the raw request INSERTed
into a delivery log and committed first (one autocommit statement that also looks up the order; its commit
does not wait for the WAL flush, which the credit's synchronous commit then does for both, as PanelPay's
does); then the same verification; then one autocommit statement that, with a bounded lock wait, moves the
order to paid (with its paid time and the gateway's trade number, as PanelPay records them) and, only if that
matched, inserts the ledger row, increments the balance and stamps the delivery log's verdict. It tells how
much of PanelPay's distance to the ceiling the design itself costs, and how much is the implementation.

``BENCH_CEILING_DB_URL``: the database; ``BENCH_INSTANCE``: the instance folder holding the sandbox keys.
"""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import Flask, Response, request

from panelpay import keys
from panelpay.sandbox import Sandbox
from panelpay.signing import alipay_notify_content, epay_md5_valid, rsa_valid


def schema(prefix: str) -> tuple[str, ...]:
    """The tables of ``prefix``: the ceiling's users and orders, as small as the job allows; the floor's
    users, orders, delivery log and ledger shaped and indexed like PanelPay's (the orders' indexes serve
    reconcile, the admin filters and the gateway trade number's uniqueness; the ledger's foreign key is its
    integrity)."""
    users = f"""CREATE TABLE IF NOT EXISTS {prefix}_users (
            id INTEGER PRIMARY KEY, balance NUMERIC(14, 2) NOT NULL DEFAULT 0)"""
    if prefix != "bench_floor":
        return (users, f"""CREATE TABLE IF NOT EXISTS {prefix}_orders (
            id BIGSERIAL PRIMARY KEY, trade_no VARCHAR(32) NOT NULL UNIQUE, user_id INTEGER NOT NULL,
            total NUMERIC(14, 2) NOT NULL, credit NUMERIC(14, 2) NOT NULL, status VARCHAR(16) NOT NULL)""")
    return (
        users,
        """CREATE TABLE IF NOT EXISTS bench_floor_orders (
            id BIGSERIAL PRIMARY KEY, trade_no VARCHAR(32) NOT NULL UNIQUE, user_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL, total NUMERIC(14, 2) NOT NULL, credit NUMERIC(14, 2) NOT NULL,
            status VARCHAR(16) NOT NULL, gateway_trade_no VARCHAR(64), created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL, paid_at TIMESTAMP, settled_by VARCHAR(16),
            UNIQUE (channel_id, gateway_trade_no))""",
        "CREATE INDEX IF NOT EXISTS bench_floor_orders_status ON bench_floor_orders (status, expires_at)",
        "CREATE INDEX IF NOT EXISTS bench_floor_orders_user ON bench_floor_orders (user_id, created_at)",
        "CREATE INDEX IF NOT EXISTS bench_floor_orders_channel ON bench_floor_orders (channel_id, status)",
        """CREATE TABLE IF NOT EXISTS bench_floor_log (
            id BIGSERIAL PRIMARY KEY, kind VARCHAR(16) NOT NULL, channel_uuid VARCHAR(64) NOT NULL,
            method VARCHAR(8) NOT NULL, query_string BYTEA NOT NULL, body BYTEA NOT NULL,
            content_type VARCHAR(128) NOT NULL, source_ip VARCHAR(64) NOT NULL, received_at TIMESTAMP NOT NULL,
            trade_no VARCHAR(64), order_id BIGINT, verdict VARCHAR(16) NOT NULL, outcome VARCHAR(255) NOT NULL,
            answer_status INTEGER, answer_body VARCHAR(16) NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS bench_floor_log_channel ON bench_floor_log (channel_uuid, received_at)",
        "CREATE INDEX IF NOT EXISTS bench_floor_log_verdict ON bench_floor_log (verdict, received_at)",
        "CREATE INDEX IF NOT EXISTS bench_floor_log_trade_no ON bench_floor_log (trade_no)",
        "CREATE INDEX IF NOT EXISTS bench_floor_log_order_id ON bench_floor_log (order_id)",
        """CREATE TABLE IF NOT EXISTS bench_floor_ledger (
            id BIGSERIAL PRIMARY KEY, order_id BIGINT NOT NULL UNIQUE REFERENCES bench_floor_orders (id),
            user_id INTEGER NOT NULL, credit NUMERIC(14, 2) NOT NULL, source VARCHAR(16) NOT NULL,
            created_at TIMESTAMP NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS bench_floor_ledger_user ON bench_floor_ledger (user_id)",
    )


SCHEMA = schema("bench_ceiling") + schema("bench_floor")


CEILING_SETTLE = sa.text("UPDATE bench_ceiling_orders SET status = 'paid' WHERE trade_no = :trade_no "
                         "AND status = 'pending' AND total = :total RETURNING id, user_id, credit")
CEILING_CREDIT = sa.text("UPDATE bench_ceiling_users SET balance = balance + :credit WHERE id = :user_id")


RECORD = sa.text(
    "WITH logged AS (INSERT INTO bench_floor_log (kind, channel_uuid, method, query_string, body, content_type, "
    "source_ip, received_at, trade_no, verdict, outcome, answer_body) VALUES (:kind, '', :method, :query, :body, "
    ":ctype, :ip, :at, :trade_no, 'received', '', '') RETURNING id) "
    "SELECT logged.id AS log_id, o.id, o.user_id, o.total, o.credit FROM logged "
    "LEFT JOIN bench_floor_orders o ON o.trade_no = :trade_no "
    "WHERE (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL")
SETTLE = sa.text(
    "WITH won AS (UPDATE bench_floor_orders SET status = 'paid', paid_at = :at, settled_by = 'notify', "
    "gateway_trade_no = :gateway_trade_no WHERE id = :order_id AND status = 'pending' "
    "AND (SELECT set_config('lock_timeout', '5s', true)) IS NOT NULL RETURNING id, user_id, credit), "
    "entry AS (INSERT INTO bench_floor_ledger (order_id, user_id, credit, source, created_at) "
    "SELECT id, user_id, credit, 'notify', :at FROM won RETURNING id), "
    "credited AS (UPDATE bench_floor_users u SET balance = u.balance + won.credit FROM won WHERE u.id = won.user_id "
    "RETURNING u.id), "
    "stamped AS (UPDATE bench_floor_log SET order_id = :order_id, verdict = 'accepted', outcome = 'credited', "
    "answer_status = 200, answer_body = 'success' WHERE id = :log_id AND EXISTS (SELECT 1 FROM won) RETURNING id) "
    "SELECT (SELECT id FROM entry) AS entry_id, (SELECT count(*) FROM credited) AS credited, "
    "(SELECT count(*) FROM stamped) AS stamped")


def create_app(db_url: str, instance: str) -> Flask:
    credentials = Sandbox(state_file=os.path.join(instance, "panelpay-sandbox.json")).credentials
    epay_key = credentials.epay_key
    alipay_key = keys.load_public_key(credentials.alipay_public_b64())  # parsed once
    engine = sa.create_engine(db_url, pool_size=5, max_overflow=10)
    app = Flask("ceiling")

    def plain(body: str, status: int = 200) -> Response:
        return Response(body, status=status, mimetype="text/plain")

    def verified(kind: str, params: dict) -> Decimal | str:
        """The amount of a verified success notification, or the answer to give instead."""
        if kind == "epay":
            if not epay_md5_valid(params, epay_key) or params.get("pid") != Sandbox.EPAY_PID:
                return "fail"
            amount = params.get("money", "")
        elif kind == "alipay":
            if not rsa_valid(alipay_notify_content(params), params.get("sign"), alipay_key):
                return "fail"
            if params.get("app_id") != Sandbox.ALIPAY_APP_ID or params.get("seller_id") != Sandbox.ALIPAY_SELLER_ID:
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

    def params_of() -> dict:
        params = request.args.to_dict()
        params.update(request.form.to_dict())
        return params

    @app.route("/ceiling/notify/<kind>", methods=["GET", "POST"])
    def notify(kind: str):
        params = params_of()
        total = verified(kind, params)
        if not isinstance(total, Decimal):
            return plain(total, 200 if total == "success" else 400)
        with engine.begin() as conn:
            row = conn.execute(CEILING_SETTLE, {"trade_no": params.get("out_trade_no", ""), "total": total}).first()
            if row is not None:
                conn.execute(CEILING_CREDIT, {"credit": row.credit, "user_id": row.user_id})
        return plain("success")

    @app.route("/floor/notify/<kind>", methods=["GET", "POST"])
    def floor(kind: str):
        body = request.get_data(cache=True)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        params = params_of()
        # Autocommit set on the connection: an engine copy with the option would register an event
        # listener, and every statement would then dispatch the engine's execution events.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            order = conn.execute(RECORD, {"kind": kind[:16], "method": request.method, "query": request.query_string,
                                          "body": body, "ctype": (request.content_type or "")[:128],
                                          "ip": request.remote_addr or "", "at": now,
                                          "trade_no": params.get("out_trade_no", "")[:64]}).one()
            total = verified(kind, params)
            if not isinstance(total, Decimal):
                return plain(total, 200 if total == "success" else 400)
            if order.id is None or order.total != total:
                return plain("success")  # an anomaly: nothing to credit, nothing to retry
            conn.execute(SETTLE, {"order_id": order.id, "log_id": order.log_id, "at": now,
                                  "gateway_trade_no": params.get("trade_no", "")[:64]}).one()
        return plain("success")

    @app.get("/")
    def index():
        return plain("ceiling")

    app.engine = engine
    return app


if os.environ.get("BENCH_CEILING_DB_URL"):
    app = create_app(os.environ["BENCH_CEILING_DB_URL"], os.environ["BENCH_INSTANCE"])
