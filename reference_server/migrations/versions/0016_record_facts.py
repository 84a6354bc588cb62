"""The projection ``record_facts``: the typed fields statistics and lists read, one row per live
record, so they no longer parse each stored document; filled from the stored documents.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: column -> document field (as ``_store.FACT_FIELDS`` when this revision was written).
_FIELDS = {
    "name": "name",
    "status": "status",
    "category": "category",
    "gender": "gender",
    "birth_date": "birthDate",
    "education": "education",
    "ethnicity": "ethnicity",
    "joined_date": "joinedDate",
    "type": "type",
    "elected_date": "electedDate",
    "term_years": "termYears",
    "start_day": "startTime",
    "period": "period",
    "member_id": "memberId",
    "state": "state",
    "issued_date": "issuedDate",
}


def _field(dialect: str, column: str, field: str) -> str:
    if dialect == "sqlite":
        kind = f"json_type(doc, '$.{field}')"
        if column == "term_years":
            return f"CASE WHEN {kind} = 'integer' THEN json_extract(doc, '$.{field}') END"
        value = f"CAST(json_extract(doc, '$.{field}') AS TEXT)"
        if column == "start_day":
            return f"substr({value}, 1, 10)"
        return f"CASE WHEN {kind} IN ('true', 'false') THEN {kind} ELSE {value} END"
    value = f"(CAST(doc AS JSONB) ->> '{field}')"
    if column == "term_years":
        return (
            f"CASE WHEN jsonb_typeof(CAST(doc AS JSONB) -> '{field}') = 'number' "
            f"AND {value} ~ '^-?[0-9]+$' THEN CAST({value} AS INTEGER) END"
        )
    if column == "start_day":
        return f"substr({value}, 1, 10)"
    return value


def upgrade() -> None:
    op.create_table(
        "record_facts",
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("id", sa.String(96), nullable=False),
        sa.Column("scope_org", sa.String(96)),
        sa.Column("scope_org2", sa.String(96)),
        sa.Column("orphan", sa.SmallInteger, server_default=sa.text("0"), nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        *[
            sa.Column(column, sa.Integer if column == "term_years" else sa.Text)
            for column in _FIELDS
        ],
        sa.PrimaryKeyConstraint("collection", "id", name="pk_record_facts"),
    )
    op.create_index("ix_record_facts_scope", "record_facts", ["collection", "scope_org", "orphan"])
    op.create_index("ix_record_facts_name", "record_facts", ["collection", "name", "id"])
    op.create_index("ix_record_facts_member_id", "record_facts", ["collection", "member_id"])
    dialect = op.get_bind().dialect.name
    columns = ", ".join(_FIELDS)
    values = ", ".join(_field(dialect, column, field) for column, field in _FIELDS.items())
    op.execute(
        "INSERT INTO record_facts (collection, id, scope_org, scope_org2, orphan, updated_us, "
        f"{columns}) SELECT collection, id, scope_org, scope_org2, orphan, updated_us, {values} "
        "FROM records WHERE deleted = false AND doc IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_record_facts_member_id", "record_facts")
    op.drop_index("ix_record_facts_name", "record_facts")
    op.drop_index("ix_record_facts_scope", "record_facts")
    op.drop_table("record_facts")
