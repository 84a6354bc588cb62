"""Idempotency keys for bulk writes; the audit log becomes append-only; list by update time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)

_PG_GUARD = """
CREATE OR REPLACE FUNCTION tongxin_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("batch_lines", sa.Integer, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("lines", sa.BigInteger),
        sa.Column("body_hash", sa.String(64)),
        sa.PrimaryKeyConstraint("token_id", "key", name="pk_idempotency_keys"),
    )
    op.create_table(
        "idempotency_batches",
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("lines_hash", sa.String(64), nullable=False),
        sa.Column("results", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("token_id", "key", "batch_no", name="pk_idempotency_batches"),
    )
    op.create_index("ix_records_updated", "records", ["collection", "updated_us", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION tongxin_audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{event.lower()} BEFORE {event} ON audit "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_append_only ON audit")
        op.execute("DROP FUNCTION tongxin_audit_append_only()")
    else:
        op.execute("DROP TRIGGER audit_no_update")
        op.execute("DROP TRIGGER audit_no_delete")
    op.drop_index("ix_records_updated", "records")
    op.drop_table("idempotency_batches")
    op.drop_table("idempotency_keys")
