"""Alembic environment: runs on the connection handed over by ``tongxin.server._db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import tongxin.server._accounts
import tongxin.server._checkins
import tongxin.server._feedback
import tongxin.server._phones  # noqa: F401 (their tables join the metadata)
from tongxin.server._tables import metadata

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
