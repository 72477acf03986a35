"""What channel modules may share: their config fields as declared, keys loaded with errors that name the
field, form parameters read from a raw request, a plain-text acknowledgement, and the one way they call a
gateway over HTTP.

Nothing here is gateway-specific; messages never carry a secret (a key, a signed URL).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal
from typing import Callable, Iterator, Mapping, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests

from .. import keys
from ..manifest import Field, load_manifest, parse_kind
from .base import Acknowledgement, GatewayError, GatewayRequest, InvalidNotification, MalformedNotification, Outcome

T = TypeVar("T")
Errors = dict[str, list[str]]


def describe(cls) -> dict:
    """A channel kind's ``{"label", "fields"}``: its own :attr:`~.base.Channel.manifest`, else what
    ``plugin.yaml`` says of its kind. Raises LookupError for a kind described nowhere."""
    if cls.manifest is not None:
        return parse_kind(cls.manifest)
    kinds = load_manifest().kinds
    if cls.kind not in kinds:
        raise LookupError(f"channel kind {cls.kind!r} declares no fields: give {cls.__name__} a `manifest`")
    return kinds[cls.kind]


def clean_fields(fields: tuple[Field, ...], config: Mapping[str, object],
                 hints: Mapping[str, str]) -> tuple[dict, Errors]:
    """The kind's fields from ``config``: stripped text, defaults for what is absent, choices checked.

    A missing value (absent or None) takes the manifest default. A blank one does too unless blank is one
    of the field's choices (EPay's ``type`` = "" means the gateway's cashier). Choices match
    case-insensitively and are stored as the manifest spells them. Unknown keys are dropped.
    Returns the values and the errors so far; ``hints[field]`` says what to paste.
    """
    values: dict[str, str] = {}
    errors: Errors = {}
    for spec in fields:
        raw = config.get(spec.key)
        default = "" if spec.default is None else str(spec.default)
        value = default if raw is None else str(raw).strip()
        if value == "" and "" not in spec.choices:
            value = default
        if spec.choices:
            match = [c for c in spec.choices if str(c).lower() == value.lower()]
            if not match:
                shown = ", ".join(repr(str(c)) for c in spec.choices)
                add(errors, spec.key, f"{spec.key} must be one of {shown}.")
            else:
                value = str(match[0])
        if spec.required and not value:
            add(errors, spec.key, f"{spec.key} is required. {hints.get(spec.key, '')}".strip())
        values[spec.key] = value
    return values, errors


def text_acknowledgement(outcome: Outcome) -> Acknowledgement:
    """The answer of gateways that read a text body: ``success`` when the request was taken, ``fail``
    otherwise, with the outcome's status (EPay looks for ``success`` in the body, Alipay wants exactly it)."""
    return Acknowledgement(outcome.value, "success" if outcome is Outcome.TAKEN else "fail", "text/plain")


def form_params(request: GatewayRequest) -> dict[str, str]:
    """The parameters of a form-style request: query string and URL-encoded body, UTF-8 (or GBK when a
    ``charset`` parameter says so).

    Raises :class:`~.base.MalformedNotification` for a repeated key, bytes that are not text, or a body
    that is not a URL-encoded form.
    """
    pairs = _latin1_pairs(request.query_string)
    if request.body:
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type not in ("application/x-www-form-urlencoded", ""):
            raise MalformedNotification(f"unsupported content type {content_type[:60]}")
        pairs += _latin1_pairs(request.body)
    encoding = "utf-8"
    for key, value in pairs:
        if key == "charset" and value.lower() in ("gbk", "gb2312", "gb18030"):
            encoding = "gb18030"
    params: dict[str, str] = {}
    for key, value in pairs:
        if not (key.isascii() and value.isascii()):  # ASCII reads the same in latin-1, UTF-8 and GBK
            try:
                key, value = key.encode("latin-1").decode(encoding), value.encode("latin-1").decode(encoding)
            except UnicodeDecodeError as exc:
                raise MalformedNotification(f"parameters are not valid {encoding} text") from exc
        if key in params:
            raise MalformedNotification(f"parameter {key[:40]!r} appears more than once")
        params[key] = value
    return params


@contextmanager
def claimed_order(trade_no: object) -> Iterator[None]:
    """Inside it, a refusal names the order the request claims to be about (unverified), so the delivery
    log can be searched by it."""
    try:
        yield
    except InvalidNotification as exc:
        if exc.trade_no is None and isinstance(trade_no, str) and trade_no:
            exc.trade_no = trade_no
        raise


def _latin1_pairs(data: bytes) -> list[tuple[str, str]]:
    """URL-decoded (key, value) pairs, each character one byte (latin-1): bytes that are not UTF-8
    survive to be reported instead of being replaced, and the declared charset is applied after."""
    return parse_qsl(data.decode("latin-1"), keep_blank_values=True, encoding="latin-1")


def add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def load(errors: Errors, field: str, text: str, loader: Callable[[str], T], hint: str) -> T | None:
    """``loader(text)``, or None after recording why it failed under ``field`` (blank text: None, silently)."""
    if not text:
        return None
    try:
        return loader(text)
    except keys.KeyFormatError as exc:
        add(errors, field, f"{field} {exc}. {hint}")
        return None


def http_url(errors: Errors, field: str, value: str, example: str) -> str | None:
    """An http(s) URL with a host and no credentials or fragment, else None with the error recorded."""
    if not value:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError past 65535
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or " " in value or port == 0:
        add(errors, field, f"{field} must be an http:// or https:// URL such as {example}.")
        return None
    if parts.username or parts.password or parts.fragment:
        add(errors, field, f"{field} must not carry credentials or a #fragment; use a plain URL such as {example}.")
        return None
    return value


def call(http: requests.Session, method: str, url: str, *, timeout: float, name: str, **kwargs) -> bytes:
    """One HTTP exchange with a gateway; the body of a 2xx answer.

    Network failures, 5xx, 408 and 429 are transient; another 4xx means the URL is wrong (not worth
    retrying as is). The request URL never reaches the message: EPay's query carries the key in it.
    """
    try:
        response = http.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise GatewayError(f"{name} could not be reached ({type(exc).__name__})") from None
    status = response.status_code
    if status >= 500 or status in (408, 429):
        raise GatewayError(f"{name} answered HTTP {status}")
    if status >= 300:
        raise GatewayError(
            f"{name} answered HTTP {status}: check the gateway URL", transient=False, code=f"http_{status}"
        )
    return response.content


def json_object(body: bytes, name: str) -> tuple[str, dict]:
    """The text of a JSON object answer and the object, numbers as Decimal (never float money)."""
    try:
        text = body.decode("utf-8-sig")
        data = json.loads(text, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise GatewayError(f"{name} answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise GatewayError(f"{name} answered JSON that is not an object")
    return text, data


def text_of(value: object, limit: int = 200) -> str:
    """A gateway-supplied value made safe to show in a message: text, cut to ``limit``."""
    return str(value)[:limit] if value is not None else ""
