"""The sandbox gateway in a process of its own, for ``reconcile``: ``panelpay.sandbox.Sandbox`` mounted at
``/payment/sandbox`` of a bare Flask app, served by werkzeug's threaded server with HTTP/1.1 keep-alive.

``python -m bench.sandbox_server --instance DIR --port 5050 --orders A:1000,B:10000``

Before serving, the order book is filled the way merchants fill it, through the gateway's own routes (an
in-process test client): for each ``PREFIX:COUNT``, order i (trade number ``PREFIX`` + i, total
:func:`bench.common.total_for` (i)) is an EPay ``submit.php`` order when i is even and an Alipay
``alipay.trade.precreate`` trade when odd. Orders with i % 4 in (0, 1) are then paid with their
notification dropped (``_behaviour`` drop, ``_pay``): only a query can find them.
``GET /_bench/queries?prefix=A&count=1000`` answers how many of those orders were queried once, and more.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, run_simple

from . import common as c


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs) -> None:  # no access log
        pass


def seed(client, keys, sandbox, specs: list[tuple[str, int]]) -> None:
    """The merchant's requests for every order, signed as PanelPay's channels sign them; then the payments."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from panelpay.channels.signing import alipay_request_content, epay_md5, rsa_sign

    app_key = load_pem_private_key(keys.alipay_app_private_pem.encode(), None)
    notify = "http://127.0.0.1:9/payment/notify"  # never called: notifications are dropped
    for prefix, count in specs:
        for i in range(count):
            trade_no, total = f"{prefix}{i:010d}", c.total_for(i)
            if c.kind_for(i) == "epay":
                params = {"pid": sandbox.EPAY_PID, "type": "alipay", "out_trade_no": trade_no,
                          "name": f"Top-up {total}", "money": f"{total}", "notify_url": f"{notify}/epay",
                          "return_url": "http://127.0.0.1:9/"}
                answer = client.post("/payment/sandbox/epay/submit.php",
                                     data={**params, "sign": epay_md5(params, keys.epay_key), "sign_type": "MD5"})
                ok = answer.status_code == 302
            else:
                params = {"app_id": sandbox.ALIPAY_APP_ID, "method": "alipay.trade.precreate", "format": "JSON",
                          "charset": "utf-8", "sign_type": "RSA2", "timestamp": time.strftime("%Y-%m-%d %H:%M:%S"),
                          "version": "1.0", "notify_url": f"{notify}/alipay",
                          "biz_content": json.dumps({"out_trade_no": trade_no, "total_amount": f"{total}",
                                                     "subject": f"Top-up {total}"})}
                params["sign"] = rsa_sign(alipay_request_content(params), app_key)
                answer = client.post("/payment/sandbox/alipay/gateway.do", data=params)
                ok = '"10000"' in answer.get_data(as_text=True)
            if not ok:
                raise RuntimeError(f"the sandbox refused order {trade_no}: {answer.get_data(as_text=True)[:300]}")
    client.post("/payment/sandbox/_behaviour", json={"drop": True})
    for prefix, count in specs:
        for i in range(count):
            if i % 4 in (0, 1):
                assert client.post(f"/payment/sandbox/_pay/{prefix}{i:010d}").status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instance", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--orders", required=True, help="PREFIX:COUNT,…")
    args = parser.parse_args()
    from panelpay.sandbox import Sandbox

    sandbox = Sandbox(state_file=os.path.join(args.instance, "panelpay-sandbox.json"))
    app = Flask("sandbox")
    app.register_blueprint(sandbox.blueprint(), url_prefix="/payment/sandbox")

    @app.get("/_bench/queries")
    def queries():
        prefix, count = request.args["prefix"], int(request.args["count"])
        counts = [sandbox.order(f"{prefix}{i:010d}")["queries"] for i in range(count)]
        return jsonify(once=sum(1 for q in counts if q == 1), more=sum(1 for q in counts if q > 1))

    began = time.perf_counter()
    seed(app.test_client(), sandbox.credentials, sandbox,
         [(p, int(n)) for p, _, n in (item.partition(":") for item in args.orders.split(","))])
    print(f"sandbox seeded in {time.perf_counter() - began:.1f} s; serving on port {args.port}", flush=True)
    run_simple("127.0.0.1", args.port, app, threaded=True, request_handler=KeepAliveHandler)


if __name__ == "__main__":
    main()
