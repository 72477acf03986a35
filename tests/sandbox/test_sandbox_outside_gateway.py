"""A gateway plugged in from outside the package: a made-up "coin" gateway, written here against
:class:`SandboxGateway`, takes an order over HTTP, shows at the shared cashier, and has its notification
delivered by the shared notifier its own way (method, User-Agent, acceptance rule, retry schedule)."""
from __future__ import annotations

import secrets
from decimal import Decimal

import pytest
from flask import Blueprint, request

from panelpay.sandbox import BaseSandbox, GatewayOrder, Notice, Sandbox, SandboxGateway, Status, create_app

from .sandbox_support import ServerThread, query_of, unique_no

TIME_SCALE = 0.0005  #: one minute of a retry schedule lasts 30 ms


class CoinGateway(SandboxGateway):
    """``POST /coin/orders`` (JSON) places an order; a payment is notified as a form POST that only a 202
    acknowledges, retried 60 s and 120 s after the first attempt; closings are not notified."""

    name = "coin"
    label = "CoinPay"
    channel_kinds = {"coin": "coin"}
    notify_method = "POST"
    retry_offsets = (60, 120)
    user_agent = "CoinPay-Notifier/1.0"

    def register(self, bp: Blueprint) -> None:
        @bp.route("/coin/orders", methods=["POST"])
        def coin_orders():
            body, ledger = request.get_json(), self.sandbox.ledger
            order = ledger.add(GatewayOrder(
                id=ledger.unique_id(lambda: "C" + secrets.token_hex(6)), gateway=self.name, product="api",
                merchant="m1", out_trade_no=body["out_trade_no"], subject="coins", amount=Decimal(body["amount"]),
                notify_url=body["notify_url"], return_url=body["return_url"]))
            return {"id": order.id}

    def channel_configs(self, base_url: str) -> dict[str, dict[str, str]]:
        return {"coin": {"gateway": f"{base_url.rstrip('/')}/coin/", "merchant": "m1"}}

    def accepts(self, status: int, body: str) -> bool:
        return status == 202

    def notice(self, order: GatewayOrder, status: Status) -> Notice | None:
        if status != Status.PAID:
            return None
        return Notice("paid", lambda: {"order": order.id, "ref": order.out_trade_no, "amount": str(order.amount),
                                       "buyer": order.buyer_id})

    def record_payment(self, order: GatewayOrder, pay_type: str | None) -> None:
        order.buyer_id = "coin-buyer"

    def return_params(self, order: GatewayOrder) -> dict[str, str]:
        return {"order": order.id, "paid": "1"}

    def merchant_label(self, order: GatewayOrder) -> str:
        return f"Coin merchant {order.merchant}"


@pytest.fixture
def coin_sandbox():
    sandbox = Sandbox(time_scale=TIME_SCALE)
    sandbox.add_gateway(CoinGateway)
    server = ServerThread(create_app(sandbox, "/sandbox"))
    yield sandbox, server.base_url + "/sandbox"
    sandbox.shutdown()
    server.stop()


def place(http, base, receiver, status: int) -> tuple[str, str, str]:
    path, out_trade_no = receiver.path("ok", status=status), unique_no("C")
    order = {"out_trade_no": out_trade_no, "amount": "1.50", "notify_url": receiver.url(path),
             "return_url": "http://shop.test/c"}
    answer = http.post(f"{base}/coin/orders", json=order)
    return answer.json()["id"], out_trade_no, path


def test_an_outside_gateway_is_served_paid_and_notified_its_own_way(coin_sandbox, http, receiver):
    sandbox, base = coin_sandbox
    assert sandbox.CHANNEL_KINDS["coin"] == "coin" and "coin" not in Sandbox.CHANNEL_KINDS
    assert set(sandbox.channel_configs(base)) == set(Sandbox.CHANNEL_KINDS) | {"coin"}

    order_id, out_trade_no, path = place(http, base, receiver, status=202)
    page = http.get(f"{base}/cashier/{order_id}").text
    assert "CoinPay收银台" in page and "Coin merchant m1" in page and 'name="type"' not in page
    paid = http.post(f"{base}/cashier/{order_id}/pay", allow_redirects=False)
    assert paid.status_code == 302 and query_of(paid.headers["Location"]) == {"order": order_id, "paid": "1"}

    hit = receiver.wait(path)[0]
    assert hit["method"] == "POST" and hit["user_agent"] == "CoinPay-Notifier/1.0"
    assert hit["form"] == {"order": order_id, "ref": out_trade_no, "amount": "1.50", "buyer": "coin-buyer"}
    assert [(d["event"], d["accepted"]) for d in sandbox.wait_for_deliveries(out_trade_no)] == [("paid", True)]

    _, refused_no, refused_path = place(http, base, receiver, status=200)  # not a 202: retried, then given up
    sandbox.pay(refused_no)
    deliveries = sandbox.wait_for_deliveries(refused_no, 3)
    assert [d["attempt"] for d in deliveries] == [1, 2, 3] and not any(d["accepted"] for d in deliveries)
    assert deliveries[2]["since_first_ms"] >= 120 * TIME_SCALE * 1000
    assert sandbox.notifier.jobs(refused_no)[0]["state"] == "gave_up" and len(receiver.hits(refused_path)) == 3


def test_a_sandbox_can_play_only_outside_gateways_and_refuses_a_second_of_a_name():
    sandbox = BaseSandbox(gateways=[CoinGateway])
    try:
        assert list(sandbox.gateways) == ["coin"] and sandbox.CHANNEL_KINDS == {"coin": "coin"}
        with pytest.raises(ValueError, match="coin"):
            sandbox.add_gateway(CoinGateway)
    finally:
        sandbox.shutdown()
