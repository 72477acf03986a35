"""PanelPay: EPay and Alipay top-ups for Flask panels, with callbacks that never silently fail.

Mount it like any Flask extension::

    from panelpay import PanelPay, BalanceColumn

    panelpay = PanelPay(
        app, db=db,
        current_user_id=lambda: session.get("user_id"),
        is_admin=lambda: current_user.is_admin,
        balance=BalanceColumn(User.balance),
    )
"""
from __future__ import annotations

from .balance import BalanceCallable, BalanceColumn
from .config import ConfigError
from .extension import PanelPay
from .settle import Evidence, Settlement, settle
from .signals import (
    channel_silent,
    notification_rejected,
    payment_anomaly,
    payment_paid_late,
    payment_succeeded,
)

__version__ = "0.1.0"

__all__ = [
    "PanelPay",
    "BalanceColumn",
    "BalanceCallable",
    "ConfigError",
    "Evidence",
    "Settlement",
    "settle",
    "payment_succeeded",
    "payment_paid_late",
    "payment_anomaly",
    "notification_rejected",
    "channel_silent",
]
