"""An emulated Xboard (PHP/Laravel): its ``v2_user``/``v2_order``/``v2_payment`` tables, its EPay plugin's
``pay()`` (a signed GET redirect to ``{url}/submit.php``) and its notify route with the exact answers.

Facts: docs ``panels.md`` §2.2–2.4 and §4. Written from those facts, no code copied. Signing is done the way
the PHP does it, step by step: ``ksort`` → ``http_build_query`` → ``urldecode`` → ``stripslashes`` → ``. key``
→ ``md5``.

    panel = XboardPanel("sqlite:///x.sqlite", url="http://127.0.0.1:5000", pid="1001", key="k")
    with serve_app(panel.app) as base:
        panel.set_base_url(base)
        uid = panel.add_user("a@example.com")
        trade_no = panel.create_order(uid, 990)
        panel.submit_url(trade_no)   # -> http://127.0.0.1:5000/submit.php?money=9.9&name=…&sign=…&sign_type=MD5
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import threading
import time
from datetime import datetime
from typing import Mapping
from urllib.parse import parse_qsl

import sqlalchemy as sa
from flask import Flask, Response, abort, has_request_context, redirect, request

from .common import EmulatedPanel, Recorder, Received, install_hooks, make_engine, now, php_float_text, \
    php_money, render_page, row_dict

NOTIFY_PREFIX = "/api/v1/guest/payment/notify/"

# Order::STATUS_* and what the panel shows for them.
PENDING, PROCESSING, CANCELLED, COMPLETED, DISCOUNTED = 0, 1, 2, 3, 4
STATUS_WORDS = {
    PENDING: "待支付 (pending)",
    PROCESSING: "开通中 (processing)",
    CANCELLED: "已取消 (cancelled)",
    COMPLETED: "已完成 (completed)",
    DISCOUNTED: "已折抵 (discounted)",
}

#: Plans the demo page offers: id, name, price in cents, Xboard period field, period words.
DEFAULT_PLANS = (
    {"id": 1, "name": "Plan A", "price": 990, "period": "month_price", "per": "month", "days": 30},
    {"id": 2, "name": "Plan B", "price": 2900, "period": "quarter_price", "per": "quarter", "days": 90},
    {"id": 3, "name": "Plan C", "price": 10000, "period": "year_price", "per": "year", "days": 365},
)

CATCH_ALL_HTML = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Xboard</title>'
                  '<script src="/theme/Xboard/assets/umi.js"></script></head><body><div id="app"></div>'
                  '</body></html>')


def tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table, sa.Table]:
    """The subset of Xboard's tables the payment path touches, names and units exact (panels.md §2.2)."""
    user = sa.Table(
        "v2_user", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(64), nullable=False, unique=True),
        sa.Column("balance", sa.Integer, nullable=False, server_default="0"),  # cents
        sa.Column("commission_balance", sa.Integer, nullable=False, server_default="0"),
        sa.Column("banned", sa.Boolean(create_constraint=False), nullable=False, server_default="0"),
        sa.Column("is_admin", sa.Boolean(create_constraint=False), nullable=False, server_default="0"),
        sa.Column("is_staff", sa.Boolean(create_constraint=False), nullable=False, server_default="0"),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("token", sa.CHAR(32), nullable=False),
        sa.Column("plan_id", sa.Integer, nullable=True),
        sa.Column("expired_at", sa.BigInteger, nullable=True, server_default="0"),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Integer, nullable=False),
    )
    order = sa.Table(
        "v2_order", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("invite_user_id", sa.Integer, nullable=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("coupon_id", sa.Integer, nullable=True),
        sa.Column("payment_id", sa.Integer, nullable=True),
        sa.Column("type", sa.Integer, nullable=False),  # 1新购 2续费 3升级 4流量重置
        sa.Column("period", sa.String(255), nullable=False),
        sa.Column("trade_no", sa.String(36), nullable=False, unique=True),  # = EPay out_trade_no
        sa.Column("callback_no", sa.String(255), nullable=True),  # = EPay trade_no (the gateway's)
        sa.Column("total_amount", sa.Integer, nullable=False),  # cents
        sa.Column("handling_amount", sa.Integer, nullable=True),
        sa.Column("balance_amount", sa.Integer, nullable=True),
        sa.Column("status", sa.Integer, nullable=False, server_default="0"),  # 0待支付1开通中2已取消3已完成4已折抵
        sa.Column("commission_status", sa.Integer, nullable=False, server_default="0"),
        sa.Column("commission_balance", sa.Integer, nullable=False, server_default="0"),
        sa.Column("paid_at", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False, index=True),
        sa.Column("updated_at", sa.Integer, nullable=False),
    )
    payment = sa.Table(
        "v2_payment", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.CHAR(32), nullable=False),  # no unique index upstream
        sa.Column("payment", sa.String(16), nullable=False),  # 'EPay'
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("icon", sa.Text, nullable=True),
        sa.Column("config", sa.Text, nullable=False),  # JSON {url,pid,key,type}, plaintext
        sa.Column("notify_domain", sa.String(128), nullable=True),
        sa.Column("handling_fee_fixed", sa.Integer, nullable=True),
        sa.Column("handling_fee_percent", sa.Numeric(5, 2), nullable=True),
        sa.Column("enable", sa.Boolean(create_constraint=False), nullable=False, server_default="0"),
        sa.Column("sort", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Integer, nullable=False),
    )
    return user, order, payment


# --- PHP, step by step -------------------------------------------------------------------------------------

_URLENCODE_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def php_urlencode(value: str) -> str:
    """PHP ``urlencode``: letters, digits and ``-_.`` kept, space → ``+``, every other byte ``%XX`` (upper
    case; ``~`` included, unlike Python's quote)."""
    out = []
    for byte in value.encode("utf-8"):
        if byte in _URLENCODE_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def php_strval(value) -> str | None:
    """A scalar as ``http_build_query`` writes it; None for null (which it skips)."""
    if value is None:
        return None
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return php_float_text(value)
    return str(value)


def http_build_query(params: Mapping[str, object]) -> str:
    """PHP ``http_build_query`` for a flat array: ``urlencode(k)=urlencode(v)`` joined with ``&``, nulls
    skipped, in the array's order."""
    parts = []
    for key, value in params.items():
        text = php_strval(value)
        if text is not None:
            parts.append(f"{php_urlencode(key)}={php_urlencode(text)}")
    return "&".join(parts)


_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


def php_urldecode(text: str) -> bytes:
    """PHP ``urldecode``: ``+`` → space, valid ``%XX`` → the byte, anything else kept. Bytes, as PHP strings."""
    raw = text.encode("utf-8").replace(b"+", b" ")
    return _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def stripslashes(data: bytes) -> bytes:
    """PHP ``stripslashes``: ``\\x`` → ``x``, ``\\\\`` → ``\\``, ``\\0`` → NUL, a trailing lone ``\\`` dropped."""
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x5C:  # backslash
            i += 1
            if i < len(data):
                out.append(0 if data[i] == 0x30 else data[i])
        else:
            out.append(byte)
        i += 1
    return bytes(out)


def ksort(params: Mapping[str, object]) -> dict[str, object]:
    """PHP ``ksort`` for the non-numeric string keys EPay uses: byte order."""
    return dict(sorted(params.items(), key=lambda item: item[0].encode("utf-8")))


def xboard_sign(params: Mapping[str, object], key: str) -> str:
    """``md5(stripslashes(urldecode(http_build_query($params))) . $key)`` over ``ksort``-ed params, exactly as
    the EPay plugin's ``pay()`` and ``notify()`` compute it (the caller removes sign and sign_type)."""
    text = stripslashes(php_urldecode(http_build_query(ksort(params))))
    return hashlib.md5(text + key.encode("utf-8")).hexdigest()


# Laravel's TrimStrings middleware (in Xboard's app/Http/Kernel.php global stack), then ConvertEmptyStringsToNull.
_TRIM = re.compile(r"^[\s\ufeff\u200b\u200e]+|[\s\ufeff\u200b\u200e]+$")


def _php_name(name: str) -> str:
    """PHP turns ``.`` and spaces in incoming variable names into ``_``."""
    return name.replace(".", "_").replace(" ", "_")


def laravel_input(query_string: str, form_body: str | None) -> dict[str, str | None]:
    """``$request->input()``: the query, overridden by a urlencoded body; a repeated name keeps the last
    value (no ``[]`` arrays); strings trimmed, then empty ones null."""
    params: dict[str, str | None] = {}
    for source in (query_string, form_body or ""):
        for name, value in parse_qsl(source, keep_blank_values=True):
            params[_php_name(name)] = value
    for name, value in params.items():
        value = _TRIM.sub("", value)
        params[name] = value if value != "" else None
    return params


def _random_char(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class XboardPanel(EmulatedPanel):
    """Xboard's side of EPay on its own tables. ``app`` is the WSGI app; call :meth:`set_base_url` once it is
    served (Xboard's ``url()``: the base of notify_url and return_url)."""

    NAME = "emulated Xboard"

    def __init__(self, database_url: str, *, url: str, pid: str, key: str, type: str | None = None,
                 notify_domain: str | None = None, base_url: str | None = None, enable: bool = True,
                 plans=DEFAULT_PLANS, sqlite_wal: bool = True):
        self._init_behaviour()
        self.recorder = Recorder()
        self.plans = [dict(plan) for plan in plans]
        self.base_url = base_url.rstrip("/") if base_url else None
        self.engine = make_engine(database_url, sqlite_wal=sqlite_wal)
        self.metadata = sa.MetaData()
        self.users, self.orders, self.payments = tables(self.metadata)
        self.metadata.create_all(self.engine)
        self._paid_lock = threading.Lock()
        stamp = now()
        self.payment_uuid = _random_char(8)
        with self.engine.begin() as connection:
            self.payment_id = connection.execute(self.payments.insert().values(
                uuid=self.payment_uuid, payment="EPay", name="EPay (emulated)",
                config=json.dumps(self._config(url, pid, key, type)), notify_domain=notify_domain or None,
                enable=enable, sort=1, created_at=stamp, updated_at=stamp)).inserted_primary_key[0]
        self.app = self._make_app()

    # --- settings ------------------------------------------------------------------------------------------

    @staticmethod
    def _config(url, pid, key, type_) -> dict:
        config = {"url": url, "pid": str(pid), "key": key}
        if type_:
            config["type"] = type_
        return config

    def set_base_url(self, url: str) -> None:
        self.base_url = url.rstrip("/")

    def payment(self) -> dict:
        """This emulator's ``v2_payment`` row, ``config`` decoded."""
        with self.engine.connect() as connection:
            row = row_dict(connection.execute(
                sa.select(self.payments).where(self.payments.c.id == self.payment_id)).first())
        row["config"] = json.loads(row["config"])
        return row

    def set_payment(self, **changes) -> None:
        """Change the payment row: ``url``, ``pid``, ``key``, ``type`` (config), ``notify_domain``, ``enable``."""
        current = self.payment()
        config = current["config"]
        for name in ("url", "pid", "key", "type"):
            if name in changes:
                config[name] = changes.pop(name)
        config = self._config(config.get("url"), config.get("pid"), config.get("key"), config.get("type"))
        values = {"config": json.dumps(config), "updated_at": now()}
        for name in ("notify_domain", "enable"):
            if name in changes:
                values[name] = changes.pop(name)
        if changes:
            raise TypeError(f"unknown payment settings: {', '.join(changes)}")
        with self.engine.begin() as connection:
            connection.execute(self.payments.update().where(self.payments.c.id == self.payment_id).values(**values))

    @property
    def notify_path(self) -> str:
        return f"{NOTIFY_PREFIX}EPay/{self.payment_uuid}"

    def _app_url(self) -> str:
        if self.base_url:
            return self.base_url
        if has_request_context():
            return request.host_url.rstrip("/")
        raise RuntimeError("set_base_url() first: Xboard builds notify_url and return_url from its own URL")

    # --- users and orders ----------------------------------------------------------------------------------

    def add_user(self, email: str, *, balance: int = 0, banned: bool = False) -> int:
        stamp = now()
        with self.engine.begin() as connection:
            return connection.execute(self.users.insert().values(
                email=email, balance=balance, banned=banned, uuid=secrets.token_hex(16)[:36],
                token=secrets.token_hex(16), created_at=stamp, updated_at=stamp)).inserted_primary_key[0]

    def user(self, user_id: int) -> dict | None:
        with self.engine.connect() as connection:
            return row_dict(connection.execute(sa.select(self.users).where(self.users.c.id == user_id)).first())

    @staticmethod
    def generate_order_no() -> str:
        """``Helper::generateOrderNo()``: ``date('YmdHms')`` (month again where minutes would be) + the 6
        microsecond digits of ``microtime()`` + ``mt_rand(10000, 99999)``: 25 digits."""
        moment = time.time()
        stamp = datetime.fromtimestamp(moment).strftime("%Y%m%d%H%m%S")
        micro = f"{int((moment % 1) * 1_000_000):06d}"
        return f"{stamp}{micro}{secrets.randbelow(90000) + 10000}"

    def create_order(self, user_id: int, total_amount: int, plan_id: int = 1, *, period: str = "month_price",
                     created_at: int | None = None) -> str:
        """A pending new-purchase order of ``total_amount`` cents; returns its ``trade_no``."""
        stamp = now() if created_at is None else created_at
        for _ in range(5):
            trade_no = self.generate_order_no()
            try:
                with self.engine.begin() as connection:
                    connection.execute(self.orders.insert().values(
                        user_id=user_id, plan_id=plan_id, payment_id=self.payment_id, type=1, period=period,
                        trade_no=trade_no, total_amount=int(total_amount), status=PENDING,
                        created_at=stamp, updated_at=stamp))
                return trade_no
            except sa.exc.IntegrityError:  # pragma: no cover - same microsecond and same random
                continue
        raise RuntimeError("could not find a free trade_no")  # pragma: no cover

    def order(self, trade_no: str) -> dict | None:
        with self.engine.connect() as connection:
            return row_dict(connection.execute(
                sa.select(self.orders).where(self.orders.c.trade_no == trade_no)).first())

    def orders_of(self, user_id: int) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(self.orders).where(self.orders.c.user_id == user_id)
                                      .order_by(self.orders.c.id.desc())).all()
        return [row_dict(row) for row in rows]

    # --- the EPay plugin -----------------------------------------------------------------------------------

    def notify_url(self) -> str:
        """``url("/api/v1/guest/payment/notify/EPay/<uuid>")``; with notify_domain, that domain (as typed, no
        normalisation) followed by the path."""
        payment = self.payment()
        url = self._app_url() + self.notify_path
        if payment["notify_domain"]:
            return payment["notify_domain"] + self.notify_path
        return url

    def submit_params(self, trade_no: str) -> dict[str, str]:
        """What ``pay()`` sends, in the URL's order (ksort-ed, then sign and sign_type), as text."""
        order = self.order(trade_no)
        if order is None:
            raise KeyError(trade_no)
        config = self.payment()["config"]
        params: dict[str, object] = {
            "money": php_money(order["total_amount"]),
            "name": trade_no,
            "notify_url": self.notify_url(),
            "return_url": self._app_url() + "/#/order/" + trade_no,
            "out_trade_no": trade_no,
            "pid": config["pid"],
        }
        if config.get("type"):
            params["type"] = config["type"]
        params = ksort(params)
        params["sign"] = xboard_sign(params, config["key"])
        params["sign_type"] = "MD5"
        return {name: php_strval(value) for name, value in params.items()}

    def submit_url(self, trade_no: str) -> str:
        """The browser's GET redirect: ``{url}/submit.php?`` + ``http_build_query`` (url as configured)."""
        return self.payment()["config"]["url"] + "/submit.php?" + http_build_query(self.submit_params(trade_no))

    def verify(self, params: Mapping[str, str | None], key: str | None = None) -> dict | None:
        """The plugin's ``notify()``: sign over everything received but sign/sign_type (nulls skipped),
        compared with ``!==``. Returns ``{trade_no, callback_no}`` or None."""
        key = self.payment()["config"]["key"] if key is None else key
        params = dict(params)
        sign = params.pop("sign", None)
        params.pop("sign_type", None)
        if sign is None or xboard_sign(params, key) != sign:
            return None
        return {"trade_no": params.get("out_trade_no"), "callback_no": params.get("trade_no")}

    def verifies(self, received: Received, key: str | None = None) -> bool:
        """Whether a recorded request passes this panel's own verification (under its key, or ``key``)."""
        params = laravel_input(received.query_string, received.body if received.form else None)
        return self.verify(params, key) is not None

    # --- paid processing -----------------------------------------------------------------------------------

    def _handle(self, trade_no: str | None, callback_no: str | None) -> bool:
        """``PaymentController::handle``: unknown order → truthy (``success``); not pending → true; else
        ``OrderService::paid`` (status 1, paid_at, callback_no) then ``open()`` (status 3)."""
        with self._paid_lock:  # keeps the emulator's own bookkeeping consistent; deliveries may still overlap
            order = self.order(trade_no) if trade_no else None
            if order is None or order["status"] != PENDING:
                return True
            stamp = now()
            with self.engine.begin() as connection:
                connection.execute(self.orders.update().where(self.orders.c.id == order["id"]).values(
                    status=PROCESSING, paid_at=stamp, callback_no=callback_no, updated_at=stamp))
            self._open(order["id"])
            return True

    def _open(self, order_id: int) -> None:
        """``OrderService::open`` in one transaction: the user gets the plan, the order is completed."""
        with self.engine.begin() as connection:
            order = connection.execute(sa.select(self.orders).where(self.orders.c.id == order_id)).first()
            user = connection.execute(sa.select(self.users).where(self.users.c.id == order.user_id)
                                      .with_for_update()).first()
            stamp = now()
            if user is not None:
                days = next((p["days"] for p in self.plans if p["period"] == order.period), 30)
                start = max(stamp, user.expired_at or 0)
                connection.execute(self.users.update().where(self.users.c.id == user.id).values(
                    plan_id=order.plan_id, expired_at=start + days * 86400, updated_at=stamp))
            connection.execute(self.orders.update().where(self.orders.c.id == order_id).values(
                status=COMPLETED, updated_at=stamp))

    def cancel_stale(self, now_: int | None = None) -> int:
        """``OrderHandleJob`` via ``check:order``: pending orders created 7200 s or more ago → cancelled (2).
        Returns how many."""
        cutoff = (now() if now_ is None else now_) - 7200
        with self.engine.begin() as connection:
            return connection.execute(self.orders.update().where(
                self.orders.c.status == PENDING, self.orders.c.created_at <= cutoff).values(
                status=CANCELLED, updated_at=now())).rowcount

    # --- the app -------------------------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask("panelpay.sandbox.panels.xboard", static_folder=None)
        install_hooks(app, self, page_paths=lambda path: path in ("/", "/buy", "/favicon.ico"),
                      error_body="500 Internal Server Error", catch_all_body=CATCH_ALL_HTML)

        def fail(code: int, message: str) -> Response:
            # Laravel's order, not Flask's sorted keys
            return Response(json.dumps({"status": "fail", "message": message}, separators=(",", ":")), code,
                            mimetype="application/json")

        @app.route("/api/v1/guest/payment/notify/<method>/<uuid>", methods=["GET", "POST"])
        def notify(method: str, uuid: str):
            try:
                with self.engine.connect() as connection:
                    payment = connection.execute(sa.select(self.payments).where(
                        self.payments.c.uuid == uuid)).first()
                if payment is None or method != "EPay" or payment.payment != method:
                    raise LookupError("payment not found")
                if not payment.enable:
                    raise LookupError("gate is not enable")
                key = json.loads(payment.config)["key"]
                body = request.get_data(cache=True, as_text=True) \
                    if request.mimetype == "application/x-www-form-urlencoded" else None
                verified = self.verify(laravel_input(request.query_string.decode("latin-1"), body), key)
                if not verified:
                    return fail(422, "verify error")
                if self.behaviour == "success_without_apply":
                    return Response("success", mimetype="text/html")
                if not self._handle(verified["trade_no"], verified["callback_no"]):
                    return fail(400, "handle error")  # pragma: no cover - open() does not fail here
                return Response("success", mimetype="text/html")
            except Exception:  # noqa: BLE001 - the controller's catch: any exception is a 500 "fail"
                return fail(500, "fail")

        @app.get("/")
        def home():
            user = self._page_user(request.args.get("email"))
            plans = [dict(plan, money=php_money(plan["price"])) for plan in self.plans]
            orders = [dict(order, money=php_money(order["total_amount"]),
                           words=STATUS_WORDS.get(order["status"], str(order["status"])))
                      for order in self.orders_of(user["id"])]
            return render_page(self.NAME, "仪表盘 Dashboard", _HOME, accent="#3b6ec4", user=user, plans=plans,
                               orders=orders)

        @app.post("/buy")
        def buy():
            user = self._page_user(request.form.get("email"))
            plan = next((p for p in self.plans if str(p["id"]) == request.form.get("plan_id")), None)
            if plan is None:
                abort(404)
            trade_no = self.create_order(user["id"], plan["price"], plan["id"], period=plan["period"])
            return redirect(self.submit_url(trade_no), 302)

        return app

    def _page_user(self, email: str | None) -> dict:
        with self.engine.connect() as connection:
            query = sa.select(self.users)
            query = query.where(self.users.c.email == email) if email else query.order_by(self.users.c.id)
            row = connection.execute(query.limit(1)).first()
        if row is None:
            if email:
                abort(404)
            return self.user(self.add_user("demo@xboard.example"))
        return row_dict(row)


_HOME = """
<div class="card"><div class="muted">用户 User</div><strong>{{ user.email }}</strong>
 <span class="muted">· 余额 balance ¥{{ '%.2f' % (user.balance / 100) }}</span></div>
<div class="card"><h3>购买订阅 Plans</h3><table>
{% for plan in plans %}<tr><td>{{ plan.name }}</td><td>¥{{ '%.2f' % (plan.price / 100) }} / {{ plan.per }}</td>
<td><form method="post" action="{{ request.script_root }}/buy"><input type="hidden" name="plan_id" value="{{ plan.id }}">
<input type="hidden" name="email" value="{{ user.email }}"><button>购买 Buy</button></form></td></tr>{% endfor %}
</table></div>
<div class="card"><h3>我的订单 Orders</h3>{% if orders %}<table>
<tr><th>订单号 Order</th><th>金额 Amount</th><th>状态 Status</th></tr>
{% for order in orders %}<tr><td>{{ order.trade_no }}</td><td>¥{{ order.money }}</td><td>{{ order.words }}</td></tr>
{% endfor %}</table>{% else %}<p class="muted">没有订单 No orders yet.</p>{% endif %}
<p class="muted">Xboard shows an order at /#/order/&lt;trade_no&gt;; a fragment never reaches the server, so
this page lists them instead.</p></div>
"""
