"""The delivery log keeps each request's headers and, for a refusal, the reason in full; the answer body
column takes a channel's own acknowledgement (a JSON body, not only ``success``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode: SQLite cannot change a column's type in place, so the table is copied there (rows
    # included); PostgreSQL and MariaDB get plain ALTER TABLE statements.
    with op.batch_alter_table("panelpay_notifications") as batch:
        batch.add_column(sa.Column("headers", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))
        batch.alter_column("answer_body", existing_type=sa.String(16), type_=sa.String(255),
                           existing_nullable=False)


def downgrade():
    op.execute("UPDATE panelpay_notifications SET answer_body = SUBSTR(answer_body, 1, 16)")
    with op.batch_alter_table("panelpay_notifications") as batch:
        batch.alter_column("answer_body", existing_type=sa.String(255), type_=sa.String(16),
                           existing_nullable=False)
        batch.drop_column("reason")
        batch.drop_column("headers")
