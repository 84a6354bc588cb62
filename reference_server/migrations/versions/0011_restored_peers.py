"""A restore is visible to the federation: per-peer reset counts and orphaned replicas.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("peers") as batch:
        batch.add_column(sa.Column("resets", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_reset_at", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("resyncing", sa.Boolean, nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("orphan", sa.SmallInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("orphan")
    with op.batch_alter_table("peers") as batch:
        batch.drop_column("resyncing")
        batch.drop_column("last_reset_at")
        batch.drop_column("resets")
