"""Records leaving an organisation subtree, remembered for subtree tokens' change feeds.

A subtree token reads only the changes of records inside its subtree. A record that leaves it
(its organisation changed — an edit, a re-creation elsewhere after a delete, a transfer — or an
organisation above it moved) has its new state outside, so the token would never learn that its
copy is stale. Every such exit is kept at its own feed sequence with the tree path the record
had; :func:`tongxin.server._reads.list_changes` turns the exits from a token's subtree into
``moved-out`` tombstones (``spec/api.md`` §7). A record's own exit is remembered by the record
store (:mod:`._store`); :func:`subtree_exits` remembers the records below a moving organisation,
inside the writing transaction, before the tree changes.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, and_, func, literal, or_, select

from ._store import reserve
from ._tables import org_tree, records, scope_exits

__all__ = ["subtree_exits"]


def _now_us() -> int:
    return int(time.time() * 1_000_000)


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
    first = reserve(conn, int(count))
    number = func.row_number().over(order_by=(c.collection, c.id, t.path)) - 1
    query = select(
        literal(first) + number, c.collection, c.id, t.path, literal(_now_us())
    ).select_from(records.join(org_tree, under))
    conn.execute(
        scope_exits.insert().from_select(
            ["seq", "collection", "record_id", "old_path", "updated_us"], query
        )
    )
