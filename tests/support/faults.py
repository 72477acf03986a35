"""Faults injected from outside PanelPay: a statement of the host's engine fails as if the database
connection dropped, through an SQLAlchemy event the test registers (PanelPay's code is unchanged)."""
from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def statement_fails(engine, starts_with: str, times: int = 1):
    """While open, the next ``times`` statements on ``engine`` whose SQL starts with ``starts_with`` raise
    OperationalError, wrapping the driver's own, before they reach the database (as SQLAlchemy raises a
    dropped connection). Yields the list of failed statements."""
    failed: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if len(failed) < times and statement.lstrip().upper().startswith(starts_with.upper()):
            failed.append(statement)
            dropped = conn.dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")
            raise sa.exc.OperationalError(statement, parameters, dropped)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield failed
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
