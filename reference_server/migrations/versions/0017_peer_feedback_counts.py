"""Feedback counts reported by child hubs: integers per organisation and day, never feedback.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_feedback_counts",
        sa.Column("peer_hub", sa.String(32)),
        sa.Column("organisation_id", sa.String(96)),
        sa.Column("day", sa.String(10)),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("answered", sa.Integer, nullable=False),
        sa.Column("open", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "peer_hub", "organisation_id", "day", name="pk_peer_feedback_counts"
        ),
    )


def downgrade() -> None:
    op.drop_table("peer_feedback_counts")
