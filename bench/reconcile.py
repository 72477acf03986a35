"""``reconcile``: ``panelpay.reconcile.run`` over 1,000 and 10,000 pending orders (``--quick``: 200 and
1,000), half of them paid at the gateway with their notifications dropped, against the sandbox gateway in a
process of its own (``bench.sandbox_server``), on SQLite and PostgreSQL. Prints the time, orders per second,
whether every paid order was credited once and every order queried once, and the run's memory.

Each run is a fresh process (the demo host with ``PANELPAY_GATEWAY_RATE_LIMIT`` raised so that the limiter
is not the bottleneck), so its memory figures are its own.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.request

from . import common as c

DB = "bench_reconcile"
USERS = 1000
CONFIG = {"PANELPAY_GATEWAY_RATE_LIMIT": 100_000,  # per gateway host and second: far above what the sandbox answers
          "PANELPAY_RECONCILE_CONCURRENCY": 8}  # the default


def _plan(quick: bool) -> list[tuple[str, int]]:
    """(trade-number prefix, orders) of each run, in order."""
    return [("A", 200), ("B", 1000)] if quick else [("A", 1000), ("B", 10_000)]


def _rss() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reconcile(url: str, instance: str, site: str, expected: int) -> dict:
    """One ``reconcile.run`` in this fresh process: its summary, time, CPU and memory (the resident set
    size sampled through the progress callback at 0, 10 %, 50 % and 100 % of the orders)."""
    from panelpay import reconcile
    from panelpay.demo.app import create_app

    app = create_app(url, site_url=site, instance_path=instance, config=CONFIG)
    done, rss = [0], {0: _rss()}

    def progress(n: int) -> None:
        done[0] += n
        for mark in (expected // 10, expected // 2, expected):
            if done[0] >= mark and mark not in rss:
                rss[mark] = _rss()

    with app.app_context():
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = reconcile.run(app.extensions["panelpay"], progress=progress)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"summary": summary.as_dict(), "wall": wall, "cpu": cpu, "rss": rss}


def _one_database(kind_db: str, quick: bool, workdir: str, instance: str) -> list[dict]:
    import sqlalchemy as sa

    from panelpay.models import Order

    plan, port = _plan(quick), c.free_port()
    site, gateway = "http://127.0.0.1:9", f"http://127.0.0.1:{port}"  # the site is never called
    results = []
    with c.database(kind_db, DB, workdir) as url:
        app, channels = c.demo(url, instance, site, users=USERS, gateway=gateway, config=CONFIG)
        eng = c.engine(url)
        cmd = [c.PY, "-m", "bench.sandbox_server", "--instance", instance, "--port", str(port),
               "--orders", ",".join(f"{prefix}:{count}" for prefix, count in plan)]
        probe = "/_bench/queries?prefix=-&count=0"
        with c.process(cmd, f"reconcile-sandbox-{kind_db}", port=port, probe=probe) as sandbox:
            for prefix, count in plan:
                c.insert_orders(eng, prefix, range(count), channels, USERS, site)
                credits, sandbox_cpu = c.credits(eng), c.cpu_of(sandbox.pid)
                run = c.in_subprocess(_reconcile, url, instance, site, count)
                with urllib.request.urlopen(f"{gateway}/_bench/queries?prefix={prefix}&count={count}") as answer:
                    queried = json.loads(answer.read())
                run.update(db=kind_db, orders=count, credited=c.credits(eng) - credits, queried=queried,
                           sandbox_cpu=c.cpu_of(sandbox.pid) - sandbox_cpu)
                results.append(run)
                with eng.begin() as conn:  # leave nothing due for the next run: its orders are the only pending ones
                    conn.execute(sa.update(Order).where(Order.trade_no.like(f"{prefix}%"), Order.status == "pending")
                                 .values(status="closed"))
        eng.dispose()
    return results


def run(quick: bool = False) -> dict:
    instance, results = c.make_instance(), []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as workdir:
            for kind_db in ("sqlite", "postgresql"):
                results += c.in_subprocess(_one_database, kind_db, quick, workdir, instance)
    finally:
        c.remove(instance)
    mib = lambda b: f"{b / 2**20:.1f}"  # noqa: E731
    rows = []
    for r in results:
        s, half = r["summary"], r["orders"] // 2
        ok = (r["credited"] == s["paid"] == half and s["errors"] == 0
              and r["queried"] == {"once": r["orders"], "more": 0})
        rows.append([r["db"], f"{r['orders']:,}", f"**{r['wall']:.1f}**", f"**{r['orders'] / r['wall']:.0f}**",
                     f"{s['queried']} / {s['paid']} / {s['pending']} / {s['expired']} / {s['errors']}", r["credited"],
                     f"{r['queried']['once']} / {r['queried']['more']}", "yes" if ok else "**NO**",
                     " → ".join(mib(v) for _, v in sorted(r["rss"].items())),
                     f"{r['cpu']:.1f} / {r['sandbox_cpu']:.1f}"])
    setup = [
        f"mode: {'quick' if quick else 'full'}; per database, runs of "
        f"{' then '.join(f'{n:,}' for _, n in _plan(quick))} "
        "pending orders (each run in a fresh process; a run's leftovers are closed before the next), half EPay MD5 "
        "(queried by `api.php?act=order`), half Alipay RSA2 (`alipay.trade.query`); half of each paid at the gateway "
        "with the notification dropped; none expired",
        "PanelPay: the demo host's app context, `panelpay.reconcile.run(state)`, "
        + ", ".join(f"{k}={v}" for k, v in CONFIG.items()),
        "gateway: `bench.sandbox_server` (a separate process; its order book filled through the gateway's own "
        "routes beforehand; werkzeug threaded server, HTTP/1.1 keep-alive)",
        f"databases: a SQLite file (the demo host's settings) and PostgreSQL on 127.0.0.1 (fresh `{DB}`)",
        "memory: the run's resident set size (/proc/self/statm) sampled through reconcile's progress callback at "
        "0, 10 %, 50 % and 100 % of the orders; CPU: the reconcile process "
        "(all its threads) and the sandbox process over the run",
    ]
    return {"name": "reconcile", "setup": setup, "tables": [{
        "title": "reconcile: pending orders against the sandbox gateway (target: 10,000 within 60 s, memory flat)",
        "headers": ["database", "orders", "time (s)", "orders/s", "queried / paid / pending / expired / errors",
                    "ledger rows added", "gateway: queried once / more", "all correct",
                    "RSS MiB at 0 → 10% → 50% → 100%",
                    "CPU s: reconcile / sandbox"],
        "rows": rows}]}
