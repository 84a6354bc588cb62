"""Federation: changes refused because their peer may not speak for the record's recorded owner
(kept per peer and record, shown in ``peer list``, applied once the owner hands the record over);
records that left an organisation subtree (moved-out items in a subtree token's change feed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "refused_changes",
        sa.Column("peer_hub", sa.String(32), nullable=False),
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(96), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("held_owner", sa.String(32)),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("peer_hub", "collection", "record_id", name="pk_refused_changes"),
    )
    op.create_table(
        "scope_exits",
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(96), nullable=False),
        sa.Column("old_path", sa.Text, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_scope_exits"),
    )


def downgrade() -> None:
    op.drop_table("scope_exits")
    op.drop_table("refused_changes")
