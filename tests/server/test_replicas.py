"""Replicas applied from a child's feed, on SQLite and PostgreSQL: replicated organisations
join the organisation tree whatever order they arrive in, so subtree tokens reach them; a page
applied twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, select

from tongxin.federation import Change, FeedPage
from tongxin.server import Hub
from tongxin.server._federation import CursorMovedError, apply_page, get_peer
from tongxin.server._security import org_path
from tongxin.server._tables import audit, peers, records

CHILD = "cd-kid"


def _peer(hub: Hub, hub_id: str = CHILD) -> None:
    with hub.db.write() as conn:
        conn.execute(
            insert(peers).values(
                hub_id=hub_id,
                url="http://127.0.0.1:9",
                relation="child",
                pins="[]",
                key_set="{}",
                policy=orjson.dumps({"types": None}).decode(),
                created_at=datetime.now(UTC),
            )
        )


def _org(n: int, parent: int | None = None, hub_id: str = CHILD) -> Change:
    record: dict[str, Any] = {"id": f"{hub_id}:o{n}", "name": f"支部{n}", "type": "branch"}
    if parent is not None:
        record["parentId"] = f"{hub_id}:o{parent}"
    return Change("organisations", record["id"], 1, hub_id, False, record)


def test_replicated_organisations_form_the_tree_in_any_order(hub: Hub) -> None:
    _peer(hub)
    peer = get_peer(hub, CHILD)
    assert peer is not None
    # a grandchild and a child arrive before their root
    first = FeedPage((_org(3, parent=2), _org(2, parent=1)), "c1", True)
    assert apply_page(hub, peer, first) == 2
    with hub.db.read() as conn:
        assert org_path(conn, f"{CHILD}:o3") == f"{CHILD}:o2/{CHILD}:o3/"
    peer = get_peer(hub, CHILD)
    assert peer is not None
    assert apply_page(hub, peer, FeedPage((_org(1),), "c2", False)) == 1
    with hub.db.read() as conn:
        assert org_path(conn, f"{CHILD}:o3") == f"{CHILD}:o1/{CHILD}:o2/{CHILD}:o3/"
        owners = conn.execute(select(records.c.owner).where(records.c.id.like(f"{CHILD}:%")))
        assert set(owners.scalars()) == {CHILD}
        audited = conn.execute(
            select(audit.c.record_id, audit.c.action, audit.c.request_id).where(
                audit.c.record_id.like(f"{CHILD}:%")
            )
        ).all()
        assert sorted(audited) == [
            (f"{CHILD}:o{n}", "replicate", f"sync:{CHILD}") for n in (1, 2, 3)
        ]
    # the same page again (a retried pull): nothing applied, the cursor moves on
    peer = get_peer(hub, CHILD)
    assert peer is not None
    assert apply_page(hub, peer, FeedPage((_org(1), _org(2, parent=1)), "c3", False)) == 0
    # a tombstone leaves the tree
    tombstone = Change("organisations", f"{CHILD}:o3", 2, CHILD, True, None)
    peer = get_peer(hub, CHILD)
    assert peer is not None
    assert apply_page(hub, peer, FeedPage((tombstone,), "c4", False)) == 1
    with hub.db.read() as conn:
        assert org_path(conn, f"{CHILD}:o3") is None


def test_a_page_read_by_two_pullers_is_applied_by_one(hub: Hub) -> None:
    twin = "cd-twin"
    _peer(hub, twin)
    first, second = get_peer(hub, twin), get_peer(hub, twin)
    assert first is not None
    assert second is not None
    page = FeedPage((_org(7, hub_id=twin),), "c1", False)
    assert apply_page(hub, first, page) == 1
    with pytest.raises(CursorMovedError):
        apply_page(hub, second, page)  # requested with the old cursor: the other one won
    with hub.db.read() as conn:
        applied = select(peers.c.applied).where(peers.c.hub_id == twin)
        assert conn.execute(applied).scalar_one() == 1
