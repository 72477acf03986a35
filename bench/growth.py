"""``growth``: notify latency as the tables grow. The demo host under gunicorn on PostgreSQL; the history
(orders, their accepted notifications and their ledger rows) is bulk-loaded with COPY to 1 thousand,
100 thousand and 1 million of each (``--quick``: 1k, 10k, 50k), and at each size a few hundred fresh
notifications for fresh pending orders are sent one at a time. Prints the p50 at each size and the ratio
of the largest size's p50 to the smallest's.
"""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from . import common as c

DB = "bench_growth"
REF_DB = "bench_growth_ref"
USERS = 1000


def _sizes(quick: bool) -> dict:
    if quick:
        return {"sizes": (1_000, 10_000, 50_000), "fresh": 100, "warm": 10}
    return {"sizes": (1_000, 100_000, 1_000_000), "fresh": 300, "warm": 30}


_ORDER_COLUMNS = ("id", "trade_no", "user_id", "channel_id", "amount", "fee", "total", "credit", "status",
                  "gateway_trade_no", "notify_url", "pay", "subject", "client_ip", "created_at", "expires_at",
                  "paid_at", "paid_late", "settled_by")
_NOTIFICATION_COLUMNS = ("kind", "channel_uuid", "method", "query_string", "body", "content_type", "source_ip",
                         "received_at", "trade_no", "order_id", "verdict", "outcome", "answer_status", "answer_body")
_LEDGER_COLUMNS = ("order_id", "user_id", "channel_id", "credit", "units", "gateway_trade_no", "source", "created_at")


def _load_history(engine, start: int, stop: int, channels: dict, site: str) -> float:
    """COPY orders ``start+1 .. stop`` (paid), one accepted notification and one ledger row for each."""
    began = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    epoch = now - dt.timedelta(days=365)
    span = 365 * 86400 - 3600
    epay_query = ("pid=1001&trade_no={g}&out_trade_no={t}&type=alipay&name=Top-up+{a}&money={a}"
                  "&trade_status=TRADE_SUCCESS&sign=0123456789abcdef0123456789abcdef&sign_type=MD5")
    alipay_body = ("notify_time=2026-01-01+00%3A00%3A00&notify_type=trade_status_sync&notify_id=" + "0" * 32
                   + "&app_id=2021000000000000&charset=utf-8&version=1.0&trade_no={g}&out_trade_no={t}"
                   "&buyer_id=2088102177846880&seller_id=2088000000000000&trade_status=TRADE_SUCCESS"
                   "&total_amount={a}&receipt_amount={a}&buyer_pay_amount={a}&subject=Top-up+{a}"
                   "&sign_type=RSA2&sign=" + "A" * 344)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            with cur.copy(f"COPY panelpay_orders ({', '.join(_ORDER_COLUMNS)}) FROM STDIN") as copy:
                for j in range(start + 1, stop + 1):
                    kind = "epay" if j % 2 == 0 else "alipay"
                    channel_id, uuid = channels[kind]
                    total = c.total_for(j)
                    created = epoch + dt.timedelta(seconds=(j * 7919) % span)
                    copy.write_row((j, f"H{j:012d}", str(1 + j % USERS), channel_id, total, Decimal("0.00"), total,
                                    total, "paid", f"G{j:015d}", f"{site}/payment/notify/{kind}/{uuid}", "{}",
                                    f"Top-up {total}", "127.0.0.1", created, created + dt.timedelta(minutes=30),
                                    created + dt.timedelta(seconds=40), False, "notify"))
            with cur.copy(f"COPY panelpay_notifications ({', '.join(_NOTIFICATION_COLUMNS)}) FROM STDIN") as copy:
                for j in range(start + 1, stop + 1):
                    kind = "epay" if j % 2 == 0 else "alipay"
                    total = c.total_for(j)
                    at = epoch + dt.timedelta(seconds=(j * 7919) % span + 40)
                    fields = {"g": f"G{j:015d}", "t": f"H{j:012d}", "a": f"{total}"}
                    if kind == "epay":
                        query, body, method, ctype = epay_query.format(**fields).encode(), b"", "GET", ""
                    else:
                        query, body, method, ctype = (b"", alipay_body.format(**fields).encode(), "POST",
                                                      "application/x-www-form-urlencoded; charset=utf-8")
                    copy.write_row((kind, channels[kind][1], method, query, body, ctype, "127.0.0.1", at,
                                    f"H{j:012d}", j, "accepted", "credited", 200, "success"))
            with cur.copy(f"COPY panelpay_ledger ({', '.join(_LEDGER_COLUMNS)}) FROM STDIN") as copy:
                for j in range(start + 1, stop + 1):
                    kind = "epay" if j % 2 == 0 else "alipay"
                    at = epoch + dt.timedelta(seconds=(j * 7919) % span + 40)
                    copy.write_row((j, str(1 + j % USERS), channels[kind][0], c.total_for(j), None,
                                    f"G{j:015d}", "notify", at))
        conn.commit()
    finally:
        raw.close()
    loaded = time.perf_counter() - began
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE panelpay_orders, panelpay_notifications, panelpay_ledger")
        # Write the bulk load's dirty pages out now, so that its checkpoint does not land in the measurement.
        conn.exec_driver_sql("CHECKPOINT")
    return loaded


def _sizes_on_disk(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "WHERE relname IN ('panelpay_orders', 'panelpay_notifications', 'panelpay_ledger')").all()
    return {name: (count, size) for name, count, size in rows}


def _setup(url: str, instance: str, site: str) -> dict:
    """Tables, users and channels of one database (in a subprocess: the demo host is built once per process)."""
    app = c.build_demo(url, instance, site)
    channels = c.setup_demo(app, users=USERS, gateway_base=site + "/payment/sandbox")
    with app.app_context():
        app.extensions["panelpay"].state.engine.dispose()
    return channels


class _Target:
    """One demo host on one database: the growing one, or the reference that stays at the smallest size."""

    def __init__(self, name: str, url: str, channels: dict, port: int):
        import sqlalchemy as sa

        self.name, self.url, self.channels, self.port = name, url, channels, port
        self.site, self.host = f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"
        self.engine = sa.create_engine(url)

    def fresh(self, notes, stage: int, count: int) -> list[bytes]:
        """``count`` fresh pending orders and their signed notifications."""
        with self.engine.begin() as conn:
            # Fresh orders take ids far above the history's, so later COPYs never collide with them.
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('panelpay_orders', 'id'), "
                                 f"{100_000_000 + stage * 100_000})")
        first = 10_000_000 + stage * 100_000
        c.insert_orders(self.engine, c.order_rows("F", range(first, first + count), self.channels, USERS, self.site))
        out = []
        for i in range(first, first + count):
            kind, params = notes.for_order(i, f"F{i:010d}")
            path = f"/payment/notify/{kind}/{self.channels[kind][1]}"
            out.append(c.raw_request("GET" if kind == "epay" else "POST", path, params, self.host))
        return out


def _measure(target: _Target, batches: list[list[bytes]], server, db_name: str) -> dict:
    lat, cpu_app, cpu_db, other, capacity, credited = [], 0.0, 0.0, 0.0, 0.0, 0
    before = c.count_credits(target.engine)[0]
    for batch in batches:
        report = c.run_load(batch, port=target.port, concurrency=1, name=f"growth-{target.name}",
                            server_pid=server.pid, db_name=db_name)
        lat += [l for l, st in zip(report["latencies"], report["statuses"]) if st == 200]
        meter = report["cpu_meter"]
        cpu_app, cpu_db, other, capacity = (cpu_app + meter["server"], cpu_db + meter["db"],
                                            other + meter["other"], capacity + meter["capacity"])
    credited = c.count_credits(target.engine)[0] - before
    return {"p50": c.percentile(lat, 50), "p90": c.percentile(lat, 90), "p99": c.percentile(lat, 99),
            "mean": sum(lat) / len(lat) if lat else float("nan"), "credited": credited,
            "sent": sum(len(b) for b in batches), "server_cpu": cpu_app / max(credited, 1),
            "db_cpu": cpu_db / max(credited, 1), "other": other / capacity if capacity else 0.0}


def run(quick: bool = False) -> dict:
    sizes = _sizes(quick)
    instance = c.make_instance()
    notes = c.Notifications(c.sandbox_credentials(instance))
    stages = []
    rounds = 5
    try:
        with c.database("postgresql", DB) as url, c.database("postgresql", REF_DB) as ref_url:
            grow = _Target("growing", url, {}, c.free_port())
            ref = _Target("reference", ref_url, {}, c.free_port())
            for target in (grow, ref):
                target.channels = c.in_subprocess(_setup, target.url, instance, target.site)
            _load_history(ref.engine, 0, sizes["sizes"][0], ref.channels, ref.site)
            servers = {}
            with c.gunicorn("bench.wsgi_panelpay:app", {"BENCH_DB_URL": url, "BENCH_INSTANCE": instance,
                                                        "BENCH_SITE_URL": grow.site},
                            port=grow.port, name="growth", probe="/api/me") as servers["growing"], \
                    c.gunicorn("bench.wsgi_panelpay:app", {"BENCH_DB_URL": ref_url, "BENCH_INSTANCE": instance,
                                                           "BENCH_SITE_URL": ref.site},
                               port=ref.port, name="growth-ref", probe="/api/me") as servers["reference"]:
                loaded = 0
                for stage, size in enumerate(sizes["sizes"]):
                    load_seconds = _load_history(grow.engine, loaded, size, grow.channels, grow.site)
                    loaded = size
                    count = sizes["warm"] + sizes["fresh"]
                    requests = {t.name: t.fresh(notes, stage, count) for t in (grow, ref)}
                    on_disk = _sizes_on_disk(grow.engine)
                    for t in (grow, ref):
                        c.run_load(requests[t.name][:sizes["warm"]], port=t.port, concurrency=1,
                                   name=f"growth-{t.name}-warm")
                    # Interleaved batches, growing and reference alternately: a drift in the machine's speed
                    # (it is shared) hits both alike, and the ratio of their p50s cancels it.
                    step = sizes["fresh"] // rounds
                    split = {t.name: [requests[t.name][sizes["warm"] + k * step: sizes["warm"] + (k + 1) * step]
                                      for k in range(rounds)] for t in (grow, ref)}
                    measured = {}
                    parts = {"growing": [], "reference": []}
                    for k in range(rounds):
                        for t, db_name in ((grow, DB), (ref, REF_DB)):
                            parts[t.name].append(_measure(t, [split[t.name][k]], servers[t.name], db_name))
                    for name, got in parts.items():
                        measured[name] = _pool(got)
                    stages.append({"size": size, "load": load_seconds, "on_disk": on_disk, **measured})
            for t in (grow, ref):
                t.engine.dispose()
    finally:
        c.cleanup_instance(instance)
    return _report(quick, sizes, rounds, stages)


def _pool(parts: list[dict]) -> dict:
    """Figures of several batches measured apart, pooled (latencies are not kept per request across
    batches, so p50 is the median of the batch p50s and CPU is the sum over the batches)."""
    import statistics

    credited = sum(p["credited"] for p in parts)
    return {"p50": statistics.median(p["p50"] for p in parts), "p50s": [p["p50"] for p in parts],
            "p99": max(p["p99"] for p in parts), "mean": statistics.fmean(p["mean"] for p in parts),
            "credited": credited, "sent": sum(p["sent"] for p in parts),
            "server_cpu": sum(p["server_cpu"] * p["credited"] for p in parts) / max(credited, 1),
            "db_cpu": sum(p["db_cpu"] * p["credited"] for p in parts) / max(credited, 1),
            "other": statistics.fmean(p["other"] for p in parts)}


def _report(quick: bool, sizes: dict, rounds: int, stages: list[dict]) -> dict:
    smallest, largest = stages[0], stages[-1]
    raw_ratio = largest["growing"]["p50"] / smallest["growing"]["p50"]
    rel = [s["growing"]["p50"] / s["reference"]["p50"] for s in stages]
    corrected = rel[-1] / rel[0]
    cpu = [(s["growing"]["server_cpu"] + s["growing"]["db_cpu"]) / (s["reference"]["server_cpu"] + s["reference"]["db_cpu"])
           for s in stages]
    rows = []
    for s, r, cr in zip(stages, rel, cpu):
        g, ref = s["growing"], s["reference"]
        orders_n, orders_size = s["on_disk"].get("panelpay_orders", (0, 0))
        notes_n, notes_size = s["on_disk"].get("panelpay_notifications", (0, 0))
        ledger_n, ledger_size = s["on_disk"].get("panelpay_ledger", (0, 0))
        rows.append([f"{s['size']:,}", f"{orders_n:,} / {notes_n:,} / {ledger_n:,}",
                     f"{orders_size / 2**20:.0f} / {notes_size / 2**20:.0f} / {ledger_size / 2**20:.0f}",
                     f"{s['load']:.1f}", f"{g['credited']} of {g['sent']}", f"**{c.ms(g['p50'])}**",
                     ", ".join(c.ms(v) for v in g["p50s"]), c.ms(g["p99"]),
                     f"{c.ms(g['server_cpu'])} / {c.ms(g['db_cpu'])}", c.ms(ref["p50"]),
                     f"{c.ms(ref['server_cpu'])} / {c.ms(ref['db_cpu'])}", f"**{r:.2f}**", f"{cr:.2f}",
                     f"{g['other']:.0%}"])
    rows.append(["**largest ÷ smallest**", "", "", "", "", f"**{raw_ratio:.2f}**", "", "", "", "", "",
                 f"**{corrected:.2f}**", f"{cpu[-1] / cpu[0]:.2f}", "target ≤ 1.2"])
    setup = [
        f"mode: {'quick' if quick else 'full'}; sizes {', '.join(f'{n:,}' for n in sizes['sizes'])} of history: "
        "paid orders (half EPay, half Alipay, created over the past year) each with one accepted notification "
        "(realistic query/body bytes) and one ledger row, bulk-loaded with COPY (psycopg `copy.write_row`), then "
        "VACUUM ANALYZE of the three tables and a CHECKPOINT (so the load's own checkpoint does not fall in the "
        "measurement)",
        f"at each size: {sizes['fresh']} fresh pending orders, each sent its one signed notification (EPay GET / "
        f"Alipay POST alternately), one at a time (concurrency 1, keep-alive), after {sizes['warm']} warm-up ones, in "
        f"{rounds} batches",
        f"reference: a second demo host on its own database (`{REF_DB}`) that keeps {sizes['sizes'][0]:,} rows of history, "
        "measured the same way in batches alternating with the growing one's; 'growing ÷ reference' cancels drifts "
        "of the shared machine's speed (which moves p50 by ±20 % from one batch to the next even at a constant "
        "size); at the smallest size it should be about 1",
        f"servers: demo host `bench.wsgi_panelpay:app` under {c.gunicorn_settings()} each, PostgreSQL on 127.0.0.1",
        "latency per request from first byte written to last byte read by `bench.loadgen` (separate process); "
        "p50 of a size = median of its batch p50s; CPU per notification from /proc (gunicorn tree; PostgreSQL "
        "backends of the database)",
    ]
    return {"name": "growth", "setup": setup,
            "tables": [{"title": "growth: notify latency against table size (PostgreSQL)",
                        "headers": ["history rows", "rows orders / notifications / ledger", "MiB on disk (same)",
                                    "load s", "credited", "p50 ms", "batch p50s ms", "p99 ms",
                                    "CPU ms per notification: app / db", "reference p50 ms",
                                    "reference CPU app / db", "p50 growing ÷ reference", "CPU growing ÷ reference",
                                    "other processes' CPU"],
                        "rows": rows}],
            "figures": {"p50": [s["growing"]["p50"] for s in stages], "ratio": raw_ratio, "corrected": corrected}}
