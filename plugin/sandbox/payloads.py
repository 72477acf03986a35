"""Building blocks of the parameter sets gateways send: PHP's way of printing money, and a query appended
to a merchant's URL."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode


def php_float(amount: Decimal) -> str:
    """``(string)(float)$money`` as PHP prints it (precision 14): 10.00 -> "10", 9.90 -> "9.9"."""
    text = format(float(amount), ".14G")
    if "E" in text:  # PHP writes 1.0E+15 where Python writes 1E+15
        mantissa, exponent = text.split("E")
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0] if exponent[0] in "+-" else "+"
        text = f"{mantissa}E{sign}{int(exponent.lstrip('+-'))}"
    return text


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended: after ``&`` when it already has a ``?`` (its query is kept)."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)
