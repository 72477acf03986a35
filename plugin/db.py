"""Database plumbing shared by every transaction PanelPay runs on the host's engine."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Integer, String, false, literal_column, null, true
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.engine import Connection

#: Error codes meaning "the transaction lost a race; run it again": PostgreSQL serialization failure and
#: deadlock, MySQL/MariaDB deadlock.
_RETRYABLE_PG = {"40001", "40P01"}
_RETRYABLE_MYSQL = {1213}


class TransientError(RuntimeError):
    """The database could not do its part now (down, locked, timed out); the caller should retry later."""


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure: safe and useful to retry at once."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) in _RETRYABLE_PG or getattr(orig, "pgcode", None) in _RETRYABLE_PG:
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _RETRYABLE_MYSQL


def inline(value: str | int | bool | None):
    """A constant written into a statement's SQL rather than bound as a parameter: the notify path's
    statements bind only what changes, since every bound value costs SQLAlchemy and the driver work on
    each execution. For PanelPay's own constants only (status and verdict names, numbers, '')."""
    if value is None:
        return null()
    if isinstance(value, bool):
        return true() if value else false()
    if isinstance(value, int):
        return literal_column(str(int(value)), Integer)
    if value and not value.isidentifier():
        raise ValueError(f"not a plain name: {value!r}")
    return literal_column(f"'{value}'", String)


def inline_values(values: dict) -> dict:
    """``values`` (column name to constant) for a statement's ``.values()``, each written inline."""
    return {name: inline(value) for name, value in values.items()}


def set_lock_timeout(connection: Connection, seconds: int) -> None:
    """Bound how long this transaction waits for a row lock before failing (and answering 503).

    PostgreSQL: ``SET LOCAL`` scopes it to the transaction. MySQL/MariaDB and SQLite: the connection's
    setting (``innodb_lock_wait_timeout``, ``busy_timeout``) is set once per pooled connection.
    """
    name = connection.dialect.name
    if name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(seconds)}s'")
        return
    statement = {"mysql": f"SET SESSION innodb_lock_wait_timeout = {int(seconds)}",
                 "mariadb": f"SET SESSION innodb_lock_wait_timeout = {int(seconds)}",
                 "sqlite": f"PRAGMA busy_timeout = {int(seconds) * 1000}"}.get(name)
    if statement is None:
        return
    info = connection.connection.info
    if info.get("panelpay_lock_timeout") != seconds:
        connection.exec_driver_sql(statement)
        info["panelpay_lock_timeout"] = seconds


@contextmanager
def transient_errors() -> Iterator[None]:
    """Turn database failures into :class:`TransientError` (everything was rolled back, so retrying is
    safe). IntegrityError and DataError pass through: they are answers about the data (a duplicate, a
    value the column cannot hold), not an outage."""
    try:
        yield
    except (IntegrityError, DataError):
        raise
    except DBAPIError as exc:
        detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        raise TransientError((detail[0] if detail else "database error")[:200]) from exc
    except PoolTimeout as exc:
        raise TransientError("database connection pool exhausted") from exc
