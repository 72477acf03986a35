"""How a credit reaches the host's balance, inside PanelPay's settle transaction.

The host picks one adapter when mounting PanelPay:

* ``BalanceColumn(User.balance)``: a decimal money column, incremented by the credit.
* ``BalanceColumn(User.balance_cents, units_per_yuan=100)``: integer minor units.
* ``BalanceColumn(User.quota, units=500000, price="7.3")``: integer units the host sells at a price, here
  New-API's: 500,000 quota per US dollar, a dollar sold for 7.3 yuan (so 73.00 yuan credits 5,000,000).
* ``BalanceCallable(fn)``: ``fn(session, user_id, credit)`` runs in the same transaction and returns the
  units it credited (or ``None``); raising rolls the whole settlement back.

The column adapters update in SQL (``balance = balance + :credit``), never read-modify-write.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .money import to_units


class UserNotFound(LookupError):
    """The order's user no longer exists in the host's table."""


class BalanceColumn:
    """Credit a column of the host's user table: money as it is, or integer units at a rate.

    The rate is either ``units_per_yuan`` (100 for cents) or ``units`` credited for every ``price`` yuan
    paid (``units=500000, price="7.3"``), which keeps a price such as New-API's exact where a rate per yuan
    would be a rounded 68,493.15…. Rates are ints, Decimals or strings, never floats. Units are rounded
    toward zero: a balance never receives more than was paid for.
    """

    def __init__(self, column: Any, *, units_per_yuan: int | Decimal | str | None = None,
                 units: int | Decimal | str | None = None, price: int | Decimal | str | None = None,
                 id_column: Any = None):
        column = getattr(column, "expression", column)
        self.column = column
        self.table = column.table
        if id_column is None:
            keys = list(self.table.primary_key.columns)
            if len(keys) != 1:
                raise ValueError("the user table needs a single-column primary key, or pass id_column=")
            id_column = keys[0]
        self.id_column = getattr(id_column, "expression", id_column)
        #: Units per yuan as an exact fraction, or None for a money column.
        self.units_per_yuan = _rate(units_per_yuan, units, price)
        self._python_type = self._id_type()
        # Built once; each credit binds the user and the amount, under names no host column has (a bound
        # name matching a column of the updated table would join the SET clause).
        self._statement = (
            update(self.table)
            .where(self.id_column == bindparam("panelpay_user_key", type_=self.id_column.type))
            .values({self.column: self.column + bindparam("panelpay_amount", type_=self.column.type)})
        )

    def _id_type(self):
        try:
            python_type = self.id_column.type.python_type
        except NotImplementedError:
            return None
        return python_type if python_type in (int, str) else None

    def user_key(self, user_id: str) -> Any:
        """The host's user id in its own type (orders store it as a string)."""
        return self._python_type(user_id) if self._python_type else user_id

    def units_for(self, credit: Decimal) -> int | None:
        return None if self.units_per_yuan is None else to_units(credit, self.units_per_yuan)

    def credit(self, connection: Connection, user_id: str, credit: Decimal) -> int | None:
        units = self.units_for(credit)
        amount = credit if units is None else units
        result = connection.execute(self._statement, {"panelpay_user_key": self.user_key(user_id),
                                                      "panelpay_amount": amount})
        if result.rowcount == 0:
            raise UserNotFound(f"user {user_id} not found in {self.table.name}")
        if result.rowcount != 1:
            raise UserNotFound(f"user {user_id} matches {result.rowcount} rows of {self.table.name}: "
                               "the balance's id column must be unique")
        return units


def _rate(units_per_yuan, units, price) -> Fraction | None:
    """The exact rate from either form; None when neither is given."""
    if units_per_yuan is not None:
        if units is not None or price is not None:
            raise ValueError("give units_per_yuan, or units and price, not both")
        return _positive(units_per_yuan, "units_per_yuan")
    if units is None and price is None:
        return None
    if units is None or price is None:
        raise ValueError("units and price go together: the units credited for every price paid, in yuan")
    return _positive(units, "units") / _positive(price, "price")


def _positive(value, name: str) -> Fraction:
    """``value`` as an exact fraction, refusing floats (``7.3`` is not 7.3), non-numbers and values ≤ 0."""
    if isinstance(value, (bool, float)) or not isinstance(value, (int, Decimal, str)):
        raise TypeError(f"{name} must be an int, a Decimal or a string such as \"7.3\" (money is never a float)")
    try:
        exact = Fraction(Decimal(value))
    except (ArithmeticError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if exact <= 0:
        raise ValueError(f"{name} must be positive")
    return exact


class BalanceCallable:
    """Credit through the host's own function, inside PanelPay's transaction."""

    def __init__(self, fn: Callable[[Session, str, Decimal], int | None]):
        self.fn = fn

    def units_for(self, credit: Decimal) -> int | None:
        """Unknown until the host's function says (it returns the units it credited)."""
        return None

    def credit(self, connection: Connection, user_id: str, credit: Decimal) -> int | None:
        # The host's function gets a Session joined to PanelPay's transaction (it commits nothing).
        with Session(bind=connection, join_transaction_mode="rollback_only") as session:
            units = self.fn(session, user_id, credit)
            session.flush()
        return units


def as_adapter(balance: Any) -> BalanceColumn | BalanceCallable:
    """Accept an adapter, a column (decimal money) or a callable."""
    if isinstance(balance, (BalanceColumn, BalanceCallable)):
        return balance
    if hasattr(balance, "expression") or hasattr(balance, "table"):
        return BalanceColumn(balance)
    if callable(balance):
        return BalanceCallable(balance)
    raise TypeError("balance must be a BalanceColumn, a column of the user model, or a callable")
