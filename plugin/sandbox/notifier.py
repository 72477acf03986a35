"""Asynchronous notifications with each gateway's real transport, acceptance rule and retry schedule.

- EPay: GET ``notify_url`` + query, curl-like (5 s timeout, no redirects followed, TLS unchecked, a
  desktop Chrome User-Agent). Accepted when the body *contains* ``success``, ``SUCCESS`` or ``Success``.
  Retries at t+1, t+3, t+19 and t+55 minutes, then gives up (5 attempts).
- Alipay: POST form (``charset=utf-8``). Accepted only on a 200 whose body is exactly ``success``.
  Retries after 4m, 10m, 10m, 1h, 2h, 6h and 15h (8 attempts); ``notify_id`` is stable across them.

Retry times are multiplied by ``behaviour.time_scale`` when each retry is scheduled. Every HTTP attempt
(every copy, with ``duplicate``) is recorded as a delivery.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

import requests

from .behaviour import Behaviour
from .ledger import beijing, now
from .payloads import with_query
from .scheduler import Scheduler

#: Seconds after the first attempt.
EPAY_RETRY_OFFSETS = (60, 180, 1140, 3300)
ALIPAY_RETRY_OFFSETS = tuple(itertools.accumulate((240, 600, 600, 3600, 7200, 21600, 54000)))

TIMEOUT = 5.0
CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Safari/537.36")
ALIPAY_UA = "Mozilla/4.0"
BODY_LIMIT = 65536
SNIPPET = 200


def epay_accepts(status: int | None, body: str) -> bool:
    return any(word in body for word in ("success", "SUCCESS", "Success"))


def alipay_accepts(status: int | None, body: str) -> bool:
    return status == 200 and body == "success"


@dataclass
class Job:
    """One notification (one event of one order) and its retries."""

    gateway: str
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
    def method(self) -> str:
        return "GET" if self.gateway == "epay" else "POST"

    @property
    def offsets(self) -> tuple[int, ...]:
        return EPAY_RETRY_OFFSETS if self.gateway == "epay" else ALIPAY_RETRY_OFFSETS

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
    def submit(self, gateway: str, order_id: str, out_trade_no: str, event: str, url: str,
               build: Callable[[], dict[str, str]], notify_id: str = "") -> Job | None:
        """Queue a notification; ``drop`` swallows it, ``delay`` postpones its first attempt."""
        if self.behaviour.drop or not url:
            return None
        job = Job(gateway, order_id, out_trade_no, event, url, build, self.scheduler.generation, notify_id)
        with self._cond:
            self._jobs.setdefault(out_trade_no, []).append(job)
        self.scheduler.call_later(self.behaviour.delay, lambda: self._attempt(job))
        return job

    def _attempt(self, job: Job) -> None:
        if not self.scheduler.current(job.generation):
            return
        if job.attempts == 0:
            job.first_at = time.monotonic()
        job.attempts += 1
        params = job.build()
        method = self.behaviour.method_override or job.method
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
        ua = CHROME_UA if job.gateway == "epay" else ALIPAY_UA
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
        accepts = epay_accepts if job.gateway == "epay" else alipay_accepts
        return Delivery(
            attempt=job.attempts, copy=copy, event=job.event, trade_no=job.order_id, time=beijing(now()),
            method=method, url=job.url, status=status, body=body[:SNIPPET],
            accepted=error is None and accepts(status, body), error=error,
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
