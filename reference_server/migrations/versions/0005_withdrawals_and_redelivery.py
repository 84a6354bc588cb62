"""Federation: withdrawals, redelivery of undelivered messages, periodic key-set refresh.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("transfer_letters") as batch:
        batch.add_column(sa.Column("withdrawal", sa.Text))
        batch.add_column(
            sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("next_attempt_at", Stamp))
    with op.batch_alter_table("peers") as batch:
        batch.add_column(sa.Column("keys_fetched_at", Stamp))


def downgrade() -> None:
    with op.batch_alter_table("peers") as batch:
        batch.drop_column("keys_fetched_at")
    with op.batch_alter_table("transfer_letters") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
        batch.drop_column("withdrawal")
