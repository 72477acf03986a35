"""PanelPay on its own, as the operator's EPay site for panels that cannot mount it (Xboard, New-API):
gateway mode without a host panel. One operator account (its password from the environment), no users,
PanelPay's tables in a database of its own.

    export PANELPAY_DATABASE_URL=postgresql+psycopg://panelpay@127.0.0.1/panelpay \\
           PANELPAY_SECRET_KEY=<a long random string> PANELPAY_SITE_URL=https://pay.example.com \\
           PANELPAY_ADMIN_PASSWORD=<the operator's password>
    flask --app panelpay.standalone panelpay db upgrade
    gunicorn -w 2 --threads 4 'panelpay.standalone:create_app()'     # then log in at /login

Every other ``PANELPAY_*`` setting is read from the environment too, as text (``true``, ``1800``,
``10.00,50.00``); a ``PANELPAY_*`` variable that is no setting is logged and ignored. Behind a reverse proxy,
``PANELPAY_PROXIES`` is the number of proxies in front (1 for one nginx): their forwarded client address,
scheme and host are then believed (Werkzeug's ProxyFix), so that limits count each client, not the proxy.
"""
from __future__ import annotations

import hmac
import logging
import os
from urllib.parse import urlsplit

from flask import Flask, redirect, render_template, request, session, url_for
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from sqlalchemy.orm import Session

from .balance import BalanceCallable, UserNotFound
from .config import DEFAULTS
from .extension import PanelPay
from .i18n import gettext as _, localized
from .web.rendering import page_context

#: Settings of this app itself, not of the extension: its database, the operator's password, the folder for
#: PanelPay's files (the spool; ``./instance`` by default), and the number of reverse proxies in front.
OWN = ("PANELPAY_DATABASE_URL", "PANELPAY_ADMIN_PASSWORD", "PANELPAY_INSTANCE", "PANELPAY_PROXIES")


def _no_users(session: Session, user_id: str, credit) -> None:
    raise UserNotFound("PanelPay runs on its own here (gateway mode): it has no users' balances to credit")


def _local(back: str) -> str | None:
    """``back`` if it is a path on this site, else None: no scheme or host, no ``//`` or backslash after the
    first slash, and no control character (browsers and Werkzeug drop tabs and newlines: ``/\t/evil``)."""
    if not back.startswith("/") or back.startswith("//") or "\\" in back or any(ord(c) < 32 for c in back):
        return None
    parts = urlsplit(back)
    return back if not parts.scheme and not parts.netloc else None


def create_app(environ: dict | None = None) -> Flask:
    """The standalone app, configured from ``environ`` (the process environment by default)."""
    environ = os.environ if environ is None else environ
    config, ignored = {}, []
    for key, value in environ.items():
        if key in DEFAULTS or key in OWN:
            config[key] = value  # as text: every setting reads text ("true", "1800", "10.00,50.00")
        elif key.startswith("PANELPAY_"):
            ignored.append(key)
    if ignored:  # another program's, or a misspelling: said, not fatal (the environment is shared)
        logging.getLogger("panelpay").warning("PanelPay ignores these environment variables, which are not its "
                                              "settings: %s", ", ".join(sorted(ignored)))
    missing = [key for key in ("PANELPAY_DATABASE_URL", "PANELPAY_SECRET_KEY", "PANELPAY_ADMIN_PASSWORD")
               if not config.get(key)]
    if missing:
        raise RuntimeError("PanelPay on its own needs " + ", ".join(missing) + " in the environment (see "
                           "the README, 'Use with Xboard / New-API').")
    own = {key: str(config.pop(key, "")) for key in OWN}
    app = Flask("panelpay.standalone", instance_path=os.path.abspath(own["PANELPAY_INSTANCE"] or "instance"))
    password = own["PANELPAY_ADMIN_PASSWORD"]
    app.config.update(SQLALCHEMY_DATABASE_URI=own["PANELPAY_DATABASE_URL"], SECRET_KEY=config["PANELPAY_SECRET_KEY"],
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True, PANELPAY_LOGIN_URL="/login",
                      SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True})
    app.config.update(config)
    proxies = own["PANELPAY_PROXIES"] or "0"
    if not proxies.isdigit():
        raise RuntimeError("PANELPAY_PROXIES must be the number of reverse proxies in front of PanelPay (0, 1, 2…)")
    if int(proxies):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(proxies), x_proto=int(proxies), x_host=int(proxies))
    db = SQLAlchemy(app)
    CSRFProtect(app)
    PanelPay(app, db=db, balance=BalanceCallable(_no_users),
             current_user_id=lambda: "operator" if session.get("operator") else None,
             is_admin=lambda: bool(session.get("operator")), user_name=lambda user_id: user_id)
    state = app.extensions["panelpay"]

    @app.get("/")
    def home():
        return redirect(url_for("panelpay_pages.admin_page"))

    @app.route("/login", methods=["GET", "POST"])
    @localized
    def login():
        source, error = request.remote_addr or "", None
        if request.method == "POST":
            if state.rejections.exhausted(source):
                error, status = _("Too many wrong passwords from this address: try again in a minute."), 429
            elif hmac.compare_digest(request.form.get("password", "").encode(), password.encode()):
                session.clear()
                session["operator"] = True
                return redirect(_local(request.args.get("next", "")) or url_for("home"))
            else:
                state.rejections.spend(source)
                error, status = _("That is not the operator's password (PANELPAY_ADMIN_PASSWORD)."), 401
            return render_template("panelpay/login.html", error=error, **page_context()), status
        return render_template("panelpay/login.html", error=None, **page_context())

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    return app
