"""The hub's operations as one function each: what a route or a CLI command calls.

Routes and commands parse their input, call one of these (or one re-exported by
``tongxin.server``) and format the result; the work happens below, in the write engine, the
federation, backup and migration modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tongxin.federation import KeyStore

from ._db import Database
from ._federation import init_keys, keys_path
from ._hub import Hub, open_hub
from ._policy import Act, authorize
from ._schema import Migration, code_head, current_revision, pending
from ._security import Principal
from ._settings import Settings
from ._writes import Action, Outcome, apply_batch, keep_unseen, prepare

__all__ = [
    "HubInit",
    "MigrationPlan",
    "create_record",
    "delete_record",
    "init_hub",
    "migrate",
    "replace_record",
    "write_record",
]


def write_record(
    hub: Hub,
    caller: Principal,
    action: Action,
    collection: str,
    body: Any,
    record_id: str | None = None,
    expected_version: int | None = None,
) -> Outcome:
    """Create, replace or delete one record for ``caller``; raises the :class:`HubError` that
    refused it. A replace keeps the stored fields ``caller`` may not see."""
    authorize(caller, Act.WRITE)
    kept = None
    if action == "replace" and record_id is not None and isinstance(body, dict):
        body = dict(body)
        (kept,) = keep_unseen(hub, caller, [(collection, record_id, body)])
    op = prepare(
        hub,
        0,
        action,
        collection,
        body,
        record_id=record_id,
        expected_version=expected_version,
        kept=kept,
    )
    if isinstance(op, Outcome):
        assert op.error is not None
        raise op.error
    with hub.db.write() as conn:
        outcome = apply_batch(hub, conn, caller, [op])[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome


def create_record(hub: Hub, caller: Principal, collection: str, body: Any) -> Outcome:
    """Store a new record (status 201), or report the identical one already stored (200)."""
    return write_record(hub, caller, "create", collection, body)


def replace_record(
    hub: Hub,
    caller: Principal,
    collection: str,
    record_id: str,
    body: Any,
    expected_version: int | None,
) -> Outcome:
    """Replace a record whose stored version is ``expected_version`` (None: any)."""
    return write_record(hub, caller, "replace", collection, body, record_id, expected_version)


def delete_record(
    hub: Hub, caller: Principal, collection: str, record_id: str, expected_version: int | None
) -> Outcome:
    """Delete a record (a tombstone in the change feed) at ``expected_version`` (None: any)."""
    return write_record(hub, caller, "delete", collection, None, record_id, expected_version)


@dataclass(frozen=True, slots=True)
class HubInit:
    """What :func:`init_hub` made: the hub's id, where its data key is, the signing key's
    fingerprint, and the id it had before when ``init`` changed it."""

    hub_id: str
    key_location: str
    fingerprint: str
    renamed_from: str | None


def init_hub(settings: Settings, *, hub_id: str | None = None, name: str | None = None) -> HubInit:
    """Create (or complete) the hub's database, identity, field-encryption key and signing keys.

    A hub that holds no data yet (a first zero-configuration start made its identity) takes the
    id asked for, with its signing keys if it has them; one that holds data refuses
    (:class:`ConfigurationError`). A key store problem raises :class:`KeyStoreError`.
    """
    hub = open_hub(settings, create_key=settings.secret_key is None)
    try:
        old = hub.hub_id
        renamed = None
        if hub_id is not None and old != hub_id:
            _change_hub_id(hub, hub_id)
            renamed = old
        if name is not None and hub.identity.name != name:
            hub.db.rename(name)
        store = init_keys(hub)
        key = "TONGXIN_SECRET_KEY" if settings.secret_key else str(settings.resolved_key_file())
        return HubInit(hub.hub_id, key, store.current.fingerprint, renamed)
    finally:
        hub.close()


def _change_hub_id(hub: Hub, hub_id: str) -> None:
    old = hub.hub_id
    path = keys_path(hub)
    store = KeyStore.load(path) if path.exists() else None
    hub.identity = hub.db.change_hub_id(hub_id)
    if store is not None and store.hub_id == old:
        store.rename(hub_id)


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """The schema revision before, the release's head, and the migrations between them."""

    before: str | None
    head: str
    steps: list[Migration]
    applied: bool


def migrate(settings: Settings, *, dry_run: bool = False) -> MigrationPlan:
    """Upgrade the database to this release's schema (with ``dry_run``, only tell how)."""
    db = Database(settings)
    try:
        with db.writer.connect() as conn:
            before = current_revision(conn)
            steps = pending(conn)
        if not dry_run:
            db.migrate()
    finally:
        db.dispose()
    return MigrationPlan(before, code_head(), steps, not dry_run)
