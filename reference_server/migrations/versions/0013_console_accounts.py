"""Console accounts, their browser sessions, and the keyed-hash index of members' phones.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("username", sa.String(32)),
        sa.Column("organisation_id", sa.String(96), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("must_change", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("last_failed_at", _STAMP),
        sa.Column("locked_at", _STAMP),
        sa.Column("disabled_at", _STAMP),
        sa.Column("created_at", _STAMP, nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_console_users"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64)),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", _STAMP, nullable=False),
        sa.Column("expires_at", _STAMP, nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_username", "console_sessions", ["username"])
    op.create_table(
        "console_phone_index",
        sa.Column("record_id", sa.String(96)),
        sa.Column("phone_hash", sa.String(64)),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_console_phone_index"),
    )
    op.create_index("ix_console_phone_index_phone_hash", "console_phone_index", ["phone_hash"])
    op.create_index("ix_console_phone_index_seq", "console_phone_index", ["seq"])


def downgrade() -> None:
    op.drop_table("console_phone_index")
    op.drop_index("ix_console_sessions_username", "console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
