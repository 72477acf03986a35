"""Asynchronous notifications, sent the way the order's gateway sends them.

The gateway (see :mod:`.protocol`) gives the method (GET with the parameters in the query, or POST with a
``charset=utf-8`` form), the User-Agent, the retry offsets and what counts as an accepted answer; every
gateway's requests time out after 5 s, follow no redirect and do not check TLS, and at most 64 KiB of an
answer is read. Retry times are multiplied by ``behaviour.time_scale`` when each retry is scheduled. Every
HTTP attempt (every copy, with ``duplicate``) is recorded as a delivery.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlencode

import requests

from .behaviour import Behaviour
from .ledger import GatewayOrder, beijing, now
from .payloads import with_query
from .scheduler import Scheduler

if TYPE_CHECKING:
    from .protocol import Notice, SandboxGateway

TIMEOUT = 5.0
BODY_LIMIT = 65536
SNIPPET = 200


@dataclass
class Job:
    """One notification (one event of one order) and its retries."""

    gateway: SandboxGateway
    order_id: str
    out_trade_no: str
    event: str
    url: str
    build: Callable[[], dict[str, str]]  #: fresh signed parameters for each attempt
    generation: int
    notify_id: str = ""
    attempts: int = 0
    first_at: float = 0.0
    state: str = "pending"  #: pending, accepted, gave_up

    @property
    def offsets(self) -> tuple[float, ...]:
        return self.gateway.retry_offsets

    def summary(self) -> dict:
        return {"event": self.event, "trade_no": self.order_id, "attempts": self.attempts,
                "max_attempts": len(self.offsets) + 1, "state": self.state, "notify_id": self.notify_id or None}


@dataclass
class Delivery:
    attempt: int
    copy: int
    event: str
    trade_no: str
    time: str
    method: str
    url: str  #: without the query (the query is the signed payload)
    status: int | None
    body: str  #: the first 200 characters
    accepted: bool
    error: str | None = None
    elapsed_ms: int = 0
    since_first_ms: int = 0  #: when this attempt started, counted from the start of the first one
    notify_id: str | None = None
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Notifier:
    def __init__(self, behaviour: Behaviour, scheduler: Scheduler):
        self.behaviour = behaviour
        self.scheduler = scheduler
        self._cond = threading.Condition()
        self._deliveries: dict[str, list[Delivery]] = {}
        self._jobs: dict[str, list[Job]] = {}

    # -- scheduling ---------------------------------------------------------------------------------
    def submit(self, gateway: SandboxGateway, order: GatewayOrder, notice: Notice) -> Job | None:
        """Queue ``notice`` to ``order.notify_url``, sent the way ``gateway`` sends; ``drop`` swallows it,
        ``delay`` postpones its first attempt."""
        if self.behaviour.drop or not order.notify_url:
            return None
        job = Job(gateway, order.id, order.out_trade_no, notice.event, order.notify_url, notice.params,
                  self.scheduler.generation, notice.notify_id)
        with self._cond:
            self._jobs.setdefault(job.out_trade_no, []).append(job)
        self.scheduler.call_later(self.behaviour.delay, lambda: self._attempt(job))
        return job

    def _attempt(self, job: Job) -> None:
        if not self.scheduler.current(job.generation):
            return
        if job.attempts == 0:
            job.first_at = time.monotonic()
        job.attempts += 1
        params = job.build()
        method = self.behaviour.method_override or job.gateway.notify_method
        copies = self.behaviour.duplicate
        results: list[Delivery | None] = [None] * copies

        def send(index: int) -> None:
            results[index] = self._send(job, method, params, index + 1)

        if copies == 1:
            send(0)
        else:
            threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(copies)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if not self.scheduler.current(job.generation):
            return
        accepted = any(d is not None and d.accepted for d in results)
        with self._cond:
            self._deliveries.setdefault(job.out_trade_no, []).extend(d for d in results if d is not None)
            if accepted:
                job.state = "accepted"
            elif job.attempts > len(job.offsets):
                job.state = "gave_up"
            self._cond.notify_all()
        if job.state == "pending":
            due = job.first_at + job.offsets[job.attempts - 1] * self.behaviour.time_scale
            self.scheduler.call_later(due - time.monotonic(), lambda: self._attempt(job))

    # -- HTTP ---------------------------------------------------------------------------------------
    def _send(self, job: Job, method: str, params: dict[str, str], copy: int) -> Delivery:
        ua = job.gateway.user_agent
        started = time.monotonic()
        status, body, error = None, "", None
        try:
            if method == "GET":
                response = requests.get(with_query(job.url, params), headers={"User-Agent": ua},
                                        timeout=TIMEOUT, allow_redirects=False, verify=False, stream=True)
            else:
                response = requests.post(
                    job.url, data=urlencode(params).encode("ascii"), timeout=TIMEOUT,
                    allow_redirects=False, verify=False, stream=True,
                    headers={"User-Agent": ua,
                             "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
            with response:
                status = response.status_code
                raw = response.raw.read(BODY_LIMIT, decode_content=True) or b""
            body = raw.decode("utf-8", "replace")
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        except Exception as exc:  # urllib3 errors raised while reading the body
            error = f"{type(exc).__name__}: {exc}"[:300]
        return Delivery(
            attempt=job.attempts, copy=copy, event=job.event, trade_no=job.order_id, time=beijing(now()),
            method=method, url=job.url, status=status, body=body[:SNIPPET],
            accepted=error is None and job.gateway.accepts(status, body), error=error,
            elapsed_ms=int((time.monotonic() - started) * 1000),
            since_first_ms=int((started - job.first_at) * 1000), notify_id=job.notify_id or None,
            params=dict(params))

    # -- reading ------------------------------------------------------------------------------------
    def deliveries(self, out_trade_no: str) -> list[dict]:
        with self._cond:
            return [d.as_dict() for d in self._deliveries.get(out_trade_no, [])]

    def jobs(self, out_trade_no: str) -> list[dict]:
        with self._cond:
            return [job.summary() for job in self._jobs.get(out_trade_no, [])]

    def wait_for(self, out_trade_no: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        """Block until ``count`` deliveries were recorded for the order (or ``timeout``); return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._deliveries.get(out_trade_no, [])) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        return self.deliveries(out_trade_no)

    def clear(self) -> None:
        with self._cond:
            self._deliveries.clear()
            self._jobs.clear()
            self._cond.notify_all()
