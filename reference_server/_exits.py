"""Records leaving an organisation subtree, remembered for subtree tokens' change feeds.

A subtree token reads only the changes of records inside its subtree. A record that leaves it
(its organisation changed — an edit, a re-creation elsewhere after a delete, a transfer — or an
organisation above it moved) has its new state outside, so the token would never learn that its
copy is stale. Every such exit is kept at its own feed sequence with the tree path the record
had; :func:`tongxin.server._reads.list_changes` turns the exits from a token's subtree into
``moved-out`` tombstones (``spec/api.md`` §7). Call these inside the writing transaction, before
the rows and the tree change.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, and_, func, literal, or_, select, tuple_, update

from ._tables import hub_state, org_tree, records, scope_exits

__all__ = ["Scopes", "old_scopes", "record_exits", "subtree_exits"]

#: ``(collection, id)`` → the record's ``(scope_org, scope_org2)``.
Scopes = dict[tuple[str, str], tuple[str | None, str | None]]


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def _take(conn: Connection, n: int) -> int:
    """Reserve ``n`` feed sequence numbers; the first of them."""
    top: int = conn.execute(
        update(hub_state)
        .where(hub_state.c.id == 1)
        .values(last_seq=hub_state.c.last_seq + n)
        .returning(hub_state.c.last_seq)
    ).scalar_one()
    return top - n + 1


def old_scopes(conn: Connection, keys: Iterable[tuple[str, str]]) -> Scopes:
    """The stored scopes of ``keys`` (absent records are left out)."""
    wanted = list(keys)
    if not wanted:
        return {}
    c = records.c
    rows = conn.execute(
        select(c.collection, c.id, c.scope_org, c.scope_org2).where(
            tuple_(c.collection, c.id).in_(wanted)
        )
    )
    return {(r.collection, r.id): (r.scope_org, r.scope_org2) for r in rows}


def record_exits(conn: Connection, before: Scopes, after: Scopes) -> None:
    """Remember the records whose scope changed from ``before`` to ``after`` (same keys)."""
    moved = [(key, old) for key, old in before.items() if key in after and after[key] != old]
    if not moved:
        return
    orgs = {o for _, old in moved for o in old if o is not None}
    paths = dict(
        conn.execute(select(org_tree.c.id, org_tree.c.path).where(org_tree.c.id.in_(orgs))).all()
    )
    rows = [
        (key, paths[org])
        for key, old in moved
        for org in dict.fromkeys(old)
        if org is not None and org in paths
    ]
    if not rows:
        return
    first, now = _take(conn, len(rows)), _now_us()
    conn.execute(
        scope_exits.insert(),
        [
            {
                "seq": first + n,
                "collection": coll,
                "record_id": rid,
                "old_path": path,
                "updated_us": now,
            }
            for n, ((coll, rid), path) in enumerate(rows)
        ],
    )


def subtree_exits(conn: Connection, old: str, new: str) -> None:
    """Remember every record under the organisation moving from tree path ``old`` to ``new``
    (one INSERT … SELECT; nothing when the path does not change)."""
    if old == new:
        return
    t, c = org_tree.c, records.c
    under = and_(
        t.path.startswith(old, autoescape=True),
        or_(c.scope_org == t.id, c.scope_org2 == t.id),
    )
    count = conn.execute(select(func.count()).select_from(records).join(org_tree, under)).scalar()
    if not count:
        return
    first = _take(conn, int(count))
    number = func.row_number().over(order_by=(c.collection, c.id, t.path)) - 1
    query = select(
        literal(first) + number, c.collection, c.id, t.path, literal(_now_us())
    ).select_from(records.join(org_tree, under))
    conn.execute(
        scope_exits.insert().from_select(
            ["seq", "collection", "record_id", "old_path", "updated_us"], query
        )
    )
