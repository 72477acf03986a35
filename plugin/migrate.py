"""Run PanelPay's Alembic migrations (shipped inside the package) on the host's database."""
from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

VERSION_TABLE = "panelpay_alembic_version"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Only PanelPay's own tables (and their indexes) exist for these migrations."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", name) or ""
    return table_name.startswith("panelpay_") and table_name != VERSION_TABLE


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("panelpay.migrations")))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate PanelPay's tables up to ``revision`` (default: the newest)."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first upgrade."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()
