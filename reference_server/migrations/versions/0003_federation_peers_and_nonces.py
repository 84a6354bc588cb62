"""Federation: the peers a hub trusts (pins, policy, feed cursor, lag) and the shared replay
cache of signature nonces.

Revision ID: 0003
Revises: 0002
Create Date: 2026-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "peers",
        sa.Column("hub_id", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("relation", sa.String(8), nullable=False),
        sa.Column("pins", sa.Text, nullable=False),
        sa.Column("key_set", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("link_key", sa.String(64)),
        sa.Column("cursor", sa.String(400)),
        sa.Column("last_success_at", Stamp),
        sa.Column("last_attempt_at", Stamp),
        sa.Column("last_error", sa.Text),
        sa.Column("failures", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("applied", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("hub_id", name="pk_peers"),
    )
    op.create_table(
        "nonces",
        sa.Column("keyid", sa.String(128), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("expires", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("keyid", "nonce", name="pk_nonces"),
    )
    op.create_index("ix_nonces_expires", "nonces", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_nonces_expires", table_name="nonces")
    op.drop_table("nonces")
    op.drop_table("peers")
