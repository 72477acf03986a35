"""``reconcile``: ``panelpay.reconcile.run`` over thousands of pending orders, half of them paid at the
gateway with their notifications dropped, against the sandbox gateway served by a separate process
(``bench.sandbox_server``), on SQLite and PostgreSQL. Prints orders per second, total time, peak memory
(tracemalloc peak and ru_maxrss) at 1k and 10k orders to show whether memory stays flat, and checks
that every paid order was credited once and no order was queried twice.

Each reconcile run happens in a fresh process (the demo host, built from ``panelpay.demo.app.create_app``
with ``PANELPAY_GATEWAY_RATE_LIMIT`` raised so the limiter is not the bottleneck), so its memory figures
are its own.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request

from . import common as c

DB = "bench_reconcile"
USERS = 1000
RATE_LIMIT = 100_000  #: per gateway host, per second: far above what the sandbox can answer
CONCURRENCY = 8  #: PANELPAY_RECONCILE_CONCURRENCY (PanelPay's default)


def _plan(quick: bool) -> list[tuple[str, int, bool]]:
    """(trade-number prefix, orders, tracemalloc on) of each run, in order."""
    if quick:
        return [("A", 200, True), ("B", 200, False), ("C", 1000, False)]
    return [("A", 1000, True), ("B", 1000, False), ("C", 10000, False)]


#: Timed in the untraced 1k run (thread CPU per call, summed; skipped when a name no longer exists).
_TIMED = (
    ("panelpay.reconcile", "_claim", "_claim(): claim a batch of 200 (per order)"),
    ("sqlalchemy.orm.session:Session", "get", "Session.get(Order): one SELECT per claimed order"),
    ("panelpay.reconcile", "_handle", "_handle(): one order, total"),
    ("panelpay.reconcile", "_query", "  _query(): rate limit + gateway query"),
    ("panelpay.channels.common", "call", "    HTTP exchange (requests)"),
    ("panelpay.signing", "rsa_sign", "    RSA2 request signature (Alipay)"),
    ("panelpay.signing", "rsa_valid", "    RSA2 answer verification (Alipay)"),
    ("panelpay.reconcile", "settle_report", "  settle_report(): check and settle"),
    ("panelpay.reconcile", "settle", "  settle()"),
    ("panelpay.orders", "settle", "  settle()"),
    ("panelpay.reconcile", "_release", "  _release(): clear the lease (own transaction)"),
)


def _config() -> dict:
    return {"PANELPAY_GATEWAY_RATE_LIMIT": RATE_LIMIT, "PANELPAY_RECONCILE_CONCURRENCY": CONCURRENCY}


def _setup(url: str, instance: str, site: str, gateway_base: str) -> dict:
    """Tables, users and the two channels (pointing at the sandbox process); in a subprocess."""
    app = c.build_demo(url, instance, site, config=_config())
    channels = c.setup_demo(app, users=USERS, gateway_base=gateway_base)
    with app.app_context():
        app.extensions["panelpay"].state.engine.dispose()
    return channels


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reconcile(url: str, instance: str, site: str, trace: bool, expected: int, db_name: str | None,
               timed: bool = False) -> dict:
    """One ``reconcile.run`` in this (fresh) process: its summary, time and memory (with the resident set
    size sampled every tenth of the orders through the progress callback)."""
    import resource
    import tracemalloc

    from panelpay import reconcile

    app = c.build_demo(url, instance, site, config=_config())
    trajectory: list[tuple[int, int]] = []
    done = [0]
    step = max(1, expected // 10)

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % step == 0:
            trajectory.append((done[0], _rss()))

    import sqlalchemy as sa

    with app.app_context():
        state = app.extensions["panelpay"].state
        connects = [0]
        sa.event.listen(state.engine, "connect", lambda *args: connects.__setitem__(0, connects[0] + 1))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        trajectory.append((0, _rss()))
        # Measured in here: this process's database backends exit when its pool is disposed.
        meter = c.CpuMeter(None, db_name).start()
        if trace:
            tracemalloc.start()
        timings: dict = {}
        undo = c.install_timers(_TIMED, timings) if timed else []
        cpu0, t0 = time.process_time(), time.perf_counter()
        try:
            summary = reconcile.run(state, progress=progress)
        finally:
            c.remove_timers(undo)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        if trace:
            tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        usage = meter.stop()
        pool = f"{state.engine.pool.size()}+{getattr(state.engine.pool, '_max_overflow', '?')}"
        state.engine.dispose()
    return {"summary": summary.as_dict(), "wall": wall, "cpu": cpu, "peak": peak,
            "rss_before": rss_before * 1024, "rss_after": rss_after * 1024, "trajectory": trajectory,
            "db_cpu": usage["db"], "busy": usage["busy"] / usage["capacity"], "connects": connects[0],
            "timings": {label: timings[label] for _, _, label in _TIMED if label in timings},
            "pool": pool}


def _engine(url: str):
    import sqlalchemy as sa

    return sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def _statuses(engine, prefix: str) -> dict:
    import sqlalchemy as sa

    from panelpay.models import Order

    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Order.status, sa.func.count()).where(Order.trade_no.like(f"{prefix}%"))
                                 .group_by(Order.status)).all())


def _sandbox_stats(port: int, prefix: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_bench/stats?prefix={prefix}", timeout=30) as answer:
        return json.loads(answer.read())


def _one_database(kind_db: str, quick: bool, workdir: str, instance: str) -> list[dict]:
    import sqlalchemy as sa

    from panelpay.models import Order

    plan = _plan(quick)
    sandbox_port, site_port = c.free_port(), c.free_port()
    site = f"http://127.0.0.1:{site_port}"
    gateway_base = f"http://127.0.0.1:{sandbox_port}"
    results = []
    with c.database(kind_db, DB, workdir) as url:
        channels = c.in_subprocess(_setup, url, instance, site, gateway_base)
        engine = _engine(url)
        c.LOG_DIR.mkdir(exist_ok=True)
        log = open(c.LOG_DIR / f"reconcile-sandbox-{kind_db}.log", "w")
        spec = ",".join(f"{prefix}:{count}" for prefix, count, _ in plan)
        sandbox = subprocess.Popen(
            [c.PY, "-m", "bench.sandbox_server", "--instance", instance, "--port", str(sandbox_port),
             "--orders", spec, "--notify-base", f"{site}/payment/notify"],
            cwd=c.ROOT, env=c.child_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            c.wait_http(sandbox_port, "/_bench/stats", timeout=120, proc=sandbox)
            for prefix, count, trace in plan:
                rows = c.order_rows(prefix, range(count), channels, USERS, site)
                c.insert_orders(engine, rows)
                credits_before = c.count_credits(engine)[0]
                sandbox_cpu0 = c._stat(sandbox.pid)[2]
                # The untraced small run also times the steps (a few microseconds per call).
                timed = not trace and count < max(n for _, n, _ in plan)
                run = c.in_subprocess(_reconcile, url, instance, site, trace, count,
                                      DB if kind_db == "postgresql" else None, timed)
                run["sandbox_cpu"] = c._stat(sandbox.pid)[2] - sandbox_cpu0
                run.update(db=kind_db, prefix=prefix, orders=count, trace=trace,
                           credited=c.count_credits(engine)[0] - credits_before,
                           statuses=_statuses(engine, prefix), gateway=_sandbox_stats(sandbox_port, prefix))
                results.append(run)
                # Leave nothing due for the next run: its orders are the only pending ones.
                with engine.begin() as conn:
                    conn.execute(sa.update(Order).where(Order.trade_no.like(f"{prefix}%"), Order.status == "pending")
                                 .values(status="closed"))
        finally:
            c.stop(sandbox)
            log.close()
            engine.dispose()
    return results


def run(quick: bool = False) -> dict:
    instance = c.make_instance()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as workdir:
            for kind_db in ("sqlite", "postgresql"):
                results += _one_database(kind_db, quick, workdir, instance)
    finally:
        c.cleanup_instance(instance)
    mib = lambda b: f"{b / 2**20:.1f}" if b is not None else "—"  # noqa: E731
    rows = []
    for r in results:
        s = r["summary"]
        ok = (r["credited"] == r["orders"] // 2 and s["paid"] == r["orders"] // 2 and s["errors"] == 0
              and r["gateway"]["queried_twice"] == 0 and r["gateway"]["queried_once"] == r["orders"])
        rows.append([
            r["db"], f"{r['orders']:,}", "on" if r["trace"] else "off", f"**{r['wall']:.1f}**",
            f"**{r['orders'] / r['wall']:.0f}**",
            f"{s['queried']} / {s['paid']} / {s['pending']} / {s['expired']} / {s['errors']}",
            r["credited"], f"{r['gateway']['queried_once']} / {r['gateway']['queried_twice']}",
            "yes" if ok else "**NO**", mib(r["peak"]), mib(r["rss_before"]), mib(r["rss_after"]),
            " → ".join(mib(rss) for n, rss in r["trajectory"] if n in (0, r["orders"] // 10, r["orders"] // 2, r["orders"])),
            f"{r['cpu']:.1f} / {r['sandbox_cpu']:.1f}", f"{r['connects']} (pool {r['pool']})",
            f"{r['busy']:.0%}",
        ])
    breakdown_rows = []
    for r in results:
        for label, (calls, wall, cpu) in r.get("timings", {}).items():
            breakdown_rows.append([r["db"], label, f"{calls / r['orders']:.2f}", f"{cpu / r['orders'] * 1000:.3f}",
                                   f"{wall / r['orders'] * 1000:.2f}"])
        if r.get("timings"):
            breakdown_rows.append([r["db"], "**reconcile process CPU, all threads**", "",
                                   f"**{r['cpu'] / r['orders'] * 1000:.3f}**", ""])
    plan = _plan(quick)
    setup = [
        f"mode: {'quick' if quick else 'full'}; per database, runs of {', '.join(f'{n:,}' for _, n, _ in plan)} "
        "pending orders (one run at a time, each in a fresh process; a run's leftovers are closed before the next), "
        "half EPay MD5 (query `api.php?act=order`) and half Alipay RSA2 (`alipay.trade.query`); half of each paid "
        "at the gateway with the notification dropped; all orders unexpired",
        f"PanelPay: the demo host app context, `panelpay.reconcile.run(state)`, PANELPAY_GATEWAY_RATE_LIMIT={RATE_LIMIT} "
        f"(both channels share the sandbox's host, so one limiter), PANELPAY_RECONCILE_CONCURRENCY={CONCURRENCY} "
        "(the default), batch 200 (reconcile.BATCH)",
        "gateway: `bench.sandbox_server` (separate process, seeded through the Sandbox Python API, werkzeug threaded "
        "server with HTTP/1.1 keep-alive)",
        "databases: SQLite file (the demo host's settings) and PostgreSQL on 127.0.0.1 (fresh `bench_reconcile`)",
        "memory: tracemalloc peak over the run (runs marked 'on' only: tracemalloc slows Python about 2.5×, so "
        "the untraced runs give the times); ru_maxrss of the run's process before and after the run; resident "
        "set size (/proc/self/statm) sampled through reconcile's progress callback at every tenth of the orders",
        "CPU: seconds used by the reconcile process and by the sandbox process over the run; DB connections "
        "opened: SQLAlchemy pool `connect` events in the reconcile process (the demo host's default pool)",
    ]
    return {"name": "reconcile", "setup": setup,
            "tables": [{"title": "reconcile: pending orders against the sandbox gateway (target: 10,000 within 60 s, "
                                 "memory flat)",
                        "headers": ["database", "orders", "tracemalloc", "time (s)", "orders/s",
                                    "queried / paid / pending / expired / errors", "ledger rows added",
                                    "gateway: queried once / twice+", "all correct", "tracemalloc peak MiB",
                                    "ru_maxrss before MiB", "ru_maxrss after MiB",
                                    "RSS MiB at 0 → 10% → 50% → 100% of the orders", "CPU s: reconcile process / sandbox",
                                    "DB connections opened during the run",
                                    "machine busy"],
                        "rows": rows},
                       {"title": "reconcile: where one order's time goes (the untraced small run, timers on each step)",
                        "headers": ["database", "step", "calls per order", "CPU ms per order (the calling thread)",
                                    "wall ms per order (summed over 8 threads: includes waiting for the GIL)"],
                        "rows": breakdown_rows}],
            "figures": {f"{r['db']}-{r['orders']}-{'traced' if r['trace'] else 'plain'}": r["wall"] for r in results}}
