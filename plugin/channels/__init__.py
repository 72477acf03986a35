"""Gateway channels, one module each. Core knows them only through :mod:`panelpay.channels.base`.

Which kinds an app has: the built-in EPay and Alipay, every kind named in the ``panelpay.channels``
entry-point group of an installed distribution, and the classes passed to
``PanelPay(..., channel_kinds=[...])``. A kind that cannot be loaded stops the app with an error naming it;
nothing is skipped silently.
"""
from __future__ import annotations

import re
from importlib.metadata import entry_points
from typing import Iterable

from .alipay import AlipayChannel
from .base import Channel
from .common import describe
from .epay import EPayChannel

#: The entry-point group a distribution names its channel kinds in.
ENTRY_POINT_GROUP = "panelpay.channels"
BUILTIN = (EPayChannel, AlipayChannel)
_KIND = re.compile(r"[a-z][a-z0-9]{0,15}")


class ChannelKindError(RuntimeError):
    """A channel kind that cannot be registered; the message says which and why."""


def installed_kinds(extra: Iterable[type] = ()) -> dict[str, type[Channel]]:
    """Every kind this app has: built-in, from entry points, then ``extra``; kind name → class."""
    kinds: dict[str, type[Channel]] = {}
    for cls in (*BUILTIN, *_from_entry_points(), *extra):
        _check(cls)
        if kinds.get(cls.kind, cls) is not cls:
            raise ChannelKindError(f"two channel kinds are called {cls.kind!r}: {kinds[cls.kind].__module__}."
                                   f"{kinds[cls.kind].__qualname__} and {cls.__module__}.{cls.__qualname__}")
        kinds[cls.kind] = cls
    return kinds


def _from_entry_points() -> list[type]:
    found = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append(point.load())
        except Exception as exc:  # noqa: BLE001 - any import failure is reported, with its cause
            raise ChannelKindError(f"the channel kind {point.name!r} ({point.value}) cannot be loaded: "
                                   f"{type(exc).__name__}: {exc}") from exc
    return found


def _check(cls) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise ChannelKindError(f"{cls!r} is not a subclass of panelpay.channels.base.Channel")
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ChannelKindError(f"{cls.__qualname__}.kind must be 1 to 16 lower-case letters and digits, "
                               f"starting with a letter (it is {kind!r})")
    try:
        describe(cls)
    except (LookupError, KeyError, TypeError) as exc:
        raise ChannelKindError(f"channel kind {kind!r}: {exc}") from exc
