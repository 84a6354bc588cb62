"""Federation: electronic transfers sent and received (letter, state, history, receipt).

Revision ID: 0004
Revises: 0003
Create Date: 2026-02-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "transfer_letters",
        sa.Column("transfer_id", sa.String(96), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("peer_hub", sa.String(32), nullable=False),
        sa.Column("member_id", sa.String(96), nullable=False),
        sa.Column("letter", sa.Text, nullable=False),
        sa.Column("letter_digest", sa.String(80), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("receipt", sa.Text),
        sa.Column("member_sealed", sa.LargeBinary, nullable=False),
        sa.Column("member_version", sa.Integer, nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name="pk_transfer_letters"),
    )


def downgrade() -> None:
    op.drop_table("transfer_letters")
