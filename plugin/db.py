"""Database plumbing shared by every transaction PanelPay runs on the host's engine."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

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


def set_lock_timeout(connection: Connection, seconds: int) -> None:
    """Bound how long this transaction waits for a locked row before failing (and answering 503): the
    one thing the dialects must be told differently. PostgreSQL scopes ``SET LOCAL`` to the transaction;
    MySQL/MariaDB and SQLite have only a connection-wide setting."""
    seconds = int(seconds)
    statement = {"postgresql": f"SET LOCAL lock_timeout = '{seconds}s'",
                 "mysql": f"SET SESSION innodb_lock_wait_timeout = {seconds}",
                 "mariadb": f"SET SESSION innodb_lock_wait_timeout = {seconds}",
                 "sqlite": f"PRAGMA busy_timeout = {seconds * 1000}"}.get(connection.dialect.name)
    if statement is not None:
        connection.exec_driver_sql(statement)


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
