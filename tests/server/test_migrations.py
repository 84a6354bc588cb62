"""Migrations upgrade a database that holds data, and the result matches the table models
(SQLModel), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from tongxin.server import Principal, create_record, create_token, open_hub
from tongxin.server._db import migrate
from tongxin.server._tables import (
    TRIGRAM_INDEX,
    HubIdentityRow,
    HubStateRow,
    RecordRow,
    SchemaSoftwareRow,
    TokenRow,
    hub_identity,
    metadata,
    records,
)

from .conftest import Backend, organisation


def test_upgrade_keeps_data_and_matches_the_models(backend: Backend) -> None:
    engine = create_engine(backend.url)
    try:
        migrate(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO records (collection, id, owner, scope_org, version, updated_us,"
                    " seq, deleted, doc, digest) VALUES ('organisations', 'test-hub:o1',"
                    " 'test-hub',"
                    " 'test-hub:o1', 3, 1, 1, false, :doc, 'd')"
                ),
                {
                    "doc": '{"id":"test-hub:o1","version":3,'
                    '"updatedAt":"2026-01-01T00:00:00+00:00",'
                    '"name":"老数据","type":"primary-committee"}'
                },
            )
            conn.execute(
                text("INSERT INTO org_tree (id, path) VALUES ('test-hub:o1', 'test-hub:o1/')")
            )
            conn.execute(text("UPDATE hub_state SET last_seq = 1"))
            conn.execute(
                text(
                    "INSERT INTO audit (at, action, collection, record_id, after_version) "
                    "VALUES (:at, 'create', 'organisations', 'test-hub:o1', 3)"
                ),
                {"at": datetime.now(UTC)},
            )
        migrate(engine, "head")
        with engine.connect() as conn:
            # The trigram index exists only where pg_trgm does, outside the models.
            outside = {"include_object": lambda o, name, *_: name != TRIGRAM_INDEX}
            diff = compare_metadata(MigrationContext.configure(conn, opts=outside), metadata)
            assert diff == []
            assert conn.execute(text("SELECT version FROM records")).scalar_one() == 3
            assert conn.execute(text("SELECT count(*) FROM audit")).scalar_one() == 1
            facts = conn.execute(
                text("SELECT id, scope_org, name, type, status FROM record_facts")
            ).all()
            assert [tuple(r) for r in facts] == [
                ("test-hub:o1", "test-hub:o1", "老数据", "primary-committee", None)
            ]
    finally:
        engine.dispose()
    hub = open_hub(backend.settings())
    try:
        assert hub.hub_id == "test-hub"
    finally:
        hub.close()


def test_table_models_read_the_migrated_rows(backend: Backend) -> None:
    """The SQLModel table models are the typed rows of the migrated tables: every row a hub
    wrote reads back as its model, and each model's ``__table__`` is the table queried."""
    hub = open_hub(backend.settings())
    try:
        models = {
            table.name: model
            for model in (HubIdentityRow, HubStateRow, RecordRow, SchemaSoftwareRow, TokenRow)
            for table in [model.__table__]  # type: ignore[attr-defined]
        }
        assert models["records"].__table__ is records  # type: ignore[attr-defined]
        create_token(hub.db, ["records:read"], name="typed")
        org = organisation()
        created = create_record(
            hub, Principal("tk_test", frozenset({"admin"})), "organisations", org
        )
        assert created.status == 201
        with hub.db.read() as conn:
            for name, model in models.items():
                rows = conn.execute(select(metadata.tables[name])).mappings().all()
                typed = [model.model_validate(dict(row)) for row in rows]
                assert [t.model_dump() for t in typed] == [dict(row) for row in rows], name
                assert typed, name
            stored = RecordRow.model_validate(
                dict(
                    conn.execute(select(records).where(records.c.id == org["id"])).mappings().one()
                )
            )
            identity = HubIdentityRow.model_validate(
                dict(conn.execute(select(hub_identity)).mappings().one())
            )
        assert (stored.version, stored.deleted, stored.owner) == (
            created.version,
            False,
            hub.hub_id,
        )
        assert identity.hub_id == hub.hub_id
        assert isinstance(identity.created_at, datetime)
    finally:
        hub.close()
