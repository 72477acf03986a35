"""Alerts: PanelPay's warning signals, also sent as JSON to ``PANELPAY_ALERT_WEBHOOK`` when it is set.

Deliveries run on a background thread with retries and backoff, so an alert never delays the answer a
gateway is waiting for. An alert that still fails after the last retry is logged.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

import requests

from .money import format_money
from .signals import channel_silent, notification_rejected, payment_anomaly, payment_paid_late

log = logging.getLogger("panelpay")

BACKOFF = (1.0, 5.0, 30.0, 120.0)
SIGNALS = {
    "notification_rejected": notification_rejected,
    "payment_anomaly": payment_anomaly,
    "payment_paid_late": payment_paid_late,
    "channel_silent": channel_silent,
}


def _order(order) -> dict | None:
    if order is None:
        return None
    return {"trade_no": order.trade_no, "status": order.status, "user_id": order.user_id,
            "total": format_money(order.total), "credit": format_money(order.credit),
            "channel": order.channel.uuid if order.channel is not None else None,
            "paid_late": bool(order.paid_late), "anomaly": order.anomaly}


def payload(event: str, kwargs: dict) -> dict:
    """The JSON body of one alert: plain values only (never a key, never a raw notification)."""
    body: dict = {"event": event, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for key, value in kwargs.items():
        if key == "order":
            body["order"] = _order(value)
        elif hasattr(value, "isoformat"):
            body[key] = value.isoformat() + "Z"
        else:
            body[key] = value
    return body


class AlertSender:
    """Posts alerts to one webhook URL from a daemon thread, with retries."""

    def __init__(self, url: str, timeout: float, backoff: tuple = BACKOFF):
        self.url = url
        self.timeout = timeout
        self.backoff = backoff
        self.queue: queue.Queue = queue.Queue(maxsize=10000)
        self.http = requests.Session()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def connect(self, app) -> None:
        for event, signal in SIGNALS.items():
            signal.connect(self._receiver(event), app, weak=False)

    def _receiver(self, event: str):
        def receive(sender, **kwargs):
            self.send(payload(event, kwargs))
        return receive

    def send(self, body: dict) -> None:
        try:
            self.queue.put_nowait(body)
        except queue.Full:
            log.error("alert queue full; dropped alert %s", body.get("event"))
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="panelpay-alerts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            body = self.queue.get()
            self._deliver(body)
            self.queue.task_done()

    def _deliver(self, body: dict) -> None:
        for delay in (*self.backoff, None):
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
