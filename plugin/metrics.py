"""Prometheus metrics of one PanelPay app, in its own registry (no global state).

Served at ``<prefix>/metrics`` when ``PANELPAY_METRICS_TOKEN`` is set. Under several worker processes
each worker counts its own; point ``PROMETHEUS_MULTIPROC_DIR`` at a shared directory to aggregate.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.notifications = Counter(
            "panelpay_notifications", "Notifications received, by channel kind, verdict and HTTP answer",
            ["kind", "verdict", "answer"], registry=self.registry,
        )
        self.settle_seconds = Histogram(
            "panelpay_settle_seconds", "Time to judge and settle one notification",
            ["kind"], registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.credits = Counter(
            "panelpay_credits", "Orders credited, by channel kind and what confirmed them",
            ["kind", "source"], registry=self.registry,
        )
        self.credited_amount = Counter(
            "panelpay_credited_amount", "Money credited (yuan), by channel kind", ["kind"], registry=self.registry,
        )
        self.anomalies = Counter(
            "panelpay_anomalies", "Payments flagged instead of credited, by channel kind", ["kind"],
            registry=self.registry,
        )
        self.reconcile = Counter(
            "panelpay_reconcile_orders", "Orders handled by reconcile, by result", ["result"],
            registry=self.registry,
        )

    def notification(self, kind: str, verdict: str, status: int, seconds: float) -> None:
        """One judged notification: counted by its answer, the time to judge it observed."""
        self.notifications.labels(kind, verdict, str(status)).inc()
        self.settle_seconds.labels(kind).observe(seconds)

    def credit(self, order) -> None:
        kind = order.channel.kind if order.channel is not None else ""
        self.credits.labels(kind, order.settled_by or "").inc()
        self.credited_amount.labels(kind).inc(float(order.credit))  # a monitoring figure, not money

    def anomaly(self, kind: str, reason: str) -> None:
        self.anomalies.labels(kind).inc()

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
