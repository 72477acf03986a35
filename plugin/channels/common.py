"""What the channel modules share: their config fields as ``plugin.yaml`` declares them, keys loaded with
errors that name the field, and the one way they call a gateway over HTTP.

Nothing here is gateway-specific; messages never carry a secret (a key, a signed URL).
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Callable, Mapping, TypeVar
from urllib.parse import urlsplit

import requests

from .. import keys
from ..manifest import load_manifest
from .base import GatewayError

T = TypeVar("T")
Errors = dict[str, list[str]]


def clean_fields(kind: str, config: Mapping[str, object], hints: Mapping[str, str]) -> tuple[dict, Errors]:
    """The kind's fields from ``config``: stripped text, defaults for what is absent, choices checked.

    A missing value (absent or None) takes the manifest default. A blank one does too unless blank is one
    of the field's choices (EPay's ``type`` = "" means the gateway's cashier). Choices match
    case-insensitively and are stored as the manifest spells them. Unknown keys are dropped.
    Returns the values and the errors so far; ``hints[field]`` says what to paste.
    """
    values: dict[str, str] = {}
    errors: Errors = {}
    for spec in load_manifest().kind_fields(kind):
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
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
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
