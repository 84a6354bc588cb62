"""Reading the append-only audit log (writing happens with each write, in ``_writes``)."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection, insert, select

from ._hub import Hub
from ._reads import Page, open_cursor, sign_cursor
from ._tables import audit

__all__ = ["audit_operator", "list_audit", "operator_id"]


def operator_id() -> str:
    """The actor of a command run on the hub's machine (backup, restore, key rotation):
    ``cli:<system user>``, as the audit log's ``requestId``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid-{os.getuid()}"
    return f"cli:{user}"[:64]


def audit_operator(conn: Connection, action: str, record_id: str) -> None:
    """An audit entry for a command run on the hub's machine, naming its operator."""
    conn.execute(
        insert(audit).values(
            at=datetime.now(UTC),
            token_id=None,
            action=action,
            collection="hub",
            record_id=record_id,
            request_id=operator_id(),
        )
    )


def list_audit(hub: Hub, *, after: str | None, limit: int) -> Page:
    """Audit entries in the order they were written, after the cursor ``after``."""
    query = select(audit).order_by(audit.c.seq).limit(limit + 1)
    if after:
        query = query.where(audit.c.seq > int(open_cursor(hub, "audit", after)))
    with hub.db.read() as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        orjson.dumps(
            {
                "seq": r.seq,
                "at": r.at.isoformat() if r.at else None,
                "tokenId": r.token_id,
                "action": r.action,
                "type": r.collection,
                "id": r.record_id,
                "beforeVersion": r.before_version,
                "afterVersion": r.after_version,
                "requestId": r.request_id,
            }
        )
        for r in rows
    ]
    return Page(items, sign_cursor(hub, "audit", str(rows[-1].seq)) if rows else after, more)
