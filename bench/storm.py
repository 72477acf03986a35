"""``storm``: a notification storm. 10 orders, each order's (validly signed) notification delivered ~100
times, the copies mixed GET and POST and shuffled, from 32 concurrent connections, against the demo host
under gunicorn, on SQLite, PostgreSQL and MariaDB. Prints the credits (must be exactly 10: ledger rows and
the balances' sum), the answers by HTTP status, the delivery log's verdicts and the time taken.
"""
from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

from . import common as c

ORDERS = 10
USERS = 2  #: few users, so credits also contend on the balance rows
CONCURRENCY = 32
DATABASES = ("sqlite", "postgresql", "mariadb")


def _one(kind_db: str, deliveries: int, workdir: str, instance: str, wal: bool = True) -> dict:
    import sqlalchemy as sa

    from panelpay.models import Notification

    name = "bench_storm"
    port = c.free_port()
    site = f"http://127.0.0.1:{port}"
    notes = c.Notifications(c.sandbox_credentials(instance))
    with c.database(kind_db, name, workdir) as url:
        app = c.build_demo(url, instance, site)
        channels = c.setup_demo(app, users=USERS, gateway_base=site + "/payment/sandbox")
        with app.app_context():
            engine = app.extensions["panelpay"].state.engine
            if kind_db == "sqlite" and wal:
                # What a SQLite deployment under several processes needs; the demo host does not set it.
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            rows = c.order_rows("S", range(ORDERS), channels, USERS, site)
            c.insert_orders(engine, rows)
            expected = sum((r["credit"] for r in rows), Decimal("0.00"))
            requests = []
            host = f"127.0.0.1:{port}"
            per_order = deliveries // ORDERS
            for i in range(ORDERS):
                kind, params = notes.for_order(i, f"S{i:010d}")
                path = f"/payment/notify/{kind}/{channels[kind][1]}"
                for copy in range(per_order):
                    requests.append(c.raw_request("GET" if copy % 2 == 0 else "POST", path, params, host))
            random.Random(7).shuffle(requests)
            env = {"BENCH_DB_URL": url, "BENCH_INSTANCE": instance, "BENCH_SITE_URL": site}
            with c.gunicorn("bench.wsgi_panelpay:app", env, port=port, name=f"storm-{kind_db}",
                            probe="/api/me") as server:
                report = c.run_load(requests, port=port, concurrency=CONCURRENCY, name=f"storm-{kind_db}",
                                    server_pid=server.pid, db_name=name)
            ledger, credited = c.count_credits(engine)
            with engine.connect() as conn:
                balance = conn.execute(sa.select(sa.func.sum(app.User.balance))).scalar_one()
                verdicts = dict(conn.execute(sa.select(Notification.verdict, sa.func.count())
                                             .group_by(Notification.verdict)).all())
            engine.dispose()
    lat = [l for l, s in zip(report["latencies"], report["statuses"]) if s]
    return {
        "db": kind_db, "deliveries": len(requests), "ledger": ledger, "credited": credited,
        "balance": Decimal(balance or 0), "expected": expected, "answers": Counter(report["statuses"]),
        "bodies": report["bodies"], "errors": report["errors"], "verdicts": verdicts, "wall": report["wall"],
        "p50": c.percentile(lat, 50), "p99": c.percentile(lat, 99),
        "other": report["cpu_meter"]["other"] / report["cpu_meter"]["capacity"],
    }


def run(quick: bool = False) -> dict:
    import tempfile

    deliveries = 200 if quick else 1000
    instance = c.make_instance()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-storm-") as workdir:
            for kind_db in DATABASES:
                results.append(c.in_subprocess(_one, kind_db, deliveries, workdir, instance))
    finally:
        c.cleanup_instance(instance)
    fmt = lambda d: ", ".join(f"{k}: {v}" for k, v in sorted(d.items()))  # noqa: E731
    rows = []
    for r in results:
        ok = r["ledger"] == ORDERS and r["balance"] == r["expected"] == r["credited"]
        rows.append([
            r["db"], r["deliveries"], f"**{r['ledger']}**", f"{r['balance']:.2f} / {r['expected']:.2f}",
            "yes" if ok else "**NO**", fmt(r["answers"]), fmt(r["verdicts"]), f"{r['wall']:.2f}",
            f"{r['deliveries'] / r['wall']:.0f}", c.ms(r["p50"]), c.ms(r["p99"]), f"{r['other']:.0%}",
        ])
    bodies = [[r["db"], "; ".join(f"{s} {b!r}: {n}" for (s, b), n in sorted(r["bodies"].items())),
               fmt(r["errors"]) or "none"] for r in results]
    setup = [
        f"mode: {'quick' if quick else 'full'}; {ORDERS} orders ({ORDERS // 2} EPay MD5, {ORDERS // 2} Alipay RSA2) "
        f"over {USERS} users; each order's single signed notification delivered {deliveries // ORDERS} times, copies "
        f"alternately GET (parameters in the query) and POST (form body), all {deliveries} shuffled",
        f"server: demo host `bench.wsgi_panelpay:app` under {c.gunicorn_settings()}; a fresh database per run "
        "(SQLite: a file, WAL journal set by the benchmark; PostgreSQL and MariaDB on 127.0.0.1, default settings)",
        f"load: `bench.loadgen`, {CONCURRENCY} concurrent keep-alive connections, closed loop",
        "credits: ledger rows (must be 10) and the sum of the users' balances (must equal the sum of the 10 "
        "orders' credits); verdicts: the delivery log (panelpay_notifications) grouped by verdict",
    ]
    return {
        "name": "storm", "setup": setup,
        "tables": [
            {"title": "storm: 10 orders, ~100 deliveries each, 32 concurrent clients",
             "headers": ["database", "deliveries", "ledger rows", "balances / expected", "exactly once",
                         "answers by HTTP status", "delivery-log verdicts", "time (s)", "deliveries/s",
                         "p50 ms", "p99 ms", "other processes' CPU"],
             "rows": rows},
            {"title": "storm: answer bodies and client errors",
             "headers": ["database", "status 'body': count", "connection errors"], "rows": bodies},
        ],
        "figures": {r["db"]: r["ledger"] for r in results},
    }
