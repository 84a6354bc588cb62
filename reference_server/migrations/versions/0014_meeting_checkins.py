"""Members' self check-ins at meetings, awaiting the secretary's confirmation.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_checkins",
        sa.Column("activity_id", sa.String(96)),
        sa.Column("member_id", sa.String(96)),
        sa.Column("organisation_id", sa.String(96), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("checked_in_at", _STAMP),
        sa.Column("decided_at", _STAMP),
        sa.Column("decided_by", sa.String(32)),
        sa.PrimaryKeyConstraint("activity_id", "member_id", name="pk_console_checkins"),
    )
    op.create_index("ix_console_checkins_organisation_id", "console_checkins", ["organisation_id"])


def downgrade() -> None:
    op.drop_index("ix_console_checkins_organisation_id", "console_checkins")
    op.drop_table("console_checkins")
