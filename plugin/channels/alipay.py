"""Alipay Open Platform, OpenAPI v1 gateway with RSA2 (PROTOCOLS.md §3).

- ``page`` (PC) and ``wap`` (mobile): a signed form the browser posts to the gateway.
- ``precreate``: a server-to-server call that answers a QR code for the buyer to scan.

Keys: public-key mode verifies with the Alipay public key; certificate mode with the key of the Alipay
public-key certificate, and sends ``app_cert_sn`` and ``alipay_root_cert_sn`` with every request. When
all three certificates are filled, certificate mode is used.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Mapping

import requests

from .. import keys
from ..money import MoneyError, format_money, parse_money
from . import common
from .alipay_api import SUCCESS, Signer, Verifier, gmt8, refusal
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

_PRODUCTS = {  # product -> (method, product_code)
    "page": ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    "wap": ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),  # not fzlee's QUICK_WAP_PAY
    "precreate": ("alipay.trade.precreate", "FACE_TO_FACE_PAYMENT"),
}
_TRADE_STATUS = {
    "TRADE_SUCCESS": PaymentStatus.PAID,
    "TRADE_FINISHED": PaymentStatus.PAID,
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_CLOSED": PaymentStatus.CLOSED,
}
_CERT_FIELDS = ("app_cert", "alipay_cert", "alipay_root_cert")
_HINTS = {
    "gateway": "Use https://openapi.alipay.com/gateway.do (production) or "
    "https://openapi-sandbox.dl.alipaydev.com/gateway.do (sandbox).",
    "app_id": "Paste the APPID shown in the Alipay open platform console.",
    "app_private_key": "Paste the app private key (应用私钥) made with Alipay's key tool, as PEM or bare base64.",
    "alipay_public_key": "Paste the Alipay public key (支付宝公钥) shown in the Alipay open platform console "
    "(接口加签方式), as PEM or bare base64.",
    "app_cert": "Paste the app public-key certificate (appCertPublicKey_<APPID>.crt) issued for the app private "
    "key.",
    "alipay_cert": "Paste the Alipay public-key certificate (alipayCertPublicKey_RSA2.crt).",
    "alipay_root_cert": "Paste the Alipay root certificate (alipayRootCert.crt), the whole file.",
}


class AlipayChannel(Channel):
    """One Alipay app (``app_id``), optionally bound to one seller (``seller_id``)."""

    kind = "alipay"
    #: Alipay POSTs its notifications as a form.
    callback_methods = ("POST",)
    #: total_amount: 0.01 to 100,000,000 yuan [Alipay trade API].
    amount_limits = (Decimal("0.01"), Decimal("100000000.00"))
    #: Alipay's return carries no trade_status: core queries before crediting.
    return_is_evidence = False

    def __init__(self, config: Mapping[str, str], *, http: requests.Session, timeout: float = 10.0):
        cleaned, self._signer, self._verifier = self._clean(config)
        super().__init__(cleaned, http=http, timeout=timeout)

    # -- config -------------------------------------------------------------------------------------

    @classmethod
    def clean_config(cls, config: Mapping[str, str]) -> dict:
        """Normalise an Alipay config; raise ConfigInvalid naming each bad or missing field.

        Every filled key and certificate must load. The Alipay public key must not be the app's own
        public key; the app certificate must hold the app key and the Alipay certificate must not.
        One mode must be complete: ``alipay_public_key``, or all three certificates.
        """
        return cls._clean(config)[0]

    @classmethod
    def _clean(cls, config: Mapping[str, str]) -> tuple[dict, Signer, Verifier]:
        values, errors = common.clean_fields(common.describe(cls)["fields"], config, _HINTS)
        common.http_url(errors, "gateway", values["gateway"], "https://openapi.alipay.com/gateway.do")
        app_key = common.load(errors, "app_private_key", values["app_private_key"], keys.load_private_key,
                              _HINTS["app_private_key"])
        alipay_key = common.load(errors, "alipay_public_key", values["alipay_public_key"], keys.load_public_key,
                                 _HINTS["alipay_public_key"])
        if app_key and alipay_key and keys.same_key(app_key, alipay_key):
            common.add(errors, "alipay_public_key", "alipay_public_key is the APP public key (the public half of "
                       f"app_private_key), not Alipay's. {_HINTS['alipay_public_key']}")
        certs = _clean_certs(errors, values, app_key)
        if not all(values[f] for f in _CERT_FIELDS) and not values["alipay_public_key"]:
            missing = [f for f in _CERT_FIELDS if not values[f]]
            common.add(errors, "alipay_public_key", f"Neither mode is complete: fill alipay_public_key, or all of "
                       f"{', '.join(missing)}. {_HINTS['alipay_public_key']}")
            if len(missing) < len(_CERT_FIELDS):
                for field in missing:
                    common.add(errors, field, f"{field} is needed for certificate mode. {_HINTS[field]}")
        if errors:
            raise ConfigInvalid(errors)
        if certs is None:
            return values, Signer(values["app_id"], app_key), Verifier(alipay_key)
        app_cert_sn, root_cert_sn, cert_key, alipay_cert_sn = certs
        return values, Signer(values["app_id"], app_key, app_cert_sn, root_cert_sn), Verifier(cert_key, alipay_cert_sn)

    @classmethod
    def acknowledge(cls, outcome: Outcome) -> Acknowledgement:
        """Alipay stops retrying only on a body of exactly ``success``."""
        return common.text_acknowledgement(outcome)

    @property
    def merchant_id(self) -> str:
        return self.config["app_id"]

    @property
    def offline_create(self) -> bool:
        return self.config["product"] in ("page", "wap")

    def owns(self, report: Report) -> bool:
        """``app_id`` matches and, when a seller is configured, ``seller_id`` too."""
        seller = self.config["seller_id"]
        return report.merchant_id == self.merchant_id and (not seller or report.seller_id == seller)

    # -- paying -------------------------------------------------------------------------------------

    def create(self, request: PayRequest) -> PaymentAction:
        """page/wap: a signed form for the browser to post to the gateway. precreate: a QR code."""
        product = self.config["product"]
        method, product_code = _PRODUCTS[product]
        biz = {
            "out_trade_no": request.trade_no,
            "total_amount": format_money(request.amount),
            "subject": request.subject,
            "product_code": product_code,
            "time_expire": gmt8(request.expires_at),
        }
        if product == "wap":
            biz["quit_url"] = request.return_url
        if product != "precreate":
            params = self._signer.params(method, biz, now=_now(), notify_url=request.notify_url,
                                         return_url=request.return_url)
            # As Alipay's SDKs do: the gateway reads the form's charset from the URL before it reads the form.
            return PaymentAction(method="form", url=self.config["gateway"] + "?charset=utf-8", fields=params)
        node = self._call(method, biz, notify_url=request.notify_url)
        if node.get("code") != SUCCESS:
            raise refusal(method, node)
        _same_order(node, request.trade_no)
        qr_code = node.get("qr_code")
        if not isinstance(qr_code, str) or not qr_code:
            raise GatewayError("Alipay's precreate answer has no qr_code")
        return PaymentAction(method="qrcode", qr_code=qr_code)

    def query(self, trade_no: str) -> Report:
        """``alipay.trade.query``. An order the buyer never opened is NOT_FOUND (40004 ACQ.TRADE_NOT_EXIST).

        The answer is signed for this app, so the report carries this app's id and configured seller.
        """
        method = "alipay.trade.query"
        node = self._call(method, {"out_trade_no": trade_no})
        mine = {"merchant_id": self.merchant_id, "seller_id": self.config["seller_id"] or None}
        if node.get("code") != SUCCESS:
            if node.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return Report(trade_no=trade_no, status=PaymentStatus.NOT_FOUND, **mine)
            raise refusal(method, node)
        _same_order(node, trade_no)
        status = _TRADE_STATUS.get(node.get("trade_status"))
        if status is None:
            shown = common.text_of(node.get("trade_status"), 30)
            raise GatewayError(f"Alipay answered an unknown trade_status {shown!r}")
        try:
            amount = parse_money(node["total_amount"]) if node.get("total_amount") else None
        except MoneyError:
            raise GatewayError("Alipay answered an unreadable total_amount") from None
        return Report(trade_no=trade_no, status=status, gateway_trade_no=node.get("trade_no") or None,
                      amount=amount, **mine)

    def close(self, trade_no: str) -> bool:
        """``alipay.trade.close``: True when closed; False for an unknown order or any refusal.
        Raises GatewayError only when Alipay cannot be reached or asks to retry."""
        try:
            node = self._call("alipay.trade.close", {"out_trade_no": trade_no})
        except GatewayError as exc:
            if exc.transient:
                raise
            return False
        return node.get("code") == SUCCESS

    # -- notifications ------------------------------------------------------------------------------

    def verify_notification(self, request: GatewayRequest) -> Report:
        """Verify a POSTed notification (``sign`` and ``sign_type`` excluded). TRADE_SUCCESS and
        TRADE_FINISHED are PAID, TRADE_CLOSED is CLOSED, anything else IGNORED."""
        params = common.form_params(request)
        with common.claimed_order(params.get("out_trade_no")):
            report = self._verified(params)
            status = _TRADE_STATUS.get(params.get("trade_status"), PaymentStatus.IGNORED)
            if status is PaymentStatus.PENDING:
                status = PaymentStatus.IGNORED
            if status is PaymentStatus.PAID and report.amount is None:
                raise MalformedNotification("total_amount is missing")
        return replace(report, status=status)

    def verify_return(self, request: GatewayRequest) -> Report:
        """Verify the browser return like a notification; it says nothing about payment (PENDING)."""
        params = common.form_params(request)
        with common.claimed_order(params.get("out_trade_no")):
            return self._verified(params)

    # -- helpers ------------------------------------------------------------------------------------

    def _verified(self, params: Mapping[str, str]) -> Report:
        """The signed parameters as a PENDING report; raises InvalidSignature / MalformedNotification."""
        sign = params.get("sign")
        if not isinstance(sign, str) or not sign:
            raise MalformedNotification("no sign")
        declared = params.get("sign_type")
        if isinstance(declared, str) and declared and declared != "RSA2":
            raise InvalidSignature(f"signed with {declared[:10]}; this channel verifies RSA2")
        if not self._verifier.params(params):
            raise InvalidSignature("RSA2 signature does not verify with the Alipay public key")
        trade_no, total = params.get("out_trade_no"), params.get("total_amount")
        if not trade_no:
            raise MalformedNotification("out_trade_no is missing")
        try:
            amount = parse_money(total) if total else None
        except MoneyError as exc:
            raise MalformedNotification(f"total_amount {total[:20]!r}: {exc}") from None
        return Report(trade_no=trade_no, status=PaymentStatus.PENDING, merchant_id=params.get("app_id"),
                      gateway_trade_no=params.get("trade_no") or None, amount=amount,
                      seller_id=params.get("seller_id") or None)

    def _call(self, method: str, biz: dict, *, notify_url: str = "") -> dict:
        """POST one server-to-server call; the verified response node, whatever its code."""
        params = self._signer.params(method, biz, now=_now(), notify_url=notify_url)
        body = common.call(self.http, "POST", self.config["gateway"], timeout=self.timeout, name="Alipay",
                           data=params)
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError:
            raise GatewayError("Alipay answered text that is not UTF-8") from None
        return self._verifier.response(raw, method)


def _clean_certs(errors: common.Errors, values: dict, app_key) -> tuple | None:
    """Check the filled certificates; (app_cert_sn, root_cert_sn, alipay key, alipay_cert_sn) when all
    three are filled and good, else None."""
    found = {}
    for field in _CERT_FIELDS:
        loader = keys.load_root_bundle if field == "alipay_root_cert" else keys.load_certificates
        found[field] = common.load(errors, field, values[field], loader, _HINTS[field])
    app_cert, alipay_cert = found["app_cert"], found["alipay_cert"]
    app_cert_key = common.load(errors, "app_cert", values["app_cert"] if app_cert else "",
                               keys.certificate_public_key, _HINTS["app_cert"])
    alipay_cert_key = common.load(errors, "alipay_cert", values["alipay_cert"] if alipay_cert else "",
                                  keys.certificate_public_key, _HINTS["alipay_cert"])
    if app_key and app_cert_key and not keys.same_key(app_key, app_cert_key):
        common.add(errors, "app_cert", f"app_cert does not hold the public half of app_private_key. "
                   f"{_HINTS['app_cert']}")
    if alipay_cert_key and ((app_key and keys.same_key(app_key, alipay_cert_key))
                            or (app_cert and alipay_cert and app_cert[0] == alipay_cert[0])):
        common.add(errors, "alipay_cert", f"alipay_cert is the app certificate, not Alipay's. {_HINTS['alipay_cert']}")
    root_sn = common.load(errors, "alipay_root_cert", values["alipay_root_cert"] if found["alipay_root_cert"] else "",
                          keys.root_cert_sn, _HINTS["alipay_root_cert"])
    roots = found["alipay_root_cert"]
    for field in ("app_cert", "alipay_cert"):
        if found[field] and roots and field not in errors:
            problem = keys.chain_problem(found[field], roots, _now())
            if problem:
                common.add(errors, field, f"{field} cannot be trusted: {problem}. Paste the certificates the Alipay "
                           f"console issued together (应用公钥证书, 支付宝公钥证书, 支付宝根证书). {_HINTS[field]}")
    if any(field in errors for field in _CERT_FIELDS) or not (app_cert and alipay_cert and root_sn):
        return None
    return keys.cert_sn(app_cert[0]), root_sn, alipay_cert_key, keys.cert_sn(alipay_cert[0])


def _same_order(node: dict, trade_no: str) -> None:
    if node.get("out_trade_no") not in (None, trade_no):
        raise GatewayError("Alipay answered about another order", transient=False, code="mismatch")


def _now() -> datetime:
    return datetime.now(timezone.utc)
