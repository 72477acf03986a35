"""EPay order validation and creation, shared by v1 (``submit.php``, ``mapi.php``) and v2 (``api/pay/*``).

Orders carry ``gateway="epay"`` and a ``YmdHis`` + 5 digits trade number, given at creation (``mapi.php``
answers it). The checks and their order follow the real panel: merchant, required fields, signature,
formats, pay type, then the re-submission rules (an ``out_trade_no`` younger than 10 days may be submitted
again only with the same money/name/notify_url/return_url/param, and never once paid).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .ledger import GatewayOrder, Ledger, Status, now, random_digits
from .merchants import EPAY_PID, EPAY_TYPES

GATEWAY = "epay"  #: the sandbox gateway's name, carried by its orders

OUT_TRADE_NO = re.compile(r"^[a-zA-Z0-9._\-|]+$")
MONEY = re.compile(r"^[0-9.]+$")
RESUBMIT_WINDOW = dt.timedelta(days=10)
NAME_BYTES = 127

FIELD_LABELS = {
    "pid": "商户ID(pid)", "out_trade_no": "订单号(out_trade_no)", "notify_url": "通知地址(notify_url)",
    "return_url": "回调地址(return_url)", "name": "商品名称(name)", "money": "金额(money)",
    "clientip": "用户IP地址(clientip)", "type": "支付方式(type)", "method": "接口类型(method)",
    "timestamp": "时间戳(timestamp)", "sign": "签名(sign)",
}


class EpayRefusal(Exception):
    """``{"code": code, "msg": msg}`` for the APIs, an error page for the browser endpoints.
    Codes: -1 default, -2 channel (pay type), -3 merchant or signature, -4 missing parameter or method."""

    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code = code
        self.msg = msg

    def as_dict(self) -> dict:
        return {"code": self.code, "msg": self.msg}


@dataclass(frozen=True)
class OrderFields:
    out_trade_no: str
    notify_url: str
    return_url: str
    name: str  #: as stored: cut to 127 bytes, HTML-escaped
    money: Decimal
    pay_type: str
    param: str
    sitename: str
    clientip: str
    device: str


def check_merchant(params: dict[str, str]) -> None:
    pid = params.get("pid", "").strip()
    if not pid:
        raise EpayRefusal(-4, "商户ID(pid)不能为空")
    if pid != EPAY_PID:
        raise EpayRefusal(-3, "商户不存在！")


def require(params: dict[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        if not params.get(name, "").strip():
            raise EpayRefusal(-4, f"{FIELD_LABELS.get(name, name)}不能为空")


def stored_name(name: str) -> str:
    """``htmlspecialchars(mb_strcut(name, 0, 127))``: cut on a UTF-8 boundary, then ``& < > "`` escaped."""
    cut = name.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore")
    return cut.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def parse_money(text: str) -> Decimal:
    if not MONEY.match(text):
        raise EpayRefusal(-1, "金额(money)不合法")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise EpayRefusal(-1, "金额(money)不合法") from None
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:
        raise EpayRefusal(-1, "金额(money)不合法：须大于0且最多两位小数")
    if amount > Decimal("100000000"):
        raise EpayRefusal(-1, "金额(money)超过单笔限额")
    return amount.quantize(Decimal("0.01"))


def read_fields(params: dict[str, str]) -> OrderFields:
    """Formats and pay type (call after :func:`require` and the signature check)."""
    out_trade_no = params["out_trade_no"]
    if not OUT_TRADE_NO.match(out_trade_no) or len(out_trade_no) > 150:
        raise EpayRefusal(-1, "订单号(out_trade_no)格式不正确")
    money = parse_money(params["money"])
    pay_type = params.get("type", "").strip()
    if pay_type and pay_type not in EPAY_TYPES:
        raise EpayRefusal(-2, "支付方式(type)不存在")
    device = params.get("device", "").strip() or "pc"
    return OrderFields(
        out_trade_no=out_trade_no,
        notify_url=params["notify_url"].strip(),
        return_url=params.get("return_url", "").strip(),
        name=stored_name(params["name"].strip()),
        money=money,
        pay_type=pay_type,
        param=params.get("param", ""),
        sitename=params.get("sitename", ""),
        clientip=params.get("clientip", "").strip(),
        device=device,
    )


def new_trade_no(ledger: Ledger) -> str:
    """``YmdHis`` followed by 5 random digits, like EPay's ``trade_no``."""
    return ledger.unique_id(lambda: now().strftime("%Y%m%d%H%M%S") + random_digits(5))


def place(sandbox, fields: OrderFields, product: str) -> GatewayOrder:
    """Create the order, or return the unpaid one already submitted with identical parameters."""
    ledger = sandbox.ledger
    with ledger.lock:
        existing = ledger.find(GATEWAY, EPAY_PID, fields.out_trade_no)
        if existing is not None:
            if existing.status == Status.PAID:
                raise EpayRefusal(-1, "该订单已完成支付，请勿重复提交")
            if now() - existing.created_at < RESUBMIT_WINDOW:
                same = (existing.amount == fields.money and existing.subject == fields.name
                        and existing.notify_url == fields.notify_url
                        and existing.return_url == fields.return_url and existing.param == fields.param)
                if not same:
                    raise EpayRefusal(-1, "该订单号已存在，支付参数有变化，请更换订单号后重新提交")
                if fields.pay_type:
                    existing.pay_type = fields.pay_type
                return existing
        order = GatewayOrder(
            id=new_trade_no(ledger), gateway=GATEWAY, product=product, merchant=EPAY_PID,
            out_trade_no=fields.out_trade_no, subject=fields.name, amount=fields.money,
            notify_url=fields.notify_url, return_url=fields.return_url, pay_type=fields.pay_type,
            param=fields.param, sitename=fields.sitename, device=fields.device, clientip=fields.clientip,
        )
        return ledger.add(order)


def answer_kind(behaviour, device: str) -> str:
    """Which of payurl/qrcode/urlscheme an API answer carries (``mapi_answer`` switch)."""
    if behaviour.mapi_answer != "auto":
        return behaviour.mapi_answer
    return "qrcode" if device == "pc" else "payurl"


def find_queried(sandbox, params: dict[str, str]) -> GatewayOrder:
    """The order an ``act=order`` / ``api/pay/query`` asks about (``trade_no`` wins over ``out_trade_no``),
    counted as queried; raises :class:`EpayRefusal` -4 (no number) or -1 (no such order)."""
    trade_no = params.get("trade_no", "").strip()
    out_trade_no = params.get("out_trade_no", "").strip()
    if not trade_no and not out_trade_no:
        raise EpayRefusal(-4, "订单号不能为空")
    if trade_no:
        order = sandbox.ledger.by_trade_no(GATEWAY, EPAY_PID, trade_no)
    else:
        order = sandbox.ledger.find(GATEWAY, EPAY_PID, out_trade_no)
    if order is None:
        raise EpayRefusal(-1, "订单号不存在")
    sandbox.ledger.count_query(order)
    return order
