"""An emulated New-API (Go/Gin, EPay through go-epay v0.0.4): its ``users``/``top_ups``/``options`` tables,
``RequestEpay`` (a signed form the browser POSTs to ``{PayAddress}/submit.php``) and ``EpayNotify`` with its
exact answers and its order of work (``success`` is written before the database is touched).

Facts: docs ``panels.md`` §3.2–3.5 and §4 (U-2026-06). Written from those facts, no code copied. Signing is
go-epay's rule: sorted non-empty params except sign/sign_type, raw ``k=v`` joined with ``&``, key appended,
md5.

    panel = NewApiPanel("sqlite:///n.sqlite", PayAddress="http://127.0.0.1:5000", EpayId="1001", EpayKey="k")
    with serve_app(panel.app) as base:
        panel.set_base_url(base)                      # ServerAddress
        uid = panel.add_user("alice")
        trade_no, fields, action = panel.create_topup(uid, 10)   # POST fields to action
"""
from __future__ import annotations

import hashlib
import json
import secrets
import string
import threading
from decimal import Decimal
from typing import Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import sqlalchemy as sa
from flask import Flask, Response, abort, redirect, request

from .common import EmulatedPanel, Recorder, Received, install_hooks, make_engine, now, render_page, row_dict

QUOTA_PER_UNIT = 500_000  # common.QuotaPerUnit = 500 * 1000.0
TOPUP_NOTIFY_PATH = "/api/user/epay/notify"
SUBSCRIPTION_NOTIFY_PATH = "/api/subscription/epay/notify"
SUBSCRIPTION_RETURN_PATH = "/api/subscription/epay/return"
VERSIONS = ("current", "old")  # current: notify by GET and POST; old (2023-08 … 2026-02-03): GET only

DEFAULT_PAY_METHODS = [
    {"name": "支付宝", "color": "rgba(var(--semi-blue-5), 1)", "type": "alipay"},
    {"name": "微信", "color": "rgba(var(--semi-green-5), 1)", "type": "wxpay"},
]

CATCH_ALL_HTML = ('<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>New API</title>'
                  '<script type="module" src="/assets/index.js"></script></head><body><div id="root"></div>'
                  '</body></html>')


def tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The subset of New-API's GORM tables the payment path touches (panels.md §3.2)."""
    users = sa.Table(
        "users", metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(191), unique=True),
        sa.Column("display_name", sa.String(20), nullable=True),
        sa.Column("role", sa.BigInteger, server_default="1"),
        sa.Column("status", sa.BigInteger, server_default="1"),  # 1 enabled, 2 disabled
        sa.Column("email", sa.String(191), nullable=True, index=True),
        sa.Column("access_token", sa.CHAR(32), nullable=True, unique=True),
        sa.Column("quota", sa.Integer, server_default="0"),  # 32-bit on MySQL/PostgreSQL
        sa.Column("used_quota", sa.Integer, server_default="0"),
        sa.Column("request_count", sa.Integer, server_default="0"),
        sa.Column("group", sa.String(64), server_default="default"),  # reserved word: quoted by SQLAlchemy
        sa.Column("aff_code", sa.String(32), nullable=True, unique=True),
        sa.Column("deleted_at", sa.DateTime, nullable=True, index=True),
        sa.Column("created_at", sa.BigInteger, nullable=True),
    )
    top_ups = sa.Table(
        "top_ups", metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, index=True),
        sa.Column("amount", sa.BigInteger),  # whole USD units
        sa.Column("money", sa.Double),  # CNY charged
        sa.Column("trade_no", sa.String(255), unique=True),
        sa.Column("payment_method", sa.String(50), nullable=True),
        sa.Column("payment_provider", sa.String(50), server_default=""),
        sa.Column("create_time", sa.BigInteger),
        sa.Column("complete_time", sa.BigInteger),
        sa.Column("status", sa.Text),  # 'pending' | 'success' | 'failed' | 'expired'
    )
    options = sa.Table(
        "options", metadata,
        sa.Column("key", sa.String(191), primary_key=True),
        sa.Column("value", sa.Text),
    )
    subscription_plans = sa.Table(  # emulator subset of New-API's subscription_plans
        "subscription_plans", metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(128)),
        sa.Column("price_amount", sa.Double),
        sa.Column("created_at", sa.BigInteger),
    )
    subscription_orders = sa.Table(  # emulator subset of New-API's subscription_orders
        "subscription_orders", metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, index=True),
        sa.Column("plan_id", sa.BigInteger, index=True),
        sa.Column("money", sa.Double),
        sa.Column("trade_no", sa.String(255), nullable=False, unique=True),
        sa.Column("payment_method", sa.String(50), nullable=True),
        sa.Column("payment_provider", sa.String(50), server_default=""),
        sa.Column("status", sa.Text),
        sa.Column("create_time", sa.BigInteger),
        sa.Column("complete_time", sa.BigInteger),
    )
    return {"users": users, "top_ups": top_ups, "options": options, "subscription_plans": subscription_plans,
            "subscription_orders": subscription_orders}


# --- go-epay -----------------------------------------------------------------------------------------------

def go_epay_sign(params: Mapping[str, str], key: str) -> str:
    """go-epay ``GenerateParams``' sign: keys sorted (Go byte order), ``sign``, ``sign_type`` and empty values
    left out, raw ``k=v`` joined with ``&``, the key appended, md5 lower hex."""
    names = sorted(name for name, value in params.items() if name not in ("sign", "sign_type") and value != "")
    return hashlib.md5(("&".join(f"{name}={params[name]}" for name in names) + key).encode("utf-8")).hexdigest()


def go_epay_verify(params: Mapping[str, str], key: str) -> bool:
    """go-epay ``Verify``: the received sign compared with ``==`` to the one computed over the rest."""
    return params.get("sign", "") == go_epay_sign(params, key)


def go_path_join(*elements: str) -> str:
    """Go ``path.Join``: non-empty elements joined with ``/``, then ``path.Clean``."""
    joined = "/".join(element for element in elements if element)
    if not joined:
        return ""
    rooted = joined.startswith("/")
    stack: list[str] = []
    for segment in joined.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if stack and stack[-1] != "..":
                stack.pop()
            elif not rooted:
                stack.append("..")
            continue
        stack.append(segment)
    cleaned = "/".join(stack)
    return "/" + cleaned if rooted else (cleaned or ".")


def go_submit_url(pay_address: str) -> str:
    """go-epay v0.0.4's submit address: ``path.Join(base.Path, "/submit.php")`` on the parsed PayAddress."""
    parts = urlsplit(pay_address)
    return urlunsplit((parts.scheme, parts.netloc, go_path_join(parts.path, "/submit.php"), parts.query, ""))


def go_values(raw: str) -> dict[str, str]:
    """``url.Values`` read with ``.Get``: decoded, the first value of a repeated name."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        values.setdefault(name, value)
    return values


def _random_string(length: int) -> str:
    """``common.GetRandomString``: letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class NewApiPanel(EmulatedPanel):
    """New-API's side of EPay on its own tables. ``app`` is the WSGI app; :meth:`set_base_url` sets
    ``ServerAddress`` once it is served (until then it is New-API's default ``http://localhost:3000``).

    Knobs (plain attributes, any thread): ``behaviour``, ``version`` ("current" | "old"),
    ``compliance_confirmed``, ``apply_after_answer`` (True: the database work runs after the ``success``
    answer has been sent, as in the real panel; False: before the answer is returned, deterministic for
    tests — the answer is ``success`` either way, even if that work fails).
    """

    NAME = "emulated New-API"

    def __init__(self, database_url: str, *, PayAddress: str, EpayId: str, EpayKey: str,  # noqa: N803
                 CustomCallbackAddress: str = "", ServerAddress: str = "http://localhost:3000",  # noqa: N803
                 Price: float = 7.3, MinTopUp: int = 1, PayMethods: list | None = None,  # noqa: N803
                 TopupGroupRatio: dict | None = None, version: str = "current",  # noqa: N803
                 compliance_confirmed: bool = True, apply_after_answer: bool = False):
        self._init_behaviour()
        self.recorder = Recorder()
        self.version = version
        self.compliance_confirmed = compliance_confirmed
        self.apply_after_answer = apply_after_answer
        self.engine = make_engine(database_url)
        self.metadata = sa.MetaData()
        self.tables = tables(self.metadata)
        self.users = self.tables["users"]
        self.top_ups = self.tables["top_ups"]
        self.options_table = self.tables["options"]
        self.metadata.create_all(self.engine)
        self._locks_guard = threading.Lock()
        self._order_locks: dict[str, threading.Lock] = {}
        self.options: dict[str, str] = {}
        for name, value in {
            "PayAddress": PayAddress, "EpayId": EpayId, "EpayKey": EpayKey,
            "CustomCallbackAddress": CustomCallbackAddress, "ServerAddress": ServerAddress,
            "Price": Price, "MinTopUp": MinTopUp,
            "PayMethods": DEFAULT_PAY_METHODS if PayMethods is None else PayMethods,
            "TopupGroupRatio": {"default": 1} if TopupGroupRatio is None else TopupGroupRatio,
        }.items():
            self.set_option(name, value)
        self.app = self._make_app()

    # --- settings ------------------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return self._version

    @version.setter
    def version(self, value: str) -> None:
        if value not in VERSIONS:
            raise ValueError(f"version must be one of {', '.join(VERSIONS)}; got {value!r}")
        self._version = value

    def set_option(self, name: str, value) -> None:
        """An ``options`` row (text, JSON for lists and dicts) and the in-memory copy New-API reads."""
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
        with self.engine.begin() as connection:
            table = self.options_table
            if connection.execute(sa.select(table.c.key).where(table.c.key == name)).first():
                connection.execute(table.update().where(table.c.key == name).values(value=text))
            else:
                connection.execute(table.insert().values(key=name, value=text))
        self.options[name] = text

    def set_base_url(self, url: str) -> None:
        """``ServerAddress``: the base of return_url, and of notify_url unless CustomCallbackAddress is set."""
        self.set_option("ServerAddress", url.rstrip("/"))

    @property
    def callback_address(self) -> str:
        """``GetCallbackAddress()``: CustomCallbackAddress if non-empty, else ServerAddress."""
        return self.options["CustomCallbackAddress"] or self.options["ServerAddress"]

    def pay_methods(self) -> list[dict]:
        try:
            return json.loads(self.options.get("PayMethods") or "[]")
        except ValueError:
            return []

    def epay_enabled(self) -> bool:
        """``isEpayWebhookEnabled``: PayAddress, EpayId, EpayKey, non-empty PayMethods, compliance confirmed."""
        return bool(self.options["PayAddress"] and self.options["EpayId"] and self.options["EpayKey"]
                    and self.pay_methods() and self.compliance_confirmed)

    # --- users ---------------------------------------------------------------------------------------------

    def add_user(self, username: str, *, group: str = "default", quota: int = 0) -> int:
        with self.engine.begin() as connection:
            return connection.execute(self.users.insert().values(
                username=username, display_name=username[:20], quota=quota, group=group, role=1, status=1,
                aff_code=_random_string(4) + secrets.token_hex(4), created_at=now())).inserted_primary_key[0]

    def user(self, user_id: int) -> dict | None:
        with self.engine.connect() as connection:
            return row_dict(connection.execute(sa.select(self.users).where(self.users.c.id == user_id)).first())

    def quota(self, user_id: int) -> int:
        return self.user(user_id)["quota"]

    # --- RequestEpay ---------------------------------------------------------------------------------------

    def pay_money(self, amount: int, group: str = "default") -> float:
        """``getPayMoney``: amount × Price × TopupGroupRatio[group] in decimal, then a float."""
        ratios = json.loads(self.options.get("TopupGroupRatio") or "{}")
        ratio = ratios.get(group, 1)
        money = Decimal(amount) * Decimal(repr(float(self.options["Price"]))) * Decimal(repr(float(ratio)))
        return float(money)

    def _purchase(self, *, pay_type: str, out_trade_no: str, notify_url: str, return_url: str, name: str,
                  money: str, signed_timestamp: bool) -> tuple[dict[str, str], str]:
        """go-epay ``Purchase``: the signed fields and where the browser POSTs them."""
        params = {
            "pid": self.options["EpayId"], "type": pay_type, "out_trade_no": out_trade_no,
            "notify_url": notify_url, "name": name, "money": money, "device": "pc", "sign_type": "MD5",
            "return_url": return_url,
        }
        if signed_timestamp:
            params["timestamp"] = str(now())
        params["sign"] = go_epay_sign(params, self.options["EpayKey"])
        return params, go_submit_url(self.options["PayAddress"])

    def _check_pay_type(self, pay_type: str) -> None:
        if pay_type not in {method.get("type") for method in self.pay_methods()}:
            raise ValueError(f"pay type {pay_type!r} is not in PayMethods")

    def create_topup(self, user_id: int, amount: int, *, pay_type: str = "alipay",
                     signed_timestamp: bool = False) -> tuple[str, dict[str, str], str]:
        """``POST /api/user/pay``: a pending ``top_ups`` row (provider epay) of ``amount`` USD units; returns
        ``(trade_no, form_fields, action_url)``."""
        if int(amount) < int(self.options["MinTopUp"]):
            raise ValueError(f"amount must be at least {self.options['MinTopUp']}")
        self._check_pay_type(pay_type)
        user = self.user(user_id)
        money = self.pay_money(int(amount), user["group"] if user else "default")
        trade_no = f"USR{user_id}NO{_random_string(6)}{now()}"
        fields, action = self._purchase(
            pay_type=pay_type, out_trade_no=trade_no, notify_url=self.callback_address + TOPUP_NOTIFY_PATH,
            return_url=self.options["ServerAddress"] + "/console/log", name=f"TUC{int(amount)}",
            money=f"{money:.2f}", signed_timestamp=signed_timestamp)
        with self.engine.begin() as connection:
            connection.execute(self.top_ups.insert().values(
                user_id=user_id, amount=int(amount), money=money, trade_no=trade_no, payment_method=pay_type,
                payment_provider="epay", create_time=now(), complete_time=0, status="pending"))
        return trade_no, fields, action

    def create_subscription(self, user_id: int, title: str, price: float, *, pay_type: str = "alipay",
                            signed_timestamp: bool = False) -> tuple[str, dict[str, str], str]:
        """A pending ``subscription_orders`` row for a plan ``title`` charged ``price`` (the money sent,
        ``%.2f``); returns ``(trade_no, form_fields, action_url)``. name = ``SUB:{title}``."""
        self._check_pay_type(pay_type)
        stamp = now()
        trade_no = f"SUBUSR{user_id}NO{_random_string(6)}{stamp}"
        plans, orders = self.tables["subscription_plans"], self.tables["subscription_orders"]
        with self.engine.begin() as connection:
            plan_id = connection.execute(plans.insert().values(title=title, price_amount=float(price),
                                                               created_at=stamp)).inserted_primary_key[0]
            connection.execute(orders.insert().values(
                user_id=user_id, plan_id=plan_id, money=float(price), trade_no=trade_no, payment_method=pay_type,
                payment_provider="epay", status="pending", create_time=stamp, complete_time=0))
        fields, action = self._purchase(
            pay_type=pay_type, out_trade_no=trade_no, notify_url=self.callback_address + SUBSCRIPTION_NOTIFY_PATH,
            return_url=self.callback_address + SUBSCRIPTION_RETURN_PATH, name=f"SUB:{title}",
            money=f"{float(price):.2f}", signed_timestamp=signed_timestamp)
        return trade_no, fields, action

    def topup(self, trade_no: str) -> dict | None:
        with self.engine.connect() as connection:
            return row_dict(connection.execute(
                sa.select(self.top_ups).where(self.top_ups.c.trade_no == trade_no)).first())

    def subscription(self, trade_no: str) -> dict | None:
        orders = self.tables["subscription_orders"]
        with self.engine.connect() as connection:
            return row_dict(connection.execute(sa.select(orders).where(orders.c.trade_no == trade_no)).first())

    def topups_of(self, user_id: int) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(self.top_ups).where(self.top_ups.c.user_id == user_id)
                                      .order_by(self.top_ups.c.id.desc())).all()
        return [row_dict(row) for row in rows]

    # --- EpayNotify ----------------------------------------------------------------------------------------

    def verify(self, params: Mapping[str, str], key: str | None = None) -> bool:
        return go_epay_verify(params, self.options["EpayKey"] if key is None else key)

    def verifies(self, received: Received, key: str | None = None) -> bool:
        """Whether a recorded request passes this panel's own verification (POST form or GET query, as the
        panel reads them)."""
        params = go_values(received.body) if received.method == "POST" else go_values(received.query_string)
        return bool(params) and self.verify(params, key)

    def _order_lock(self, trade_no: str) -> threading.Lock:
        """``LockOrder``: an in-process lock per trade number."""
        with self._locks_guard:
            return self._order_locks.setdefault(trade_no, threading.Lock())

    def _apply_topup(self, params: Mapping[str, str]) -> None:
        trade_no = params.get("out_trade_no", "")
        with self._order_lock(trade_no):
            topup = self.topup(trade_no)
            if topup is None or topup["payment_provider"] != "epay" or topup["status"] != "pending":
                return
            with self.engine.begin() as connection:  # topUp.Update()
                connection.execute(self.top_ups.update().where(self.top_ups.c.id == topup["id"]).values(
                    payment_method=params.get("type", ""), status="success", complete_time=now()))
            with self.engine.begin() as connection:  # then, separately, IncreaseUserQuota
                connection.execute(self.users.update().where(self.users.c.id == topup["user_id"]).values(
                    quota=self.users.c.quota + int(topup["amount"]) * QUOTA_PER_UNIT))

    def _apply_subscription(self, params: Mapping[str, str]) -> None:
        orders = self.tables["subscription_orders"]
        trade_no = params.get("out_trade_no", "")
        with self._order_lock(trade_no):
            order = self.subscription(trade_no)
            if order is None or order["payment_provider"] != "epay" or order["status"] != "pending":
                return
            with self.engine.begin() as connection:
                connection.execute(orders.update().where(orders.c.id == order["id"]).values(
                    payment_method=params.get("type", ""), status="success", complete_time=now()))

    def _request_params(self) -> dict[str, str]:
        """Params from the POST form (``PostForm``, urlencoded bodies only) or the GET query."""
        if request.method == "POST":
            if request.mimetype != "application/x-www-form-urlencoded":
                return {}
            return go_values(request.get_data(cache=True, as_text=True))
        return go_values(request.query_string.decode("latin-1"))

    def _answer_then_apply(self, apply) -> Response:
        """``success`` is the answer whatever the database work does afterwards."""
        response = Response("success", mimetype="text/plain")
        if self.behaviour == "success_without_apply":
            return response

        def work():
            try:
                apply()
            except Exception:  # noqa: BLE001 - New-API logs it; the answer was already success
                pass

        if self.apply_after_answer:
            response.call_on_close(work)
        else:
            work()
        return response

    # --- the app -------------------------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask("panelpay.sandbox.panels.newapi", static_folder=None)
        install_hooks(app, self, page_paths=lambda path: path in ("/", "/console/topup", "/console/log", "/favicon.ico"),
                      error_body="Internal Server Error", catch_all_body=CATCH_ALL_HTML)

        def plain(text: str, status: int = 200) -> Response:
            return Response(text, status, mimetype="text/plain")

        def notified(kind: str):
            if request.method == "POST" and self.version == "old":
                return plain("405 method not allowed", 405)
            if not self.epay_enabled():
                return plain("fail")
            params = self._request_params()
            if not params:
                return plain("fail")
            if not self.verify(params):
                return plain("fail")
            if kind == "topup":
                if params.get("trade_status") != "TRADE_SUCCESS":
                    return plain("success")
                return self._answer_then_apply(lambda: self._apply_topup(params))
            if params.get("trade_status") != "TRADE_SUCCESS":
                return plain("fail")
            return self._answer_then_apply(lambda: self._apply_subscription(params))

        @app.route(TOPUP_NOTIFY_PATH, methods=["GET", "POST"])
        def topup_notify():
            return notified("topup")

        @app.route(SUBSCRIPTION_NOTIFY_PATH, methods=["GET", "POST"])
        def subscription_notify():
            return notified("subscription")

        @app.route(SUBSCRIPTION_RETURN_PATH, methods=["GET", "POST"])
        def subscription_return():
            """Verifies and completes like the notify, then sends the browser to the console (approximation)."""
            params = self._request_params()
            if self.epay_enabled() and params and self.verify(params) \
                    and params.get("trade_status") == "TRADE_SUCCESS" and self.behaviour == "normal":
                self._apply_subscription(params)
            return redirect(self.options["ServerAddress"] + "/console/log", 302)

        @app.get("/")
        def home():
            return redirect(request.script_root + "/console/topup", 302)

        @app.route("/console/topup", methods=["GET", "POST"])
        def console_topup():
            user = self._page_user(request.values.get("user"))
            if request.method == "POST":
                try:
                    amount = int(request.form.get("amount", ""))
                    trade_no, fields, action = self.create_topup(
                        user["id"], amount, pay_type=request.form.get("pay_type", "alipay"))
                except ValueError as exc:
                    return render_page(self.NAME, "钱包 Wallet", _TOPUP, accent="#0064fa", user=user,
                                       methods=self.pay_methods(), error=str(exc), price=self.options["Price"]), 400
                return render_page(self.NAME, "正在跳转 Redirecting", _AUTOPOST, accent="#0064fa",
                                   fields=fields, action=action, trade_no=trade_no)
            return render_page(self.NAME, "钱包 Wallet", _TOPUP, accent="#0064fa", user=user,
                               methods=self.pay_methods(), error=None, price=self.options["Price"])

        @app.get("/console/log")
        def console_log():
            user = self._page_user(request.args.get("user"))
            return render_page(self.NAME, "日志 Log", _LOG, accent="#0064fa", user=user,
                               topups=self.topups_of(user["id"]), per_unit=QUOTA_PER_UNIT)

        return app

    def _page_user(self, user_id: str | None) -> dict:
        if user_id:
            user = self.user(int(user_id)) if user_id.isdigit() else None
            if user is None:
                abort(404)
            return user
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(self.users).order_by(self.users.c.id).limit(1)).first()
        return row_dict(row) if row is not None else self.user(self.add_user("demo"))


_TOPUP = """
<div class="card"><div class="muted">用户 User</div><strong>{{ user.username }}</strong>
 <span class="muted">· 余额 quota {{ user.quota }} (${{ '%.2f' % (user.quota / 500000) }})</span>
 · <a href="{{ request.script_root }}/console/log?user={{ user.id }}">账单 Log</a></div>
<div class="card"><h3>在线充值 Top up</h3>
{% if error %}<p style="color:#b00">{{ error }}</p>{% endif %}
<form method="post" action="{{ request.script_root }}/console/topup"><input type="hidden" name="user" value="{{ user.id }}">
<label>充值数量 Amount (USD) <input name="amount" type="number" min="1" value="10" required></label>
<select name="pay_type">{% for method in methods %}<option value="{{ method.type }}">{{ method.name }}</option>
{% endfor %}</select> <button>支付 Pay</button></form>
<p class="muted">实付 Charged: amount × {{ price }} CNY</p></div>
"""

_AUTOPOST = """
<div class="card"><p>正在前往支付 Going to the payment page… ({{ trade_no }})</p>
<form id="epay" method="post" action="{{ action }}">
{% for name, value in fields.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<button>继续 Continue</button></form></div>
<script>document.getElementById("epay").submit();</script>
"""

_LOG = """
<div class="card"><div class="muted">用户 User</div><strong>{{ user.username }}</strong>
 <span class="muted">· 余额 quota {{ user.quota }} (${{ '%.2f' % (user.quota / per_unit) }})</span>
 · <a href="{{ request.script_root }}/console/topup?user={{ user.id }}">充值 Top up</a></div>
<div class="card"><h3>充值记录 Top-ups</h3>{% if topups %}<table>
<tr><th>订单号 Trade no</th><th>数量 Amount</th><th>实付 Money</th><th>方式 Method</th><th>状态 Status</th></tr>
{% for t in topups %}<tr><td>{{ t.trade_no }}</td><td>{{ t.amount }}</td><td>¥{{ '%.2f' % t.money }}</td>
<td>{{ t.payment_method or '' }}</td><td>{{ t.status }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">没有记录 No top-ups yet.</p>{% endif %}</div>
"""
