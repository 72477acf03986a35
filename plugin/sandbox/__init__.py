"""PanelPay's own EPay and Alipay gateway, protocol-faithful (quirks included), for the demo and tests.

    from panelpay.sandbox import Sandbox, create_app

    sandbox = Sandbox(state_file="instance/sandbox.json")
    app.register_blueprint(sandbox.blueprint(), url_prefix="/sandbox")
    configs = sandbox.channel_configs("http://127.0.0.1:5000/sandbox")

or alone: ``python -m panelpay.sandbox --port 5050``. Each gateway is one module behind
:class:`SandboxGateway` (:mod:`.protocol`); a channel author plugs their own in with
``sandbox.add_gateway(TheirGateway)``.
"""
from __future__ import annotations

from .app import create_app
from .behaviour import Behaviour, BehaviourError
from .bundled import Sandbox
from .gateway import BaseSandbox, Payment
from .ledger import AlreadyPaid, GatewayOrder, OrderNotFound, SandboxError, Status, TradeClosed
from .protocol import Notice, SandboxGateway

__all__ = [
    "Sandbox", "create_app", "Behaviour", "BehaviourError", "Payment",
    "SandboxError", "OrderNotFound", "TradeClosed", "AlreadyPaid",
    "BaseSandbox", "SandboxGateway", "Notice", "GatewayOrder", "Status",
]
