"""A panel stand-in for ``relay``: the notify route of an EPay merchant (Xboard, New-API), and nothing else.

``python -m bench.panel_standin --port 5060`` (``BENCH_PANEL_KEY``: the merchant's key, to check signatures)

``GET /api/v1/guest/payment/notify/EPay/bench?…`` (Xboard's shape of notify URL) timestamps its arrival (``time.monotonic()``: CLOCK_MONOTONIC, the same clock in every
process of the machine) as soon as the request is parsed, checks the MD5 signature when it knows the key,
and answers ``success`` (``fail`` to a wrong signature, as New-API does). ``GET /_bench/wait?out_trade_no=A,B``
blocks until every named order has arrived (at most ``timeout`` seconds); ``GET /_bench/arrivals`` gives
every arrival so far, by ``out_trade_no``. Served by the standard library's threaded HTTP server, HTTP/1.1
keep-alive, no access log: a panel that answers at once, so that what is timed is PanelPay's side.
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from panelpay.channels.signing import epay_md5_valid

NOTIFY_PATH = "/api/v1/guest/payment/notify/EPay/bench"  #: Xboard's shape of notify URL
ARRIVALS: dict[str, list[float]] = {}
BAD: list[str] = []
CHANGED = threading.Condition()
KEY = os.environ.get("BENCH_PANEL_KEY", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: with Nagle's algorithm on, the body waits for the client's delayed ACK
    # (40 ms on Linux) on every keep-alive request. A real panel's server (nginx, PHP-FPM) sets TCP_NODELAY.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # no access log
        pass

    def _answer(self, body: str, status: int = 200, kind: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        arrived = time.monotonic()
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.path == NOTIFY_PATH:
            good = True
            if KEY:
                good = epay_md5_valid(query, KEY)
            with CHANGED:
                if good:
                    ARRIVALS.setdefault(query.get("out_trade_no", ""), []).append(arrived)
                else:
                    BAD.append(query.get("out_trade_no", ""))
                CHANGED.notify_all()
            return self._answer("success" if good else "fail")
        if parts.path == "/_bench/wait":
            wanted = [w for w in query.get("out_trade_no", "").split(",") if w]
            deadline = time.monotonic() + float(query.get("timeout", "30"))
            with CHANGED:
                while not all(w in ARRIVALS for w in wanted) and time.monotonic() < deadline:
                    CHANGED.wait(max(0.0, deadline - time.monotonic()))
                missing = [w for w in wanted if w not in ARRIVALS]
            return self._answer(json.dumps({"missing": missing}), 504 if missing else 200, "application/json")
        if parts.path == "/_bench/arrivals":
            with CHANGED:
                body = json.dumps({"arrivals": ARRIVALS, "bad_signatures": BAD})
            return self._answer(body, kind="application/json")
        if parts.path == "/_bench/ping":
            return self._answer("ok")
        return self._answer("not found", 404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"panel stand-in on port {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
