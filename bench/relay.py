"""``relay``: gateway mode's second leg. From an upstream notification's arrival to the panel's notification,
on loopback: p50 and p99 latency; and deliveries per second with 1,000 settled relay orders waiting.

Everything goes through PanelPay's public surface. The demo host is served by gunicorn on PostgreSQL, as in
``notify``; a merchant is created through ``/payment/admin/api/merchants`` (as the admin, logged in); every relay
order is created by a signed ``GET /submit.php`` on the demo's sandbox EPay channel (MD5, ``api=submit``: no
gateway call); every upstream notification is signed as the sandbox EPay gateway signs it and sent to the
channel's notify URL. The panel is ``bench.panel_standin`` (a process of its own: answers ``success``,
timestamps each arrival with CLOCK_MONOTONIC, checks the signature with the merchant's key).

1. **Latency**: notifications one at a time (send, wait for the panel's arrival, next), then in batches of
   :data:`BATCH` sent at once from as many connections. Latency = the panel's arrival − the moment the upstream
   notification was written; the in-app deliverer (woken by ``settle()``) makes the call.
2. **Throughput**: 2 × N relay orders settled through the notify path while the panel is down (the in-app
   deliverer's attempt is refused, the next one is scheduled); gunicorn stopped (no in-app deliverer left);
   the panel up again; one set made due (``next_attempt_at`` in the past, the other kept for later), then
   drained by ``panelpay.delivery.run(state)`` (what ``flask panelpay deliver`` runs) in pass after pass, in
   one process, then the other set by two processes at once. Deliveries per second, passes, and exactly N
   arrivals at the panel, none twice.
"""
from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from . import common as c
from .panel_standin import NOTIFY_PATH  # the stand-in's notify route (Xboard's shape)

DB = "bench_relay"
WAITING = ("A", "B", "D")  #: the sets of waiting orders: one process, two processes, the in-app deliverer
BATCH = 8  #: notifications sent at once in the concurrent latency rounds
WAIT = 60  #: seconds to wait for the panel's notification before giving up


def _sizes(quick: bool) -> dict:
    if quick:
        return {"warm": 8, "serial": 40, "batches": 5, "waiting": 100}
    return {"warm": 24, "serial": 300, "batches": 40, "waiting": 1000}


# -- the panel stand-in -------------------------------------------------------------------------------

def _panel(port: int, key: str, name: str):
    return c.process([c.PY, "-m", "bench.panel_standin", "--port", str(port)], name, port=port,
                     probe="/_bench/ping", env={"BENCH_PANEL_KEY": key})


def _get_json(port: int, path: str, timeout: float = 120.0) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


# -- PanelPay's side, through HTTP ----------------------------------------------------------------------

def _merchant(site: str, panel_host: str, epay_uuid: str) -> dict:
    """The merchant, created by the admin through the admin API (its key is in this one answer)."""
    import requests

    admin = requests.Session()
    answer = admin.post(f"{site}/login", json={"username": "admin", "password": "admin"})
    answer.raise_for_status()
    answer = admin.post(f"{site}/payment/admin/api/merchants", json={
        "name": "Bench panel", "notify_hosts": [panel_host], "channels": [epay_uuid]})
    if answer.status_code != 201:
        raise RuntimeError(f"creating the merchant: {answer.status_code} {answer.text[:300]}")
    return answer.json()


def _money(i: int) -> str:
    """The amount of order i as a PHP panel prints a float (``10``, ``9.9``, ``123.45``)."""
    return format(float(c.total_for(i)), ".14G")


def _submit_query(merchant: dict, panel_base: str, out_trade_no: str, i: int) -> str:
    from panelpay.channels.signing import epay_md5

    params = {"pid": merchant["pid"], "type": "alipay", "out_trade_no": out_trade_no,
              "notify_url": panel_base + NOTIFY_PATH, "name": f"Plan {out_trade_no}", "money": _money(i)}
    params["sign"] = epay_md5(params, merchant["key"])
    params["sign_type"] = "MD5"
    return urlencode(params)


def _submit_all(port: int, merchant: dict, panel_base: str, names: list[tuple[str, int]]) -> None:
    """``GET /submit.php`` for every (out_trade_no, i), from 4 keep-alive connections; each must redirect to
    the cashier (a relay order made on the EPay channel)."""
    def some(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for out_trade_no, i in chunk:
            conn.request("GET", "/submit.php?" + _submit_query(merchant, panel_base, out_trade_no, i))
            answer = conn.getresponse()
            body = answer.read()
            if answer.status != 302 or "/epay/pay/" not in (answer.getheader("Location") or ""):
                raise RuntimeError(f"submit {out_trade_no}: {answer.status} {body[:300]!r}")
        conn.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(some, [names[k::4] for k in range(4)]))


def _orders(eng, merchant_pid: str) -> dict[str, tuple[str, object]]:
    """out_trade_no → (PanelPay's trade_no, total) of the merchant's relay orders."""
    import sqlalchemy as sa

    from panelpay.models import Merchant, Order

    with eng.connect() as conn:
        rows = conn.execute(sa.select(Order.out_trade_no, Order.trade_no, Order.total)
                            .join(Merchant, Merchant.id == Order.merchant_id).where(Merchant.pid == merchant_pid)).all()
    return {o: (t, total) for o, t, total in rows}


def _upstream_query(instance: str, trade_no: str, total, k: int) -> str:
    """The upstream notification's query, signed as the sandbox EPay gateway signs it (MD5 with the key it
    issued to PanelPay's channel; ``money`` as PHP prints a float); ``k``: the gateway's own trade number."""
    from panelpay.channels.signing import epay_md5
    from panelpay.sandbox import Sandbox

    params = {"pid": Sandbox.EPAY_PID, "trade_no": f"2026{k:016d}", "out_trade_no": trade_no, "type": "alipay",
              "name": f"Plan {trade_no}", "money": format(float(total), ".14G"), "trade_status": "TRADE_SUCCESS"}
    params["sign"] = epay_md5(params, c.credentials(instance).epay_key)
    params["sign_type"] = "MD5"
    return urlencode(params)


# -- 1. latency -----------------------------------------------------------------------------------------

def _latency(port: int, panel_port: int, epay_uuid: str, notes: list[tuple[str, str]], batch: int) -> dict:
    """Send ``notes`` ((out_trade_no, upstream query)) in groups of ``batch`` at once (1: one at a time), each
    group after the panel has had every notification of the one before. Per note: when it was written, when
    PanelPay answered it, its answer."""
    path = f"/payment/notify/epay/{epay_uuid}?"
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(batch)]
    sent: dict[str, dict] = {}

    def send(k: int, out_trade_no: str, query: str) -> None:
        conn = conns[k]
        t0 = time.monotonic()
        conn.request("GET", path + query)
        answer = conn.getresponse()
        body = answer.read()
        sent[out_trade_no] = {"sent": t0, "acked": time.monotonic(), "answer": f"{answer.status} {body[:20].decode()}"}

    with ThreadPoolExecutor(batch) as pool:
        for start in range(0, len(notes), batch):
            group = notes[start:start + batch]
            list(pool.map(lambda a: send(*a), [(k, o, q) for k, (o, q) in enumerate(group)]))
            status, missing = _get_json(panel_port, f"/_bench/wait?timeout={WAIT}&out_trade_no="
                                        + ",".join(o for o, _ in group))
            if status != 200:
                raise RuntimeError(f"the panel never got {missing}; PanelPay answered "
                                   f"{[sent.get(o, {}).get('answer') for o, _ in group]}")
    for conn in conns:
        conn.close()
    return sent


def _notify_once(port: int, epay_uuid: str, query: str) -> tuple[float, str]:
    """One upstream notification: when it was written, and PanelPay's answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        t0 = time.monotonic()
        conn.request("GET", f"/payment/notify/epay/{epay_uuid}?{query}")
        answer = conn.getresponse()
        return t0, f"{answer.status} {answer.read()[:20].decode()}"
    finally:
        conn.close()


def _latency_figures(sent: dict, arrivals: dict) -> dict:
    lat = [arrivals[o][0] - s["sent"] for o, s in sent.items()]
    ack = [s["acked"] - s["sent"] for s in sent.values()]
    after = [arrivals[o][0] - s["acked"] for o, s in sent.items()]
    answers: dict[str, int] = {}
    for s in sent.values():
        answers[s["answer"]] = answers.get(s["answer"], 0) + 1
    return {"n": len(lat), "p50": c.percentile(lat, 50), "p99": c.percentile(lat, 99), "max": max(lat),
            "ack_p50": c.percentile(ack, 50), "ack_p99": c.percentile(ack, 99),
            "after_p50": c.percentile(after, 50), "before_ack": sum(1 for a in after if a < 0),
            "twice": sum(1 for o in sent if len(arrivals[o]) > 1), "answers": answers}


# -- 2. throughput --------------------------------------------------------------------------------------

def _deliveries_of(prefix: str):
    import sqlalchemy as sa

    from panelpay.models import Delivery, Order

    return sa.select(Delivery.id).join(Order, Order.id == Delivery.order_id).where(Order.out_trade_no.like(f"{prefix}%"))


def _schedule(eng, prefix: str, seconds: float) -> None:
    """Every delivery of the orders ``prefix``…: due ``seconds`` from now (negative: already), no lease."""
    import datetime as dt

    import sqlalchemy as sa

    from panelpay.models import Delivery, utcnow

    with eng.begin() as conn:
        conn.execute(sa.update(Delivery).where(Delivery.id.in_(_deliveries_of(prefix)))
                     .values(next_attempt_at=utcnow() + dt.timedelta(seconds=seconds), lease_until=None))


def _outbox(eng, prefix: str) -> dict:
    """Deliveries of the orders ``prefix``… by status, and their attempts in all."""
    import sqlalchemy as sa

    from panelpay.models import Delivery

    with eng.connect() as conn:
        rows = conn.execute(sa.select(Delivery.status, sa.func.count(), sa.func.sum(Delivery.attempts))
                            .where(Delivery.id.in_(_deliveries_of(prefix))).group_by(Delivery.status)).all()
    return {"by_status": {s: n for s, n, _ in rows}, "attempts": sum(int(a or 0) for _, _, a in rows)}


def _drainer(url: str, instance: str, site: str, barrier, results) -> None:
    """One deliverer process: the demo host's app, then ``delivery.run(state)`` pass after pass (each what
    ``flask panelpay deliver`` does once) until nothing unleased is due."""
    import sqlalchemy as sa

    from panelpay import delivery
    from panelpay.demo.app import create_app
    from panelpay.models import DELIVERING, Delivery, utcnow

    app = create_app(url, site_url=site, instance_path=instance)
    state = app.extensions["panelpay"]
    passes, counts = [], {}
    with app.app_context():
        with state.engine.connect() as conn:  # the pool's first connection, before the clock starts
            conn.execute(sa.text("SELECT 1"))
        barrier.wait()
        cpu0, t0 = time.process_time(), time.monotonic()
        while True:
            started = time.monotonic()
            got = delivery.run(state)
            passes.append((time.monotonic() - started, sum(got.values())))
            for k, v in got.items():
                counts[k] = counts.get(k, 0) + v
            if not got:
                now = utcnow()
                with state.engine.connect() as conn:
                    left = conn.execute(sa.select(sa.func.count()).select_from(Delivery).where(
                        Delivery.status == DELIVERING, Delivery.next_attempt_at <= now,
                        sa.or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))).scalar_one()
                if not left:
                    break
        t1, cpu = time.monotonic(), time.process_time() - cpu0
    results.put({"t0": t0, "t1": t1, "cpu": cpu, "passes": passes, "counts": counts})


def _drain(url: str, instance: str, site: str, workers: int, db_name: str) -> dict:
    """``workers`` deliverer processes started together (a barrier after each has built its app)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_drainer, args=(url, instance, site, barrier, results)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    meter = c.CpuMeter(None, db_name)
    got = [results.get(timeout=1800) for _ in procs]
    usage = meter.stop()
    for proc in procs:
        proc.join()
    return {"workers": got, "wall": max(w["t1"] for w in got) - min(w["t0"] for w in got), "cpu": usage}


# -- the run --------------------------------------------------------------------------------------------

def run(quick: bool = False) -> dict:
    import sqlalchemy as sa

    from panelpay.delivery import Deliverer
    from panelpay.models import DeliveryAttempt

    sizes = _sizes(quick)
    warm, serial, waiting = sizes["warm"], sizes["serial"], sizes["waiting"]
    batched = sizes["batches"] * BATCH
    instance = c.make_instance()
    port, panel_port = c.free_port(), c.free_port()
    site, panel_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{panel_port}"
    names = ([(f"W{i:08d}", i) for i in range(warm)] + [(f"S{i:08d}", i) for i in range(serial)]
             + [(f"C{i:08d}", i) for i in range(batched)]
             + [(f"{p}{i:08d}", i) for p in WAITING for i in range(waiting)] + [("T00000000", 0)])
    try:
        with c.database("postgresql", DB, instance) as url:
            app, channels = c.demo(url, instance, site, users=2)
            epay_uuid = channels["epay"][1]
            eng = c.engine(url)
            env = c.demo_env(url, instance, site)
            with c.gunicorn("bench.wsgi_panelpay:app", env, port=port, name="relay-panelpay") as server:
                merchant = _merchant(site, f"127.0.0.1:{panel_port}", epay_uuid)
                t0 = time.perf_counter()
                _submit_all(port, merchant, panel_base, names)
                submitted = time.perf_counter() - t0
                orders = _orders(eng, merchant["pid"])
                with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("ANALYZE")
                # the gateway's own trade numbers: one per payment, never reused (a reused one is an anomaly)
                notes = {o: _upstream_query(instance, orders[o][0], orders[o][1], k) for k, (o, _) in enumerate(names)}
                pick = lambda prefix: [(o, notes[o]) for o, _ in names if o.startswith(prefix)]  # noqa: E731

                # 1. latency, the panel up
                with _panel(panel_port, merchant["key"], "relay-panel-latency"):
                    _latency(port, panel_port, epay_uuid, pick("W"), BATCH)  # warm-up: pools, channel objects
                    meter = c.CpuMeter(server.pid, DB)
                    one = _latency(port, panel_port, epay_uuid, pick("S"), 1)
                    cpu_one = meter.stop()
                    meter = c.CpuMeter(server.pid, DB)
                    many = _latency(port, panel_port, epay_uuid, pick("C"), BATCH)
                    cpu_many = meter.stop()
                    _, seen = _get_json(panel_port, "/_bench/arrivals")
                arrivals = seen["arrivals"]
                latency = {"one": _latency_figures(one, arrivals), "many": _latency_figures(many, arrivals)}
                bad_latency = len(seen["bad_signatures"])

                # 2. the panel down: 3 × N orders settle; what the in-app deliverer attempts meanwhile is refused
                pileup = [f"GET /payment/notify/epay/{epay_uuid}?{q} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                          .encode() for p in WAITING for o, q in pick(p)]
                credits0 = c.credits(eng)
                load = c.run_load(pileup, port=port, concurrency=8, name="relay-pileup")
                settled = c.credits(eng) - credits0
            # gunicorn has stopped: no in-app deliverer is left
            piled = {p: _outbox(eng, p) for p in WAITING}
            for p in WAITING:
                _schedule(eng, p, -60 if p == "A" else 86400)  # only A due; the others kept for later
            drains = {}
            with _panel(panel_port, merchant["key"], "relay-panel-throughput") as panel:
                cpu_panel = c.cpu_of(panel.pid)
                drains[1] = _drain(url, instance, site, 1, DB)
                drains[1]["panel_cpu"] = c.cpu_of(panel.pid) - cpu_panel
                _schedule(eng, "B", -60)
                cpu_panel = c.cpu_of(panel.pid)
                drains[2] = _drain(url, instance, site, 2, DB)
                drains[2]["panel_cpu"] = c.cpu_of(panel.pid) - cpu_panel
                # 3. the in-app deliverer: gunicorn again, the D set due; then one new relay order settles
                _schedule(eng, "D", -60)
                with c.gunicorn("bench.wsgi_panelpay:app", env, port=port, name="relay-panelpay-inapp") as server:
                    time.sleep(Deliverer.INTERVAL + 1)
                    _, seen = _get_json(panel_port, "/_bench/arrivals")
                    idle = sum(1 for o in seen["arrivals"] if o.startswith("D"))
                    meter, cpu_panel = c.CpuMeter(server.pid, DB), c.cpu_of(panel.pid)
                    sent, answer = _notify_once(port, epay_uuid, notes["T00000000"])
                    status, _ = _get_json(panel_port, "/_bench/wait?timeout=1800&out_trade_no="
                                          + ",".join(o for o, _ in pick("D") + pick("T")), timeout=1900)
                    drains["inapp"] = {"cpu": meter.stop(), "panel_cpu": c.cpu_of(panel.pid) - cpu_panel,
                                       "idle": idle, "t0": sent, "answer": answer, "complete": status == 200}
                _, seen = _get_json(panel_port, "/_bench/arrivals")
            for key, prefix in ((1, "A"), (2, "B"), ("inapp", "D")):
                got = {o: ts for o, ts in seen["arrivals"].items() if o.startswith(prefix)}
                drains[key].update(prefix=prefix, waiting=piled[prefix]["by_status"].get("pending", 0), arrived=len(got),
                                   twice=sum(1 for ts in got.values() if len(ts) > 1),
                                   calls=sum(len(ts) for ts in got.values()), outbox=_outbox(eng, prefix))
            inapp = drains["inapp"]
            inapp["wall"] = max(ts[0] for o, ts in seen["arrivals"].items() if o[0] in "DT") - inapp["t0"]
            inapp["trigger"] = seen["arrivals"]["T00000000"][0] - inapp["t0"]
            bad_throughput = len(seen["bad_signatures"])
            with eng.connect() as conn:
                classes = dict(conn.execute(sa.select(DeliveryAttempt.classification, sa.func.count())
                                            .group_by(DeliveryAttempt.classification)).all())
            eng.dispose()
    finally:
        c.remove(instance)

    return {"name": "relay", "setup": _setup(quick, sizes, submitted, len(names), load, settled, piled, classes,
                                             bad_latency, bad_throughput),
            "tables": [_latency_table(latency, cpu_one, cpu_many), _throughput_table(drains, waiting)]}


def _setup(quick, sizes, submitted, n_orders, load, settled, piled, classes, bad_latency, bad_throughput) -> list[str]:
    from panelpay import delivery
    from panelpay.delivery import Deliverer

    pile = "; ".join(f"{p}: {v['by_status']}, {v['attempts']} attempts" for p, v in piled.items())
    return [
        f"mode: {'quick' if quick else 'full'}; {n_orders} relay orders created by signed `GET /submit.php` "
        f"(4 connections) in {submitted:.1f} s, on the demo's sandbox EPay channel (MD5, `api=submit`)",
        f"PanelPay: the demo host (`bench.wsgi_panelpay:app`) under {c.GUNICORN}, on PostgreSQL on 127.0.0.1 "
        f"(fresh `{DB}`); merchant created through `/payment/admin/api/merchants` as the logged-in admin",
        "panel: `bench.panel_standin` (a process of its own; standard-library threaded HTTP server, keep-alive; "
        "answers `success`, checks the MD5 signature with the merchant's key, timestamps each arrival with "
        "CLOCK_MONOTONIC as soon as the request is parsed)",
        f"latency: {sizes['warm']} warm-up notifications, then {sizes['serial']} one at a time, then "
        f"{sizes['batches']} batches of {BATCH} sent at once from {BATCH} keep-alive connections; each batch after the "
        "panel has had the one before. Latency = the panel's arrival − the moment the upstream notification was "
        "written (one clock: CLOCK_MONOTONIC); the in-app deliverer (a thread per gunicorn worker, woken by "
        "`settle()`) makes the call",
        f"throughput: 3 × {sizes['waiting']} orders (sets A, B, D) settled by `bench.loadgen` (8 connections; "
        f"{sum(1 for s in load['statuses'] if s == 200)} answered 200, {settled} ledger rows added) while the panel "
        f"was down: whatever the in-app deliverer attempted before gunicorn stopped was refused (per set: {pile}); "
        "gunicorn stopped at once; panel up. "
        "A made due (`next_attempt_at` 60 s in the past; the others a day ahead) and drained by "
        f"`panelpay.delivery.run(state)` (what `flask panelpay deliver` runs once: every due delivery, batches of "
        f"{delivery.BATCH}, {delivery.PARALLEL} at a time) pass after pass in one fresh process until nothing is due; then B by two "
        "such processes at once (started together); then D by the in-app deliverer: gunicorn started again, "
        f"{Deliverer.INTERVAL + 1:.0f} s of waiting, then one new relay order (T) settled through the notify path, which "
        f"wakes the deliverer thread of the worker that settled it (it passes every {Deliverer.INTERVAL:.0f} s, or at once "
        "when woken)",
        "attempts logged in all (`panelpay_delivery_attempts`): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(classes.items()))
        + f"; signatures the panel refused: {bad_latency + bad_throughput}",
        "CPU: /proc utime+stime; 'other processes' = machine busy time used by neither PanelPay (gunicorn tree or "
        "deliverer processes), the database's backends nor the panel (the machine is shared, 2 cores: a high "
        "figure marks a noisy run)",
    ]


def _latency_table(latency: dict, cpu_one: dict, cpu_many: dict) -> dict:
    def other(cpu):
        return f"{cpu['busy'] / cpu['capacity']:.0%} / {cpu['other_share']:.0%}"

    for cpu in (cpu_one, cpu_many):
        cpu["other_share"] = max(0.0, cpu["busy"] - cpu["server"] - cpu["db"]) / cpu["capacity"]
    one, many = latency["one"], latency["many"]
    both = lambda f: [f(one), f(many)]  # noqa: E731
    rows = [
        ["notifications (n)", *both(lambda x: x["n"])],
        ["**p50 latency, upstream notification → panel's notification (ms)**", *both(lambda x: f"**{c.ms(x['p50'])}**")],
        ["**p99 latency (ms)**", *both(lambda x: f"**{c.ms(x['p99'])}**")],
        ["max latency (ms)", *both(lambda x: c.ms(x["max"]))],
        ["PanelPay's answer to the upstream notification, p50 / p99 (ms)",
         *both(lambda x: f"{c.ms(x['ack_p50'])} / {c.ms(x['ack_p99'])}")],
        ["panel's arrival after that answer, p50 (ms; negative: before it)", *both(lambda x: c.ms(x["after_p50"]))],
        ["panel notified before the upstream got its answer", *both(lambda x: x["before_ack"])],
        ["upstream answers", *both(lambda x: ", ".join(f"{k}: {v}" for k, v in sorted(x["answers"].items())))],
        ["orders the panel got twice", *both(lambda x: x["twice"])],
        ["machine busy / of which other processes", other(cpu_one), other(cpu_many)],
    ]
    return {"title": "relay: latency from the upstream notification to the panel's (loopback, PostgreSQL, gunicorn)",
            "headers": ["", "one at a time", f"batches of {BATCH} at once"], "rows": rows}


def _throughput_table(drains: dict, waiting: int) -> dict:
    keys = (1, 2, "inapp")

    def col(f, inapp=None):
        return [f(drains[k]) for k in keys[:2]] + [(inapp or f)(drains["inapp"])]

    def na(_):
        return "—"

    def passes(d):
        ps = [p for w in d["workers"] for p in w["passes"]]
        full = [t for t, n in ps if n]
        return f"{len(ps)} ({', '.join(str(len(w['passes'])) for w in d['workers'])}); " \
               f"{sum(full) / max(len(full), 1):.2f} s each"

    def app_cpu(d):
        return sum(w["cpu"] for w in d["workers"]) if "workers" in d else d["cpu"]["server"]

    def other(d):
        u = d["cpu"]
        rest = max(0.0, u["busy"] - u["db"] - app_cpu(d) - d["panel_cpu"])
        return f"{u['busy'] / u['capacity']:.0%} / {rest / u['capacity']:.0%}"

    def counts(d):
        total: dict[str, int] = {}
        for w in d["workers"]:
            for k, v in w["counts"].items():
                total[k] = total.get(k, 0) + v
        return ", ".join(f"{k}: {v}" for k, v in sorted(total.items()))

    def once(d):
        return "yes" if d["arrived"] == d["calls"] == waiting and not d["twice"] else "**NO**"

    inapp = drains["inapp"]
    rows = [
        ["settled relay orders waiting (settled while the panel was down)", *col(lambda d: d["waiting"])],
        ["delivered in the first Deliverer.INTERVAL + 1 s after gunicorn started (no new settlement yet)",
         *col(na, lambda d: d["idle"])],
        ["wall time to drain (s)", *col(lambda d: f"{d['wall']:.2f}")],
        ["**deliveries per second**", *col(lambda d: f"**{d['arrived'] / d['wall']:.0f}**",
                                           lambda d: f"**{d['arrived'] / d['wall']:.1f}**")],
        ["delivered: orders the panel got / calls it got / got twice",
         *col(lambda d: f"{d['arrived']} / {d['calls']} / {d['twice']}")],
        ["exactly once each", *col(once)],
        ["outbox afterwards (by status)",
         *col(lambda d: ", ".join(f"{k}: {v}" for k, v in sorted(d["outbox"]["by_status"].items())))],
        ["`run()` counts (summed over processes)", *col(counts, na)],
        ["passes (per process); mean time of a pass that delivered", *col(passes, na)],
        ["the new order that woke the deliverer: upstream answer; its panel notification after (s)",
         *col(na, lambda d: f"{d['answer']}; {d['trigger']:.2f}")],
        ["CPU per delivery (ms): PanelPay / database / panel",
         *col(lambda d: f"{c.ms(app_cpu(d) / d['arrived'], 2)} / {c.ms(d['cpu']['db'] / d['arrived'], 2)} / "
                        f"{c.ms(d['panel_cpu'] / d['arrived'], 2)}")],
        ["machine busy / of which other processes", *col(other)],
    ]
    return {"title": f"relay: {waiting:,} settled relay orders waiting, drained by `panelpay.delivery.run` "
                     "(PostgreSQL, panel on loopback)",
            "headers": ["", "`run()` pass after pass, 1 process", "the same, 2 processes at once",
                        "in-app deliverer (gunicorn; woken by one new settlement)"], "rows": rows}
