"""``instructions``: machine instructions per notification, counted by valgrind's callgrind.

Throughput on a shared machine drifts by a fifth from one minute to the next; an instruction count does
not. Each server's WSGI app (the demo host with PanelPay, and the ceiling's and design floor's routes of
``bench.wsgi_ceiling``) is called in-process for the same validly signed notifications (half EPay MD5 by
GET, half Alipay RSA2 by POST) on PostgreSQL, with callgrind's instrumentation switched on only around the
timed loop (``callgrind_control -i on|off``): the count covers the Python app, SQLAlchemy, the driver and
the signature checks, not PostgreSQL's own work nor gunicorn's HTTP handling. Two empty routes (one on
the demo host, one on a bare Flask app) tell the host's own per-request share.

Run as a child: ``python -m bench.instructions ROUTE COUNT`` under ``valgrind --tool=callgrind
--instr-atstart=no``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from . import common as c

DB = "bench_instructions"
USERS = 100
#: (route, what it is)
ROUTES = (
    ("panelpay", "PanelPay's notify path, demo host"),
    ("ceiling", "ceiling (bare Flask: verify, one transaction of two UPDATEs)"),
    ("floor", "design floor (bare Flask: record committed, verify, one credit statement)"),
    ("demo_empty", "an empty route of the demo host (the host's own per-request work)"),
    ("bare_empty", "an empty route of a bare Flask app"),
)
WARM = 40


def _child(route: str, count: int) -> None:
    """Inside valgrind: build the app, warm it, count ``count`` notifications (or empty requests)."""
    from flask import Response
    from werkzeug.test import EnvironBuilder

    from .notify import _ceiling_tables
    from .wsgi_ceiling import create_app as create_ceiling

    instance = c.make_instance()
    site = "http://127.0.0.1:9"
    notes = c.Notifications(c.sandbox_credentials(instance))
    try:
        with c.database("postgresql", DB) as url:
            app = c.build_demo(url, instance, site)
            channels = c.setup_demo(app, users=USERS, gateway_base=site + "/payment/sandbox")
            ceiling = create_ceiling(url, instance)
            with app.app_context():
                engine = app.extensions["panelpay"].state.engine
                rows = c.order_rows("I", range(count + WARM), channels, USERS, site)
                c.insert_orders(engine, rows)
                _ceiling_tables(engine, rows)
            for target in (app, ceiling):
                target._got_first_request = False  # the setup above served requests; one more route
                target.add_url_rule("/bench-empty/<kind>", "bench_empty", methods=["GET", "POST"],
                                    view_func=lambda kind: Response("success", mimetype="text/plain"))
            wsgi = app if route in ("panelpay", "demo_empty") else ceiling
            environs = []
            for i in range(count + WARM):
                kind, params = notes.for_order(i, f"I{i:010d}")
                if route.endswith("_empty"):
                    path = f"/bench-empty/{kind}"
                elif route == "panelpay":
                    path = f"/payment/notify/{kind}/{channels[kind][1]}"
                else:
                    path = f"/{route}/notify/{kind}"
                builder = (EnvironBuilder(path=path, method="GET", query_string=params) if kind == "epay"
                           else EnvironBuilder(path=path, method="POST", data=params))
                builder.environ_base = {"REMOTE_ADDR": "127.0.0.1"}
                environs.append(builder.get_environ())

            def start_response(status, headers, exc_info=None):
                start_response.status = status

            def call(environ):
                body = b"".join(wsgi(environ, start_response))
                if not start_response.status.startswith("200"):
                    raise RuntimeError(f"{route}: {start_response.status} {body[:200]!r}")

            for environ in environs[:WARM]:
                call(environ)
            _instrument("on")
            for environ in environs[WARM:]:
                call(environ)
            _instrument("off")
            engine.dispose()
            ceiling.engine.dispose()
    finally:
        c.cleanup_instance(instance)


def _instrument(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)
    time.sleep(1)  # callgrind polls for the command; let it take effect before going on


def _count(route: str, count: int, workdir: str) -> int:
    out = os.path.join(workdir, f"callgrind.{route}.out")
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
           c.PY, "-m", "bench.instructions", route, str(count)]
    done = subprocess.run(cmd, cwd=c.ROOT, env=c.child_env(), capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {route} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return int(found.group(1))


def run(quick: bool = False) -> dict:
    count = 40 if quick else 200
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        return {"name": "instructions", "setup": ["valgrind is not installed here: nothing measured "
                                                  "(`apt-get install valgrind`)"]}
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as workdir:
        per = {route: _count(route, count, workdir) / count for route, _ in ROUTES}
    ceiling = per["ceiling"]
    rows = [[label, f"{per[route] / 1e6:.3f}", f"{per[route] / ceiling:.2f}"] for route, label in ROUTES]
    host = per["demo_empty"] - per["bare_empty"]
    setup = [
        f"mode: {'quick' if quick else 'full'}; {count} requests per route, counted after {WARM} warm-up "
        "requests; notifications alternate EPay MD5 (GET) and Alipay RSA2 (POST form)",
        "each route's WSGI app called in-process (no gunicorn, no sockets but PostgreSQL's), under "
        "`valgrind --tool=callgrind --instr-atstart=no`, instrumentation switched on around the counted loop "
        "only; the count is of this process's instructions (app, SQLAlchemy, psycopg, signature checks), "
        "not PostgreSQL's",
        "database: PostgreSQL on 127.0.0.1, fresh database, the same orders for every route (ceiling and "
        "floor on their own copies of the tables)",
        "repeatable: the same code and inputs give the same count within about 0.5 %, whatever else the "
        "machine is doing",
    ]
    return {
        "name": "instructions",
        "setup": setup,
        "tables": [{
            "title": "instructions: per request, in-process (callgrind)",
            "headers": ["route", "million instructions per request", "÷ ceiling"],
            "rows": rows,
        }],
        "notes": [f"The demo host's own work per request (its session cookie interface and hooks, beside a bare "
                  f"Flask app): {host / 1e6:.3f} M instructions, part of PanelPay's figure and not of the "
                  f"ceiling's. Under gunicorn each request also costs the same HTTP handling on every route, "
                  f"so the ratios there are closer to 1 than these."],
        "figures": {route: per[route] for route, _ in ROUTES},
    }


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
