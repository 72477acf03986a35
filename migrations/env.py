"""Alembic environment for PanelPay's own tables only; the host's tables and history are never touched."""
from alembic import context

from panelpay.migrate import VERSION_TABLE, include_object
from panelpay.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    include_object=include_object,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
