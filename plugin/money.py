"""Money: `Decimal` with two places, end to end. Never a float.

Amounts arrive as strings from JSON, forms and gateways (EPay sends `10`, `9.9` or `10.00` for the same
kind of value) and leave as strings with exactly two decimals.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: The largest amount PanelPay handles; the columns hold 12 digits before the point.
MAX_AMOUNT = Decimal("999999999999.99")


class MoneyError(ValueError):
    """A value that is not an amount of money."""


#: The reasons a :class:`MoneyError` gives, for callers that explain them to a person.
TOO_LARGE = "amount too large"
TOO_PRECISE = "more than two decimal places"


def parse_money(value: object, *, exact: bool = True) -> Decimal:
    """Parse a money value given as a string, an int or a Decimal into a two-place Decimal.

    With ``exact`` (the default) a value with more than two decimals is refused instead of rounded:
    a gateway reporting ``10.001`` did not report ``10.00``. Floats and booleans are refused.
    """
    if isinstance(value, (bool, float)) or value is None:
        raise MoneyError("not a decimal amount")
    if isinstance(value, str):
        text = value.strip()
        if not text or any(c not in "0123456789.-+" for c in text):
            raise MoneyError("not a decimal amount")
        value = text
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise MoneyError("not a decimal amount") from exc
    if not amount.is_finite():
        raise MoneyError("not a decimal amount")
    if abs(amount) > MAX_AMOUNT:
        raise MoneyError(TOO_LARGE)
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if exact and rounded != amount:
        raise MoneyError(TOO_PRECISE)
    return rounded


def quantize(amount: Decimal) -> Decimal:
    """Round a computed amount (a fee, a percentage) half-up to the cent."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None) -> str | None:
    """Format as a string with exactly two decimals (``"10.00"``); ``None`` stays ``None``."""
    if amount is None:
        return None
    return f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def fee_for(amount: Decimal, fee_fixed: Decimal, fee_percent: Decimal) -> Decimal:
    """The fee on a top-up: fixed part plus percentage, rounded half-up to the cent."""
    return quantize(Decimal(fee_fixed) + Decimal(amount) * Decimal(fee_percent) / Decimal(100))


def to_units(credit: Decimal, units_per_yuan: int | Decimal | Fraction) -> int:
    """Convert money into a host's integer units (cents, quota) at ``units_per_yuan``.

    Exact: the rate may be a fraction (500,000 quota for 7.30 yuan is 68,493.150684… per yuan, which no
    Decimal holds), so the product is taken as a fraction and only then rounded. Rounding rule: toward zero,
    so a balance never receives more than was paid for; with an integer rate such as 100 (cents) the
    conversion of a two-place amount is exact.
    """
    return math.trunc(Fraction(credit) * Fraction(units_per_yuan))
