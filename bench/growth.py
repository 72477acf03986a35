"""``growth``: notify latency as the tables grow. The demo host under gunicorn on PostgreSQL; history (paid
orders, each with its accepted notification and its ledger row) is bulk-loaded with COPY up to 1 thousand,
100 thousand and 1 million of each (``--quick``: 1k, 10k, 50k), and at each size fresh pending orders are
sent their one signed notification, one at a time. A second demo host whose history stays at the smallest
size is measured in batches alternating with the growing one's, so the ratio of their p50s cancels the
shared machine's drift.
"""
from __future__ import annotations

import datetime as dt
import statistics
import time
from decimal import Decimal

from . import common as c

USERS = 1000
BATCHES = 5


def _sizes(quick: bool) -> dict:
    if quick:
        return {"sizes": (1_000, 10_000, 50_000), "fresh": 100, "warm": 10}
    return {"sizes": (1_000, 100_000, 1_000_000), "fresh": 300, "warm": 30}


def _load_history(eng, count: int, channels: dict, site: str) -> float:
    """COPY ``count`` paid orders (after the ids already there), one accepted notification and one ledger row
    each, then VACUUM ANALYZE and a CHECKPOINT (so that the load's own does not fall in the measurement)."""
    began = time.perf_counter()
    epoch = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=365)
    raw = eng.raw_connection()
    try:
        conn = raw.driver_connection
        base = conn.execute("SELECT coalesce(max(id), 0) FROM panelpay_orders").fetchone()[0]
        ids = range(base + 1, base + count + 1)

        def copy(table: str, columns: str, row) -> None:
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as out:
                for j in ids:
                    kind = c.kind_for(j)
                    at = epoch + dt.timedelta(seconds=(j * 7919) % (365 * 86400 - 3600))
                    out.write_row(row(j, kind, channels[kind], c.total_for(j), at))

        copy("panelpay_orders", "id, trade_no, user_id, channel_id, amount, fee, total, credit, status, "
             "gateway_trade_no, notify_url, pay, subject, client_ip, created_at, expires_at, paid_at, paid_late, "
             "settled_by",
             lambda j, kind, ch, total, at: (j, f"H{j:012d}", str(1 + j % USERS), ch[0], total, Decimal("0.00"),
                                             total, total, "paid", f"G{j:015d}",
                                             f"{site}/payment/notify/{kind}/{ch[1]}", "{}", f"Top-up {total}",
                                             "127.0.0.1", at, at + dt.timedelta(minutes=30),
                                             at + dt.timedelta(seconds=40), False, "notify"))
        copy("panelpay_notifications", "kind, channel_uuid, method, query_string, body, content_type, source_ip, "
             "received_at, trade_no, order_id, verdict, outcome, answer_status, answer_body",
             lambda j, kind, ch, total, at: (kind, ch[1], *_raw(kind, j, total), "127.0.0.1", at,
                                             f"H{j:012d}", j, "accepted", "credited", 200, "success"))
        copy("panelpay_ledger", "order_id, user_id, channel_id, credit, gateway_trade_no, source, created_at",
             lambda j, kind, ch, total, at: (j, str(1 + j % USERS), ch[0], total, f"G{j:015d}", "notify", at))
        conn.execute("SELECT setval(pg_get_serial_sequence('panelpay_orders', 'id'), %s)", (base + count,))
        conn.commit()
    finally:
        raw.close()
    loaded = time.perf_counter() - began
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE panelpay_orders, panelpay_notifications, panelpay_ledger")
        conn.exec_driver_sql("CHECKPOINT")
    return loaded


def _raw(kind: str, j: int, total) -> tuple:
    """(method, query, body, content type) of a stored notification, of realistic size."""
    fields = f"trade_no=G{j:015d}&out_trade_no=H{j:012d}&total_amount={total}&subject=Top-up+{total}"
    if kind == "epay":
        query = f"pid=1001&type=alipay&{fields}&trade_status=TRADE_SUCCESS&sign={'0' * 32}&sign_type=MD5"
        return "GET", query.encode(), b"", ""
    body = (f"notify_time=2026-01-01+00%3A00%3A00&notify_type=trade_status_sync&notify_id={'0' * 32}&app_id="
            f"2021000000000000&charset=utf-8&version=1.0&{fields}&buyer_id=2088102177846880&seller_id="
            f"2088000000000000&trade_status=TRADE_SUCCESS&sign_type=RSA2&sign={'A' * 344}")
    return "POST", b"", body.encode(), "application/x-www-form-urlencoded; charset=utf-8"


def _measure(target: dict, requests: list[bytes], server) -> dict:
    before = c.credits(target["engine"])
    report = c.run_load(requests, port=target["port"], concurrency=1, name=f"growth-{target['db']}",
                        server_pid=server.pid, db_name=target["db"])
    credited = c.credits(target["engine"]) - before
    lat = [l for l, s in zip(report["latencies"], report["statuses"]) if s == 200]
    return {"p50": c.percentile(lat, 50), "p99": c.percentile(lat, 99), "credited": credited,
            "app": report["cpu"]["server"], "db": report["cpu"]["db"],
            "other": report["cpu"]["other"] / report["cpu"]["capacity"]}


def _pool(parts: list[dict]) -> dict:
    credited = sum(p["credited"] for p in parts)
    return {"p50": statistics.median(p["p50"] for p in parts), "p50s": [p["p50"] for p in parts],
            "p99": max(p["p99"] for p in parts), "credited": credited,
            "app": sum(p["app"] for p in parts) / max(credited, 1),
            "db": sum(p["db"] for p in parts) / max(credited, 1),
            "other": statistics.fmean(p["other"] for p in parts)}


def run(quick: bool = False) -> dict:
    sizes = _sizes(quick)
    count = sizes["warm"] + sizes["fresh"]
    instance, stages = c.make_instance(), []
    signer = c.Signer(instance)
    try:
        with c.database("postgresql", "bench_growth", instance) as url, \
                c.database("postgresql", "bench_growth_ref", instance) as ref_url:
            targets = []
            for db, db_url in (("bench_growth", url), ("bench_growth_ref", ref_url)):
                port = c.free_port()
                site = f"http://127.0.0.1:{port}"
                app, channels = c.demo(db_url, instance, site, users=USERS)
                targets.append({"db": db, "url": db_url, "port": port, "site": site, "channels": channels,
                                "engine": c.engine(db_url)})
            grow, ref = targets
            _load_history(ref["engine"], sizes["sizes"][0], ref["channels"], ref["site"])
            with c.gunicorn("bench.wsgi_panelpay:app", c.demo_env(url, instance, grow["site"]), port=grow["port"],
                            name="growth") as grow_server, \
                    c.gunicorn("bench.wsgi_panelpay:app", c.demo_env(ref_url, instance, ref["site"]),
                               port=ref["port"], name="growth-ref") as ref_server:
                servers, loaded = {"bench_growth": grow_server, "bench_growth_ref": ref_server}, 0
                for stage, size in enumerate(sizes["sizes"]):
                    load_seconds = _load_history(grow["engine"], size - loaded, grow["channels"], grow["site"])
                    loaded = size
                    requests = {}
                    for t in targets:
                        first = 10_000_000 + stage * 100_000
                        c.insert_orders(t["engine"], "F", range(first, first + count), t["channels"], USERS, t["site"])
                        requests[t["db"]] = [
                            signer.request(i, f"F{i:010d}", t["site"][7:],
                                           f"/payment/notify/{c.kind_for(i)}/{t['channels'][c.kind_for(i)][1]}")
                            for i in range(first, first + count)]
                        c.run_load(requests[t["db"]][:sizes["warm"]], port=t["port"], concurrency=1,
                                   name=f"growth-{t['db']}-warm")
                    step, parts = sizes["fresh"] // BATCHES, {t["db"]: [] for t in targets}
                    for k in range(BATCHES):  # interleaved: a drift of the machine's speed hits both alike
                        for t in targets:
                            batch = requests[t["db"]][sizes["warm"] + k * step: sizes["warm"] + (k + 1) * step]
                            parts[t["db"]].append(_measure(t, batch, servers[t["db"]]))
                    stages.append({"size": size, "load": load_seconds, "grow": _pool(parts["bench_growth"]),
                                   "ref": _pool(parts["bench_growth_ref"])})
            for t in targets:
                t["engine"].dispose()
    finally:
        c.remove(instance)
    return _report(quick, sizes, stages)


def _report(quick: bool, sizes: dict, stages: list[dict]) -> dict:
    rel = [s["grow"]["p50"] / s["ref"]["p50"] for s in stages]
    rows = [[f"{s['size']:,}", f"{s['load']:.1f}", f"{s['grow']['credited']} of {sizes['fresh']}",
             f"**{c.ms(s['grow']['p50'])}**", ", ".join(c.ms(v) for v in s["grow"]["p50s"]), c.ms(s["grow"]["p99"]),
             f"{c.ms(s['grow']['app'])} / {c.ms(s['grow']['db'])}", c.ms(s["ref"]["p50"]), f"**{r:.2f}**",
             f"{s['grow']['other']:.0%}"] for s, r in zip(stages, rel)]
    rows.append(["**largest ÷ smallest**", "", "", f"**{stages[-1]['grow']['p50'] / stages[0]['grow']['p50']:.2f}**",
                 "", "", "", "", f"**{rel[-1] / rel[0]:.2f}**", "target ≤ 1.2"])
    setup = [
        f"mode: {'quick' if quick else 'full'}; history of {', '.join(f'{n:,}' for n in sizes['sizes'])} paid orders "
        "(half EPay, half Alipay, created over the past year), each with one accepted notification of realistic "
        "size and one ledger row, bulk-loaded with COPY, then VACUUM ANALYZE and a CHECKPOINT",
        f"at each size: {sizes['fresh']} fresh pending orders each sent its one signed notification (EPay by GET, "
        f"Alipay by POST), one at a time (concurrency 1, keep-alive), after {sizes['warm']} warm-up ones, in "
        f"{BATCHES} batches alternating with the reference's",
        f"reference: a second demo host on its own database whose history stays at {sizes['sizes'][0]:,} rows; "
        "'growing ÷ reference' cancels the shared machine's drift; at the smallest size it should be about 1",
        f"servers: the demo host (`bench.wsgi_panelpay:app`) under {c.GUNICORN}, PostgreSQL on 127.0.0.1",
        "p50 of a size = median of its batch p50s; latency from first byte written to last byte read by "
        "`bench.loadgen`; CPU per notification from /proc (gunicorn tree; the database's PostgreSQL backends)",
    ]
    return {"name": "growth", "setup": setup, "tables": [{
        "title": "growth: notify latency against table size (PostgreSQL)",
        "headers": ["history rows", "load s", "credited", "p50 ms", "batch p50s ms", "p99 ms",
                    "CPU ms per notification: app / db", "reference p50 ms", "p50 growing ÷ reference",
                    "other processes' CPU"],
        "rows": rows}]}
