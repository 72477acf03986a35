"""``python -m panelpay.sandbox --host 127.0.0.1 --port 5050 --state-file sandbox.json --time-scale 1``

Runs the sandbox alone on werkzeug's threaded server and prints the channel configs' gateway URLs. The
request log hides the values of ``key`` and ``sign`` (``api.php`` carries the merchant key in the query).
"""
from __future__ import annotations

import argparse
import re

from werkzeug.serving import WSGIRequestHandler, run_simple

from .app import create_app
from .bundled import Sandbox

_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:key|sign)=)[^&\s]*", re.I)


def redact(text: str) -> str:
    """``text`` (a request line, a query) with the values of ``key`` and ``sign`` replaced by ``***``."""
    return _SECRET_QUERY.sub(r"\1***", text)


class RedactingHandler(WSGIRequestHandler):
    """werkzeug's request log without secrets in query strings."""

    def log(self, type: str, message: str, *args) -> None:
        args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        super().log(type, redact(message), *args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m panelpay.sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--prefix", default="", help="URL prefix to mount the gateway at (default: root)")
    parser.add_argument("--state-file", default=None, help="JSON file keeping the generated keys")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="factor applied to notification retry schedules (default 1: real time)")
    args = parser.parse_args(argv)
    sandbox = Sandbox(state_file=args.state_file, time_scale=args.time_scale)
    sandbox.credentials  # generate (and persist) the keys before serving
    app = create_app(sandbox, args.prefix)
    base = f"http://{args.host}:{args.port}{args.prefix.rstrip('/')}"
    print(f"PanelPay sandbox at {base}/  (EPay {base}/epay/, Alipay {base}/alipay/gateway.do)")
    run_simple(args.host, args.port, app, threaded=True, request_handler=RedactingHandler)


if __name__ == "__main__":
    main()
