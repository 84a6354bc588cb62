"""The feedback channel (意见建议): opinions sent to an organisation from its public form.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_feedback",
        sa.Column("id", sa.String(32)),
        sa.Column("organisation_id", sa.String(96), nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("contact_sealed", sa.LargeBinary),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reply", sa.Text),
        sa.Column("replied_by", sa.String(32)),
        sa.Column("created_at", _STAMP, nullable=False),
        sa.Column("answer_due", _STAMP, nullable=False),
        sa.Column("replied_at", _STAMP),
        sa.Column("closed_at", _STAMP),
        sa.PrimaryKeyConstraint("id", name="pk_console_feedback"),
        sa.UniqueConstraint("receipt_hash", name="uq_console_feedback_receipt_hash"),
    )
    op.create_index("ix_console_feedback_organisation_id", "console_feedback", ["organisation_id"])
    op.create_index("ix_console_feedback_status", "console_feedback", ["status"])


def downgrade() -> None:
    op.drop_index("ix_console_feedback_status", "console_feedback")
    op.drop_index("ix_console_feedback_organisation_id", "console_feedback")
    op.drop_table("console_feedback")
