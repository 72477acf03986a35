"""The ``PanelPay`` Flask extension: host hooks, per-app state, blueprints and CLI."""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Iterable

import requests
from flask import Flask, current_app, request
from sqlalchemy.orm import Session

from .balance import BalanceCallable, BalanceColumn, as_adapter
from .channels import installed_kinds
from .channels.base import Channel
from .channels.common import describe
from .config import Settings, read_settings
from .limits import RejectionBudget
from .manifest import Manifest, load_manifest
from .metrics import Metrics
from .outbound import GuardedSession
from .probe import probe_nonce
from .vault import Vault


class State:
    """Everything PanelPay keeps for one app, in ``app.extensions["panelpay"]``. Built once in
    ``init_app``; config is not read again."""

    def __init__(self, app: Flask, ext: PanelPay, settings: Settings, channel_kinds: dict[str, type[Channel]]):
        self.ext = ext
        self.settings = settings
        #: Kind name → channel class, for every kind this app has (see :mod:`panelpay.channels`).
        self.channel_kinds = channel_kinds
        #: ``plugin.yaml``, describing exactly this app's channel kinds.
        self.manifest: Manifest = load_manifest().with_kinds({k: describe(c) for k, c in channel_kinds.items()})
        self.vault = Vault(settings.secret_key)
        self.db = ext.db
        self.balance = as_adapter(ext.balance)
        self.metrics = Metrics()
        self.rejections = RejectionBudget(settings.rejections_per_source)
        self._channels: dict[str, tuple[int, Channel]] = {}
        self._http: dict[str, requests.Session] = {}
        self._lock = threading.Lock()
        self.sandbox = None
        self.alerts = None
        #: Gateway mode's deliverer of panel notifications in this process (see :mod:`panelpay.delivery`), or
        #: None with PANELPAY_DELIVER_IN_APP off (cron runs ``flask panelpay deliver``).
        self.deliverer = None
        if settings.sandbox:
            from .sandbox import Sandbox

            self.sandbox = Sandbox(state_file=os.path.join(app.instance_path, "panelpay-sandbox.json"))
        #: Whether the sandbox warning was logged (see :meth:`announce_sandbox`).
        self.sandbox_announced = False

    def announce_sandbox(self) -> None:
        """Warn that the sandbox is mounted, once, when the app serves (``panelpay demo`` as it starts, any
        other server at its first request); a CLI command serves nothing, so it stays quiet."""
        if self.sandbox is None or self.sandbox_announced:
            return
        with self._lock:
            if self.sandbox_announced:
                return
            self.sandbox_announced = True
        logging.getLogger("panelpay").warning(
            "PANELPAY_SANDBOX is on: a pretend EPay/Alipay gateway is mounted at %s/sandbox. Never in production.",
            self.settings.url_prefix)

    @property
    def engine(self):
        return self.db.engine

    def session(self) -> Session:
        """A new session on the host's engine; the caller owns its transaction."""
        return Session(bind=self.engine, expire_on_commit=False)

    # -- host hooks -------------------------------------------------------------------------------
    def current_user_id(self) -> str | None:
        user_id = self.ext.current_user_id() if self.ext.current_user_id else None
        return None if user_id is None else str(user_id)

    def is_admin(self) -> bool:
        return bool(self.ext.is_admin()) if self.ext.is_admin else False

    def user_name(self, user_id: str) -> str | None:
        """How the host names a user, for the operator's pages (None when the host does not say)."""
        name = self.ext.user_name(user_id) if self.ext.user_name else None
        return None if name is None else str(name)

    def find_users(self, text: str) -> list[str]:
        """The ids of the host's users whose name starts with ``text`` (none when the host cannot search)."""
        found = self.ext.find_users(text) if self.ext.find_users else ()
        return [str(user_id) for user_id in list(found)[:500]]

    # -- channels ---------------------------------------------------------------------------------
    def http_for(self, key: str) -> requests.Session:
        """One pooled HTTP session per channel (connections kept alive between calls), guarded: no
        redirects followed, no request to an address :mod:`panelpay.outbound` refuses."""
        with self._lock:
            session = self._http.get(key)
            if session is None:
                session = GuardedSession(allow_private=self.settings.allow_private_urls)
                session.headers["User-Agent"] = "PanelPay/0.1"
                adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._http[key] = session
            return session

    def cached_channel(self, row, build: Callable[[], Channel]) -> Channel:
        """The channel object for a row's revision, built once: parsing RSA keys is real work, and an
        edit makes a new revision."""
        hit = self._channels.get(row.uuid)
        if hit is not None and hit[0] == row.revision:
            return hit[1]
        channel = build()
        with self._lock:
            self._channels[row.uuid] = (row.revision, channel)
        return channel


class PanelPay:
    """The extension: ``PanelPay(app, db=..., ...)``, or ``PanelPay(db=..., ...)`` then ``init_app(app)``.

    Keyword arguments (here or in ``init_app``; the decorators below set the user, admin and locale hooks):

    * ``db``: the host's Flask-SQLAlchemy instance; PanelPay's tables live in the same database.
    * ``current_user_id``: returns the logged-in user's id, or None.
    * ``is_admin``: returns whether the current user may open the plugin settings.
    * ``balance``: how to credit (see :mod:`panelpay.balance`): ``BalanceColumn(User.balance)``,
      ``BalanceColumn(User.cents, units_per_yuan=100)``, ``BalanceColumn(User.quota, units=500000, price="7.3")``,
      or a callable ``fn(session, user_id, credit)``.
    * ``locale``: returns the host's language for the current user (``"en"`` or ``"zh_CN"``), or None to
      follow the browser.
    * ``user_name``: ``fn(user_id)`` → the name the operator knows a user by (shown beside its orders).
    * ``find_users``: ``fn(text)`` → ids of the users whose name starts with ``text`` (the orders' user filter).
    * ``channel_kinds``: channel classes of your own (see :mod:`panelpay.channels.base`), beside the
      built-in ones and those of the ``panelpay.channels`` entry-point group.

    Each app's state is in ``app.extensions["panelpay"]`` (a :class:`State`).
    """

    def __init__(self, app: Flask | None = None, *, db: Any = None,
                 current_user_id: Callable[[], Any] | None = None, is_admin: Callable[[], bool] | None = None,
                 balance: BalanceColumn | BalanceCallable | Any = None,
                 locale: Callable[[], str | None] | None = None, channel_kinds: Iterable[type[Channel]] = (),
                 user_name: Callable[[str], Any] | None = None, find_users: Callable[[str], Iterable] | None = None):
        self.db = None
        self.balance: BalanceColumn | BalanceCallable | Any = None
        self.current_user_id: Callable[[], Any] | None = None
        self.is_admin: Callable[[], bool] | None = None
        self.locale: Callable[[], str | None] | None = None
        self.channel_kinds: list[type[Channel]] = []
        self.user_name: Callable[[str], Any] | None = None
        self.find_users: Callable[[str], Iterable] | None = None
        self._set(db, current_user_id, is_admin, balance, locale, channel_kinds, user_name, find_users)
        if app is not None:
            self.init_app(app)

    def _set(self, db, current_user_id, is_admin, balance, locale, channel_kinds, user_name=None,
             find_users=None) -> None:
        self.db = db if db is not None else self.db
        self.current_user_id = current_user_id or self.current_user_id
        self.is_admin = is_admin or self.is_admin
        self.balance = balance if balance is not None else self.balance
        self.locale = locale or self.locale
        self.channel_kinds += [cls for cls in channel_kinds if cls not in self.channel_kinds]
        self.user_name = user_name or self.user_name
        self.find_users = find_users or self.find_users

    def user_id_loader(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Decorator: register the function returning the current user's id."""
        self.current_user_id = fn
        return fn

    def admin_checker(self, fn: Callable[[], bool]) -> Callable[[], bool]:
        """Decorator: register the function returning whether the current user is an admin."""
        self.is_admin = fn
        return fn

    def locale_selector(self, fn: Callable[[], str | None]) -> Callable[[], str | None]:
        """Decorator: register the function returning the host's language for the current user."""
        self.locale = fn
        return fn

    def init_app(self, app: Flask, *, db: Any = None, current_user_id: Callable[[], Any] | None = None,
                 is_admin: Callable[[], bool] | None = None, balance: Any = None,
                 locale: Callable[[], str | None] | None = None, channel_kinds: Iterable[type[Channel]] = (),
                 user_name: Callable[[str], Any] | None = None, find_users: Callable[[str], Iterable] | None = None
                 ) -> None:
        """Read ``PANELPAY_*`` config once, validate it, and mount PanelPay's routes and CLI on ``app``."""
        if "panelpay" in app.extensions:
            raise RuntimeError("A 'PanelPay' instance has already been registered on this Flask app.")
        self._set(db, current_user_id, is_admin, balance, locale, channel_kinds, user_name, find_users)
        if self.db is None:
            raise RuntimeError("PanelPay needs the host's Flask-SQLAlchemy instance: PanelPay(app, db=db, ...)")
        if self.balance is None:
            raise RuntimeError("PanelPay needs a balance adapter: balance=BalanceColumn(User.balance) or a callable")
        state = State(app, self, read_settings(app), installed_kinds(self.channel_kinds))
        app.extensions["panelpay"] = state
        from .cli import register_cli
        from .web import register_web

        register_web(app, state)
        register_cli(app)
        if state.settings.deliver_in_app:
            from .delivery import Deliverer

            state.deliverer = Deliverer(app, state)
        if state.sandbox is not None:
            @app.before_request
            def _panelpay_sandbox_warning():
                # At the first request served. PanelPay's own probe is not one: the doctor and the startup
                # check send it through the app in-process, from a CLI command too.
                if not state.sandbox_announced and probe_nonce(request) is None:
                    state.announce_sandbox()
        if state.settings.alert_webhook:
            from .alerts import AlertSender

            state.alerts = AlertSender(state.settings.alert_webhook, state.settings.http_timeout)
            state.alerts.connect(app)

    @property
    def state(self) -> State:
        """The state of the current app."""
        return current_app.extensions["panelpay"]
