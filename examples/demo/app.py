"""The demo host panel.

A minimal panel of the kind PanelPay plugs into: users with a balance, a login page, the balance on every
page. It loads PanelPay the way a panel loads a plugin, from the ``entry`` of ``plugin.yaml``, and mounts
PanelPay's sandbox gateway with one EPay and one Alipay channel pointing at it.

It also shows gateway mode: an emulated Xboard (``/xboard/``) and an emulated New-API (``/newapi/``) are
served by the same process, each a merchant of PanelPay's that sends its buyers to PanelPay's ``/submit.php``
and is notified once they have paid.
"""
from __future__ import annotations

import importlib
import json
import os
from urllib.parse import urlsplit
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask, flash, jsonify, redirect, render_template, request, session, url_for
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from panelpay.manifest import load_manifest

DEMO_USERS = (("admin", "admin", True), ("alice", "alice", False))
#: What ``panelpay demo`` last served (its address and database), in the instance folder, so that
#: ``flask --app panelpay.demo.app panelpay …`` in the same folder works on the same demo.
SERVED = "demo-served.json"
#: The demo's two merchants (the emulated panels' pid and key: the key is shown only once, when created), in
#: the instance folder, so that a restart configures the panels with the same ones.
GATEWAY = "demo-gateway.json"
#: The emulated panels: where they are mounted, their merchant's name and their database file.
PANELS = {"xboard": ("/xboard", "Emulated Xboard", "demo-xboard.sqlite"),
          "newapi": ("/newapi", "Emulated New-API", "demo-newapi.sqlite")}

#: The demo panel's own words in Chinese (PanelPay's pages bring their own translations).
ZH = {
    "Demo panel": "演示面板", "Top up": "充值", "PanelPay settings": "PanelPay 设置", "balance": "余额",
    "Log out": "退出登录", "Log in": "登录", "User name": "用户名", "Password": "密码",
    "Demo logins:": "演示账号：", "(a user)": "（普通用户）", "(the operator)": "（运营者）",
    "Wrong user name or password.": "用户名或密码错误。", "Hello, %(name)s": "你好，%(name)s",
    "Your balance is": "您的余额为", "Open the PanelPay settings": "打开 PanelPay 设置",
    "to see the channels, the callback domain and the doctor.": "，查看支付通道、回调域名和自检。",
    "Gateway mode": "网关模式", "Gateway mode, without logging in:": "网关模式（无需登录）：",
    "Two emulated panels use PanelPay as their EPay site:": "两个模拟面板把 PanelPay 当作它们的易支付站点：",
    "Emulated Xboard": "模拟 Xboard", "Emulated New-API": "模拟 New-API",
    "click Buy on a plan, pay in the sandbox, and the order turns 已完成 (completed).":
        "在套餐旁点击“购买 Buy”，在沙箱中付款，订单即变为“已完成”。",
    "choose an amount and click Pay, pay in the sandbox, and the top-up turns success (the quota rises).":
        "填写数量并点击“支付 Pay”，在沙箱中付款，充值记录变为 success，额度增加。",
    "The operator sees each notification PanelPay sent them in": "运营者可在此查看 PanelPay 发给它们的每一条通知：",
    "the deliveries list": "给面板的通知列表",
}


def load_plugin_class():
    """Resolve ``entry`` (``module:Class``) from the plugin manifest, as a panel's plugin loader does."""
    module_name, _, attr = load_manifest().entry.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def create_app(db_url: str | None = None, *, site_url: str | None = None, instance_path: str | None = None,
               config: dict | None = None) -> Flask:
    """The demo app, on SQLite in the instance folder (``./instance``) unless ``db_url`` says otherwise.
    Called with neither a database nor an address (as ``flask --app panelpay.demo.app`` does), it is the
    demo ``panelpay demo`` last served from that folder."""
    instance_path = os.path.abspath(instance_path or os.path.join(os.getcwd(), "instance"))
    os.makedirs(instance_path, exist_ok=True)
    app = Flask(__name__, instance_path=instance_path)
    if db_url is None and site_url is None:
        app.config.from_file(os.path.join(instance_path, SERVED), load=json.load, silent=True)
        db_url, site_url = app.config.get("SQLALCHEMY_DATABASE_URI"), app.config.get("PANELPAY_SITE_URL")
    db_url = db_url or "sqlite:///" + os.path.join(instance_path, "panelpay-demo.sqlite")
    app.config.update(
        SECRET_KEY=_secret(instance_path),
        SQLALCHEMY_DATABASE_URI=db_url,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 30}} if db_url.startswith("sqlite") else {},
        PANELPAY_SITE_URL=site_url,
        PANELPAY_SANDBOX=True,
        PANELPAY_LOGIN_URL="/login",
        PANELPAY_ALLOW_PRIVATE_URLS=True,  # the sandbox gateways answer on this machine
        PANELPAY_BASE_TEMPLATE="demo/layout.html",
        SESSION_COOKIE_SAMESITE="Lax",  # the session cookie is not sent on another site's requests
    )
    app.config.update(config or {})

    class Base(DeclarativeBase):  # per app: the demo can be built more than once in a process
        pass

    db = SQLAlchemy(model_class=Base)
    db.init_app(app)
    csrf = CSRFProtect(app)  # every form of the panel carries a token (PanelPay exempts its gateway routes)

    class User(db.Model):
        __tablename__ = "demo_users"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        username: Mapped[str] = mapped_column(sa.String(64), unique=True)
        password_hash: Mapped[str] = mapped_column(sa.String(256))
        is_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
        balance: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=Decimal("0.00"))

    def current_user():
        uid = session.get("uid")
        return db.session.get(User, uid) if uid is not None else None

    plugin_class = load_plugin_class()
    from panelpay import BalanceColumn

    plugin_class(
        app, db=db,
        current_user_id=lambda: session.get("uid"),
        is_admin=lambda: bool(current_user() and current_user().is_admin),
        balance=BalanceColumn(User.balance),
        locale=lambda: session.get("lang"),  # None: PanelPay follows the browser, as the demo's own words do
    )

    def demo_language() -> str:
        """The demo's language: the one chosen in its header, else the browser's."""
        chosen = session.get("lang") or request.accept_languages.best_match(["en", "zh_CN", "zh"])
        return "zh_CN" if chosen in ("zh_CN", "zh") else "en"

    def say(text: str, **values) -> str:
        """One of the demo's own phrases in the page's language."""
        words = ZH.get(text, text) if demo_language() == "zh_CN" else text
        return words % values if values else words

    @app.context_processor
    def demo_context():
        return {"me": current_user(), "say": say, "demo_lang": demo_language()}

    @app.get("/")
    def home():
        if current_user() is None:
            return redirect(url_for("login_form"))
        return render_template("demo/home.html")

    @app.get("/login")
    def login_form():
        return render_template("demo/login.html")

    @app.post("/login")
    @csrf.exempt  # checked below: a form needs its token, JSON (which another site cannot send) its origin
    def login():
        if request.is_json:
            origin = request.headers.get("Origin")
            if origin and urlsplit(origin).netloc != request.host:
                return jsonify(error="cross_origin", message="Log in from this site.", fields={}), 403
            data = request.get_json(silent=True)
            data = data if isinstance(data, dict) else {}
        else:
            csrf.protect()
            data = request.form
        user = db.session.execute(sa.select(User).where(User.username == str(data.get("username", "")))).scalar()
        if user is None or not check_password_hash(user.password_hash, str(data.get("password", ""))):
            if request.is_json:
                return jsonify(error="invalid_login", message="Wrong user name or password.", fields={}), 401
            flash(say("Wrong user name or password."))
            return render_template("demo/login.html"), 401
        session.clear()
        session["uid"] = user.id
        if request.is_json:
            return jsonify(username=user.username, balance=f"{user.balance:.2f}")
        return redirect(_local(request.args.get("next")) or url_for("home"))

    @app.get("/favicon.ico")
    def favicon():
        return redirect(url_for("panelpay_pages.static", filename="favicon.svg"))

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login_form"))

    @app.get("/lang/<code>")
    def language(code: str):
        session["lang"] = code if code in ("en", "zh_CN") else None
        referrer = urlsplit(request.referrer or "")
        back = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        return redirect((referrer.netloc == request.host and _local(back)) or url_for("home"))

    @app.get("/api/me")
    def me():
        user = current_user()
        if user is None:
            return jsonify(error="unauthenticated", message="Log in first.", fields={}), 401
        return jsonify(username=user.username, balance=f"{user.balance:.2f}")

    app.User = User
    app.db = db
    return app


def _local(target: str | None) -> str | None:
    """``target`` if it is a path on this site (never another site: ``//evil.example`` is one), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _secret(instance_path: str) -> str:
    """A random secret kept in the instance folder, so sessions and encrypted keys survive restarts."""
    path = os.path.join(instance_path, "demo-secret")
    if not os.path.exists(path):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(os.urandom(32).hex())
    with open(path) as handle:
        return handle.read().strip()


def _remember(app: Flask, base_url: str) -> None:
    """Keep the address and database this demo serves for the ``flask`` command (mode 0600: a database URL
    may hold a password)."""
    path = os.path.join(app.instance_path, SERVED)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump({"PANELPAY_SITE_URL": base_url, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]},
                  handle)


def prepare(app: Flask, base_url: str) -> None:
    """Create and migrate the tables, seed the demo logins and the two sandbox channels (once), and mount the
    emulated panels with their merchants (see :func:`mount_panels`)."""
    from panelpay import migrate
    from panelpay.store import list_channels, save_channel

    with app.app_context():
        app.db.create_all()
        state = app.extensions["panelpay"]
        migrate.upgrade(state.engine)
        for username, password, is_admin in DEMO_USERS:
            exists = app.db.session.execute(sa.select(app.User).where(app.User.username == username)).scalar()
            if exists is None:
                app.db.session.add(app.User(username=username, password_hash=generate_password_hash(password),
                                            is_admin=is_admin))
        app.db.session.commit()
        if not list_channels(state):
            configs = state.sandbox.channel_configs(base_url + state.settings.url_prefix + "/sandbox")
            save_channel(state, {"kind": "epay", "name": "EPay (sandbox)", "config": configs["epay"], "sort": 1})
            save_channel(state, {"kind": "alipay", "name": "Alipay QR (sandbox)", "config": configs["alipay_qr"],
                                 "sort": 2})
    mount_panels(app, base_url)


def _gateway_state(app: Flask) -> dict:
    path = os.path.join(app.instance_path, GATEWAY)
    try:
        with open(path) as handle:
            stored = json.load(handle)
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def prepare_merchants(app: Flask, base_url: str) -> dict:
    """One merchant for each emulated panel (made once, kept in ``demo-gateway.json``), its notify and return
    hosts this demo's own ``host:port``. Returns ``{"xboard": {"pid", "key"}, "newapi": {…}}``."""
    from panelpay import merchants
    from panelpay.store import NotFound

    state = app.extensions["panelpay"]
    host = urlsplit(base_url).netloc.lower()
    stored, kept = _gateway_state(app), {}
    with app.app_context():
        for name, (_mount, title, _file) in PANELS.items():
            entry = stored.get(name) if isinstance(stored.get(name), dict) else {}
            try:
                merchant = merchants.get_merchant(state, str(entry.get("pid", "")))
            except NotFound:  # first start, or a new database: a new merchant (its key is only given now)
                merchant, key = merchants.create_merchant(state, {"name": title, "notify_hosts": [host],
                                                                  "return_hosts": [host]})
                entry = {"pid": merchant.pid, "key": key}
            if merchants.key_of(state, merchant) != entry.get("key"):  # regenerated on the merchant's page
                merchant, key = merchants.regenerate_key(state, merchant.pid)
                entry = {"pid": merchant.pid, "key": key}
            wanted = {"notify_hosts": [host], "return_hosts": [host]}
            if {which: merchants.hosts(merchant, which) for which in wanted} != wanted:  # served elsewhere before
                merchants.update_merchant(state, merchant.pid, wanted)
            kept[name] = {"pid": entry["pid"], "key": entry["key"]}
    if kept != stored:
        path = os.path.join(app.instance_path, GATEWAY)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            json.dump(kept, handle, indent=1)
    return kept


def mount_panels(app: Flask, base_url: str) -> dict:
    """The emulated Xboard and New-API, on SQLite files in the instance folder, configured with their
    merchant's pid and key and PanelPay's address, served by ``app`` under ``/xboard`` and ``/newapi``.
    Returns the panels by name (also ``app.demo_panels``)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from panelpay.sandbox.panels import NewApiPanel, XboardPanel

    if getattr(app, "demo_panels", None):
        return app.demo_panels
    ids = prepare_merchants(app, base_url)

    def database(name: str) -> str:
        return "sqlite:///" + os.path.join(app.instance_path, PANELS[name][2])

    # PanelPay's address is the demo's: /submit.php is served at its root.
    xboard = XboardPanel(database("xboard"), url=base_url, pid=ids["xboard"]["pid"], key=ids["xboard"]["key"],
                         base_url=base_url + PANELS["xboard"][0])
    newapi = NewApiPanel(database("newapi"), PayAddress=base_url, EpayId=ids["newapi"]["pid"],
                         EpayKey=ids["newapi"]["key"], ServerAddress=base_url + PANELS["newapi"][0])
    app.demo_panels = {"xboard": xboard, "newapi": newapi}
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PANELS["xboard"][0]: xboard.app,
                                                       PANELS["newapi"][0]: newapi.app})
    return app.demo_panels


def serve(host: str = "127.0.0.1", port: int = 5000, db_url: str | None = None) -> None:
    """``panelpay demo``: prepare the demo and serve it until stopped."""
    from werkzeug.serving import run_simple

    from panelpay.sandbox.__main__ import RedactingHandler

    base_url = f"http://{host}:{port}"
    app = create_app(db_url, site_url=base_url)
    prepare(app, base_url)
    _remember(app, base_url)
    app.extensions["panelpay"].announce_sandbox()
    print(f"PanelPay demo panel: {base_url}/  (log in as admin/admin or alice/alice; Ctrl+C stops it)", flush=True)
    print(f"Gateway mode: emulated Xboard {base_url}/xboard/ and emulated New-API {base_url}/newapi/ pay through "
          f"PanelPay at {base_url}/submit.php", flush=True)
    # The sandbox's EPay query carries the merchant key in its URL (as the protocol does): keep it out of
    # the access log.
    run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=RedactingHandler)
