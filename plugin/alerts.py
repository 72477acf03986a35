"""Alerts: PanelPay's warning signals, also sent as JSON to ``PANELPAY_ALERT_WEBHOOK`` when it is set.

Deliveries run on a background thread, so an alert never delays the answer a gateway is waiting for.

* What needs an operator (an anomaly, a late payment, a silent channel) is queued on its own and sent
  first, with retries and backoff; an alert that still fails after the last retry is logged.
* Refused notifications come from anonymous clients and can come in floods: they are counted per source
  address and sent as one summary per window (one attempt; the delivery log keeps every request), so no
  amount of junk can delay or crowd out an alert that matters. What such a client sent (a reason that
  quotes it, the path's uuid) is placed under ``"untrusted"`` in the summary.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

import requests

from .money import format_money
from .signals import channel_silent, notification_rejected, panel_notification_failed, payment_anomaly, payment_paid_late

log = logging.getLogger("panelpay")

BACKOFF = (1.0, 5.0, 30.0, 120.0)
#: Seconds over which refused notifications are summed up into one alert.
WINDOW = 60.0
#: Sources listed in one summary (the rest are counted together), and quoted reasons per source.
SOURCES, REASONS = 50, 3
IMPORTANT = {
    "payment_anomaly": payment_anomaly,
    "payment_paid_late": payment_paid_late,
    "channel_silent": channel_silent,
    "panel_notification_failed": panel_notification_failed,
}


def _order(order) -> dict | None:
    if order is None:
        return None
    return {"trade_no": order.trade_no, "status": order.status, "user_id": order.user_id,
            "total": format_money(order.total), "credit": format_money(order.credit),
            "channel": order.channel.uuid if order.channel is not None else None,
            "paid_late": bool(order.paid_late), "anomaly": order.anomaly}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def payload(event: str, kwargs: dict) -> dict:
    """The JSON body of one alert: plain values only (never a key, never a raw notification)."""
    body: dict = {"event": event, "at": _now()}
    for key, value in kwargs.items():
        if key == "order":
            body["order"] = _order(value)
        elif hasattr(value, "isoformat"):
            body[key] = value.isoformat() + "Z"
        else:
            body[key] = value
    return body


class AlertSender:
    """Posts alerts to one webhook URL from a daemon thread: operator alerts first, with retries; refused
    notifications as a summary per ``window`` seconds."""

    def __init__(self, url: str, timeout: float, backoff: tuple = BACKOFF, window: float = WINDOW):
        self.url = url
        self.timeout = timeout
        self.backoff = backoff
        self.window = window
        self.queue: queue.Queue = queue.Queue(maxsize=10000)
        self.http = requests.Session()
        self._refused: dict[str, dict] = {}
        self._others = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def connect(self, app) -> None:
        for event, signal in IMPORTANT.items():
            signal.connect(self._receiver(event), app, weak=False)
        notification_rejected.connect(self._count_refused, app, weak=False)

    def _receiver(self, event: str):
        def receive(sender, **kwargs):
            self.send(payload(event, kwargs))
        return receive

    def send(self, body: dict) -> None:
        """Queue an operator alert (the queue only ever holds these: junk never fills it)."""
        try:
            self.queue.put_nowait(body)
        except queue.Full:
            log.error("alert queue full; dropped alert %s", body.get("event"))
        self._start()

    def _count_refused(self, sender, *, reason: str, channel_uuid: str, source_ip: str = "", **kwargs) -> None:
        with self._lock:
            summary = self._refused.get(source_ip)
            if summary is None and len(self._refused) >= SOURCES:
                self._others += 1
            else:
                summary = self._refused.setdefault(source_ip, {"count": 0, "reasons": [], "channel_uuids": []})
                summary["count"] += 1
                for key, text in (("reasons", reason[:200]), ("channel_uuids", channel_uuid[:64])):
                    if len(summary[key]) < REASONS and text not in summary[key]:
                        summary[key].append(text)
        self._start()

    def _summary(self) -> dict | None:
        """The refused notifications counted since the last summary, as one alert (None if there were none)."""
        with self._lock:
            refused, others = self._refused, self._others
            self._refused, self._others = {}, 0
        if not refused and not others:
            return None
        return {"event": "notifications_rejected", "at": _now(), "window_seconds": self.window,
                "count": sum(s["count"] for s in refused.values()) + others, "from_other_sources": others,
                "sources": [{"source_ip": source, "count": s["count"],
                             "untrusted": {"reasons": s["reasons"], "channel_uuids": s["channel_uuids"]}}
                            for source, s in refused.items()],
                "note": "what sent these was refused; 'untrusted' quotes what the clients sent"}

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="panelpay-alerts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        next_summary = time.monotonic() + self.window
        while True:
            try:
                body = self.queue.get(timeout=max(0.0, next_summary - time.monotonic()))
            except queue.Empty:
                body = None
            if body is not None:
                self._deliver(body, self.backoff)
                self.queue.task_done()
            if time.monotonic() >= next_summary:
                next_summary = time.monotonic() + self.window
                summary = self._summary()
                if summary is not None:
                    self._deliver(summary, ())

    def _deliver(self, body: dict, backoff: tuple) -> None:
        for delay in (*backoff, None):
            try:
                response = self.http.post(self.url, json=body, timeout=self.timeout)
                if response.status_code < 300:
                    return
                reason = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                reason = type(exc).__name__
            if delay is None:
                log.error("alert %s not delivered to the webhook: %s", body.get("event"), reason)
                return
            time.sleep(delay)
