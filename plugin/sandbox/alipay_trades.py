"""Reading an Alipay ``biz_content`` into a trade, and placing it: the re-submission rules for one
``out_trade_no``. Orders carry ``gateway="alipay"`` and a 28-digit trade number.

Re-submitting an unpaid trade with the same amount and subject reuses it; a different amount or subject
is ``ACQ.CONTEXT_INCONSISTENT``; a paid one ``ACQ.TRADE_HAS_SUCCESS``; a closed one ``ACQ.TRADE_HAS_CLOSE``.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .alipay_answers import business, invalid
from .ledger import BEIJING, TIME_FORMAT, GatewayOrder, Ledger, Status, now, random_digits
from .merchants import ALIPAY_APP_ID

GATEWAY = "alipay"  #: the sandbox gateway's name, carried by its orders

OUT_TRADE_NO = re.compile(r"^[\x21-\x7e]{1,64}$")
TIMEOUT_EXPRESS = re.compile(r"^(\d{1,5})([mhd])$")
MAX_AMOUNT = Decimal("100000000")


def read_biz(params: dict[str, str]) -> dict:
    text = params.get("biz_content", "")
    if not text.strip():
        raise invalid("isv.missing-biz-content", "缺少biz_content参数")
    try:
        biz = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise invalid("isv.invalid-biz-content", "biz_content不是合法的JSON") from None
    if not isinstance(biz, dict):
        raise invalid("isv.invalid-biz-content", "biz_content不是JSON对象")
    return biz


def text(biz: dict, name: str) -> str:
    value = biz.get(name)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


@dataclass(frozen=True)
class Trade:
    out_trade_no: str
    amount: Decimal
    subject: str
    body: str
    passback: str
    expires_at: dt.datetime | None


def read_trade(biz: dict, *, timeout_field: str = "timeout_express") -> Trade:
    out_trade_no = text(biz, "out_trade_no")
    if not OUT_TRADE_NO.match(out_trade_no):
        raise business("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no须为1到64位的字母、数字或符号")
    subject = text(biz, "subject")
    if not subject or len(subject) > 256:
        raise business("ACQ.INVALID_PARAMETER", "参数无效: subject不能为空且不超过256个字符")
    return Trade(out_trade_no, read_amount(text(biz, "total_amount")), subject, text(biz, "body"),
                 text(biz, "passback_params"), read_expiry(biz, timeout_field))


def read_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal("NaN")
    if (not amount.is_finite() or amount.as_tuple().exponent < -2
            or not Decimal("0.01") <= amount <= MAX_AMOUNT):
        raise business("ACQ.INVALID_PARAMETER",
                       "参数无效: total_amount须为0.01到100000000之间且最多两位小数")
    return amount.quantize(Decimal("0.01"))


def read_expiry(biz: dict, timeout_field: str) -> dt.datetime | None:
    """``time_expire`` (GMT+8 ``yyyy-MM-dd HH:mm:ss``) wins over ``timeout_express`` (``90m``, ``2h``,
    ``1d``, ``1c``: until midnight)."""
    expire = text(biz, "time_expire")
    if expire:
        try:
            return dt.datetime.strptime(expire, TIME_FORMAT).replace(tzinfo=BEIJING)
        except ValueError:
            raise business("ACQ.INVALID_PARAMETER", "参数无效: time_expire格式须为yyyy-MM-dd HH:mm:ss") from None
    express = text(biz, timeout_field) or text(biz, "timeout_express")
    if not express:
        return None
    if express == "1c":
        midnight = now().replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + dt.timedelta(days=1)
    match = TIMEOUT_EXPRESS.match(express)
    if not match or int(match.group(1)) == 0:
        raise business("ACQ.INVALID_PARAMETER", f"参数无效: {timeout_field}格式不正确")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return now() + dt.timedelta(**{unit: int(match.group(1))})


def new_trade_no(ledger: Ledger) -> str:
    """28 digits: date, ``22001``, 15 random digits (the shape of Alipay's trade numbers)."""
    return ledger.unique_id(lambda: now().strftime("%Y%m%d") + "22001" + random_digits(15))


def place(sandbox, trade: Trade, product: str, params: dict[str, str], *, quit_url: str = "",
          cert_mode: bool = False) -> GatewayOrder:
    """Create the trade (page/wap: not yet known to queries; precreate: WAIT_BUYER_PAY) or reuse it."""
    ledger = sandbox.ledger
    with ledger.lock:
        existing = ledger.find(GATEWAY, ALIPAY_APP_ID, trade.out_trade_no)
        if existing is not None:
            sandbox.refresh(existing)
            if existing.status == Status.PAID:
                raise business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
            if existing.status == Status.CLOSED:
                raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
            if existing.amount != trade.amount or existing.subject != trade.subject:
                raise business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            order = existing
            order.product = product
            order.notify_url = params.get("notify_url", "") or order.notify_url
            order.return_url = params.get("return_url", "") or order.return_url
            order.quit_url = quit_url or order.quit_url
            order.expires_at = trade.expires_at or order.expires_at
        else:
            order = ledger.add(GatewayOrder(
                id=new_trade_no(ledger), gateway=GATEWAY, product=product, merchant=ALIPAY_APP_ID,
                out_trade_no=trade.out_trade_no, subject=trade.subject, amount=trade.amount,
                notify_url=params.get("notify_url", ""), return_url=params.get("return_url", ""),
                status=Status.CREATED, param=trade.passback, body=trade.body, quit_url=quit_url,
                cert_mode=cert_mode, expires_at=trade.expires_at,
            ))
        if order.expired:
            sandbox.refresh(order)
            raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭 (time_expire已过)")
        if product == "precreate" and order.status == Status.CREATED:
            order.status, order.opened_at = Status.WAITING, now()
    sandbox.schedule_expiry(order)
    return order
