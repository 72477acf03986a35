"""The sandbox PanelPay ships: :class:`Sandbox`, playing EPay and Alipay.

    sandbox = Sandbox(state_file="instance/sandbox.json")
    sandbox.add_gateway(MyGateway)  # a channel author's own sandbox gateway, next to them
"""
from __future__ import annotations

from .alipay import AlipayGateway
from .epay import EpayGateway
from .gateway import BaseSandbox
from .merchants import ALIPAY_APP_ID, ALIPAY_SELLER_ID, EPAY_PID


class Sandbox(BaseSandbox):
    """PanelPay's own EPay and Alipay gateway, protocol-faithful, quirks included. ``gateways=[…]`` plays
    others instead; :meth:`add_gateway` adds to them. ``CHANNEL_KINDS`` on the class is that of the
    bundled gateways; on an instance, that of the gateways it plays."""

    GATEWAYS = (EpayGateway, AlipayGateway)
    CHANNEL_KINDS = {name: kind for gateway in GATEWAYS for name, kind in gateway.channel_kinds.items()}
    EPAY_PID = EPAY_PID
    ALIPAY_APP_ID = ALIPAY_APP_ID
    ALIPAY_SELLER_ID = ALIPAY_SELLER_ID
