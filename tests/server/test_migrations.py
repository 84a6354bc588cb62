"""Migrations upgrade a database that holds data, and the result matches the table models."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from tongxin.server import open_hub
from tongxin.server._db import migrate
from tongxin.server._tables import metadata

from .conftest import Backend


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
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == []
            assert conn.execute(text("SELECT version FROM records")).scalar_one() == 3
            assert conn.execute(text("SELECT count(*) FROM audit")).scalar_one() == 1
    finally:
        engine.dispose()
    hub = open_hub(backend.settings())
    try:
        assert hub.hub_id == "test-hub"
    finally:
        hub.close()
