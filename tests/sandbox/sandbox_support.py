"""Test support for the sandbox gateway: servers on real ports, a notification receiver, and the merchant
side of both protocols (signing requests, verifying answers) built on :mod:`panelpay.channels.signing`."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from panelpay.keys import load_private_key, load_public_key
from panelpay.channels.signing import (
    alipay_request_content,
    epay_content,
    epay_md5,
    response_node,
    rsa_sign,
    rsa_valid,
)

BEIJING = dt.timezone(dt.timedelta(hours=8))


class QuietHandler(WSGIRequestHandler):
    def log(self, *args, **kwargs) -> None:  # keep test output clean
        pass


class ServerThread:
    """A werkzeug threaded server on 127.0.0.1:<free port>."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self.port = self.server.server_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Receiver:
    """The merchant's notify endpoint: records every request per path and answers what it is told."""

    def __init__(self):
        self._cond = threading.Condition()
        self._hits: dict[str, list[dict]] = {}
        self._answers: dict[str, tuple[int, str, float]] = {}
        self.server = ServerThread(self)

    def path(self, answer: str = "success", status: int = 200, sleep: float = 0.0) -> str:
        """A fresh path answering ``answer``; returns it (use :meth:`url` for the absolute URL)."""
        path = f"/notify/{uuid.uuid4().hex}"
        self._answers[path] = (status, answer, sleep)
        return path

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def __call__(self, environ, start_response):
        request = Request(environ)
        hit = {
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string.decode(),
            "args": dict(request.args.items()),
            "form": dict(request.form.items()),
            "content_type": request.content_type,
            "user_agent": request.headers.get("User-Agent", ""),
            "at": time.monotonic(),
        }
        status, answer, sleep = self._answers.get(request.path, (404, "no such path", 0.0))
        with self._cond:
            self._hits.setdefault(request.path, []).append(hit)
            self._cond.notify_all()
        if sleep:
            time.sleep(sleep)
        return Response(answer, status=status, content_type="text/plain; charset=utf-8")(environ, start_response)

    def hits(self, path: str) -> list[dict]:
        with self._cond:
            return list(self._hits.get(path, []))

    def wait(self, path: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._hits.get(path, [])) < count and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self._hits.get(path, []))


def unique_no(prefix: str = "T") -> str:
    return prefix + uuid.uuid4().hex[:20]


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# -- EPay merchant side ------------------------------------------------------------------------------

def epay_signed(params: dict[str, str], key: str) -> dict[str, str]:
    return {**params, "sign": epay_md5(params, key), "sign_type": "MD5"}


def epay_v2_signed(params: dict[str, str], merchant_private_key: str, *, timestamp: int | None = None) -> dict:
    params = {**params, "timestamp": str(int(time.time()) if timestamp is None else timestamp)}
    key = load_private_key(merchant_private_key)
    return {**params, "sign": rsa_sign(epay_content(params), key), "sign_type": "RSA"}


def epay_v2_answer_valid(answer: dict, platform_public_key: str) -> bool:
    """Verify a v2 JSON answer the way PHP signs it: every scalar as its string (``code=0`` included)."""
    as_strings = {k: str(v) for k, v in answer.items() if not isinstance(v, (dict, list)) and v is not None}
    return rsa_valid(epay_content(as_strings), answer.get("sign"), load_public_key(platform_public_key))


# -- Alipay merchant side ----------------------------------------------------------------------------

def alipay_timestamp() -> str:
    return dt.datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def alipay_params(config: dict, method: str, biz: dict, *, notify_url: str = "", return_url: str = "",
                  extra: dict | None = None) -> dict[str, str]:
    """Signed common parameters + biz_content, as an SDK sends them (cert SNs in certificate mode)."""
    from panelpay.keys import cert_sn, load_certificates, root_cert_sn

    params = {
        "app_id": config["app_id"], "method": method, "format": "JSON", "charset": "utf-8",
        "sign_type": "RSA2", "timestamp": alipay_timestamp(), "version": "1.0",
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
    }
    if notify_url:
        params["notify_url"] = notify_url
    if return_url:
        params["return_url"] = return_url
    if config.get("app_cert"):
        params["app_cert_sn"] = cert_sn(load_certificates(config["app_cert"])[0])
        params["alipay_root_cert_sn"] = root_cert_sn(config["alipay_root_cert"])
    params.update(extra or {})
    params["sign"] = rsa_sign(alipay_request_content(params), load_private_key(config["app_private_key"]))
    return params


def alipay_public_key(config: dict):
    from panelpay.keys import certificate_public_key

    if config.get("alipay_cert"):
        return certificate_public_key(config["alipay_cert"])
    return load_public_key(config["alipay_public_key"])


def alipay_sync(raw: str, method: str, config: dict) -> dict:
    """Verify a synchronous answer over the raw node text and return the parsed node."""
    node_name = method.replace(".", "_") + "_response"
    node_text = response_node(raw, node_name)
    body = json.loads(raw)
    assert rsa_valid(node_text, body["sign"], alipay_public_key(config)), raw
    return json.loads(node_text)
