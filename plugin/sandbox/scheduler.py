"""A small timer: one daemon thread keeps a heap of due calls and hands them to a worker pool, so that a
slow merchant (a notification waits up to 5 s for its answer) never delays another order's notification.

:meth:`Scheduler.cancel_all` starts a new generation: calls scheduled before it never run, and work in
flight can ask :meth:`Scheduler.current` whether it still belongs to the live generation.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, workers: int = 16):
        self._workers = workers
        self._heap: list[tuple[float, int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def generation(self) -> int:
        return self._generation

    def current(self, generation: int) -> bool:
        return generation == self._generation and not self._closed

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on a worker thread after ``delay`` real seconds."""
        with self._cond:
            if self._closed:
                return
            self._start()
            due = time.monotonic() + max(0.0, delay)
            heapq.heappush(self._heap, (due, next(self._seq), self._generation, fn))
            self._cond.notify()

    def cancel_all(self) -> None:
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._cond.notify()

    def close(self) -> None:
        """Stop the timer thread and the pool (calls in flight finish; nothing new starts)."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> None:
        if self._thread is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="sandbox-notify")
            self._thread = threading.Thread(target=self._run, name="sandbox-timer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, generation, fn = heapq.heappop(self._heap)
                if generation != self._generation:
                    continue
                pool = self._pool
            try:
                pool.submit(self._guarded, fn)
            except RuntimeError:  # pool shut down while closing
                return

    @staticmethod
    def _guarded(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a bug in one delivery must not kill the worker
            log.exception("sandbox scheduled call failed")
