"""Indexes for the console's member list and counted lists at half a million members: a narrow
partial index of the members' names (pages and totals read it alone), ``scope_org2`` in the
scope index (``count=true`` within a subtree reads it alone) and, on PostgreSQL where
``pg_trgm`` is available, a trigram index for name searches of three characters or more.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_MEMBERS = sa.text("collection = 'members'")
_TRIGRAM_INDEX = "ix_record_facts_name_trgm"  # as _tables.TRIGRAM_INDEX when written


def _trigrams_available(bind: sa.Connection) -> bool:
    found = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    return found is not None


def upgrade() -> None:
    bind = op.get_bind()
    op.drop_index("ix_record_facts_scope", "record_facts")
    op.create_index(
        "ix_record_facts_scope", "record_facts", ["collection", "scope_org", "orphan", "scope_org2"]
    )
    op.create_index(
        "ix_record_facts_member_names",
        "record_facts",
        ["name", "id", "scope_org", "orphan"],
        postgresql_where=_MEMBERS,
        sqlite_where=_MEMBERS,
    )
    if bind.dialect.name != "postgresql":
        return
    if not _trigrams_available(bind):
        logging.getLogger("alembic").warning(
            "pg_trgm is not available: name searches use the name index only"
        )
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it. A hub
    # whose database user may not goes on without it (a savepoint keeps the migration's
    # transaction usable), as where the extension is not installed.
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            bind.execute(
                sa.text(
                    f"CREATE INDEX {_TRIGRAM_INDEX} ON record_facts"
                    " USING gin (name gin_trgm_ops) WHERE collection = 'members'"
                )
            )
    except sa.exc.DBAPIError as error:
        logging.getLogger("alembic").warning(
            "pg_trgm could not be used (%s): name searches use the name index only",
            str(error.orig).splitlines()[0],
        )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {_TRIGRAM_INDEX}")
    op.drop_index("ix_record_facts_member_names", "record_facts")
    op.drop_index("ix_record_facts_scope", "record_facts")
    op.create_index("ix_record_facts_scope", "record_facts", ["collection", "scope_org", "orphan"])
