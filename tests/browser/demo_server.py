"""The demo panel served for a browser, and Debian's Chromium to drive it (shared by the tests and the
screenshot script)."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass
from decimal import Decimal

from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@dataclass
class DemoServer:
    """A running demo panel: ``base_url``, the Flask ``app``, and ``stop()``."""

    base_url: str
    app: object
    _server: object
    _thread: threading.Thread
    _instance: str

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
        shutil.rmtree(self._instance, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo() -> DemoServer:
    """The demo panel on a free port with a fresh instance folder (SQLite, seeded logins and channels)."""
    from panelpay.demo.app import create_app, prepare

    instance = tempfile.mkdtemp(prefix="pp-browser-")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # One demo serves every browser test, and alice starts more top-ups in ten minutes than a real user may.
    app = create_app(site_url=base_url, instance_path=instance, config={"PANELPAY_ORDERS_PER_USER": 1000})
    prepare(app, base_url)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="panelpay-demo", daemon=True)
    thread.start()
    return DemoServer(base_url, app, server, thread, instance)


def launch_chromium(playwright):
    """Debian's Chromium (never a downloaded one)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM)


def logged_in_context(browser, base_url: str, username: str, **options):
    """A browser context logged in as ``username`` (the demo's password is the user name)."""
    context = browser.new_context(**{"viewport": {"width": 1100, "height": 900}, "locale": "en-US", **options})
    response = context.request.post(f"{base_url}/login", data={"username": username, "password": username},
                                    headers={"Content-Type": "application/json"})
    assert response.ok, response.text()
    return context


def balance(context, base_url: str) -> Decimal:
    """The user's balance as the host panel reports it (GET /api/me, with the context's session)."""
    response = context.request.get(f"{base_url}/api/me")
    assert response.ok, response.text()
    return Decimal(response.json()["balance"])
