"""Real local servers for tests: the app itself on a port, and misbehaving stand-ins for what can sit in
front of a notify path (a catch-all, a forced-https redirect, a 404, a server that hangs)."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_app(app, port: int | None = None):
    """Serve ``app`` on 127.0.0.1 in a thread (threaded, like a real deployment); yields its base URL."""
    from panelpay.sandbox.__main__ import RedactingHandler

    server = make_server("127.0.0.1", port or free_port(), app, threaded=True, request_handler=RedactingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def _handler(status: int, body: bytes, headers: dict):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value.replace("{host}", self.headers.get("Host", "")).replace("{path}", self.path))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    return Handler


@contextmanager
def stand_in(status: int = 200, body: bytes = b"", **headers: str):
    """A server answering every request with ``status``, ``body`` and ``headers`` ({host}, {path} filled)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(status, body, {k.replace("_", "-"): v for k, v in headers.items()}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hanging_server():
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def wait_for(predicate, timeout: float = 15.0) -> bool:
    """Ask ``predicate`` every 50 ms until it holds (True) or ``timeout`` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def panel_stand_in():
    """A panel's notify route at ``<base>/notify`` that answers ``success``; yields ``(base, received)``, the
    query of each call decoded into a dict, in the order they came."""
    from flask import Flask, request

    received: list[dict] = []
    panel = Flask("panel")

    @panel.get("/notify")
    def notify():
        received.append(dict(parse_qsl(request.query_string.decode(), keep_blank_values=True)))
        return "success"

    with serve_app(panel) as base:
        yield base, received
