"""Orders keep the name of the channel they were paid through (a channel renamed later no longer renames
its past orders), and an operator's review of an anomaly: who and when.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from panelpay.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("panelpay_orders") as batch:
        batch.add_column(sa.Column("channel_name", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("reviewed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTCDateTime(), nullable=True))
    # Existing orders take their channel's name as it is today: the best that is known of it.
    op.execute("UPDATE panelpay_orders SET channel_name = (SELECT name FROM panelpay_channels "
               "WHERE panelpay_channels.id = panelpay_orders.channel_id)")


def downgrade():
    with op.batch_alter_table("panelpay_orders") as batch:
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewed_by")
        batch.drop_column("channel_name")
