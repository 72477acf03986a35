"""The sandbox gateway in a process of its own, its order book seeded through the Python API first.

``python -m bench.sandbox_server --instance DIR --port 5050 --orders R:1000,S:10000``

For each ``PREFIX:COUNT``, order i (trade number ``PREFIX`` + i, 10 digits) is EPay (``submit``, MD5
merchant) when i is even and Alipay (``page``) when odd, for :func:`bench.common.total_for` (i). Orders with
i % 4 in (0, 1) are paid with notifications dropped (``behaviour.drop``): only a query can find them. Half
of the unpaid Alipay ones were opened at the cashier (WAIT_BUYER_PAY); the others were never opened
(the query answers ACQ.TRADE_NOT_EXIST).

Serves on werkzeug's threaded server with HTTP/1.1 keep-alive. ``GET /_bench/stats`` answers how many
times the orders of ``?prefix=`` were queried (an order queried twice would show in ``queried_twice``).
"""
from __future__ import annotations

import argparse
import os
import sys

from flask import jsonify
from werkzeug.serving import WSGIRequestHandler, run_simple


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs) -> None:  # no access log
        pass


def seed(sandbox, specs: list[tuple[str, int]], notify_base: str) -> int:
    from panelpay.sandbox.ledger import GatewayOrder, Status
    from panelpay.sandbox.merchants import ALIPAY_APP_ID, EPAY_PID

    from .common import total_for

    sandbox.behaviour.drop = True
    ledger = sandbox.ledger
    seeded = 0
    for prefix, count in specs:
        for i in range(count):
            trade_no, amount = f"{prefix}{i:010d}", total_for(i)
            if i % 2 == 0:
                order = GatewayOrder(id=ledger.new_epay_trade_no(), gateway="epay", product="submit",
                                     merchant=EPAY_PID, out_trade_no=trade_no, subject=f"Top-up {amount:.2f}",
                                     amount=amount, notify_url=f"{notify_base}/epay", pay_type="alipay")
            else:
                order = GatewayOrder(id=ledger.new_alipay_trade_no(), gateway="alipay", product="page",
                                     merchant=ALIPAY_APP_ID, out_trade_no=trade_no, subject=f"Top-up {amount:.2f}",
                                     amount=amount, notify_url=f"{notify_base}/alipay", status=Status.CREATED)
            ledger.add(order)
            if i % 4 in (0, 1):
                sandbox.pay(order.id)  # notification dropped
            elif i % 4 == 3 and i % 8 == 7:
                sandbox.open(order)
            seeded += 1
    return seeded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instance", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--orders", required=True, help="PREFIX:COUNT,…")
    parser.add_argument("--notify-base", default="http://127.0.0.1:9/payment/notify")
    args = parser.parse_args(argv)
    from panelpay.sandbox import Sandbox
    from panelpay.sandbox.app import create_app

    sandbox = Sandbox(state_file=os.path.join(args.instance, "panelpay-sandbox.json"))
    sandbox.credentials  # noqa: B018 - load the keys before serving
    specs = [(p, int(n)) for p, _, n in (item.partition(":") for item in args.orders.split(","))]
    seeded = seed(sandbox, specs, args.notify_base)
    app = create_app(sandbox, "")

    @app.get("/_bench/stats")
    def stats():
        from flask import request

        prefix = request.args.get("prefix", "")
        queries = [order.queries for order in sandbox.ledger if order.out_trade_no.startswith(prefix)]
        return jsonify(orders=len(queries), total_queries=sum(queries),
                       queried_once=sum(1 for q in queries if q == 1),
                       queried_twice=sum(1 for q in queries if q > 1))

    print(f"sandbox seeded with {seeded} orders on port {args.port}", flush=True)
    sys.stdout.flush()
    run_simple("127.0.0.1", args.port, app, threaded=True, request_handler=KeepAliveHandler)


if __name__ == "__main__":
    main()
