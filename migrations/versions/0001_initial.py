"""PanelPay's tables: channels, orders, the delivery log, the ledger and settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

from panelpay.models import BigId, Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "panelpay_channels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uuid", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("notify_domain", sa.String(255), nullable=True),
        sa.Column("fee_fixed", Money(), nullable=False),
        sa.Column("fee_percent", Money(), nullable=False),
        sa.Column("min_amount", Money(), nullable=False),
        sa.Column("max_amount", Money(), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_panelpay_channels"),
        sa.UniqueConstraint("uuid", name="uq_panelpay_channels_uuid"),
    )
    op.create_index("ix_panelpay_channels_enabled_sort", "panelpay_channels", ["enabled", "sort"])

    op.create_table(
        "panelpay_orders",
        sa.Column("id", BigId, nullable=False),
        sa.Column("trade_no", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("fee", Money(), nullable=False),
        sa.Column("total", Money(), nullable=False),
        sa.Column("credit", Money(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("gateway_trade_no", sa.String(64), nullable=True),
        sa.Column("notify_url", sa.String(512), nullable=False),
        sa.Column("pay", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.Column("paid_late", sa.Boolean(), nullable=False),
        sa.Column("settled_by", sa.String(16), nullable=True),
        sa.Column("anomaly", sa.String(255), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("queried_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_panelpay_orders"),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["panelpay_channels.id"], name="fk_panelpay_orders_channel_id_panelpay_channels"
        ),
        sa.UniqueConstraint("trade_no", name="uq_panelpay_orders_trade_no"),
        sa.UniqueConstraint(
            "channel_id", "gateway_trade_no", name="uq_panelpay_orders_channel_id_gateway_trade_no"
        ),
    )
    op.create_index("ix_panelpay_orders_status_expires_at", "panelpay_orders", ["status", "expires_at"])
    op.create_index("ix_panelpay_orders_user_id_created_at", "panelpay_orders", ["user_id", "created_at"])
    op.create_index("ix_panelpay_orders_channel_id_status", "panelpay_orders", ["channel_id", "status"])

    op.create_table(
        "panelpay_notifications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel_uuid", sa.String(64), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("query_string", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("source_ip", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("trade_no", sa.String(64), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(255), nullable=False),
        sa.Column("answer_status", sa.Integer(), nullable=True),
        sa.Column("answer_body", sa.String(16), nullable=False),
        sa.Column("replay_of", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_panelpay_notifications"),
    )
    op.create_index(
        "ix_panelpay_notifications_channel_uuid_received_at", "panelpay_notifications",
        ["channel_uuid", "received_at"],
    )
    op.create_index(
        "ix_panelpay_notifications_verdict_received_at", "panelpay_notifications", ["verdict", "received_at"]
    )
    op.create_index("ix_panelpay_notifications_trade_no", "panelpay_notifications", ["trade_no"])
    op.create_index("ix_panelpay_notifications_order_id", "panelpay_notifications", ["order_id"])

    op.create_table(
        "panelpay_ledger",
        sa.Column("id", BigId, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("credit", Money(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=True),
        sa.Column("gateway_trade_no", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_panelpay_ledger"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["panelpay_orders.id"], name="fk_panelpay_ledger_order_id_panelpay_orders"
        ),
        sa.UniqueConstraint("order_id", name="uq_panelpay_ledger_order_id"),
    )
    op.create_index("ix_panelpay_ledger_user_id", "panelpay_ledger", ["user_id"])

    op.create_table(
        "panelpay_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_panelpay_settings"),
    )


def downgrade():
    op.drop_table("panelpay_settings")
    op.drop_index("ix_panelpay_ledger_user_id", table_name="panelpay_ledger")
    op.drop_table("panelpay_ledger")
    for index in (
        "ix_panelpay_notifications_order_id",
        "ix_panelpay_notifications_trade_no",
        "ix_panelpay_notifications_verdict_received_at",
        "ix_panelpay_notifications_channel_uuid_received_at",
    ):
        op.drop_index(index, table_name="panelpay_notifications")
    op.drop_table("panelpay_notifications")
    for index in (
        "ix_panelpay_orders_channel_id_status",
        "ix_panelpay_orders_user_id_created_at",
        "ix_panelpay_orders_status_expires_at",
    ):
        op.drop_index(index, table_name="panelpay_orders")
    op.drop_table("panelpay_orders")
    op.drop_index("ix_panelpay_channels_enabled_sort", table_name="panelpay_channels")
    op.drop_table("panelpay_channels")
