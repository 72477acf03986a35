"""Test keys, certificates, signed notifications and fake EPay/Alipay gateways for the channel tests.

The fake gateways are real HTTP servers on 127.0.0.1 that check what they are sent (signatures,
required parameters) and answer like the real gateways: EPay v1 unsigned JSON, EPay v2 signed JSON with
integer ``code``/``timestamp``, Alipay nodes signed over their raw text.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from panelpay.channels import signing

# -- keys in the shapes operators paste ------------------------------------------------------------


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem_pkcs1(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def private_pem_pkcs8(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def private_der_pkcs8(key) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem_spki(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_pem_pkcs1(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()


def public_der_spki(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def bare(der: bytes) -> str:
    """One bare base64 line, as the Alipay console and EPay's API信息 page show keys."""
    return base64.b64encode(der).decode()


def wrapped_messy(der: bytes) -> str:
    """Base64 wrapped at 64 with CRLF, stray spaces and a trailing blank line, as pasted from an email."""
    text = bare(der)
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "  " + "\r\n ".join(lines) + " \r\n\r\n"


def private_formats(key) -> dict[str, str]:
    return {
        "pem_pkcs1": private_pem_pkcs1(key),
        "pem_pkcs8": private_pem_pkcs8(key),
        "bare_one_line": bare(private_der_pkcs8(key)),
        "wrapped_crlf_spaces": wrapped_messy(private_der_pkcs8(key)),
    }


def public_formats(key) -> dict[str, str]:
    return {
        "pem_spki": public_pem_spki(key),
        "pem_pkcs1": public_pem_pkcs1(key),
        "bare_one_line": bare(public_der_spki(key)),
        "wrapped_crlf_spaces": wrapped_messy(public_der_spki(key)),
    }


# -- certificates ----------------------------------------------------------------------------------


def name(cn: str, ou: str = "Alipay Test CA", o: str = "PanelPay Tests", c: str = "CN") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, c),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def certificate(subject: x509.Name, public_key, issuer: x509.Name, issuer_key, serial: int) -> x509.Certificate:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(issuer_key, hashes.SHA256())
    )


def pem(*certs: x509.Certificate) -> str:
    return "\n".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def ec_root(cn: str = "EC Root") -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return certificate(name(cn), key.public_key(), name(cn), key, 7)


# -- signed notifications --------------------------------------------------------------------------


def epay_md5_notification(key: str, **fields) -> dict[str, str]:
    params = {
        "pid": "1001",
        "trade_no": "2024112210400012345",
        "out_trade_no": "TOPUP202411221040000101",
        "type": "alipay",
        "name": "VIP会员 &lt;月卡&gt;",
        "money": "10",
        "trade_status": "TRADE_SUCCESS",
        "param": "uid:42",
    }
    params.update(fields)
    params["sign"] = signing.epay_md5(params, key)
    params["sign_type"] = "MD5"
    return params


def epay_rsa_notification(platform_key, timestamp: int | None = None, *, without=(), **fields) -> dict[str, str]:
    params = {
        "pid": "1001",
        "trade_no": "2024112210400012345",
        "out_trade_no": "TOPUP202411221040000101",
        "type": "wxpay",
        "name": "VIP",
        "money": "9.9",
        "trade_status": "TRADE_SUCCESS",
        "api_trade_no": "4200001234",
        "buyer": "o_buyer",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    params.update(fields)
    params = {k: v for k, v in params.items() if k not in without}
    params["sign"] = signing.rsa_sign(signing.epay_content(params), platform_key)
    params["sign_type"] = "RSA"
    return params


def alipay_notification(alipay_key, **fields) -> dict[str, str]:
    params = {
        "notify_time": "2024-11-22 10:40:05",
        "notify_type": "trade_status_sync",
        "notify_id": "2024112200222104005012345678",
        "app_id": "2021000000000001",
        "auth_app_id": "2021000000000001",
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2024112222001400000000000001",
        "out_trade_no": "TOPUP202411221040000101",
        "buyer_id": "2088000000000002",
        "seller_id": "2088000000000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "10.00",
        "receipt_amount": "10.00",
        "subject": "Top-up & more = fun",
        "gmt_create": "2024-11-22 10:40:00",
        "gmt_payment": "2024-11-22 10:40:04",
        "fund_bill_list": '[{"amount":"10.00","fundChannel":"ALIPAYACCOUNT"}]',
    }
    params.update(fields)
    params = {k: v for k, v in params.items() if v is not None}
    params["sign"] = signing.rsa_sign(signing.alipay_notify_content(params), alipay_key)
    params["sign_type"] = "RSA2"
    return params


# -- the HTTP server ---------------------------------------------------------------------------------


class FakeServer:
    """A werkzeug server in a thread; ``handler(request) -> Response`` is swapped per test."""

    def __init__(self):
        self.handler = None
        self.seen: list[Request] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        request.get_data()  # read the body now, while the connection is open
        self.seen.append(request)
        if self.handler is None:
            return Response("no handler", status=404)
        return self.handler(request)

    def stop(self) -> None:
        self._server.shutdown()


def json_response(data: dict | str, status: int = 200) -> Response:
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return Response(body, status=status, content_type="application/json; charset=utf-8")


# -- fake EPay ----------------------------------------------------------------------------------------


class FakeEPay:
    """EPay's ``mapi.php``, ``api.php?act=order``, ``api/pay/create`` and ``api/pay/query``."""

    def __init__(self, *, pid: str, key: str, merchant_public, platform_private):
        self.pid, self.key = pid, key
        self.merchant_public, self.platform_private = merchant_public, platform_private
        self.orders: dict[str, dict] = {}
        self.mapi_answer = ("payurl", "https://pay.example.net/pay/alipay/2024/")
        self.create_answer = ("jump", "https://pay.example.net/pay/jump/1")
        self.status_as_int = False
        self.answer_key = platform_private  # the key v2 answers are signed with
        self.answer_clock = 0  # seconds added to the v2 answer timestamp

    def __call__(self, request: Request) -> Response:
        route = {"/mapi.php": self.mapi, "/api.php": self.api, "/api/pay/create": self.create,
                 "/api/pay/query": self.query}.get(request.path)
        return route(request) if route else Response("Not Found", status=404)

    def _order(self, form, trade_no: str) -> dict:
        order = {"trade_no": trade_no, "out_trade_no": form["out_trade_no"], "pid": self.pid,
                 "money": form["money"], "status": "0", "type": form.get("type", ""), "name": form["name"]}
        self.orders[form["out_trade_no"]] = order
        return order

    def mapi(self, request: Request) -> Response:
        if request.method != "POST":
            return json_response({"code": -4, "msg": "请使用POST方式提交"})
        form = request.form.to_dict()
        if not signing.epay_md5_valid(form, self.key) or form.get("sign_type") != "MD5":
            return json_response({"code": -3, "msg": "签名校验失败"})
        if not form.get("clientip") or form.get("pid") != self.pid:
            return json_response({"code": -4, "msg": "缺少参数"})
        order = self._order(form, "2024112210400012345")
        field, value = self.mapi_answer
        return json_response({"code": 1, "msg": "succ", "trade_no": order["trade_no"], field: value})

    def api(self, request: Request) -> Response:
        args = request.args
        if args.get("act") != "order":
            return json_response({"code": -5, "msg": "No Act!"})
        if args.get("pid") != self.pid or args.get("key") != self.key:
            return json_response({"code": -3, "msg": "KEY校验失败"})
        order = self.orders.get(args.get("out_trade_no", ""))
        if order is None:
            return json_response({"code": -1, "msg": "订单号不存在"})
        status = int(order["status"]) if self.status_as_int else order["status"]
        return json_response({"code": 1, "msg": "succ", **order, "status": status, "addtime": "2024-07-01 16:47:32"})

    def _v2_request(self, request: Request) -> dict | Response:
        form = request.form.to_dict()
        if form.get("sign_type") != "RSA" or not signing.rsa_valid(
                signing.epay_content(form), form.get("sign"), self.merchant_public):
            return json_response({"code": -3, "msg": "签名校验失败"})
        if abs(time.time() - int(form.get("timestamp", "0"))) > 300 or len(form["timestamp"]) != 10:
            return json_response({"code": -3, "msg": "时间戳校验失败"})
        return form

    def _signed(self, answer: dict) -> Response:
        answer["timestamp"] = int(time.time()) + self.answer_clock  # an int, as PHP's time() encodes
        answer["sign"] = signing.rsa_sign(signing.epay_content(answer), self.answer_key)
        answer["sign_type"] = "RSA"
        return json_response(answer)

    def create(self, request: Request) -> Response:
        form = self._v2_request(request)
        if isinstance(form, Response):
            return form
        if form.get("method") != "web" or not form.get("device") or not form.get("clientip"):
            return json_response({"code": -4, "msg": "缺少参数"})
        order = self._order(form, "2024112210400099999")
        pay_type, pay_info = self.create_answer
        return self._signed({"code": 0, "trade_no": order["trade_no"], "pay_type": pay_type, "pay_info": pay_info})

    def query(self, request: Request) -> Response:
        form = self._v2_request(request)
        if isinstance(form, Response):
            return form
        order = self.orders.get(form.get("out_trade_no", ""))
        if order is None:
            return json_response({"code": -1, "msg": "订单号不存在"})
        return self._signed({"code": 0, **order, "status": int(order["status"]), "refundmoney": ""})


# -- fake Alipay ---------------------------------------------------------------------------------------


class FakeAlipay:
    """Alipay's gateway.do for precreate, query and close, with answers signed over the raw node text."""

    def __init__(self, *, app_id: str, app_public, alipay_private, alipay_cert_sn: str | None = None):
        self.app_id, self.app_public, self.alipay_private = app_id, app_public, alipay_private
        self.alipay_cert_sn = alipay_cert_sn  # cert mode: sent after the node
        self.expect_cert_sns: tuple[str, str] | None = None
        self.orders: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.raw_override = None  # callable(method, node) -> raw body, to serve crafted answers

    def __call__(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.requests.append(form)
        method = form.get("method", "")
        if not signing.rsa_valid(signing.alipay_request_content(form), form.get("sign"), self.app_public):
            node = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature",
                    "sub_msg": "验签出错"}
        elif form.get("app_id") != self.app_id:
            return json_response({"error_response": {"code": "40002", "msg": "Invalid Arguments",
                                                     "sub_code": "isv.invalid-app-id", "sub_msg": "无效的AppID参数"}})
        elif self.expect_cert_sns and self.expect_cert_sns != (form.get("app_cert_sn"),
                                                               form.get("alipay_root_cert_sn")):
            node = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.cert-sn-mismatch", "sub_msg": "x"}
        else:
            node = self.business(method, json.loads(form["biz_content"]))
        return self.answer(method, node)

    def business(self, method: str, biz: dict) -> dict:
        no = biz.get("out_trade_no")
        order = self.orders.get(no)
        missing = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                   "sub_msg": "交易不存在"}
        if method == "alipay.trade.precreate":
            self.orders[no] = {"out_trade_no": no, "trade_no": "2024112222001400000000000009",
                               "trade_status": "WAIT_BUYER_PAY", "total_amount": biz["total_amount"]}
            return {"code": "10000", "msg": "Success", "out_trade_no": no, "qr_code": "https://qr.alipay.com/bax01"}
        if method == "alipay.trade.query":
            if order is None:
                return missing
            # A string value with braces, quotes and a fake node name inside: the node extractor must
            # not be fooled by it.
            return {"code": "10000", "msg": "Success", **order, "buyer_logon_id": 'a}"{b***@x.com',
                    "store_name": '店 {"alipay_trade_query_response":{}} \\ }'}
        if method == "alipay.trade.close":
            if order is None:
                return missing
            if order["trade_status"] != "WAIT_BUYER_PAY":
                return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR",
                        "sub_msg": "交易状态不合法"}
            order["trade_status"] = "TRADE_CLOSED"
            return {"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": order["trade_no"]}
        return {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"}

    def answer(self, method: str, node: dict, *, key=None, cert_sn: str | None = None) -> Response:
        if self.raw_override is not None:
            return json_response(self.raw_override(method, node))
        return json_response(signed_answer(method, node, key or self.alipay_private, cert_sn or self.alipay_cert_sn))


def signed_answer(method: str, node: dict, key, cert_sn: str | None = None) -> str:
    """The raw text of an Alipay answer: the node, then ``alipay_cert_sn`` (cert mode), then ``sign``."""
    text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
    sign = signing.rsa_sign(text, key)
    name = method.replace(".", "_") + "_response"
    extra = f',"alipay_cert_sn":"{cert_sn}"' if cert_sn else ""
    return f'{{"{name}":{text}{extra},"sign":"{sign}"}}'


def form_request(params: dict, *, method: str = "POST", received_at=None):
    """``params`` as a gateway sends them: a URL-encoded form (POST) or query (GET), arriving now or at
    ``received_at`` (naive UTC)."""
    from urllib.parse import urlencode

    from panelpay.channels.base import GatewayRequest
    from panelpay.models import utcnow

    encoded = urlencode(params).encode()
    form = "application/x-www-form-urlencoded"
    if method == "GET":
        return GatewayRequest("GET", (), encoded, b"", "", received_at or utcnow())
    return GatewayRequest("POST", (("Content-Type", form),), b"", encoded, form, received_at or utcnow())
