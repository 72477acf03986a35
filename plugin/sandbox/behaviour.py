"""Misbehaviour switches: how the sandbox deviates from a well-behaved gateway, for tests and the demo.

Every assignment is validated, whether it comes from Python (``sandbox.behaviour.duplicate = 3``) or
from ``POST <prefix>/_behaviour`` (:meth:`Behaviour.update`, all-or-nothing).
"""
from __future__ import annotations

import math
import threading
from typing import Any, Mapping

MAPI_ANSWERS = ("auto", "payurl", "qrcode", "urlscheme")

#: name -> (default, one-line meaning). ``time_scale``'s default is the constructor's value.
SWITCHES: dict[str, tuple[Any, str]] = {
    "drop": (False, "pay, but never send the notification"),
    "delay": (0.0, "real seconds to wait before the first notification attempt (not scaled)"),
    "duplicate": (1, "copies of every notification attempt, sent concurrently"),
    "method_override": (None, "GET or POST instead of the protocol's method; null for the protocol's"),
    "epay_status_as_int": (False, "EPay queries answer status as an int (1) instead of a string (\"1\")"),
    "mapi_answer": ("auto", "mapi.php/v2 create answer: auto (qrcode for pc, payurl otherwise), "
                            "payurl, qrcode or urlscheme"),
    "legacy_money": (False, "EPay notifications send money as \"10.00\" like older panels"),
    "time_scale": (1.0, "factor applied to the retry schedules (0.0005: one minute is 30 ms)"),
}


class BehaviourError(ValueError):
    """A switch name or value the sandbox does not accept."""


def _check(name: str, value: Any) -> Any:
    if name not in SWITCHES:
        raise BehaviourError(f"unknown switch {name!r}; known: {', '.join(SWITCHES)}")
    if name in ("drop", "epay_status_as_int", "legacy_money"):
        if not isinstance(value, bool):
            raise BehaviourError(f"{name} must be true or false")
        return value
    if name == "duplicate":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
            raise BehaviourError("duplicate must be an integer from 1 to 20 (1: no duplicates)")
        return value
    if name in ("delay", "time_scale"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BehaviourError(f"{name} must be a number")
        if name == "delay" and not 0 <= value <= 3600:
            raise BehaviourError("delay must be between 0 and 3600 seconds")
        if name == "time_scale" and not 0 < value <= 1000:
            raise BehaviourError("time_scale must be greater than 0 and at most 1000")
        return float(value)
    if name == "method_override":
        if value in (None, ""):
            return None
        if not isinstance(value, str) or value.upper() not in ("GET", "POST"):
            raise BehaviourError("method_override must be GET, POST or null")
        return value.upper()
    if name == "mapi_answer":
        if value not in MAPI_ANSWERS:
            raise BehaviourError(f"mapi_answer must be one of {', '.join(MAPI_ANSWERS)}")
        return value
    raise AssertionError(name)  # pragma: no cover


class Behaviour:
    """The current switches; read them as attributes. Thread-safe for assignment."""

    drop: bool
    delay: float
    duplicate: int
    method_override: str | None
    epay_status_as_int: bool
    mapi_answer: str
    legacy_money: bool
    time_scale: float

    def __init__(self, time_scale: float = 1.0):
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_default_time_scale", _check("time_scale", time_scale))
        self.reset()

    def __setattr__(self, name: str, value: Any) -> None:
        checked = _check(name, value)
        with self._lock:
            object.__setattr__(self, name, checked)

    def reset(self) -> None:
        """Back to a well-behaved gateway, with the constructor's time scale."""
        self.update({name: default for name, (default, _) in SWITCHES.items()}
                    | {"time_scale": self._default_time_scale})

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply several switches at once; nothing changes if any of them is refused."""
        if not isinstance(changes, Mapping):
            raise BehaviourError("expected a JSON object of switches")
        checked = {name: _check(name, value) for name, value in changes.items()}
        with self._lock:
            for name, value in checked.items():
                object.__setattr__(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {name: getattr(self, name) for name in SWITCHES}

    def __repr__(self) -> str:
        return f"Behaviour({self.as_dict()})"
