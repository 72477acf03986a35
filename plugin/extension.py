"""The ``PanelPay`` Flask extension: host hooks, per-app state, blueprints and CLI."""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

import requests
from flask import Flask, current_app
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .balance import BalanceCallable, BalanceColumn, as_adapter
from .config import Settings, read_settings
from .manifest import Manifest, load_manifest
from .metrics import Metrics
from .models import CHANNEL_KEYS, Channel, column_values, unattached
from .vault import Vault


class State:
    """Everything PanelPay keeps for one app. Built once in ``init_app``; config is not read again."""

    def __init__(self, app: Flask, ext: "PanelPay", settings: Settings):
        self.ext = ext
        self.settings = settings
        self.manifest: Manifest = load_manifest()
        self.vault = Vault(settings.secret_key)
        self.db = ext.db
        self.balance = as_adapter(ext.balance)
        self.metrics = Metrics()
        self.channel_kinds: dict[str, type] = {}
        self._channel_cache: dict[str, tuple[int, Any]] = {}
        self._http: dict[str, requests.Session] = {}
        self._lock = threading.Lock()
        self._hooks: dict[str, list[Callable]] = {}
        self.sandbox = None
        self.alerts = None
        if settings.sandbox:
            from .sandbox import Sandbox

            self.sandbox = Sandbox(state_file=os.path.join(app.instance_path, "panelpay-sandbox.json"))
            logging.getLogger("panelpay").warning(
                "PANELPAY_SANDBOX is on: a pretend EPay/Alipay gateway is mounted at %s/sandbox. Never in production.",
                settings.url_prefix)

    # -- database ---------------------------------------------------------------------------------
    @property
    def engine(self):
        return self.db.engine

    def autocommit_connect(self) -> Connection:
        """A connection of the host's engine (same pool) with each statement its own transaction: for
        PanelPay's single-statement transactions, which then need no BEGIN and COMMIT round trips. Set on
        the connection, not on an engine copy: ``engine.execution_options(isolation_level=...)`` registers
        an event listener, which makes every statement on it dispatch the engine's execution events; the
        pool restores the default isolation level when the connection is returned."""
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def session(self) -> Session:
        """A new session on the host's engine; the caller owns its transaction."""
        return Session(bind=self.engine, expire_on_commit=False)

    # -- host hooks -------------------------------------------------------------------------------
    def current_user_id(self) -> str | None:
        user_id = self.ext._user_id_loader() if self.ext._user_id_loader else None
        return None if user_id is None else str(user_id)

    def is_admin(self) -> bool:
        return bool(self.ext._admin_checker()) if self.ext._admin_checker else False

    # -- channels ---------------------------------------------------------------------------------
    def http_for(self, key: str) -> requests.Session:
        """One pooled HTTP session per channel (connections kept alive between calls)."""
        with self._lock:
            session = self._http.get(key)
            if session is None:
                session = requests.Session()
                session.headers["User-Agent"] = "PanelPay/0.1"
                adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._http[key] = session
            return session

    def cached_channel(self, row, build: Callable[[], Any]) -> Any:
        """The channel object for a row's revision, built once (parsed keys are cached with it, and the
        row's values for :meth:`channel_row`)."""
        hit = self._channel_cache.get(row.uuid)
        if hit is not None and hit[0] == row.revision:
            return hit[1]
        channel = build()
        with self._lock:
            self._channel_cache[row.uuid] = (row.revision, channel, column_values(row, CHANNEL_KEYS))
        return channel

    def channel_row(self, uuid: str, revision: int):
        """A copy of the channel row at ``revision`` if a channel object was built from it here, else
        None: the notify path then needs only the channel's revision from the database, not its config.
        Each caller gets its own copy (it may reach a signal receiver, which may change or add it)."""
        hit = self._channel_cache.get(uuid)
        return unattached(Channel, dict(hit[2])) if hit is not None and hit[0] == revision else None

    # -- test hooks -------------------------------------------------------------------------------
    def on(self, name: str, fn: Callable) -> None:
        """Register a test hook (e.g. ``settle:locked``, called inside the settle transaction)."""
        self._hooks.setdefault(name, []).append(fn)

    def has_hook(self, name: str) -> bool:
        return name in self._hooks

    def testing_hook(self, name: str, *args: Any) -> None:
        for fn in self._hooks.get(name, ()):
            fn(*args)


class PanelPay:
    """The extension. ``PanelPay(app, **hooks)`` or ``PanelPay(**hooks)`` then ``init_app(app)``.

    Hooks (keyword arguments here or in ``init_app``; the decorators below set the first three too):

    * ``db``: the host's Flask-SQLAlchemy instance; PanelPay's tables live in the same database.
    * ``current_user_id``: returns the logged-in user's id, or None.
    * ``is_admin``: returns whether the current user may open the plugin settings.
    * ``balance``: how to credit (see :mod:`panelpay.balance`): ``BalanceColumn(User.balance)``,
      ``BalanceColumn(User.cents, units_per_yuan=100)``, or a callable ``fn(session, user_id, credit)``.
    * ``locale``: returns the host's language for the current user (``"en"`` or ``"zh_CN"``), or None to
      follow the browser.
    """

    def __init__(self, app: Flask | None = None, **hooks: Any):
        self.db = None
        self.balance: BalanceColumn | BalanceCallable | None = None
        self._user_id_loader: Callable[[], Any] | None = None
        self._admin_checker: Callable[[], bool] | None = None
        self._locale_selector: Callable[[], str | None] | None = None
        self._states: dict[int, State] = {}
        self._set_hooks(**hooks)
        if app is not None:
            self.init_app(app)

    def _set_hooks(self, db=None, current_user_id=None, is_admin=None, balance=None, locale=None) -> None:
        self.db = db if db is not None else self.db
        self._user_id_loader = current_user_id or self._user_id_loader
        self._admin_checker = is_admin or self._admin_checker
        self.balance = balance if balance is not None else self.balance
        self._locale_selector = locale or self._locale_selector

    def user_id_loader(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Decorator: register the function returning the current user's id."""
        self._user_id_loader = fn
        return fn

    def admin_checker(self, fn: Callable[[], bool]) -> Callable[[], bool]:
        """Decorator: register the function returning whether the current user is an admin."""
        self._admin_checker = fn
        return fn

    def locale_selector(self, fn: Callable[[], str | None]) -> Callable[[], str | None]:
        """Decorator: register the function returning the host's language for the current user."""
        self._locale_selector = fn
        return fn

    def init_app(self, app: Flask, **hooks: Any) -> None:
        """Read ``PANELPAY_*`` config once, validate it, and mount PanelPay's routes and CLI on ``app``."""
        if "panelpay" in app.extensions:
            raise RuntimeError("A 'PanelPay' instance has already been registered on this Flask app.")
        self._set_hooks(**hooks)
        if self.db is None:
            raise RuntimeError("PanelPay needs the host's Flask-SQLAlchemy instance: PanelPay(app, db=db, ...)")
        if self.balance is None:
            raise RuntimeError("PanelPay needs a balance adapter: balance=BalanceColumn(User.balance) or a callable")
        settings = read_settings(app)
        state = State(app, self, settings)
        self._states[id(app)] = state
        app.extensions["panelpay"] = self
        from .channels import register_builtin_kinds
        from .cli import register_cli
        from .web import register_web

        register_builtin_kinds(state)
        register_web(app, state)
        register_cli(app)
        if settings.alert_webhook:
            from .alerts import AlertSender

            state.alerts = AlertSender(settings.alert_webhook, settings.http_timeout)
            state.alerts.connect(app)

    @property
    def state(self) -> State:
        """The state of the current app."""
        return self._states[id(current_app._get_current_object())]

    def state_for(self, app: Flask) -> State:
        return self._states[id(app)]
