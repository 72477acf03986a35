"""Gateway mode: merchants (panels using PanelPay as their EPay site), relay columns on orders, and the
outbox of notifications owed to panels with the log of every attempt.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from panelpay.models import BigId, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "panelpay_merchants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pid", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("notify_hosts", sa.Text(), nullable=False),
        sa.Column("return_hosts", sa.Text(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("confirm_profile", sa.String(16), nullable=False),
        sa.Column("confirm_url", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_panelpay_merchants"),
        sa.UniqueConstraint("pid", name="uq_panelpay_merchants_pid"),
    )
    with op.batch_alter_table("panelpay_orders") as batch:
        batch.add_column(sa.Column("merchant_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("out_trade_no", sa.String(64), nullable=True))
        batch.add_column(sa.Column("relay", sa.Text(), nullable=True))
        batch.create_foreign_key("fk_panelpay_orders_merchant_id_panelpay_merchants", "panelpay_merchants",
                                 ["merchant_id"], ["id"])
        batch.create_unique_constraint("uq_panelpay_orders_merchant_id_out_trade_no", ["merchant_id", "out_trade_no"])
    op.create_table(
        "panelpay_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(255), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed", sa.String(16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_panelpay_deliveries"),
        sa.ForeignKeyConstraint(["order_id"], ["panelpay_orders.id"],
                                name="fk_panelpay_deliveries_order_id_panelpay_orders"),
        sa.UniqueConstraint("order_id", name="uq_panelpay_deliveries_order_id"),
    )
    op.create_index("ix_panelpay_deliveries_status_next_attempt_at", "panelpay_deliveries",
                    ["status", "next_attempt_at"])
    op.create_table(
        "panelpay_delivery_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(255), nullable=False),
        sa.Column("classification", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_panelpay_delivery_attempts"),
    )
    op.create_index("ix_panelpay_delivery_attempts_delivery_id", "panelpay_delivery_attempts", ["delivery_id"])
    op.create_index("ix_panelpay_delivery_attempts_merchant_id_started_at", "panelpay_delivery_attempts",
                    ["merchant_id", "started_at"])


def downgrade():
    op.drop_table("panelpay_delivery_attempts")
    op.drop_table("panelpay_deliveries")
    with op.batch_alter_table("panelpay_orders") as batch:
        batch.drop_constraint("fk_panelpay_orders_merchant_id_panelpay_merchants", type_="foreignkey")
        batch.drop_constraint("uq_panelpay_orders_merchant_id_out_trade_no", type_="unique")
        batch.drop_column("relay")
        batch.drop_column("out_trade_no")
        batch.drop_column("merchant_id")
    op.drop_table("panelpay_merchants")
