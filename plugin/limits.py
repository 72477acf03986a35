"""Budgets that keep one anonymous source from flooding PanelPay: refused notifications per source address.

A gateway's notifications verify; a source whose requests keep being refused (bad signatures, junk) is
sending something else. After ``PANELPAY_REJECTIONS_PER_SOURCE`` refusals in ten minutes, its further
requests are answered "too many" without being recorded, until the window ends: the delivery log, the
alert webhook and the database stay the operator's. Counts are per worker process and bounded in memory.
A real gateway that is refused (a wrong key, say) keeps enough samples in the log to diagnose, and sends
again later: nothing is lost.
"""
from __future__ import annotations

import threading
import time

WINDOW = 600.0
#: Sources tracked at once; the oldest is forgotten first.
MAX_SOURCES = 10_000


class RejectionBudget:
    """Refusals per source address within :data:`WINDOW` seconds."""

    def __init__(self, limit: int):
        self.limit = limit
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def exhausted(self, source: str) -> bool:
        """Whether ``source`` has used its budget in the current window."""
        with self._lock:
            started, count = self._counts.get(source, (0.0, 0))
            return count >= self.limit and time.monotonic() - started < WINDOW

    def spend(self, source: str) -> None:
        """Count one refusal of ``source``."""
        now = time.monotonic()
        with self._lock:
            started, count = self._counts.pop(source, (now, 0))
            if now - started >= WINDOW:
                started, count = now, 0
            self._counts[source] = (started, count + 1)  # re-inserted: the dict keeps sources by last use
            if len(self._counts) > MAX_SOURCES:
                del self._counts[next(iter(self._counts))]
