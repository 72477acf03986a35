"""``storm``: 10 orders, each one's validly signed notification delivered ~100 times (copies alternately GET
and POST, all shuffled) from 32 concurrent connections to the demo host under gunicorn, on SQLite,
PostgreSQL and MariaDB. Credits must be exactly 10: ledger rows, and the users' balances summing to the
10 orders' credits.
"""
from __future__ import annotations

import random
import tempfile
from collections import Counter
from decimal import Decimal

from . import common as c

ORDERS = 10
USERS = 2  #: the demo's admin and alice: credits also contend on the balance rows
CONCURRENCY = 32
DATABASES = ("sqlite", "postgresql", "mariadb")


def _one(kind_db: str, deliveries: int, workdir: str, instance: str) -> dict:
    """One database, in a process of its own."""
    import sqlalchemy as sa

    from panelpay.models import Notification

    port = c.free_port()
    host, site = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    signer = c.Signer(instance)
    with c.database(kind_db, "bench_storm", workdir) as url:
        app, channels = c.demo(url, instance, site, users=USERS)
        eng = c.engine(url)
        if kind_db == "sqlite":  # what SQLite under several processes needs; the demo host does not set it
            with eng.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        rows = c.insert_orders(eng, "S", range(ORDERS), channels, USERS, site)
        requests = []
        for i in range(ORDERS):
            kind = c.kind_for(i)
            one = {m: signer.request(i, f"S{i:010d}", host, f"/payment/notify/{kind}/{channels[kind][1]}", m)
                   for m in ("GET", "POST")}
            requests += [one["GET" if copy % 2 == 0 else "POST"] for copy in range(deliveries // ORDERS)]
        random.Random(7).shuffle(requests)
        with c.gunicorn("bench.wsgi_panelpay:app", c.demo_env(url, instance, site), port=port,
                        name=f"storm-{kind_db}") as server:
            report = c.run_load(requests, port=port, concurrency=CONCURRENCY, name=f"storm-{kind_db}",
                                server_pid=server.pid, db_name="bench_storm")
        with eng.connect() as conn:
            balance = conn.execute(sa.select(sa.func.sum(app.User.balance))).scalar_one()
            verdicts = dict(conn.execute(sa.select(Notification.verdict, sa.func.count())
                                         .group_by(Notification.verdict)).all())
        ledger = c.credits(eng)
        eng.dispose()
    lat = [l for l, s in zip(report["latencies"], report["statuses"]) if s]
    return {"db": kind_db, "deliveries": len(requests), "ledger": ledger, "balance": Decimal(balance or 0),
            "expected": sum((r["credit"] for r in rows), Decimal("0.00")), "answers": Counter(report["statuses"]),
            "bodies": report["bodies"], "errors": report["errors"], "verdicts": verdicts, "wall": report["wall"],
            "p50": c.percentile(lat, 50), "p99": c.percentile(lat, 99),
            "other": report["cpu"]["other"] / report["cpu"]["capacity"]}


def run(quick: bool = False) -> dict:
    deliveries = 200 if quick else 1000
    instance = c.make_instance()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-storm-") as workdir:
            results = [c.in_subprocess(_one, kind_db, deliveries, workdir, instance) for kind_db in DATABASES]
    finally:
        c.remove(instance)
    fmt = lambda d: ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) or "none"  # noqa: E731
    rows = [[r["db"], r["deliveries"], f"**{r['ledger']}**", f"{r['balance']:.2f} / {r['expected']:.2f}",
             "yes" if r["ledger"] == ORDERS and r["balance"] == r["expected"] else "**NO**",
             fmt(r["answers"]), "; ".join(f"{s} {b!r}: {n}" for (s, b), n in sorted(r["bodies"].items())),
             fmt(r["errors"]), fmt(r["verdicts"]), f"{r['wall']:.2f}", c.ms(r["p50"]), c.ms(r["p99"]),
             f"{r['other']:.0%}"] for r in results]
    setup = [
        f"mode: {'quick' if quick else 'full'}; {ORDERS} orders (half EPay MD5, half Alipay RSA2) over the demo's "
        f"{USERS} users; each order's one signed notification delivered {deliveries // ORDERS} times, copies "
        f"alternately GET (parameters in the query) and POST (form body), all {deliveries} shuffled",
        f"server: the demo host (`bench.wsgi_panelpay:app`) under {c.GUNICORN}; a fresh database each (SQLite: a "
        "file in WAL mode; PostgreSQL and MariaDB on 127.0.0.1, default settings)",
        f"load: `bench.loadgen`, {CONCURRENCY} concurrent keep-alive connections, closed loop",
        "exactly once: ledger rows = 10 and the users' balances sum to the 10 orders' credits; verdicts: the "
        "delivery log (`panelpay_notifications`) grouped by verdict",
    ]
    return {"name": "storm", "setup": setup, "tables": [{
        "title": f"storm: {ORDERS} orders, {deliveries // ORDERS} deliveries each, {CONCURRENCY} concurrent clients",
        "headers": ["database", "deliveries", "ledger rows", "balances / expected", "exactly once",
                    "answers by HTTP status", "answer bodies", "connection errors", "delivery-log verdicts",
                    "time (s)", "p50 ms", "p99 ms", "other processes' CPU"],
        "rows": rows}]}
