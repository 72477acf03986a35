"""``notify``: settled notifications per second and latency of the demo host under gunicorn on PostgreSQL,
against a ceiling measured in the same run, plus an in-process profile of the hot path.

Setup (printed with the figures): the demo host (``panelpay.demo.app.create_app``) with one EPay channel
(MD5, sandbox config ``epay``) and one Alipay channel (RSA2, sandbox config ``alipay``), ``USERS`` users;
the orders are bulk-inserted first (pending, totals varied, spread over the users); then every order gets
exactly one validly signed notification (even orders: EPay by GET; odd: Alipay by POSTed form) from the
load generator (a separate process, keep-alive connections, closed loop). The ceiling is
``bench.wsgi_ceiling`` under the same gunicorn settings, on its own copy of the orders and users in the
same database, fired the same notifications. The same server also answers the *design floor* route: the
least DESIGN.md's flow asks for (delivery log first, ledger row, verdict), in plain SQL, so the distance to
the ceiling splits into what the design costs and what the implementation costs.
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import statistics
import time
from collections import Counter

from . import common as c

USERS = 1000
CONCURRENCY = 32


DB = "bench_notify"


def _sizes(quick: bool) -> dict:
    if quick:
        return {"orders": 600, "warm": 40, "rounds": 1, "profile": 100}
    # More, shorter interleaved rounds: the machine is shared, and a drift then hits all three alike.
    return {"orders": 9000, "warm": 300, "rounds": 10, "profile": 500}


def _requests(notes: c.Notifications, prefix: str, indices, channels, host: str, *, route: str) -> list[bytes]:
    out = []
    for i in indices:
        kind, params = notes.for_order(i, f"{prefix}{i:010d}")
        path = f"/payment/notify/{kind}/{channels[kind][1]}" if route == "panelpay" else f"/{route}/notify/{kind}"
        out.append(c.raw_request("GET" if kind == "epay" else "POST", path, params, host))
    return out


def _ceiling_tables(engine, rows: list[dict]) -> None:
    import sqlalchemy as sa

    from .wsgi_ceiling import SCHEMA

    with engine.begin() as conn:
        for ddl in SCHEMA:
            conn.execute(sa.text(ddl))
        for prefix in ("bench_ceiling", "bench_floor"):
            conn.execute(sa.text(f"INSERT INTO {prefix}_users (id, balance) VALUES (:id, 0)"),
                         [{"id": i} for i in range(1, USERS + 1)])
    _ceiling_orders(engine, rows)


def _ceiling_orders(engine, rows: list[dict]) -> None:
    import sqlalchemy as sa

    values = [{"trade_no": r["trade_no"], "user_id": int(r["user_id"]), "channel_id": r["channel_id"],
               "total": r["total"], "credit": r["credit"], "created_at": r["created_at"],
               "expires_at": r["expires_at"]} for r in rows]
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO bench_ceiling_orders (trade_no, user_id, total, credit, status) "
                             "VALUES (:trade_no, :user_id, :total, :credit, 'pending')"), values)
        conn.execute(sa.text("INSERT INTO bench_floor_orders (trade_no, user_id, channel_id, total, credit, status, "
                             "created_at, expires_at) VALUES (:trade_no, :user_id, :channel_id, :total, :credit, "
                             "'pending', :created_at, :expires_at)"), values)


def _paid(engine, route: str) -> int:
    """Credits so far: PanelPay's ledger rows, or the ceiling's / floor's paid orders."""
    import sqlalchemy as sa

    if route == "panelpay":
        return c.count_credits(engine)[0]
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM bench_{route}_orders WHERE status = 'paid'")).scalar_one()


def _summary(reports: list[dict], settled: int) -> dict:
    """Pooled figures over the rounds of one server."""
    lat = [l for r in reports for l, s in zip(r["latencies"], r["statuses"]) if s]
    wall = sum(r["wall"] for r in reports)
    meter = {k: sum(r["cpu_meter"][k] for r in reports) for k in ("server", "db", "busy", "steal", "capacity", "other")}
    answers = Counter()
    for r in reports:
        answers.update(r["statuses"])
    return {
        "requests": sum(len(r["statuses"]) for r in reports),
        "settled": settled,
        "wall": wall,
        "rate": settled / wall,
        "round_rates": [r["settled"] / r["wall"] for r in reports],
        "p50": c.percentile(lat, 50),
        "p99": c.percentile(lat, 99),
        "max": max(lat) if lat else float("nan"),
        "answers": answers,
        "errors": sum((Counter(r["errors"]) for r in reports), Counter()),
        "load_cpu": sum(r["cpu"] for r in reports),
        "server_cpu": meter["server"] / max(settled, 1),
        "db_cpu": meter["db"] / max(settled, 1),
        "total_cpu": (meter["server"] + meter["db"]) / max(settled, 1),
        "busy": meter["busy"] / meter["capacity"],
        "other": meter["other"] / meter["capacity"],
        "steal": meter["steal"] / meter["capacity"],
    }


def run(quick: bool = False) -> dict:
    import sqlalchemy as sa

    sizes = _sizes(quick)
    n, warm, rounds = sizes["orders"], sizes["warm"], sizes["rounds"]
    per_round = n // rounds
    instance = c.make_instance()
    port_pp, port_ceil = c.free_port(), c.free_port()
    site = f"http://127.0.0.1:{port_pp}"
    notes = c.Notifications(c.sandbox_credentials(instance))
    try:
        with c.database("postgresql", DB) as url:
            app = c.build_demo(url, instance, site)
            channels = c.setup_demo(app, users=USERS, gateway_base=site + "/payment/sandbox")
            with app.app_context():
                engine = app.extensions["panelpay"].state.engine
                rows = c.order_rows("N", range(warm + n), channels, USERS, site)
                t0 = time.perf_counter()
                c.insert_orders(engine, rows)
                _ceiling_tables(engine, rows)
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("ANALYZE"))
                seeded = time.perf_counter() - t0
            t0 = time.perf_counter()
            host_pp, host_ceil = f"127.0.0.1:{port_pp}", f"127.0.0.1:{port_ceil}"
            batches = [range(warm)] + [range(warm + k * per_round, warm + (k + 1) * per_round) for k in range(rounds)]
            routes = ("panelpay", "ceiling", "floor")
            hosts = {"panelpay": host_pp, "ceiling": host_ceil, "floor": host_ceil}
            ports = {"panelpay": port_pp, "ceiling": port_ceil, "floor": port_ceil}
            requests = {r: [_requests(notes, "N", b, channels, hosts[r], route=r) for b in batches] for r in routes}
            signed = time.perf_counter() - t0

            env = {"BENCH_DB_URL": url, "BENCH_INSTANCE": instance, "BENCH_SITE_URL": site,
                   "BENCH_CEILING_DB_URL": url}
            reports = {r: [] for r in routes}
            servers = {}
            with c.gunicorn("bench.wsgi_panelpay:app", env, port=port_pp, name="notify-panelpay",
                            probe="/api/me") as servers["panelpay"], \
                    c.gunicorn("bench.wsgi_ceiling:app", env, port=port_ceil, name="notify-ceiling",
                               probe="/") as servers["ceiling"]:
                servers["floor"] = servers["ceiling"]
                for r in routes:
                    c.run_load(requests[r][0], port=ports[r], concurrency=8, name=f"notify-{r}-warm")
                first = {r: _paid(engine, r) for r in routes}
                for k in range(1, rounds + 1):
                    # Interleaved rounds: drift on a shared machine hits all three alike.
                    for r in routes:
                        before = _paid(engine, r)
                        report = c.run_load(requests[r][k], port=ports[r], concurrency=CONCURRENCY,
                                            name=f"notify-{r}-{k}", server_pid=servers[r].pid, db_name=DB)
                        report["settled"] = _paid(engine, r) - before
                        reports[r].append(report)
                summaries = {r: _summary(reports[r], _paid(engine, r) - first[r]) for r in routes}

            profile = _profile(app, url, instance, channels, notes, site, sizes["profile"], offset=warm + n)
            engine.dispose()
    finally:
        c.cleanup_instance(instance)
    return _result(quick, n, warm, rounds, seeded, signed, summaries, profile)


# -- the in-process profile --------------------------------------------------------------------------

_PLUGIN_FUNCS = {
    ("notify.py", "notify"): "route notify() total",
    ("judge.py", "receive"): "receive(): the whole flow",
    ("judge.py", "_record"): "_record(): delivery-log INSERT + order lookup, own transaction",
    ("judge.py", "_judge"): "_judge(): verify, check, settle",
    ("settle.py", "_settled"): "settle._settled(): settled order rebuilt without a read-back",
    ("judge.py", "parse_params"): "parse_params()",
    ("store.py", "channel_impl"): "channel_impl() (cached channel object)",
    ("epay.py", "verify_notification"): "EPay verify_notification() (MD5)",
    ("alipay.py", "verify_notification"): "Alipay verify_notification() (RSA2)",
    ("settle.py", "settle"): "settle() total",
    ("settle.py", "_apply"): "settle._apply(): the credit transaction",
    ("db.py", "set_lock_timeout"): "set_lock_timeout(): SET LOCAL round trip",
    ("one_statement.py", "record"): "one_statement.record(): INSERT + order lookup in one statement",
    ("one_statement.py", "settle"): "one_statement.settle(): the credit in one statement",
    ("balance.py", "credit"): "balance UPDATE",
    ("settle.py", "_reload"): "settle._reload(): SELECT order again after commit",
    ("metrics.py", "credit"): "metrics.credit()",
    ("signals.py", "emit"): "signals emit()",
}


def _profile(app, url, instance, channels, notes, site, count: int, *, offset: int) -> dict:
    """``count`` notifications through the Flask test client, in this process, for PanelPay and for the
    ceiling: statements and transactions per notification (SQLAlchemy events), server transactions
    (pg_stat_database), wall and CPU time per notification unprofiled, then a CPU-time cProfile
    (``time.process_time``) of a second batch of ``count``."""

    from .wsgi_ceiling import create_app as create_ceiling

    ceiling_app = create_ceiling(url, instance)
    with app.app_context():
        state = app.extensions["panelpay"].state
        engine = state.engine
        rows = c.order_rows("P", range(offset, offset + 2 * count), channels, USERS, site)
        c.insert_orders(engine, rows)
        _ceiling_orders(engine, rows)
        batches = []
        for start in (offset, offset + count):
            batch = []
            for i in range(start, start + count):
                kind, params = notes.for_order(i, f"P{i:010d}")
                batch.append((kind, channels[kind][1], params))
            batches.append(batch)
        result = {"panelpay": _profile_one(app, engine, batches, route="panelpay"),
                  "ceiling": _profile_one(ceiling_app, ceiling_app.engine, batches, route="ceiling"),
                  "floor": _profile_one(ceiling_app, ceiling_app.engine, batches, route="floor")}
    ceiling_app.engine.dispose()
    return result


#: (module, attribute, label) timed in the unprofiled in-process batch. Looked up at run time and skipped
#: when missing, so the benchmark survives refactors of the plugin.
_TIMED = (
    ("panelpay.web.notify", "receive", "receive() total: record, look up, verify, settle, stamp"),
    ("panelpay.judge", "parse_params", "  parse_params()"),
    ("panelpay.judge", "_record", "  _record(): delivery-log INSERT and order lookup, committed"),
    ("panelpay.one_statement", "record", "    one statement: INSERT … RETURNING ⟕ order (PostgreSQL)"),
    ("panelpay.judge", "_judge", "  _judge(): verify, check, settle"),
    ("panelpay.channels.epay:EPayChannel", "verify_notification", "    EPay verify (MD5)"),
    ("panelpay.channels.alipay:AlipayChannel", "verify_notification", "    Alipay verify (RSA2)"),
    ("panelpay.judge", "settle", "    settle() total"),
    ("panelpay.settle", "_apply", "      settle._apply(): the credit transaction, committed"),
    ("panelpay.one_statement", "settle", "        one statement: order, ledger, balance, verdict (PostgreSQL)"),
    ("panelpay.settle", "set_lock_timeout", "        set_lock_timeout(): SET LOCAL"),
    ("panelpay.balance:BalanceColumn", "credit", "        balance UPDATE"),
    ("panelpay.settle", "_settled", "      settle._settled(): the settled order rebuilt from the values written"),
    ("panelpay.settle", "_reload", "      settle._reload(): BEGIN, SELECT order ⟕ channel again, ROLLBACK"),
    ("panelpay.metrics:Metrics", "credit", "      metrics.credit()"),
    ("psycopg:Connection", "commit", "COMMIT (psycopg, all commits of the notification)"),
)


def _profile_one(app, engine, batches, *, route: str) -> dict:
    import sqlalchemy as sa

    statements: list[str] = []
    events = Counter()
    listening = [True]

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if listening[0]:
            statements.append(statement)

    def on_tx(name):
        def count(conn):
            # An autocommit connection sends no BEGIN and has nothing to COMMIT or ROLL BACK (psycopg
            # skips both when no transaction is open): only real transaction round trips are counted.
            if listening[0] and not conn.connection.dbapi_connection.autocommit:
                events[name] += 1
        return count

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    for name in ("begin", "commit", "rollback"):
        sa.event.listen(engine, name, on_tx(name))
    client = app.test_client()

    def send(kind, uuid, params):
        if route != "panelpay":
            if kind == "epay":
                return client.get(f"/{route}/notify/epay", query_string=params)
            return client.post(f"/{route}/notify/alipay", data=params)
        if kind == "epay":
            return client.get(f"/payment/notify/epay/{uuid}", query_string=params)
        return client.post(f"/payment/notify/alipay/{uuid}", data=params)

    def xacts() -> int:
        """Transactions PostgreSQL counted for this database. Pooled connections are closed first: a
        backend flushes its statistics when it exits (an idle one only every few seconds)."""
        listening[0] = False
        try:
            engine.dispose()
            time.sleep(0.5)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
                return conn.execute(sa.text("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                            "WHERE datname = current_database()")).scalar_one()
        finally:
            listening[0] = True

    first, second = batches
    send(*first[0])  # the first request builds the channel objects
    per = len(first) - 1
    statements.clear()
    events.clear()
    x0 = xacts()
    timings: dict = {}
    undo = [] if route != "panelpay" else c.install_timers(_TIMED, timings)
    try:
        t0, cpu0 = time.perf_counter(), time.process_time()
        answers = Counter(send(*item).status_code for item in first[1:])
        wall, cpu = (time.perf_counter() - t0) / per, (time.process_time() - cpu0) / per
    finally:
        c.remove_timers(undo)
    server_xacts = (xacts() - x0 - 1) / per  # minus the reading transaction itself
    grouped = Counter(_shape(s) for s in statements)
    stmt_count = len(statements) / per
    tx = {k: v / per for k, v in events.items()}
    sa.event.remove(engine, "before_cursor_execute", on_execute)

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for item in second:
        send(*item)
    profiler.disable()
    stats = pstats.Stats(profiler)
    count = len(second)
    calls = sum(nc for (_cc, nc, _tt, _ct, _callers) in stats.stats.values()) / count
    profiled = sum(tt for (_cc, _nc, tt, _ct, _callers) in stats.stats.values()) / count
    funcs = []
    for (filename, _line, name), (cc, nc, tt, ct, _callers) in stats.stats.items():
        key = (os.path.basename(filename), name)
        if key in _PLUGIN_FUNCS and filename.startswith(_package_dir()):
            funcs.append((_PLUGIN_FUNCS[key], nc / count, ct / count))
    funcs.sort(key=lambda f: -f[2])
    buffer = io.StringIO()
    stats.stream = buffer
    stats.sort_stats("tottime").print_stats(15)
    top = _top_lines(buffer.getvalue(), count)
    order = [label for _, _, label in _TIMED]
    breakdown = [(label, timings[label][0] / per, timings[label][1] / per, timings[label][2] / per)
                 for label in order if label in timings]
    return {"count": per, "wall": wall, "cpu": cpu, "profiled": profiled, "calls": calls, "answers": answers,
            "breakdown": breakdown,
            "statements": stmt_count, "grouped": {k: v / per for k, v in grouped.items()}, "tx": tx,
            "server_xacts": server_xacts, "funcs": funcs, "top": top}


def _package_dir() -> str:
    """Where ``panelpay`` is imported from (the working tree's plugin/ or the run's frozen copy), with '/'."""
    import panelpay

    return os.path.dirname(panelpay.__file__) + "/"


def _shape(statement: str) -> str:
    text = " ".join(statement.split())
    if text.startswith("WITH "):  # data-modifying CTEs: name the statement by the tables it writes
        writes = re.findall(r"(INSERT INTO \w+|UPDATE \w+)", text)
        return "WITH " + ", ".join(dict.fromkeys(writes)) + " SELECT …"
    m = re.match(r"(INSERT INTO \w+|UPDATE \w+ SET \w+|SELECT .*? FROM \w+(?: (?:LEFT OUTER |INNER )?JOIN \w+)?"
                 r"|SET LOCAL \w+|\w+)", text)
    shape = m.group(1) if m else text[:60]
    if shape.startswith("SELECT") and " FROM " in shape:
        shape = "SELECT … FROM " + shape.split(" FROM ", 1)[1]
    return shape


def _top_lines(text: str, count: int) -> list[tuple[str, float, float]]:
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[0].replace("/", "").isdigit():
            try:
                tottime, cumtime = float(parts[1]), float(parts[3])
            except ValueError:
                continue
            where = parts[5].replace(str(c.ROOT) + "/.venv/lib/python3.11/site-packages/", "")
            where = where.replace(_package_dir(), "panelpay/").replace(str(c.ROOT) + "/", "")
            out.append((where, tottime / count, cumtime / count))
    return out


# -- the report --------------------------------------------------------------------------------------

def _median_ratio(a: dict, b: dict) -> float:
    return statistics.median(x / y for x, y in zip(a["round_rates"], b["round_rates"]))


def _result(quick, n, warm, rounds, seeded, signed, summaries, prof) -> dict:
    pp, ce, fl = summaries["panelpay"], summaries["ceiling"], summaries["floor"]
    rate_ratio = pp["rate"] / ce["rate"]
    p99_ratio = pp["p99"] / ce["p99"]
    answers = lambda s: ", ".join(f"{k}: {v}" for k, v in sorted(s["answers"].items()))  # noqa: E731

    def cpu_ms(seconds: float) -> str:  # CPU per notification is a fraction of a millisecond
        return c.ms(seconds, digits=2)

    def row(label, key, fmt, ratio=True, target="", bold=False):
        values = [fmt(x[key]) for x in (pp, ce)]
        cells = [label, *values, f"{pp[key] / ce[key]:.2f}" if ratio else "", target, fmt(fl[key]),
                 f"{pp[key] / fl[key]:.2f}" if ratio else ""]
        return [f"**{v}**" if bold and v else v for v in cells]

    main = {
        "title": "notify: throughput and latency (PostgreSQL, gunicorn)",
        "headers": ["", "PanelPay (demo host)", "ceiling (bare Flask)", "PanelPay ÷ ceiling", "target",
                    "design floor (bare Flask)", "PanelPay ÷ floor"],
        "rows": [
            ["notifications sent (timed)", pp["requests"], ce["requests"], "", "", fl["requests"], ""],
            ["credited (ledger rows / paid rows)", pp["settled"], ce["settled"], "", "", fl["settled"], ""],
            row("wall time (s, sum of rounds)", "wall", lambda v: f"{v:.2f}", ratio=False),
            row("settled per second", "rate", lambda v: f"{v:.0f}", target="≥ 0.70", bold=True),
            ["settled per second, each round", ", ".join(f"{r:.0f}" for r in pp["round_rates"]),
             ", ".join(f"{r:.0f}" for r in ce["round_rates"]),
             ", ".join(f"{a / b:.2f}" for a, b in zip(pp["round_rates"], ce["round_rates"])), "",
             ", ".join(f"{r:.0f}" for r in fl["round_rates"]), ""],
            ["settled per second, median of the rounds' ratios (each round beside its neighbours: the "
             "least sensitive to the shared machine's drift)", "", "", f"{_median_ratio(pp, ce):.2f}", "", "",
             f"{_median_ratio(pp, fl):.2f}"],
            row("p50 latency (ms)", "p50", c.ms),
            row("p99 latency (ms)", "p99", c.ms, target="≤ 2.00", bold=True),
            row("max latency (ms)", "max", c.ms, ratio=False),
            ["answers by HTTP status", answers(pp), answers(ce), "", "", answers(fl), ""],
            row("app CPU per notification (ms, gunicorn master + workers)", "server_cpu", cpu_ms),
            row(f"database CPU per notification (ms, PostgreSQL backends of `{DB}`)", "db_cpu", cpu_ms),
            row("app + database CPU per notification (ms)", "total_cpu", cpu_ms),
            ["machine busy / of which other processes / steal",
             *(f"{x['busy']:.0%} / {x['other']:.0%} / {x['steal']:.0%}" for x in (pp, ce)), "", "",
             f"{fl['busy']:.0%} / {fl['other']:.0%} / {fl['steal']:.0%}", ""],
            ["load generator CPU (s, all rounds)", f"{pp['load_cpu']:.2f}", f"{ce['load_cpu']:.2f}", "", "",
             f"{fl['load_cpu']:.2f}", ""],
        ],
    }
    a, b, f = prof["panelpay"], prof["ceiling"], prof["floor"]
    cols = (a, b, f)

    def trips(p):
        return p["statements"] + p["tx"].get("begin", 0) + p["tx"].get("commit", 0) + p["tx"].get("rollback", 0)

    statement_rows = []
    for i, p in enumerate(cols):
        for k, v in sorted(p["grouped"].items(), key=lambda kv: -kv[1]):
            cells = ["", "", ""]
            cells[i] = f"{v:.2f}"
            statement_rows.append([f"`{k}`", *cells])
    database = {
        "title": f"notify: work per notification, in-process (Flask test client, {a['count']} notifications each)",
        "headers": ["", "PanelPay", "ceiling", "design floor"],
        "rows": statement_rows + [
            ["**SQL statements** (before_cursor_execute)", *(f"**{p['statements']:.2f}**" for p in cols)],
            ["explicit transactions begun (BEGIN sent; an autocommit statement is its own transaction)",
             *(f"{p['tx'].get('begin', 0):.2f}" for p in cols)],
            ["commits / rollbacks", *(f"{p['tx'].get('commit', 0):.2f} / {p['tx'].get('rollback', 0):.2f}"
                                      for p in cols)],
            ["server transactions (pg_stat_database xact_commit + xact_rollback)",
             *(f"{p['server_xacts']:.2f}" for p in cols)],
            ["**round trips** ≈ statements + BEGIN + COMMIT/ROLLBACK", *(f"**{trips(p):.1f}**" for p in cols)],
            ["wall ms per notification (unprofiled, serial)", *(f"{p['wall'] * 1000:.2f}" for p in cols)],
            ["CPU ms per notification (unprofiled, incl. test client)", *(f"{p['cpu'] * 1000:.2f}" for p in cols)],
            ["Python function calls per notification (cProfile)", *(f"{p['calls']:.0f}" for p in cols)],
            ["answers", *(str(dict(p["answers"])) for p in cols)],
        ],
    }
    breakdown = {
        "title": f"notify: PanelPay's hot path, unprofiled (in-process, serial, {a['count']} notifications; "
                 f"{a['wall'] * 1000:.2f} ms wall and {a['cpu'] * 1000:.2f} ms CPU per notification in all)",
        "headers": ["step", "calls per notification", "wall ms per notification", "CPU ms per notification"],
        "rows": [[label, f"{calls:.2f}", f"{w * 1000:.3f}", f"{cpu_ * 1000:.3f}"]
                 for label, calls, w, cpu_ in a["breakdown"]],
    }
    funcs = {
        "title": f"notify: PanelPay's hot path by function (CPU-time cProfile, in-process; {a['profiled'] * 1000:.2f} "
                 f"ms CPU per notification under the profiler)",
        "headers": ["PanelPay function", "calls per notification", "cumulative CPU ms per notification (profiled)"],
        "rows": [[name, f"{calls:.2f}", f"{cum * 1000:.3f}"] for name, calls, cum in a["funcs"]],
    }
    top = {
        "title": "notify: PanelPay's top functions by own CPU time (cProfile)",
        "headers": ["function", "own CPU ms per notification", "cumulative CPU ms per notification"],
        "rows": [[f"`{w}`", f"{t * 1000:.3f}", f"{cu * 1000:.3f}"] for w, t, cu in a["top"]],
    }
    setup = [
        f"mode: {'quick' if quick else 'full'}; {n} timed notifications per server (one per order, half EPay MD5 by "
        f"GET, half Alipay RSA2 by POSTed form) in {rounds} interleaved round(s) (PanelPay, ceiling, floor, "
        f"PanelPay, …), after {warm} warm-up notifications per server",
        f"server: {c.gunicorn_settings()}, --keep-alive 30, no access log; PanelPay: `bench.wsgi_panelpay:app` "
        f"(demo host, default SQLAlchemy pool 5+10 per worker); ceiling and design floor: routes of "
        f"`bench.wsgi_ceiling:app` (pool 5+10)",
        "ceiling: signature check + one transaction (conditional UPDATE of the order, balance UPDATE) on tables as "
        "small as the job allows (the order's status is not indexed, so both UPDATEs are HOT), as the brief "
        "defines it; design floor: what DESIGN.md's flow needs at the least, in plain SQL on tables shaped and "
        "indexed like PanelPay's (the orders' six indexes, the ledger's foreign key): the delivery-log INSERT "
        "committed first (one autocommit statement that also looks up the order; like PanelPay's, its commit "
        "does not wait for the WAL flush, the credit's does), then the signature check, then one autocommit "
        "statement with a bounded lock wait: the conditional UPDATE (status, paid time, gateway trade number) "
        "and, only if it matched, the ledger INSERT, the balance UPDATE and the verdict",
        f"database: PostgreSQL on 127.0.0.1 (default durable settings: fsync on, synchronous_commit on; PanelPay and "
        f"the floor turn it off for their record statement's transaction only), fresh "
        f"database `{DB}`, {USERS} users, orders spread over them (each server its own copy); orders bulk-inserted "
        f"in {seeded:.1f} s, ANALYZE after",
        f"load: `bench.loadgen` (separate process, asyncio, {CONCURRENCY} keep-alive connections, closed loop); "
        f"signing {3 * (n + warm)} requests took {signed:.1f} s before the timed phase",
        "settled per second = ledger rows (PanelPay) / paid rows (ceiling, floor) created during the timed rounds ÷ "
        "the load generator's wall time; latency per request from first byte written to last byte read; with a "
        "closed loop at saturation, latency ≈ connections ÷ throughput, so the p99 ratio follows the throughput ratio",
        "CPU per notification: /proc utime+stime of the gunicorn process tree and of the PostgreSQL backends of "
        "the benchmark's database; 'other processes' = machine busy time not used by server, database or load "
        "generator (the machine is shared: other sessions' test suites run on it)",
    ]
    return {"name": "notify", "setup": setup, "tables": [main, database, breakdown, funcs, top],
            "figures": {"panelpay_rate": pp["rate"], "ceiling_rate": ce["rate"], "floor_rate": fl["rate"],
                        "rate_ratio": rate_ratio, "p99_ratio": p99_ratio, "statements": a["statements"]}}
