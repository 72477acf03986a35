"""What the benchmarks share: databases, the demo host, signed notifications, gunicorn, the load generator.

Nothing here asserts on time. Every helper that starts a process keeps its pid and stops exactly that
process (and waits for it).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LOG_DIR = Path(tempfile.gettempdir()) / "panelpay-bench-logs"

PG_HOST = os.environ.get("BENCH_PG", "postgres@127.0.0.1:5432")
MY_HOST = os.environ.get("BENCH_MYSQL", "root@127.0.0.1:3306")


# -- databases ---------------------------------------------------------------------------------------

def db_url(kind: str, name: str, workdir: str | None = None) -> str:
    if kind == "postgresql":
        return f"postgresql+psycopg://{PG_HOST}/{name}"
    if kind == "mariadb":
        return f"mysql+pymysql://{MY_HOST}/{name}?charset=utf8mb4"
    if kind == "sqlite":
        return "sqlite:///" + os.path.join(workdir or tempfile.gettempdir(), f"{name}.sqlite")
    raise ValueError(kind)


def _pg_admin():
    import psycopg

    user, _, hostport = PG_HOST.partition("@")
    host, _, port = hostport.partition(":")
    return psycopg.connect(host=host, port=int(port or 5432), user=user, dbname="test", autocommit=True)


def _my_admin():
    import pymysql

    user, _, hostport = MY_HOST.partition("@")
    host, _, port = hostport.partition(":")
    return pymysql.connect(host=host, port=int(port or 3306), user=user, database="test", autocommit=True)


def _admin_sql(kind: str, postgresql: str, mariadb: str) -> None:
    """Run one administrative statement on the server of ``kind`` (nothing for SQLite)."""
    if kind == "postgresql":
        with _pg_admin() as conn:
            conn.execute(postgresql)
    elif kind == "mariadb":
        conn = _my_admin()
        try:
            with conn.cursor() as cur:
                cur.execute(mariadb)
        finally:
            conn.close()


def create_database(kind: str, name: str, workdir: str | None = None) -> str:
    """A fresh, empty database ``name`` (dropped first if a previous run left it); its URL."""
    drop_database(kind, name, workdir)
    _admin_sql(kind, f'CREATE DATABASE "{name}"',
               f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    return db_url(kind, name, workdir)


def drop_database(kind: str, name: str, workdir: str | None = None) -> None:
    assert name.startswith("bench_"), name
    _admin_sql(kind, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f"DROP DATABASE IF EXISTS `{name}`")
    if kind == "sqlite":
        path = db_url(kind, name, workdir)[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


@contextmanager
def database(kind: str, name: str, workdir: str | None = None) -> Iterator[str]:
    url = create_database(kind, name, workdir)
    try:
        yield url
    finally:
        drop_database(kind, name, workdir)


def server_versions() -> dict[str, str]:
    versions = {"SQLite": sqlite3.sqlite_version}
    try:
        with _pg_admin() as conn:
            versions["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - only a description
        versions["PostgreSQL"] = f"unavailable ({type(exc).__name__})"
    try:
        conn = _my_admin()
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            versions["MariaDB"] = cur.fetchone()[0]
        conn.close()
    except Exception as exc:  # noqa: BLE001
        versions["MariaDB"] = f"unavailable ({type(exc).__name__})"
    return versions


# -- the machine -------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    from importlib.metadata import version

    packages = ", ".join(f"{p} {version(p)}" for p in
                         ("Flask", "SQLAlchemy", "psycopg", "PyMySQL", "gunicorn", "cryptography", "Werkzeug"))
    info = {
        "Date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Packages": packages,
    }
    info.update(server_versions())
    return info


#: Environment variable naming the frozen copy of the code under test (set by :func:`use_snapshot`).
SNAPSHOT_ENV = "PANELPAY_BENCH_SNAPSHOT"


def snapshot_code() -> str:
    """A frozen copy of the code under test, laid out as the installed package: ``<dir>/panelpay`` from
    plugin/, with ``migrations`` and ``demo`` inside, as pyproject.toml maps them. Others may be editing the
    working tree while a benchmark runs; every process of a run imports this copy instead."""
    folder = Path(tempfile.mkdtemp(prefix="panelpay-bench-code-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    package = folder / "panelpay"
    shutil.copytree(ROOT / "plugin", package, ignore=ignore)
    shutil.copytree(ROOT / "migrations", package / "migrations", ignore=ignore)
    shutil.copytree(ROOT / "examples" / "demo", package / "demo", ignore=ignore)
    return str(folder)


def use_snapshot(folder: str) -> None:
    """Import ``panelpay`` from ``folder`` in this process and in every process started from it (it comes
    before the editable install, whose finder is consulted after ``sys.path``)."""
    os.environ[SNAPSHOT_ENV] = folder
    if folder not in sys.path:
        sys.path.insert(0, folder)


def child_env() -> dict[str, str]:
    """The environment of a benchmark's child process: the snapshot (if any) and the repository on the path."""
    paths = [p for p in (os.environ.get(SNAPSHOT_ENV), str(ROOT)) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def code_version() -> dict:
    """What code is measured: the git commit, whether plugin/ or examples/ have uncommitted changes, and a
    hash of the Python sources measured (the snapshot's when there is one)."""
    import hashlib

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    digest = hashlib.sha1()
    snapshot = os.environ.get(SNAPSHOT_ENV)
    base = Path(snapshot) if snapshot else ROOT
    for folder in (("panelpay",) if snapshot else ("plugin", "migrations", "examples")):
        for path in sorted((base / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return {"commit": git("rev-parse", "--short", "HEAD") or "?",
            "dirty": bool(git("status", "--porcelain", "--", "plugin", "migrations", "examples")),
            "sources": digest.hexdigest()[:12], "snapshot": snapshot}


# -- the demo host -----------------------------------------------------------------------------------

def make_instance() -> str:
    """An instance folder for the demo host; its sandbox keys and secret are generated once, here."""
    path = tempfile.mkdtemp(prefix="panelpay-bench-")
    from panelpay.sandbox import Sandbox

    Sandbox(state_file=os.path.join(path, "panelpay-sandbox.json")).credentials  # noqa: B018 - generate keys
    return path


def sandbox_credentials(instance: str):
    from panelpay.sandbox import Sandbox

    return Sandbox(state_file=os.path.join(instance, "panelpay-sandbox.json")).credentials


def build_demo(url: str, instance: str, site_url: str, config: dict | None = None):
    """The demo host exactly as ``panelpay.demo.app.create_app`` builds it."""
    from panelpay.demo.app import create_app

    return create_app(url, site_url=site_url, instance_path=instance, config=config)


def setup_demo(app, *, users: int, gateway_base: str) -> dict[str, tuple[int, str]]:
    """Tables (create_all + PanelPay's migrations), ``users`` demo users with a zero balance, and one EPay
    (MD5, sandbox config ``epay``) and one Alipay (RSA2, sandbox config ``alipay``) channel saved through
    ``panelpay.store.save_channel``. Returns kind -> (channel id, uuid)."""
    import sqlalchemy as sa

    from panelpay import migrate
    from panelpay.store import save_channel

    with app.app_context():
        state = app.extensions["panelpay"].state
        app.db.create_all()
        migrate.upgrade(state.engine)
        rows = [{"id": i, "username": f"user{i}", "password_hash": "-", "is_admin": False,
                 "balance": Decimal("0.00")} for i in range(1, users + 1)]
        with state.engine.begin() as conn:
            for chunk in _chunks(rows, 5000):
                conn.execute(sa.insert(app.User.__table__), chunk)
        configs = state.sandbox.channel_configs(gateway_base)
        epay = save_channel(state, {"kind": "epay", "name": "EPay MD5", "config": configs["epay"], "sort": 1})
        alipay = save_channel(state, {"kind": "alipay", "name": "Alipay RSA2", "config": configs["alipay"],
                                      "sort": 2})
        return {"epay": (epay.id, epay.uuid), "alipay": (alipay.id, alipay.uuid)}


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def total_for(i: int) -> Decimal:
    """A varied total: 1.00 .. 500.99, cents included."""
    return Decimal(1 + (i * 37) % 500) + Decimal((i * 13) % 100) / 100


def order_rows(prefix: str, indices: Iterable[int], channels: dict, users: int, site_url: str,
               *, status: str = "pending") -> list[dict]:
    """panelpay_orders rows: even i -> EPay, odd i -> Alipay; trade_no ``prefix`` + i."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    expires = now + dt.timedelta(hours=2)
    rows = []
    for i in indices:
        kind = "epay" if i % 2 == 0 else "alipay"
        channel_id, uuid = channels[kind]
        total = total_for(i)
        rows.append({
            "trade_no": f"{prefix}{i:010d}", "user_id": str(1 + i % users), "channel_id": channel_id,
            "amount": total, "fee": Decimal("0.00"), "total": total, "credit": total, "status": status,
            "notify_url": f"{site_url}/payment/notify/{kind}/{uuid}", "pay": "{}",
            "subject": f"Top-up {total:.2f}", "client_ip": "127.0.0.1", "created_at": now, "expires_at": expires,
            "paid_late": False,
        })
    return rows


def insert_orders(engine, rows: list[dict]) -> None:
    import sqlalchemy as sa

    from panelpay.models import Order

    with engine.begin() as conn:
        for chunk in _chunks(rows, 5000):
            conn.execute(sa.insert(Order.__table__), chunk)


def count_credits(engine) -> tuple[int, Decimal]:
    """(ledger rows, sum of credited amounts)."""
    import sqlalchemy as sa

    from panelpay.models import LedgerEntry

    with engine.connect() as conn:
        count, total = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(LedgerEntry.credit), 0))
                                    ).one()
    return int(count), Decimal(total)


# -- signed notifications ----------------------------------------------------------------------------

class Notifications:
    """Notifications signed the way the gateways sign them, with the sandbox's keys and PanelPay's own
    signing primitives (EPay v1: MD5 over the sorted raw values + key; Alipay: SHA256withRSA over the
    sorted parameters without sign/sign_type)."""

    def __init__(self, credentials):
        from panelpay.sandbox import Sandbox

        self.epay_key = credentials.epay_key
        self.alipay_private = credentials.alipay_private
        self.app_id = Sandbox.ALIPAY_APP_ID
        self.seller_id = Sandbox.ALIPAY_SELLER_ID
        self.pid = Sandbox.EPAY_PID

    def epay(self, trade_no: str, total: Decimal, gateway_trade_no: str) -> dict[str, str]:
        from panelpay.sandbox.payloads import php_float
        from panelpay.signing import epay_md5

        params = {"pid": self.pid, "trade_no": gateway_trade_no, "out_trade_no": trade_no, "type": "alipay",
                  "name": f"Top-up {total:.2f}", "money": php_float(total), "trade_status": "TRADE_SUCCESS"}
        params["sign"] = epay_md5(params, self.epay_key)
        params["sign_type"] = "MD5"
        return params

    def alipay(self, trade_no: str, total: Decimal, gateway_trade_no: str) -> dict[str, str]:
        from panelpay.signing import alipay_notify_content, rsa_sign

        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        amount = f"{total:.2f}"
        params = {
            "notify_time": stamp, "notify_type": "trade_status_sync", "notify_id": os.urandom(16).hex(),
            "app_id": self.app_id, "auth_app_id": self.app_id, "charset": "utf-8", "version": "1.0",
            "trade_no": gateway_trade_no, "out_trade_no": trade_no, "buyer_id": "2088102177846880",
            "seller_id": self.seller_id, "trade_status": "TRADE_SUCCESS", "total_amount": amount,
            "receipt_amount": amount, "buyer_pay_amount": amount, "subject": f"Top-up {amount}",
            "gmt_create": stamp, "gmt_payment": stamp,
            "fund_bill_list": '[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]' % amount,
        }
        params["sign"] = rsa_sign(alipay_notify_content(params), self.alipay_private)
        params["sign_type"] = "RSA2"
        return params

    def for_order(self, i: int, trade_no: str) -> tuple[str, dict[str, str]]:
        """(kind, params) for order i of :func:`order_rows`."""
        total = total_for(i)
        if i % 2 == 0:
            return "epay", self.epay(trade_no, total, f"2026{i:016d}")
        return "alipay", self.alipay(trade_no, total, f"2026{i:024d}")


def raw_request(method: str, path: str, params: dict[str, str], host: str) -> bytes:
    """An HTTP/1.1 keep-alive request: GET with the parameters in the query, or a POSTed form."""
    encoded = urlencode(params)
    if method == "GET":
        return f"GET {path}?{encoded} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode()
    body = encoded.encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n"
            f"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


# -- processes ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(port: int, path: str = "/", timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Until ``GET path`` gets any HTTP answer."""
    import http.client

    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
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


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM to this process only, then wait; SIGKILL if it does not go."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


#: The gunicorn settings every HTTP benchmark uses (PanelPay and the ceiling alike).
GUNICORN = {"workers": 2, "worker_class": "gthread", "threads": 4}


def gunicorn_settings() -> str:
    g = GUNICORN
    return f"gunicorn {g['workers']} workers, {g['worker_class']}, {g['threads']} threads each"


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], *, port: int, name: str, probe: str = "/") -> Iterator[subprocess.Popen]:
    LOG_DIR.mkdir(exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "w")
    g = GUNICORN
    cmd = [PY, "-m", "gunicorn", "--workers", str(g["workers"]), "--worker-class", g["worker_class"],
           "--threads", str(g["threads"]), "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
           "--keep-alive", "30", "--log-level", "warning", "--graceful-timeout", "5", app_spec]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**child_env(), **env},
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(port, probe, proc=proc)
        # Both workers must have built the app: a few more probes land on each.
        for _ in range(6):
            wait_http(port, probe, proc=proc)
        yield proc
    finally:
        stop(proc)
        log.close()


def run_load(requests: list[bytes], *, port: int, concurrency: int, name: str,
             server_pid: int | None = None, db_name: str | None = None) -> dict:
    """Fire ``requests`` (each once, in order of availability) from a separate process; its report, with
    ``cpu_meter``: CPU seconds of the server tree, the database and the machine during the run."""
    LOG_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        source, target = os.path.join(tmp, "requests.pickle"), os.path.join(tmp, "report.pickle")
        with open(source, "wb") as handle:
            pickle.dump(requests, handle, protocol=pickle.HIGHEST_PROTOCOL)
        cmd = [PY, "-m", "bench.loadgen", "--port", str(port), "--concurrency", str(concurrency),
               "--input", source, "--output", target]
        meter = CpuMeter(server_pid, db_name).start()
        with open(LOG_DIR / f"{name}-load.log", "w") as log:
            subprocess.run(cmd, cwd=ROOT, env=child_env(), stdout=log,
                           stderr=subprocess.STDOUT, check=True)
        usage = meter.stop()
        with open(target, "rb") as handle:
            report = pickle.load(handle)
        # What neither the server, nor the database, nor the load generator used: other processes on the
        # machine (a shared machine is noisy; this says how noisy the run was).
        usage["other"] = max(0.0, usage["busy"] - usage["server"] - usage["db"] - report["cpu"])
        report["cpu_meter"] = usage
        return report


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f}"


def cleanup_instance(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def dumps(obj) -> str:
    return json.dumps(obj, default=str)


# -- CPU accounting ----------------------------------------------------------------------------------

_CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds user+system) of one process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLK


def _all_procs() -> dict[int, tuple[str, int, float]]:
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None:
                procs[int(entry)] = info
    return procs


def _machine_ticks() -> tuple[float, float, float]:
    """(busy, idle incl. iowait, steal) seconds summed over all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / _CLK, (idle + iowait) / _CLK, steal / _CLK


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds spent between :meth:`start` and :meth:`stop` by the server's process tree, by the
    database (PostgreSQL: the backends connected to ``db_name``, found by their process title; MariaDB:
    the whole ``mariadbd``, which other databases share) and by the whole machine."""

    def __init__(self, server_pid: int | None, db_name: str | None = None):
        self.server_pid = server_pid
        self.db_name = db_name

    def _is_db(self, pid: int, comm: str) -> bool:
        if comm in ("mariadbd", "mysqld"):
            return True
        return comm == "postgres" and self.db_name is not None and f" {self.db_name} " in _cmdline(pid)

    def _sample(self) -> dict:
        procs = _all_procs()
        tree = set()
        if self.server_pid is not None:
            tree.add(self.server_pid)
            changed = True
            while changed:
                changed = False
                for pid, (_, ppid, _) in procs.items():
                    if ppid in tree and pid not in tree:
                        tree.add(pid)
                        changed = True
        return {"server": {pid: procs[pid][2] for pid in tree if pid in procs},
                "db": {pid: info[2] for pid, info in procs.items() if self._is_db(pid, info[0])},
                "machine": _machine_ticks(), "time": time.perf_counter()}

    def start(self) -> "CpuMeter":
        self.before = self._sample()
        return self

    def stop(self) -> dict:
        after = self._sample()
        delta = {}
        for part in ("server", "db"):
            old = self.before[part]
            delta[part] = sum(cpu - old.get(pid, 0.0) for pid, cpu in after[part].items())
        busy0, idle0, steal0 = self.before["machine"]
        busy1, idle1, steal1 = after["machine"]
        wall = after["time"] - self.before["time"]
        delta.update(wall=wall, busy=(busy1 - busy0), idle=(idle1 - idle0), steal=(steal1 - steal0),
                     capacity=wall * (os.cpu_count() or 1))
        return delta


def install_timers(table, acc: dict) -> list:
    """Wrap each ``(module[:Class], attribute, label)`` of ``table`` that exists with a timer adding
    (calls, wall seconds, this thread's CPU seconds) to ``acc[label]``; returns what :func:`remove_timers`
    needs. Names that do not exist (the plugin is being refactored) are skipped."""
    import importlib

    undo = []
    for target, attr, label in table:
        module_name, _, cls_name = target.partition(":")
        try:
            owner = importlib.import_module(module_name)
            if cls_name:
                owner = getattr(owner, cls_name)
            original = owner.__dict__[attr]
        except (ImportError, AttributeError, KeyError):
            continue

        def timed(*args, _original=original, _label=label, **kwargs):
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
                entry = acc.setdefault(_label, [0, 0.0, 0.0])  # GIL: the three adds are not torn apart
                entry[0] += 1
                entry[1] += wall
                entry[2] += cpu

        setattr(owner, attr, timed)
        undo.append((owner, attr, original))
    return undo


def remove_timers(undo: list) -> None:
    for owner, attr, original in reversed(undo):
        setattr(owner, attr, original)


def _child(conn, func, args, kwargs) -> None:
    import traceback

    try:
        conn.send(("ok", func(*args, **kwargs)))
    except BaseException:  # noqa: BLE001 - carried to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def in_subprocess(func, *args, **kwargs):
    """``func(*args, **kwargs)`` in a fresh spawned (non-daemonic) Python process; returns its result.

    The demo host can be built only once per process (its declarative base is module-level), and the
    memory figures of a run need a process of their own."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args, kwargs))
    proc.start()
    child.close()
    try:
        status, value = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"benchmark process died with exit code {proc.exitcode}") from None
    proc.join()
    if status == "error":
        raise RuntimeError("in a benchmark subprocess:\n" + value)
    return value


def run_named(name: str, quick: bool) -> dict:
    """Run benchmark ``bench.<name>`` (the runner calls this in a subprocess)."""
    import importlib

    result = importlib.import_module(f"bench.{name}").run(quick=quick)
    import panelpay

    result["panelpay_file"] = os.path.dirname(panelpay.__file__)
    return result
