"""The three databases the suite runs on. SQLite always; PostgreSQL and MariaDB when reachable, and
required (a failure, not a skip) when ``PANELPAY_REQUIRE_DATABASES=1`` as in CI."""
from __future__ import annotations

import os
import secrets

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("PANELPAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("PANELPAY_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4")
REQUIRED = os.environ.get("PANELPAY_REQUIRE_DATABASES") == "1"
BACKENDS = ("sqlite", "postgresql", "mariadb")


def _admin_url(backend: str) -> str:
    return PG_URL if backend == "postgresql" else MARIADB_URL


def reachable(backend: str) -> str | None:
    """None when the server answers, else why not."""
    if backend == "sqlite":
        return None
    try:
        engine = sa.create_engine(_admin_url(backend), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return str(exc).splitlines()[0]


def require(backend: str) -> None:
    why = reachable(backend)
    if why is None:
        return
    if REQUIRED:
        pytest.fail(f"{backend} is required (PANELPAY_REQUIRE_DATABASES=1) but unreachable: {why}")
    pytest.skip(f"{backend} unreachable: {why}")


def create_database(backend: str, tmp_dir: str) -> str:
    """A new, empty database; returns its URL."""
    name = f"pp_{os.getpid()}_{secrets.token_hex(3)}"
    if backend == "sqlite":
        return f"sqlite:///{os.path.join(tmp_dir, name)}.sqlite"
    admin = sa.create_engine(_admin_url(backend), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if backend == "postgresql":
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        else:
            connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()
    url = sa.engine.make_url(_admin_url(backend)).set(database=name)
    return url.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and os.path.exists(parsed.database):
            os.remove(parsed.database)
        return
    backend = "postgresql" if parsed.get_backend_name() == "postgresql" else "mariadb"
    admin = sa.create_engine(_admin_url(backend), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if backend == "postgresql":
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        else:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
    admin.dispose()
