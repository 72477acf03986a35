"""``notify``: settled notifications per second and latency of the demo host under gunicorn on PostgreSQL,
beside the bare-Flask ceiling (``bench.wsgi_ceiling``) in interleaved rounds of the same run.

Every order gets exactly one validly signed notification (even orders: EPay MD5 by GET; odd: Alipay RSA2 by
POSTed form), posted over HTTP by the load generator (a separate process, keep-alive connections, closed
loop). Both servers run under the same gunicorn settings on the same database, each on its own copy of the
orders. Then a CPU-time cProfile of PanelPay's notify route in this process (Flask test client) lists its
costliest functions, whatever they are called.
"""
from __future__ import annotations

import cProfile
import os
import pstats
import re
import statistics
import time
from collections import Counter

from . import common as c

DB = "bench_notify"
USERS = 1000
CONCURRENCY = 32
TARGETS = {"rate": 0.5, "p99": 2.5}  #: PanelPay ÷ ceiling: throughput at least, p99 at most
SERVERS = ("panelpay", "ceiling")


def _sizes(quick: bool) -> dict:
    if quick:
        return {"orders": 600, "warm": 40, "rounds": 2, "profile": 100}
    # Many short interleaved rounds: the machine is shared, and a drift then hits both servers alike.
    return {"orders": 9000, "warm": 300, "rounds": 10, "profile": 500}


def _ceiling_tables(eng, rows: list[dict]) -> None:
    import sqlalchemy as sa

    from .wsgi_ceiling import SCHEMA

    with eng.begin() as conn:
        for ddl in SCHEMA:
            conn.exec_driver_sql(ddl)
        conn.execute(sa.text("INSERT INTO bench_ceiling_users (id) VALUES (:id)"),
                     [{"id": i} for i in range(1, USERS + 1)])
        conn.execute(sa.text("INSERT INTO bench_ceiling_orders (trade_no, user_id, total, credit, status) "
                             "VALUES (:trade_no, :user_id, :total, :credit, 'pending')"),
                     [{k: r[k] for k in ("trade_no", "user_id", "total", "credit")} for r in rows])


def _settled(eng, server: str) -> int:
    if server == "panelpay":
        return c.credits(eng)
    with eng.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM bench_ceiling_orders WHERE status = 'paid'").scalar_one()


def run(quick: bool = False) -> dict:
    sizes = _sizes(quick)
    n, warm, rounds = sizes["orders"], sizes["warm"], sizes["rounds"]
    per_round = n // rounds
    instance = c.make_instance()
    ports = {s: c.free_port() for s in SERVERS}
    hosts = {s: f"127.0.0.1:{p}" for s, p in ports.items()}
    site = f"http://{hosts['panelpay']}"
    try:
        with c.database("postgresql", DB, instance) as url:
            app, channels = c.demo(url, instance, site, users=USERS)
            eng = c.engine(url)
            t0 = time.perf_counter()
            _ceiling_tables(eng, c.insert_orders(eng, "N", range(warm + n), channels, USERS, site))
            with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
            seeded = time.perf_counter() - t0

            t0, signer = time.perf_counter(), c.Signer(instance)
            uuids = {kind: uuid for kind, (_, uuid) in channels.items()}
            paths = {"panelpay": lambda kind: f"/payment/notify/{kind}/{uuids[kind]}",
                     "ceiling": lambda kind: f"/ceiling/notify/{kind}"}
            batches = [range(warm)] + [range(warm + k * per_round, warm + (k + 1) * per_round) for k in range(rounds)]
            requests = {s: [[signer.request(i, f"N{i:010d}", hosts[s], paths[s](c.kind_for(i))) for i in batch]
                            for batch in batches] for s in SERVERS}
            signed = time.perf_counter() - t0

            reports = {s: [] for s in SERVERS}
            env = c.demo_env(url, instance, site)
            with c.gunicorn("bench.wsgi_panelpay:app", env, port=ports["panelpay"], name="notify-panelpay") as pp, \
                    c.gunicorn("bench.wsgi_ceiling:app", env, port=ports["ceiling"], name="notify-ceiling",
                               probe="/") as ceiling:
                pids = {"panelpay": pp.pid, "ceiling": ceiling.pid}
                for s in SERVERS:
                    c.run_load(requests[s][0], port=ports[s], concurrency=8, name=f"notify-{s}-warm")
                for k in range(1, rounds + 1):
                    for s in SERVERS:  # interleaved: a drift of the shared machine hits both alike
                        before = _settled(eng, s)
                        report = c.run_load(requests[s][k], port=ports[s], concurrency=CONCURRENCY,
                                            name=f"notify-{s}-{k}", server_pid=pids[s], db_name=DB)
                        report["settled"] = _settled(eng, s) - before
                        reports[s].append(report)
            profile = _profile(app, signer, uuids, eng, channels, site, warm + n, sizes["profile"])
            eng.dispose()
    finally:
        c.remove(instance)
    summaries = {s: _summary(reports[s]) for s in SERVERS}
    setup = [
        f"mode: {'quick' if quick else 'full'}; {n} timed notifications per server (one per order, half EPay MD5 by "
        f"GET, half Alipay RSA2 by POSTed form) in {rounds} interleaved round(s) (PanelPay, ceiling, PanelPay, …), "
        f"after {warm} warm-up notifications per server; signing them all took {signed:.1f} s beforehand",
        f"servers: {c.GUNICORN}, keep-alive, no access log; PanelPay: the demo host (`bench.wsgi_panelpay:app`); "
        "ceiling: `bench.wsgi_ceiling:app` (bare Flask: the same signature check, then one transaction of a "
        "conditional order UPDATE and a balance UPDATE, on tables of its own with no other index than the keys)",
        f"database: PostgreSQL on 127.0.0.1, default durable settings, fresh database `{DB}`, {USERS} users; "
        f"orders bulk-inserted in {seeded:.1f} s (each server its own copy), ANALYZE after",
        f"load: `bench.loadgen` (separate process, asyncio, {CONCURRENCY} keep-alive connections, closed loop); "
        "settled per second = ledger rows (PanelPay) or paid orders (ceiling) added ÷ the load generator's wall "
        "time; latency from first byte written to last byte read",
        "CPU: /proc utime+stime of the gunicorn process tree and of the PostgreSQL backends of the database; "
        "'other processes' = machine busy time used by neither the server, the database nor the load generator "
        "(the machine is shared: a high figure marks a noisy run)",
    ]
    return {"name": "notify", "setup": setup, "tables": [_table(summaries), profile]}


def _summary(reports: list[dict]) -> dict:
    """Figures pooled over the rounds of one server."""
    lat = [l for r in reports for l, s in zip(r["latencies"], r["statuses"]) if s]
    settled, wall = sum(r["settled"] for r in reports), sum(r["wall"] for r in reports)
    cpu = {k: sum(r["cpu"][k] for r in reports) for k in ("server", "db", "busy", "steal", "capacity", "other")}
    return {"sent": sum(len(r["statuses"]) for r in reports), "settled": settled, "wall": wall,
            "rate": settled / wall, "rates": [r["settled"] / r["wall"] for r in reports],
            "p50": c.percentile(lat, 50), "p99": c.percentile(lat, 99), "max": max(lat, default=float("nan")),
            "answers": sum((Counter(r["statuses"]) for r in reports), Counter()),
            "errors": sum((Counter(r["errors"]) for r in reports), Counter()),
            "app_cpu": cpu["server"] / max(settled, 1), "db_cpu": cpu["db"] / max(settled, 1),
            "busy": cpu["busy"] / cpu["capacity"], "other": cpu["other"] / cpu["capacity"],
            "steal": cpu["steal"] / cpu["capacity"], "load_cpu": sum(r["load_cpu"] for r in reports)}


def _table(s: dict) -> dict:
    pp, ce = s["panelpay"], s["ceiling"]
    rate, p99 = pp["rate"] / ce["rate"], pp["p99"] / ce["p99"]
    round_ratios = [a / b for a, b in zip(pp["rates"], ce["rates"])]
    both = lambda f: [f(pp), f(ce)]  # noqa: E731
    answers = lambda x: ", ".join(f"{k}: {v}" for k, v in sorted(x["answers"].items()))  # noqa: E731
    rows = [
        ["notifications sent (timed)", *both(lambda x: x["sent"]), "", ""],
        ["credited (ledger rows / paid orders)", *both(lambda x: x["settled"]), "", ""],
        ["wall time (s, sum of rounds)", *both(lambda x: f"{x['wall']:.2f}"), "", ""],
        ["**settled per second**", *both(lambda x: f"**{x['rate']:.0f}**"), f"**{rate:.2f}**",
         f"**≥ {TARGETS['rate']:.2f}**"],
        ["settled per second, each round", *both(lambda x: ", ".join(f"{v:.0f}" for v in x["rates"])),
         ", ".join(f"{v:.2f}" for v in round_ratios), ""],
        ["median of the rounds' ratios (each round beside its neighbour)", "", "",
         f"{statistics.median(round_ratios):.2f}", ""],
        ["p50 latency (ms)", *both(lambda x: c.ms(x["p50"])), f"{pp['p50'] / ce['p50']:.2f}", ""],
        ["**p99 latency (ms)**", *both(lambda x: f"**{c.ms(x['p99'])}**"), f"**{p99:.2f}**",
         f"**≤ {TARGETS['p99']:.2f}**"],
        ["max latency (ms)", *both(lambda x: c.ms(x["max"])), "", ""],
        ["answers by HTTP status (0: connection error)", *both(answers), "", ""],
        ["app CPU per notification (ms, gunicorn tree)", *both(lambda x: c.ms(x["app_cpu"], 2)),
         f"{pp['app_cpu'] / ce['app_cpu']:.2f}", ""],
        ["database CPU per notification (ms, its backends)", *both(lambda x: c.ms(x["db_cpu"], 2)),
         f"{pp['db_cpu'] / ce['db_cpu']:.2f}" if ce["db_cpu"] else "", ""],
        ["machine busy / of which other processes / steal",
         *both(lambda x: f"{x['busy']:.0%} / {x['other']:.0%} / {x['steal']:.0%}"), "", ""],
        ["load generator CPU (s, all rounds)", *both(lambda x: f"{x['load_cpu']:.2f}"), "", ""],
    ]
    return {"title": "notify: throughput and latency (PostgreSQL, gunicorn)",
            "headers": ["", "PanelPay (demo host)", "ceiling (bare Flask)", "PanelPay ÷ ceiling", "target"],
            "rows": rows}


def _profile(app, signer, uuids: dict, eng, channels: dict, site: str, offset: int, count: int) -> dict:
    """``count`` notifications to the demo host through the Flask test client, serially in this process, the
    app's WSGI call under a CPU-time cProfile; the functions of PanelPay's package (and the demo host's) with
    the most cumulative time, then any functions with the most own time."""
    import panelpay
    import panelpay.demo

    c.insert_orders(eng, "P", range(offset, offset + count + 20), channels, USERS, site)
    notes = [signer.params(i, f"P{i:010d}") for i in range(offset, offset + count + 20)]  # signed beforehand
    client = app.test_client()

    def send(kind: str, params: dict):
        if kind == "epay":
            return client.get(f"/payment/notify/epay/{uuids[kind]}", query_string=params)
        return client.post(f"/payment/notify/alipay/{uuids[kind]}", data=params)

    for note in notes[:20]:  # warm-up: channel objects, pools
        send(*note)
    profiler, inner = cProfile.Profile(time.process_time), app.wsgi_app

    def profiled(environ, start_response):  # the app's work only, not the test client's
        profiler.enable()
        try:
            return inner(environ, start_response)
        finally:
            profiler.disable()

    app.wsgi_app, answers = profiled, Counter()
    for note in notes[20:]:
        answers[send(*note).status_code] += 1
    app.wsgi_app = inner
    stats = pstats.Stats(profiler).stats
    total = sum(tt for (_, _, tt, _, _) in stats.values())
    roots = tuple(os.path.dirname(m.__file__) + os.sep for m in (panelpay, panelpay.demo))

    def name(key) -> str:
        path, line, func = key
        root = next((r for r in roots if path.startswith(r)), None)
        where = os.path.relpath(path, os.path.dirname(root.rstrip(os.sep))) if root else os.path.basename(path)
        return f"`{where}:{line} {re.sub(' at 0x[0-9a-f]+', '', func)}`"

    ours = sorted((k for k in stats if k[0].startswith(roots)), key=lambda k: -stats[k][3])[:15]
    anyone = sorted(stats, key=lambda k: -stats[k][2])[:10]
    rows = [["cumulative", name(k), f"{stats[k][1] / count:.2f}", c.ms(stats[k][3] / count, 3)] for k in ours]
    rows += [["own", name(k), f"{stats[k][1] / count:.2f}", c.ms(stats[k][2] / count, 3)] for k in anyone]
    return {"title": f"notify: where the demo host's CPU goes (cProfile of its WSGI call, in-process, serial, "
                     f"{count} notifications; "
                     f"{c.ms(total / count, 2)} ms CPU per notification under the profiler; answers "
                     f"{dict(answers)})",
            "headers": ["ranked by", "function (PanelPay's files, then any)", "calls per notification",
                        "CPU ms per notification"],
            "rows": rows}
