"""The canonical strings and signatures of EPay and Alipay, exactly as PROTOCOLS.md states them.

Pure functions over ``Mapping[str, str]``: they never mutate what they are given, and every comparison
of a signature is constant-time. Channels (our side) and the sandbox gateway (their side) both sign and
verify through here.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


#: The characters PHP's trim() removes (not Unicode whitespace such as U+3000, which PHP keeps).
PHP_TRIM = " \t\n\r\0\x0b"


def _php_text(value: object) -> str | None:
    """A value as EPay's PHP signer joins it, or None when it drops it (null, false, arrays, and values
    empty after trimming; kept values are not trimmed).

    JSON answers carry numbers (``"code":0``, ``"timestamp":1700000000``) that PHP keeps and prints as
    text, so numbers are kept too: integers as digits, floats and Decimals the way PHP prints a float
    (``10.0`` → ``10``, ``9.90`` → ``9.9``), ``true`` as ``1``.
    """
    if isinstance(value, bool):
        text = "1" if value else ""
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = format(value, ".14G")  # PHP's default precision=14
    elif isinstance(value, Decimal):
        text = format(value.normalize(), "f")
    elif isinstance(value, str):
        text = value
    else:
        return None
    return text if text.strip(PHP_TRIM) != "" else None


def epay_content(params: Mapping[str, object]) -> str:
    """EPay's string to sign: drop ``sign``, ``sign_type`` and empty values, sort keys by byte order,
    join raw values as ``k=v&…`` (no URL-encoding)."""
    items = sorted(
        (k, _php_text(v)) for k, v in params.items() if k not in ("sign", "sign_type")
    )
    return "&".join(f"{k}={v}" for k, v in items if v is not None)


def epay_md5(params: Mapping[str, object], key: str) -> str:
    """EPay v1 signature: ``md5(content + key)`` with the key appended directly, lowercase hex."""
    return hashlib.md5((epay_content(params) + key).encode("utf-8")).hexdigest()


def epay_md5_valid(params: Mapping[str, object], key: str) -> bool:
    sign = params.get("sign")
    if not isinstance(sign, str) or not key:
        return False
    return hmac.compare_digest(epay_md5(params, key).encode(), sign.strip().lower().encode())


def alipay_request_content(params: Mapping[str, object]) -> str:
    """Alipay's request string to sign: everything except ``sign`` (``sign_type`` included), empty values
    skipped, keys sorted, raw values joined with ``&``."""
    items = sorted((k, v) for k, v in params.items() if k != "sign" and isinstance(v, str) and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def alipay_notify_content(params: Mapping[str, object]) -> str:
    """Alipay's notification and return string (``rsaCheckV1``): ``sign`` and ``sign_type`` excluded."""
    items = sorted(
        (k, v) for k, v in params.items() if k not in ("sign", "sign_type") and isinstance(v, str) and v != ""
    )
    return "&".join(f"{k}={v}" for k, v in items)


def rsa_sign(content: str, private_key: rsa.RSAPrivateKey) -> str:
    """SHA256withRSA (PKCS#1 v1.5) over the UTF-8 bytes, standard base64 without line breaks."""
    signature = private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_valid(content: str, sign: object, public_key: rsa.RSAPublicKey) -> bool:
    """Verify a base64 SHA256withRSA signature; any malformed signature is simply invalid."""
    if not isinstance(sign, str) or not sign:
        return False
    try:
        raw = base64.b64decode(sign.replace(" ", "+").strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class ResponseFormatError(ValueError):
    """An Alipay synchronous response without the expected node."""


def response_node(raw: str, node: str) -> str:
    """The exact raw text of ``node``'s object value in an Alipay response, from its ``{`` to the
    matching ``}``, found by a string-aware scan (braces inside string values do not count).

    Only top-level keys are considered, so a nested key of the same name cannot be picked up.
    """
    depth = 0
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch == '"':
            end = _string_end(raw, i)
            if depth == 1:
                key = json.loads(raw[i : end + 1])
                j = end + 1
                while j < n and raw[j] in " \t\r\n":
                    j += 1
                if key == node and j < n and raw[j] == ":":
                    j += 1
                    while j < n and raw[j] in " \t\r\n":
                        j += 1
                    if j < n and raw[j] == "{":
                        return raw[j : _object_end(raw, j) + 1]
                    raise ResponseFormatError(f"{node} is not an object")
            i = end + 1
            continue
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        i += 1
    raise ResponseFormatError(f"response has no {node}")


def _string_end(raw: str, start: int) -> int:
    i = start + 1
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] == '"':
            return i
        i += 1
    raise ResponseFormatError("unterminated string in response")


def _object_end(raw: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(raw):
        ch = raw[i]
        if ch == '"':
            i = _string_end(raw, i) + 1
            continue
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ResponseFormatError("unbalanced braces in response")
