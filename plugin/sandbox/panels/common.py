"""What both panel emulators share: PHP number text, the database engine, the fault switch, the request
recorder and the plain HTML page shell.

Nothing here signs or verifies: each panel does that with its own code (:mod:`.xboard`, :mod:`.newapi`), the
way the real panel does it, so a test of PanelPay against them checks interoperability rather than PanelPay
against itself.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

import sqlalchemy as sa
from flask import Flask, Response, g, render_template_string, request

#: The fault switches a test may set on ``panel.behaviour``.
BEHAVIOURS = ("normal", "error", "catch_all_html", "success_without_apply")


def now() -> int:
    """Unix seconds, as both panels store them."""
    return int(time.time())


# --- PHP numbers -------------------------------------------------------------------------------------------

def php_float_text(value: float) -> str:
    """A PHP float as ``http_build_query`` prints it (``%.*G`` with ``precision=14``): 9.9 → ``9.9``,
    0.01 → ``0.01``, 10.0 → ``10``. Exponent forms are not needed for money and not emulated."""
    text = format(value, ".14G")
    if "E" in text:  # pragma: no cover - not reachable for amounts in cents
        raise ValueError(f"{value!r} prints with an exponent in PHP; not emulated")
    return text


def php_money(total_amount_cents: int) -> str:
    """``$order['total_amount'] / 100`` as PHP prints it: an exact division stays an int (1000 → ``10``),
    otherwise a float (990 → ``9.9``, 1 → ``0.01``)."""
    cents = int(total_amount_cents)
    if cents % 100 == 0:
        return str(cents // 100)
    return php_float_text(cents / 100)


# --- database ----------------------------------------------------------------------------------------------

def make_engine(url: str, *, sqlite_wal: bool = False) -> sa.Engine:
    """An engine for SQLite (file or memory) or MariaDB/MySQL (``mysql+pymysql://…``)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return sa.create_engine(url, poolclass=sa.pool.StaticPool,
                                    connect_args={"check_same_thread": False})
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        if sqlite_wal:
            @sa.event.listens_for(engine, "connect")
            def _wal(dbapi_connection, _record):  # Xboard's config/database.php: journal_mode wal
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def row_dict(row) -> dict | None:
    return None if row is None else dict(row._mapping)


# --- the fault switch --------------------------------------------------------------------------------------

class EmulatedPanel:
    """What both emulated panels share: ``behaviour`` (one of :data:`BEHAVIOURS`, read and set from any
    thread), what reached them (:attr:`received`), and their database engine (:meth:`close`)."""

    recorder: "Recorder"
    engine: Any

    def _init_behaviour(self) -> None:
        self._behaviour_lock = threading.Lock()
        self._behaviour = "normal"

    @property
    def behaviour(self) -> str:
        with self._behaviour_lock:
            return self._behaviour

    @behaviour.setter
    def behaviour(self, value: str) -> None:
        if value not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}; got {value!r}")
        with self._behaviour_lock:
            self._behaviour = value

    @property
    def received(self) -> list["Received"]:
        return self.recorder.items()

    def clear_received(self) -> None:
        self.recorder.clear()

    def close(self) -> None:
        """Releases the database connections (the app stays usable; it reconnects on demand)."""
        self.engine.dispose()


# --- what reached the panel --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    """One request that reached the panel (anything but its demo pages), and what the panel answered.

    ``query`` and ``form`` are decoded (``+`` and ``%XX``), in the order received; a name sent twice keeps
    its first position and its last value. ``query_string`` and ``body`` are the raw texts, for byte-exact
    assertions. ``overlapped`` is True when another request for the same ``out_trade_no`` was being handled
    at the same time (a deliverer must serialise one order's notifications).
    """

    method: str
    path: str
    query: dict[str, str]
    query_string: str
    form: dict[str, str]
    body: str
    status: int
    answer: str
    content_type: str
    at: float
    overlapped: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        """Query and form together (form wins on a clash)."""
        return {**self.query, **self.form}


class Recorder:
    """The panel's received requests, thread-safe, plus per-order in-flight counting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Received] = []
        self._in_flight: Counter[str] = Counter()

    def enter(self, out_trade_no: str) -> bool:
        """Marks ``out_trade_no`` in flight; True when another request for it already was."""
        with self._lock:
            self._in_flight[out_trade_no] += 1
            return self._in_flight[out_trade_no] > 1

    def leave(self, out_trade_no: str) -> None:
        with self._lock:
            self._in_flight[out_trade_no] -= 1
            if self._in_flight[out_trade_no] <= 0:
                del self._in_flight[out_trade_no]

    def add(self, item: Received) -> None:
        with self._lock:
            self._items.append(item)

    def items(self) -> list[Received]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _decoded(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True))


def install_hooks(app: Flask, panel, *, page_paths: Callable[[str], bool], error_body: str,
                  catch_all_body: str) -> None:
    """Fault switch and recorder around every request of ``app``. ``page_paths(path)`` is True for the
    demo pages, which are recorded only when their query carries a ``sign`` (a signed return)."""

    @app.before_request
    def _before():
        g.pp_recorded = not page_paths(request.path) or b"sign=" in request.query_string
        g.pp_overlapped = False
        g.pp_order = None
        request.get_data(cache=True)  # keep the raw body: the panels read it themselves
        if g.pp_recorded:
            order = request.args.get("out_trade_no") or request.form.get("out_trade_no")
            if order:
                g.pp_order = order
                g.pp_overlapped = panel.recorder.enter(order)
        behaviour = panel.behaviour
        if behaviour == "error":
            return Response(error_body, 500, mimetype="text/plain")
        if behaviour == "catch_all_html":
            return Response(catch_all_body, 200, mimetype="text/html")
        return None

    @app.after_request
    def _after(response: Response):
        if getattr(g, "pp_recorded", False) and not response.is_streamed:
            body = request.get_data(cache=True, as_text=True)
            form = _decoded(body) if request.mimetype == "application/x-www-form-urlencoded" else {}
            raw_query = request.query_string.decode("latin-1")
            panel.recorder.add(Received(
                method=request.method,
                path=request.path,
                query=_decoded(raw_query),
                query_string=raw_query,
                form=form,
                body=body,
                status=response.status_code,
                answer=response.get_data(as_text=True),
                content_type=response.mimetype or "",
                at=time.time(),
                overlapped=g.pp_overlapped,
                headers={k: v for k, v in request.headers.items() if k.lower() in ("user-agent", "content-type")},
            ))
        return response

    @app.teardown_request
    def _teardown(_exc):
        if getattr(g, "pp_order", None):
            panel.recorder.leave(g.pp_order)


# --- pages -------------------------------------------------------------------------------------------------

_SHELL = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ panel_name }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:{{ bg }};color:#222}
header{background:{{ accent }};color:#fff;padding:.7rem 1rem;font-weight:600}
header small{font-weight:400;opacity:.85;margin-left:.5rem}
main{max-width:44rem;margin:1rem auto;padding:0 1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #eee;padding:.35rem;text-align:left;word-break:break-all}
button{background:{{ accent }};color:#fff;border:0;border-radius:4px;padding:.45rem 1rem;cursor:pointer}
input,select{padding:.35rem;border:1px solid #ccc;border-radius:4px}
.muted{color:#777;font-size:.85rem}
</style></head>
<body><header>{{ panel_name }}<small>emulated for PanelPay's tests and demo, not the real panel</small></header>
<main>{{ body }}</main></body></html>"""


def render_page(panel_name: str, title: str, body_template: str, *, accent: str, bg: str = "#f5f6f8",
                lang: str = "zh-CN", **context) -> str:
    """``body_template`` rendered (autoescaped) inside the panel's plain page shell."""
    from markupsafe import Markup

    body = render_template_string(body_template, **context)
    return render_template_string(_SHELL, panel_name=panel_name, title=title, body=Markup(body),
                                  accent=accent, bg=bg, lang=lang)
