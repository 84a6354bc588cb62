"""Replicas applied from a child's feed, on SQLite and PostgreSQL: replicated organisations
join the organisation tree whatever order they arrive in, so subtree tokens reach them; a page
applied twice changes nothing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import select

from tongxin.federation import Change, FeedPage
from tongxin.server import Hub
from tongxin.server._federation import CursorMovedError, apply_page, get_peer, list_peers
from tongxin.server._security import org_path
from tongxin.server._tables import audit, peers, records, refused_changes

from .conftest import known_peer

CHILD = "cd-kid"


def _peer(hub: Hub, hub_id: str = CHILD) -> None:
    known_peer(hub, hub_id)


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


def _member(rid: str, version: int, owner: str, name: str = "李梅") -> Change:
    record = {"id": rid, "version": version, "name": name, "organisationId": f"{owner}:o1"}
    return Change("members", rid, version, owner, False, record)


def _pull(hub: Hub, hub_id: str, *changes: Change) -> int:
    peer = get_peer(hub, hub_id)
    assert peer is not None
    position = int((peer.cursor or "c0")[1:])
    return apply_page(hub, peer, FeedPage(changes, f"c{position + 1}", False))


def _held(hub: Hub, rid: str) -> tuple[int, str, str]:
    with hub.db.read() as conn:
        row = conn.execute(
            select(records.c.version, records.c.owner, records.c.doc).where(records.c.id == rid)
        ).one()
    return row.version, row.owner, orjson.loads(row.doc)["name"]


def _listed(hub: Hub, hub_id: str) -> dict[str, Any]:
    (found,) = [p.to_json() for p in list_peers(hub) if p.hub_id == hub_id]
    return found


def test_a_child_cannot_take_over_another_childs_record(hub: Hub) -> None:
    """The owner is fixed at first arrival: a child delivering a record minted by or owned by
    another child is refused, kept and listed; the real owner's later updates still apply."""
    owner, thief = "cd-own", "cd-thief"
    _peer(hub, owner)
    _peer(hub, thief)
    rid, early = f"{owner}:m1", f"{owner}:m2"
    # first arrival from the wrong child: the id was minted by another direct child
    assert _pull(hub, thief, _member(early, 5, thief, "冒名")) == 0
    assert _pull(hub, owner, _member(rid, 1, owner), _member(early, 1, owner)) == 2
    # a higher version naming the thief as owner, or the real owner, changes nothing
    assert _pull(hub, thief, _member(rid, 50, thief, "冒名"), _member(rid, 51, owner, "冒名")) == 0
    assert _held(hub, rid) == (1, owner, "李梅")
    listed = _listed(hub, thief)
    assert listed["refused"] == 2
    assert listed["lastRefused"]["id"] in {rid, early}
    assert listed["lastRefused"]["reason"] == "not-authoritative"
    assert _listed(hub, owner)["refused"] == 0
    # the owner's later updates still apply, though the thief's versions are higher
    assert _pull(hub, owner, _member(rid, 2, owner, "李梅梅")) == 1
    assert _held(hub, rid) == (2, owner, "李梅梅")
    with hub.db.read() as conn:
        kept = conn.execute(
            select(refused_changes.c.record_id, refused_changes.c.owner).where(
                refused_changes.c.peer_hub == thief
            )
        ).all()
    assert sorted(kept) == [(rid, owner), (early, thief)]


def test_a_record_handed_over_by_its_owner_takes_the_new_owners_refused_change(hub: Hub) -> None:
    """A transfer: the receiving child's feed may reach the parent before the sending child's
    (which hands the record over once the signed receipt arrived there). The receiver's change
    is refused until then, and applied when the handover arrives; nothing is lost."""
    sender, receiver = "cd-send", "cd-recv"
    _peer(hub, sender)
    _peer(hub, receiver)
    rid = f"{sender}:m1"
    assert _pull(hub, sender, _member(rid, 1, sender)) == 1
    # the receiver accepted (v2) and edited (v3) before the parent pulls the sender again
    assert _pull(hub, receiver, _member(rid, 2, receiver), _member(rid, 3, receiver, "改")) == 0
    assert _listed(hub, receiver)["refused"] == 1
    # the sender's feed hands the record over at v2: the receiver's refused v3 follows
    assert _pull(hub, sender, _member(rid, 2, receiver)) == 1
    assert _held(hub, rid) == (3, receiver, "改")
    assert _listed(hub, receiver)["refused"] == 0
    # from now on the receiver's feed is the owner's, the sender's is not
    assert _pull(hub, receiver, _member(rid, 4, receiver, "再改")) == 1
    assert _pull(hub, sender, _member(rid, 9, sender, "旧")) == 0
    assert _held(hub, rid) == (4, receiver, "再改")
