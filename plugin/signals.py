"""PanelPay's signals. Each is sent after the database work it reports has committed.

Receivers get ``sender`` = the Flask app and the keyword arguments named below. ``order`` and ``entry``
are ordinary :class:`~panelpay.models.Order` and :class:`~panelpay.models.LedgerEntry` rows as the
database holds them after the commit (detached from any session, every column loaded, ``order.channel``
included): read them, or load them again in a session of your own to change anything. A receiver that
raises is logged and ignored: a signal never changes the answer a gateway gets.
"""
from __future__ import annotations

import logging

from flask.signals import Namespace

_signals = Namespace()
log = logging.getLogger("panelpay")

#: A payment was credited. kwargs: ``order`` (Order), ``entry`` (LedgerEntry), ``source`` (str).
payment_succeeded = _signals.signal("panelpay.payment-succeeded")
#: A payment arrived for an order already expired or closed; it was credited. kwargs: ``order``.
payment_paid_late = _signals.signal("panelpay.payment-paid-late")
#: Evidence that cannot be credited as is (amount, merchant, reused trade number, unknown order).
#: kwargs: ``order`` (Order or None), ``reason`` (str), ``notification_id`` (int or None).
payment_anomaly = _signals.signal("panelpay.payment-anomaly")
#: A notification was refused (bad signature, malformed, unknown channel). kwargs: ``notification_id``,
#: ``reason`` (str), ``channel_uuid`` (str), ``source_ip`` (str). The reason and the uuid quote what an
#: anonymous client sent: treat them as untrusted text.
notification_rejected = _signals.signal("panelpay.notification-rejected")
#: Reconcile found payments on a channel whose notifications stopped arriving. kwargs: ``channel_uuid``,
#: ``paid_without_notify`` (int), ``last_notification_at`` (datetime or None).
channel_silent = _signals.signal("panelpay.channel-silent")
#: Gateway mode: a panel's notification could not be delivered after every attempt, or confirm by read found
#: it not applied. kwargs: ``order`` (the relay Order), ``reason`` (str).
panel_notification_failed = _signals.signal("panelpay.panel-notification-failed")


def emit(signal, app, **kwargs) -> None:
    """Send ``signal`` from ``app``; a failing receiver is logged, never raised."""
    try:
        signal.send(app, **kwargs)
    except Exception:  # noqa: BLE001 - a receiver must not break a settled payment's answer
        log.exception("a receiver of %s failed", signal.name)
