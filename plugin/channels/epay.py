"""EPay (彩虹易支付): v1 with an MD5 merchant key, v2 with RSA keys (PROTOCOLS.md §1, §2).

- MD5, ``api=submit``: the browser posts a signed form to ``submit.php``.
- MD5, ``api=mapi``: we create the order server-side at ``mapi.php`` and get a link or a QR code.
- RSA, ``api=submit``: the browser posts an RSA-signed form to ``api/pay/submit``.
- RSA, ``api=mapi``: we create the order at ``api/pay/create`` (signed answer).

Queries use ``api.php?act=order`` (MD5; unsigned answer) or ``api/pay/query`` (RSA; signed answer).
Notifications come by GET and are verified over every received parameter, on the raw strings.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Mapping
from urllib.parse import urlsplit

import requests

from .. import keys
from . import signing
from ..money import MoneyError, format_money, parse_money
from . import common
from .base import (
    Acknowledgement,
    Channel,
    ConfigInvalid,
    GatewayError,
    GatewayRequest,
    InvalidSignature,
    MalformedNotification,
    Outcome,
    PaymentAction,
    PaymentStatus,
    PayRequest,
    Report,
)

#: Fields of the payment requests PanelPay signs (submit, mapi, create), never of a notification or return.
_REQUEST_ONLY = frozenset({"notify_url", "return_url", "clientip", "device", "sitename"})

#: v2 timestamps further than this from the clock are refused, both ways [src ApiHelper::api_verify].
WINDOW_SECONDS = 300

#: Order ``status`` in query answers (§1.5): refunded and frozen both mean "never credit again".
_QUERY_STATUS = {
    "0": PaymentStatus.PENDING,
    "1": PaymentStatus.PAID,
    "2": PaymentStatus.REFUNDED,
    "3": PaymentStatus.REFUNDED,
    "4": PaymentStatus.PENDING,
}

_HINTS = {
    "gateway": "Paste the EPay site root, e.g. https://pay.example.net/",
    "pid": "Paste the merchant ID (商户ID) shown in the EPay merchant panel.",
    "key": "Paste the merchant key (商户密钥) from the EPay merchant panel (API信息), or choose RSA signing.",
    "merchant_private_key": "Paste the merchant private key (商户私钥) you generated in the EPay merchant "
    "panel (API信息), as PEM or bare base64.",
    "platform_public_key": "Paste the platform public key (平台公钥) shown in the EPay merchant panel "
    "(API信息), as PEM or bare base64.",
}


class EPayChannel(Channel):
    """One EPay merchant (``pid``) on one EPay site."""

    kind = "epay"
    #: EPay sites notify with GET (forks also POST the same form).
    callback_methods = ("GET",)
    #: EPay's return carries the notification's signed parameters, ``trade_status`` included.
    return_is_evidence = True

    def __init__(self, config: Mapping[str, str], *, http: requests.Session, timeout: float = 10.0):
        cleaned, private_key, platform_key = self._clean(config)
        super().__init__(cleaned, http=http, timeout=timeout)
        self.gateway = cleaned["gateway"]
        self.rsa = cleaned["sign_type"] == "RSA"
        self._private_key = private_key
        self._platform_key = platform_key

    # -- config -------------------------------------------------------------------------------------

    @classmethod
    def clean_config(cls, config: Mapping[str, str]) -> dict:
        """Normalise an EPay config (gateway ending in ``/``, defaults filled); raise ConfigInvalid.

        MD5 needs ``key``; RSA needs both keys, loadable, and a platform key that is not the public half
        of our own private key. A key pasted in either mode is checked whenever it is filled.
        """
        return cls._clean(config)[0]

    @classmethod
    def _clean(cls, config: Mapping[str, str]) -> tuple:
        """(normalised config, merchant private key or None, platform public key or None)."""
        values, errors = common.clean_fields(common.describe(cls)["fields"], config, _HINTS)
        values["gateway"] = _clean_gateway(errors, values["gateway"])
        rsa = values["sign_type"] == "RSA"
        if not rsa and not values["key"]:
            common.add(errors, "key", f"key is required for MD5 signing. {_HINTS['key']}")
        private_key = common.load(errors, "merchant_private_key", values["merchant_private_key"],
                                  keys.load_private_key, _HINTS["merchant_private_key"])
        platform_key = common.load(errors, "platform_public_key", values["platform_public_key"],
                                   keys.load_public_key, _HINTS["platform_public_key"])
        if rsa:
            for field in ("merchant_private_key", "platform_public_key"):
                if not values[field]:
                    common.add(errors, field, f"{field} is required for RSA signing. {_HINTS[field]}")
        if private_key and platform_key and keys.same_key(private_key, platform_key):
            common.add(errors, "platform_public_key",
                       "platform_public_key is your own merchant public key (the public half of "
                       f"merchant_private_key), not the platform's. {_HINTS['platform_public_key']}")
        if errors:
            raise ConfigInvalid(errors)
        return values, private_key, platform_key

    @classmethod
    def acknowledge(cls, outcome: Outcome) -> Acknowledgement:
        """EPay counts a body containing ``success`` as delivered; anything else is retried."""
        return common.text_acknowledgement(outcome)

    @property
    def merchant_id(self) -> str:
        return self.config["pid"]

    def offers(self, pay_type: str) -> bool:
        """The EPay type it is set to, or any type when it leaves the choice to the EPay site's cashier."""
        return self.config["type"] in ("", pay_type)

    @property
    def offline_create(self) -> bool:
        return self.config["api"] == "submit"

    # -- paying -------------------------------------------------------------------------------------

    def create(self, request: PayRequest) -> PaymentAction:
        """A signed form to post (``api=submit``), or the link or QR code the gateway made (``mapi``)."""
        if "?" in request.notify_url:
            # EPay appends its parameters with "&" and the reference verifier then signs ours too.
            raise GatewayError("EPay notify URLs must not carry a query string; remove it from the notify "
                               "URL or callback domain", transient=False, code="notify_url_query")
        params = {
            "pid": self.config["pid"],
            "type": self.config["type"],  # "" leaves the choice to the gateway's cashier (dropped below)
            "out_trade_no": request.trade_no,
            "notify_url": request.notify_url,
            "return_url": request.return_url,
            "name": request.subject,
            "money": format_money(request.amount),
        }
        params = {k: v for k, v in params.items() if v}
        if self.config["api"] == "submit":
            path = "api/pay/submit" if self.rsa else "submit.php"
            return PaymentAction(method="form", url=self.gateway + path, fields=self._signed(params))
        params.update(clientip=request.client_ip, device=self.config["device"])
        if self.rsa:
            params["method"] = "web"
            return _v2_action(self._v2_call("api/pay/create", params))
        answer = self._json("POST", "mapi.php", data=self._signed(params))
        if str(answer.get("code")) != "1":
            raise _refusal(answer)
        return _v1_action(answer)

    def query(self, trade_no: str) -> Report:
        """The gateway's word on one order: ``api/pay/query`` (RSA, signed) or ``api.php`` (MD5, unsigned)."""
        if self.rsa:
            try:
                answer = self._v2_call("api/pay/query", {"pid": self.config["pid"], "out_trade_no": trade_no})
            except GatewayError as exc:
                if exc.code == "-1":
                    return Report(trade_no=trade_no, status=PaymentStatus.NOT_FOUND, merchant_id=self.merchant_id)
                raise
        else:
            params = {"act": "order", "pid": self.config["pid"], "key": self.config["key"], "out_trade_no": trade_no}
            answer = self._json("GET", "api.php", params=params)
            code = str(answer.get("code"))
            if code == "-1":
                return Report(trade_no=trade_no, status=PaymentStatus.NOT_FOUND, merchant_id=self.merchant_id)
            if code != "1":
                raise _refusal(answer)
        return self._query_report(trade_no, answer)

    def close(self, trade_no: str) -> bool:
        """EPay has no close call."""
        return False

    # -- notifications ------------------------------------------------------------------------------

    def verify_notification(self, request: GatewayRequest) -> Report:
        """Verify a notification (GET query or POSTed form) the way this channel signs (MD5 key, or RSA
        platform key within 300 s of its arrival); ``trade_status=TRADE_SUCCESS`` is PAID, else IGNORED."""
        params = common.form_params(request)
        with common.claimed_order(params.get("out_trade_no")):
            return self._verified(params, request.received_at)

    def verify_return(self, request: GatewayRequest) -> Report:
        """The browser return carries the notification's own signed parameters: verified the same way."""
        return self.verify_notification(request)

    # -- helpers ------------------------------------------------------------------------------------

    def _verified(self, params: dict, received_at: datetime) -> Report:
        sign = params.get("sign")
        if not isinstance(sign, str) or not sign:
            raise MalformedNotification("no sign")
        # What a signature proves is bound to its purpose: the payment requests PanelPay signs with the same
        # MD5 key carry fields no notification has, and lack the ones every notification has.
        request_fields = sorted(_REQUEST_ONLY & params.keys())
        if request_fields:
            raise InvalidSignature(f"a signed payment request ({', '.join(request_fields)}), not a notification")
        if not params.get("trade_no") or not params.get("trade_status"):
            raise MalformedNotification("trade_no or trade_status is missing: not an EPay notification")
        expected = "RSA" if self.rsa else "MD5"
        declared = params.get("sign_type")
        if isinstance(declared, str) and declared and declared.upper() != expected:
            raise InvalidSignature(f"signed with {declared[:10]}; this channel verifies {expected}")
        if self.rsa:
            if not signing.rsa_valid(signing.epay_content(params), sign, self._platform_key):
                raise InvalidSignature("RSA signature does not verify with the platform public key")
            _check_window(params.get("timestamp"), _unix(received_at), MalformedNotification, InvalidSignature)
        elif not signing.epay_md5_valid(params, self.config["key"]):
            raise InvalidSignature("MD5 signature does not match the merchant key")
        trade_no, money = params.get("out_trade_no"), params.get("money")
        if not trade_no or not money:
            raise MalformedNotification("out_trade_no or money is missing")
        try:
            amount = parse_money(money)
        except MoneyError as exc:
            raise MalformedNotification(f"money {money[:20]!r}: {exc}") from None
        paid = params.get("trade_status") == "TRADE_SUCCESS"
        return Report(
            trade_no=trade_no,
            status=PaymentStatus.PAID if paid else PaymentStatus.IGNORED,
            merchant_id=params.get("pid"),
            gateway_trade_no=params.get("trade_no") or None,
            amount=amount,
        )

    def _signed(self, params: dict) -> dict:
        """``params`` plus ``sign`` and ``sign_type`` (and ``timestamp`` for RSA); a new dict."""
        signed = dict(params)
        if self.rsa:
            signed["timestamp"] = str(int(time.time()))
            signed["sign"] = signing.rsa_sign(signing.epay_content(signed), self._private_key)
            signed["sign_type"] = "RSA"
        else:
            signed["sign"] = signing.epay_md5(signed, self.config["key"])
            signed["sign_type"] = "MD5"
        return signed

    def _json(self, method: str, path: str, **kwargs) -> dict:
        body = common.call(self.http, method, self.gateway + path, timeout=self.timeout, name="EPay", **kwargs)
        return common.json_object(body, "EPay")[1]

    def _v2_call(self, path: str, params: dict) -> dict:
        """POST a v2 API call; the answer with ``code`` 0, its signature and timestamp verified.

        Error answers (``code`` < 0) are unsigned: they become a GatewayError with that code.
        """
        answer = self._json("POST", path, data=self._signed(params))
        if str(answer.get("code")) != "0":
            raise _refusal(answer)
        if not signing.rsa_valid(signing.epay_content(answer), answer.get("sign"), self._platform_key):
            raise GatewayError("EPay's answer does not verify with platform_public_key: check it is the "
                               "platform public key from the EPay merchant panel (API信息)",
                               transient=False, code="bad_signature")
        _check_window(answer.get("timestamp"), time.time(), _stale_answer, _stale_answer)
        return answer

    def _query_report(self, trade_no: str, answer: dict) -> Report:
        """A query answer as a Report, once it is known to be about our order and merchant."""
        if str(answer.get("out_trade_no")) != trade_no or str(answer.get("pid")) != self.config["pid"]:
            raise GatewayError("EPay answered about another order or merchant", transient=False, code="mismatch")
        status = _QUERY_STATUS.get(str(answer.get("status")))
        if status is None or isinstance(answer.get("status"), bool):
            raise GatewayError(f"EPay answered an unknown order status {common.text_of(answer.get('status'), 20)!r}")
        money = answer.get("money")
        try:
            amount = parse_money(money) if money not in (None, "") else None
        except MoneyError:
            raise GatewayError(f"EPay answered an unreadable money {common.text_of(money, 20)!r}") from None
        return Report(
            trade_no=trade_no,
            status=status,
            merchant_id=str(answer["pid"]),
            gateway_trade_no=str(answer["trade_no"]) if answer.get("trade_no") else None,
            amount=amount,
        )


def _clean_gateway(errors: common.Errors, value: str) -> str:
    """The EPay site root, ending with "/". A pasted API URL (``…/submit.php``) is refused."""
    example = "https://pay.example.net/"
    if common.http_url(errors, "gateway", value, example) is None:
        return value
    path = urlsplit(value).path
    if "?" in value or path.endswith(".php") or "/api/pay/" in path + "/":
        common.add(errors, "gateway", f"gateway must be the EPay site root, not an API address or a URL with "
                                      f"a query; paste e.g. {example}")
        return value
    return value if value.endswith("/") else value + "/"


def _refusal(answer: dict) -> GatewayError:
    code = answer.get("code")
    return GatewayError(f"EPay refused the request: {common.text_of(answer.get('msg')) or 'no message'} "
                        f"(code {common.text_of(code, 10)})", transient=False, code=str(code))


def _v1_action(answer: dict) -> PaymentAction:
    """``mapi.php``'s answer: ``payurl`` or ``urlscheme`` to follow, or ``qrcode`` to scan."""
    trade_no = str(answer["trade_no"]) if answer.get("trade_no") else None
    for field, method in (("payurl", "redirect"), ("qrcode", "qrcode"), ("urlscheme", "redirect")):
        value = answer.get(field)
        if isinstance(value, str) and value:
            if method == "qrcode":
                return PaymentAction(method="qrcode", qr_code=value, gateway_trade_no=trade_no)
            return PaymentAction(method="redirect", url=value, gateway_trade_no=trade_no)
    raise GatewayError("EPay answered no payurl, qrcode or urlscheme that PanelPay can show; choose another "
                       "device or payment type", transient=False, code="pay_type")


def _v2_action(answer: dict) -> PaymentAction:
    """``api/pay/create``'s answer: ``pay_type`` jump or urlscheme to follow, qrcode to scan."""
    pay_type, pay_info = answer.get("pay_type"), answer.get("pay_info")
    trade_no = str(answer["trade_no"]) if answer.get("trade_no") else None
    if pay_type not in ("jump", "urlscheme", "qrcode"):
        raise GatewayError(f"EPay answered pay_type {common.text_of(pay_type, 20)!r}, which PanelPay cannot show; "
                           "choose another device or payment type", transient=False, code="pay_type")
    if not isinstance(pay_info, str) or not pay_info:
        raise GatewayError("EPay answered no pay_info")
    if pay_type == "qrcode":
        return PaymentAction(method="qrcode", qr_code=pay_info, gateway_trade_no=trade_no)
    return PaymentAction(method="redirect", url=pay_info, gateway_trade_no=trade_no)


def _unix(moment: datetime | None) -> float:
    """Unix seconds of a naive-UTC (or aware) moment; now when None."""
    if moment is None:
        return time.time()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _check_window(timestamp: object, now: float, malformed, expired) -> None:
    """Refuse a v2 ``timestamp`` that is unreadable (``malformed``) or more than 300 s from ``now``."""
    text = str(timestamp) if isinstance(timestamp, (str, int)) and not isinstance(timestamp, bool) else ""
    if not (text.isascii() and text.isdigit()):
        raise malformed("timestamp is missing or not Unix seconds")
    if abs(now - int(text)) > WINDOW_SECONDS:
        raise expired(f"timestamp is more than {WINDOW_SECONDS} s away from the time it was received")


def _stale_answer(message: str) -> GatewayError:
    return GatewayError(f"EPay's answer: {message}; check this server's clock", transient=False, code="timestamp")
