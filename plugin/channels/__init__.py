"""Gateway channels, one module each. Core knows them only through :mod:`panelpay.channels.base`."""
from __future__ import annotations


def register_builtin_kinds(state) -> None:
    """Register the built-in kinds on one app's state (no global registry)."""
    try:  # TEMPORARY while the channel modules are written
        from .alipay import AlipayChannel
        from .epay import EPayChannel
    except ImportError:
        return
    for cls in (EPayChannel, AlipayChannel):
        state.channel_kinds[cls.kind] = cls
