"""What the benchmarks share: databases, the demo host, signed notifications, gunicorn, the load generator,
CPU accounting.

Only PanelPay's public surface is used: the demo host (``panelpay.demo.app``: ``create_app``, ``prepare``),
the ``panelpay.models`` tables, the sandbox's keys and ``panelpay.channels.signing``. Every helper that starts a
process stops exactly that process and waits for it.
"""
from __future__ import annotations

import datetime as dt
import os
import pickle
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LOG_DIR = Path(tempfile.gettempdir()) / "panelpay-bench-logs"
PG_HOST = os.environ.get("BENCH_PG", "postgres@127.0.0.1:5432")
MY_HOST = os.environ.get("BENCH_MYSQL", "root@127.0.0.1:3306")
GUNICORN = "gunicorn 2 workers, gthread, 4 threads each"


# -- databases ---------------------------------------------------------------------------------------

def _server(kind: str):
    """An autocommit admin connection to the server of ``kind`` (database ``test``)."""
    user, _, hostport = (PG_HOST if kind == "postgresql" else MY_HOST).partition("@")
    host, _, port = hostport.partition(":")
    if kind == "postgresql":
        import psycopg

        return psycopg.connect(host=host, port=int(port or 5432), user=user, dbname="test", autocommit=True)
    import pymysql

    return pymysql.connect(host=host, port=int(port or 3306), user=user, database="test", autocommit=True)


def _admin(kind: str, sql: str) -> None:
    conn = _server(kind)
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


@contextmanager
def database(kind: str, name: str, workdir: str) -> Iterator[str]:
    """A fresh, empty database ``name`` on ``kind`` (sqlite: a file in ``workdir``); its URL. Dropped after."""
    assert name.startswith("bench_"), name
    if kind == "sqlite":
        url = "sqlite:///" + os.path.join(workdir, f"{name}.sqlite")
        drop = create = None
    elif kind == "postgresql":
        url = f"postgresql+psycopg://{PG_HOST}/{name}"
        drop, create = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    else:
        url = f"mysql+pymysql://{MY_HOST}/{name}?charset=utf8mb4"
        drop, create = f"DROP DATABASE IF EXISTS `{name}`", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
    if drop:
        _admin(kind, drop)
        _admin(kind, create)
    try:
        yield url
    finally:
        if drop:
            _admin(kind, drop)


def engine(url: str):
    import sqlalchemy as sa

    return sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


# -- the machine and the code ------------------------------------------------------------------------

def machine() -> dict[str, str]:
    from importlib.metadata import version

    def first(path: str, prefix: str) -> str:
        try:
            return next(l.split(":", 1)[1].strip() for l in Path(path).read_text().splitlines() if l.startswith(prefix))
        except (OSError, StopIteration):
            return "?"

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    info = {
        "Date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "CPU": first("/proc/cpuinfo", "model name"), "Cores": str(os.cpu_count()),
        "RAM": f"{int(first('/proc/meminfo', 'MemTotal').split()[0]) / 2**20:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Packages": ", ".join(f"{p} {version(p)}" for p in ("Flask", "SQLAlchemy", "psycopg", "PyMySQL", "gunicorn")),
        "SQLite": sqlite3.sqlite_version,
    }
    for kind, label, sql in (("postgresql", "PostgreSQL", "SHOW server_version"),
                             ("mariadb", "MariaDB", "SELECT VERSION()")):
        try:
            conn = _server(kind)
            cur = conn.cursor()
            cur.execute(sql)
            info[label] = cur.fetchone()[0]
            conn.close()
        except Exception as exc:  # noqa: BLE001 - only a description
            info[label] = f"unavailable ({type(exc).__name__})"
    dirty = git("status", "--porcelain", "--", "plugin", "migrations", "examples")
    info["Code"] = (f"the working tree at git {git('rev-parse', '--short', 'HEAD') or '?'}"
                    + (" with uncommitted changes in plugin/, migrations/ or examples/" if dirty else ""))
    return info


# -- the demo host -----------------------------------------------------------------------------------

def make_instance() -> str:
    """An instance folder for the demo host; its sandbox keys are generated once, here."""
    path = tempfile.mkdtemp(prefix="panelpay-bench-")
    credentials(path)
    return path


def credentials(instance: str):
    from panelpay.sandbox import Sandbox

    return Sandbox(state_file=os.path.join(instance, "panelpay-sandbox.json")).credentials


def demo(url: str, instance: str, site: str, *, users: int, gateway: str | None = None, config: dict | None = None):
    """The demo host as ``panelpay demo`` builds it (``create_app``, then ``prepare``: tables, the admin and
    alice, one EPay MD5 and one Alipay RSA2 channel on the sandbox at ``gateway`` or ``site``), plus users
    up to ``users`` with a zero balance. Returns (app, {kind: (channel id, uuid)})."""
    import sqlalchemy as sa

    from panelpay.demo.app import create_app, prepare
    from panelpay.models import Channel

    app = create_app(url, site_url=site, instance_path=instance, config=config)
    prepare(app, gateway or site)
    with app.app_context():
        rows = [{"username": f"user{i}", "password_hash": "-", "is_admin": False, "balance": Decimal("0.00")}
                for i in range(3, users + 1)]
        if rows:
            app.db.session.execute(sa.insert(app.User), rows)
        app.db.session.commit()
        channels = {kind: (id_, uuid) for id_, kind, uuid in
                    app.db.session.execute(sa.select(Channel.id, Channel.kind, Channel.uuid)).all()}
        app.db.session.remove()
    return app, channels


def total_for(i: int) -> Decimal:
    """A varied total: 1.00 .. 500.99, cents included."""
    return Decimal(1 + (i * 37) % 500) + Decimal((i * 13) % 100) / 100


def kind_for(i: int) -> str:
    return "epay" if i % 2 == 0 else "alipay"


def insert_orders(eng, prefix: str, indices, channels: dict, users: int, site: str) -> list[dict]:
    """Pending panelpay_orders rows, bulk-inserted: order i is EPay when even, Alipay when odd; trade number
    ``prefix`` + i; user 1 + i % users."""
    import sqlalchemy as sa

    from panelpay.models import Order

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = []
    for i in indices:
        kind, total = kind_for(i), total_for(i)
        rows.append({"trade_no": f"{prefix}{i:010d}", "user_id": str(1 + i % users), "channel_id": channels[kind][0],
                     "amount": total, "fee": Decimal("0.00"), "total": total, "credit": total, "status": "pending",
                     "notify_url": f"{site}/payment/notify/{kind}/{channels[kind][1]}", "pay": "{}",
                     "subject": f"Top-up {total:.2f}", "client_ip": "127.0.0.1", "created_at": now,
                     "expires_at": now + dt.timedelta(hours=2), "paid_late": False})
    with eng.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(Order.__table__), rows[start:start + 5000])
    return rows


def credits(eng) -> int:
    """Ledger rows so far."""
    import sqlalchemy as sa

    from panelpay.models import LedgerEntry

    with eng.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one()


# -- signed notifications ----------------------------------------------------------------------------

class Signer:
    """Success notifications signed the way the gateways sign them, with the sandbox's keys and
    ``panelpay.channels.signing`` (EPay v1: MD5 over the sorted values + key; Alipay: RSA2 over the sorted
    parameters but ``sign``/``sign_type``)."""

    def __init__(self, instance: str):
        from panelpay.sandbox import Sandbox

        self.keys, self.sandbox = credentials(instance), Sandbox

    def params(self, i: int, trade_no: str) -> tuple[str, dict[str, str]]:
        """(kind, parameters) of the notification for order i of :func:`insert_orders`."""
        from panelpay.channels.signing import alipay_notify_content, epay_md5, rsa_sign

        total = total_for(i)
        if kind_for(i) == "epay":
            params = {"pid": self.sandbox.EPAY_PID, "trade_no": f"2026{i:016d}", "out_trade_no": trade_no,
                      "type": "alipay", "name": f"Top-up {total:.2f}", "money": format(float(total), ".14G"),
                      "trade_status": "TRADE_SUCCESS"}  # money as PHP prints a float: 10 not 10.00
            return "epay", {**params, "sign": epay_md5(params, self.keys.epay_key), "sign_type": "MD5"}
        stamp, amount, app_id = time.strftime("%Y-%m-%d %H:%M:%S"), f"{total:.2f}", self.sandbox.ALIPAY_APP_ID
        params = {
            "notify_time": stamp, "notify_type": "trade_status_sync", "notify_id": os.urandom(16).hex(),
            "app_id": app_id, "auth_app_id": app_id, "charset": "utf-8", "version": "1.0",
            "trade_no": f"2026{i:024d}", "out_trade_no": trade_no, "buyer_id": "2088102177846880",
            "seller_id": self.sandbox.ALIPAY_SELLER_ID, "trade_status": "TRADE_SUCCESS", "total_amount": amount,
            "receipt_amount": amount, "buyer_pay_amount": amount, "subject": f"Top-up {amount}",
            "gmt_create": stamp, "gmt_payment": stamp,
            "fund_bill_list": '[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]' % amount,
        }
        sign = rsa_sign(alipay_notify_content(params), self.keys.alipay_private)
        return "alipay", {**params, "sign": sign, "sign_type": "RSA2"}

    def request(self, i: int, trade_no: str, host: str, path: str, method: str | None = None) -> bytes:
        """The raw HTTP/1.1 keep-alive request: EPay by GET (parameters in the query), Alipay by POSTed form,
        or by ``method``."""
        kind, params = self.params(i, trade_no)
        method, encoded = method or ("GET" if kind == "epay" else "POST"), urlencode(params)
        if method == "GET":
            return f"GET {path}?{encoded} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; "
                f"charset=utf-8\r\nContent-Length: {len(encoded)}\r\n\r\n{encoded}").encode()


# -- processes ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until ``GET path`` gets any HTTP answer (or ``proc`` exits)."""
    import http.client

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {LOG_DIR}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def process(cmd: list[str], name: str, *, port: int, probe: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """``cmd`` started from the repository (log in LOG_DIR), once it answers ``GET probe`` on ``port``;
    stopped (SIGTERM, then SIGKILL) and waited for afterwards."""
    LOG_DIR.mkdir(exist_ok=True)
    with open(LOG_DIR / f"{name}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(7):  # the first answer, then a few more, so every worker has built the app
                wait_http(port, probe, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def gunicorn(app_spec: str, env: dict[str, str], *, port: int, name: str, probe: str = "/api/me"):
    """``app_spec`` under gunicorn (2 workers, gthread, 4 threads, keep-alive, no access log)."""
    cmd = [PY, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
           "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--keep-alive", "30", "--log-level", "warning",
           "--graceful-timeout", "5", app_spec]
    return process(cmd, name, port=port, probe=probe, env=env)


def demo_env(url: str, instance: str, site: str) -> dict[str, str]:
    """The environment of ``bench.wsgi_panelpay``."""
    return {"BENCH_DB_URL": url, "BENCH_INSTANCE": instance, "BENCH_SITE_URL": site}


def run_load(requests: list[bytes], *, port: int, concurrency: int, name: str, server_pid: int | None = None,
             db_name: str | None = None) -> dict:
    """Send ``requests`` (each once) from ``bench.loadgen`` in a separate process; its report, with
    ``cpu``: this run's CPU seconds of the server tree, the database and the rest of the machine."""
    LOG_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        source, target = os.path.join(tmp, "in.pickle"), os.path.join(tmp, "out.pickle")
        with open(source, "wb") as handle:
            pickle.dump(requests, handle, protocol=pickle.HIGHEST_PROTOCOL)
        meter = CpuMeter(server_pid, db_name)
        with open(LOG_DIR / f"{name}-load.log", "w") as log:
            subprocess.run([PY, "-m", "bench.loadgen", "--port", str(port), "--concurrency", str(concurrency),
                            "--input", source, "--output", target], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
        usage = meter.stop()
        with open(target, "rb") as handle:
            report = pickle.load(handle)
    # What neither the server, the database nor the load generator used: other processes (the machine is
    # shared; this says how noisy the run was).
    usage["other"] = max(0.0, usage["busy"] - usage["server"] - usage["db"] - report["load_cpu"])
    report["cpu"] = usage
    return report


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, min(len(ordered), -(-q * len(ordered) // 100))) - 1]


def ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f}"


def _child(conn, func, args) -> None:
    import traceback

    try:
        conn.send(("ok", func(*args)))
    except BaseException:  # noqa: BLE001 - carried to the parent
        conn.send(("error", traceback.format_exc()))


def in_subprocess(func, *args):
    """``func(*args)`` in a fresh spawned, non-daemonic Python process (its own memory figures; it may start
    processes of its own); its result."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args))
    proc.start()
    child.close()
    try:
        status, value = parent.recv()
    except EOFError:
        status, value = "error", f"it died (exit code {proc.exitcode})"
    proc.join()
    if status == "error":
        raise RuntimeError("in a benchmark subprocess: " + value)
    return value


def run_benchmark(name: str, quick: bool) -> dict:
    """``bench.<name>.run``: what ``python -m bench`` runs in a process of its own."""
    import importlib

    return importlib.import_module(f"bench.{name}").run(quick=quick)


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- CPU accounting ----------------------------------------------------------------------------------

_CLK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK


class CpuMeter:
    """CPU seconds from creation to :meth:`stop` of the server's process tree, of the PostgreSQL backends
    connected to ``db_name`` (by process title; MariaDB: the whole ``mariadbd``) and of the whole machine."""

    def __init__(self, server_pid: int | None, db_name: str | None):
        self.server_pid, self.db_name = server_pid, db_name
        self.before = self._sample()

    def _sample(self) -> dict:
        procs = {}
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            comm, ppid = stat[stat.index("(") + 1:stat.rindex(")")], int(stat[stat.rindex(")") + 2:].split()[1])
            procs[int(entry)] = (comm, ppid, title)
        tree = {self.server_pid} if self.server_pid else set()
        while grown := {pid for pid, (_, ppid, _) in procs.items() if ppid in tree and pid not in tree}:
            tree |= grown
        db = {pid for pid, (comm, _, title) in procs.items() if comm in ("mariadbd", "mysqld")
              or (comm == "postgres" and self.db_name and f" {self.db_name} " in title)}
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return {"server": {p: cpu_of(p) for p in tree}, "db": {p: cpu_of(p) for p in db},
                "busy": (sum(fields) - fields[3] - fields[4] - fields[7]) / _CLK, "steal": fields[7] / _CLK,
                "time": time.perf_counter()}

    def stop(self) -> dict:
        after, before = self._sample(), self.before
        usage = {part: sum(cpu - before[part].get(pid, 0.0) for pid, cpu in after[part].items())
                 for part in ("server", "db")}
        wall = after["time"] - before["time"]
        usage.update(wall=wall, busy=after["busy"] - before["busy"], steal=after["steal"] - before["steal"],
                     capacity=wall * (os.cpu_count() or 1))
        return usage
