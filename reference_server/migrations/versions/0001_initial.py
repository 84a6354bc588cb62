"""Initial schema: identity, change sequence, records, organisation tree, tokens, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hub_identity",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("hub_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("epoch", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hub_identity"),
    )
    op.create_table(
        "hub_state",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("purged_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("id", name="pk_hub_state"),
    )
    op.execute("INSERT INTO hub_state (id, last_seq, purged_seq) VALUES (1, 0, 0)")
    op.create_table(
        "records",
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("id", sa.String(96), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("scope_org", sa.String(96)),
        sa.Column("scope_org2", sa.String(96)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("doc", sa.Text),
        sa.Column("sealed", sa.LargeBinary),
        sa.Column("citizen_hash", sa.String(64)),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("collection", "id", name="pk_records"),
    )
    op.create_index("ix_records_seq", "records", ["seq"], unique=True)
    op.create_index("ix_records_citizen", "records", ["owner", "citizen_hash"], unique=True)
    op.create_index("ix_records_scope", "records", ["collection", "scope_org", "id"])
    op.create_table(
        "org_tree",
        sa.Column("id", sa.String(96), nullable=False),
        sa.Column("parent_id", sa.String(96)),
        sa.Column("path", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_org_tree"),
    )
    op.create_index("ix_org_tree_path", "org_tree", ["path"])
    op.create_index("ix_org_tree_parent_id", "org_tree", ["parent_id"])
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=sa.text("''")),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("organisation_id", sa.String(96)),
        sa.Column("rate_limit", sa.Float),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_tokens_secret_hash"),
    )
    op.create_table(
        "audit",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("token_id", sa.String(32)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(96), nullable=False),
        sa.Column("before_version", sa.Integer),
        sa.Column("after_version", sa.Integer),
        sa.Column("request_id", sa.String(64)),
        sa.PrimaryKeyConstraint("seq", name="pk_audit"),
    )


def downgrade() -> None:
    for table in ("audit", "tokens", "org_tree", "records", "hub_state", "hub_identity"):
        op.drop_table(table)
