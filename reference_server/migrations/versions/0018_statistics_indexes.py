"""Partial indexes of ``record_facts`` for the statistics: the members (with every column a
breakdown reads), the probationary members and the dues payments, each holding one collection's
rows only; on PostgreSQL they carry the columns read (``INCLUDE``), so the counts are index-only
scans. Then ``ANALYZE`` of the table, so the planner knows them at once.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: name -> (rows held, key columns, columns carried on PostgreSQL).
_INDEXES = {
    "ix_record_facts_members": (
        "collection = 'members'",
        ["scope_org"],
        ["orphan", "status", "category", "gender", "birth_date", "education", "ethnicity"],
    ),
    "ix_record_facts_probation": (
        "collection = 'members' AND category = 'probationary'",
        ["joined_date", "id"],
        ["scope_org", "orphan", "status", "name"],
    ),
    "ix_record_facts_dues": (
        "collection = 'duesPayments'",
        ["period", "member_id"],
        ["orphan"],
    ),
}


def upgrade() -> None:
    for name, (where, keys, include) in _INDEXES.items():
        op.create_index(
            name,
            "record_facts",
            keys,
            postgresql_where=sa.text(where),
            postgresql_include=include,
            sqlite_where=sa.text(where),
        )
    op.execute("ANALYZE record_facts")


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.drop_index(name, "record_facts")
