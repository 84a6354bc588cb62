"""``record_facts`` stays the projection of the stored documents, on SQLite and PostgreSQL:
after random local creates, replaces and deletes (one at a time and in batches, as the bulk
path writes them), replicas and tombstones from a child's feed and a restored child's orphans,
every live record has exactly one row, equal to what the database's own JSON functions read from
the record's document (the way the statistics read them before the projection)."""

from __future__ import annotations

import random
import secrets
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Integer, cast, func, select

from tongxin.federation import Change, FeedPage
from tongxin.server import Hub, Principal
from tongxin.server._federation import apply_page, get_peer
from tongxin.server._service import create_record, delete_record, replace_record
from tongxin.server._store import CURRENT, FACT_FIELDS, make_orphans, mark_seen, mark_unseen
from tongxin.server._tables import json_field, record_facts, records
from tongxin.server._writes import Op, apply_batch, prepare

from .conftest import known_peer, organisation, person

ADMIN = Principal("tk_test", frozenset({"admin"}))
CHILD = "rf-kid"
STATUSES = ("normal", "removed", "deceased", "suspended")
CATEGORIES = ("full", "probationary")


def _expected(hub: Hub) -> set[tuple[Any, ...]]:
    """The projection as the database computes it from the documents of the live records."""
    dialect, c = hub.db.dialect, records.c
    fields = []
    for column, field in FACT_FIELDS.items():
        value = json_field(dialect, field)
        if column == "start_day":
            value = func.substr(value, 1, 10)
        elif column == "term_years":
            value = cast(value, Integer)
        fields.append(value)
    query = select(
        c.collection, c.id, c.scope_org, c.scope_org2, c.orphan, c.updated_us, *fields
    ).where(c.deleted.is_(False), c.doc.is_not(None))
    with hub.db.read() as conn:
        return {tuple(r) for r in conn.execute(query)}


def _stored(hub: Hub) -> set[tuple[Any, ...]]:
    f = record_facts.c
    columns = [f.collection, f.id, f.scope_org, f.scope_org2, f.orphan, f.updated_us]
    columns += [f[c] for c in FACT_FIELDS]
    with hub.db.read() as conn:
        rows = conn.execute(select(*columns)).all()
    assert len(rows) == len({(r[0], r[1]) for r in rows})
    return {tuple(r) for r in rows}


class World:
    """The records written so far, to pick the next operation's target from."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        root = organisation()
        create_record(hub, ADMIN, "organisations", root)
        self.branches = []
        for n in range(2):
            branch = organisation(root["id"], name=f"第{n}支部", type="branch")
            create_record(hub, ADMIN, "organisations", branch)
            self.branches.append(branch["id"])
        self.members: dict[str, dict[str, Any]] = {}
        self.full: dict[str, Any] = {}
        if get_peer(hub, CHILD) is None:
            known_peer(hub, CHILD)
        self.replicas: dict[str, int] = {}
        self.tag = f"{CHILD}:{secrets.token_hex(3)}"
        self._replicate(Change("organisations", f"{self.tag}o", 1, CHILD, False, {
            "id": f"{self.tag}o", "name": "子支部", "type": "branch",
        }))  # fmt: skip

    def _replicate(self, *changes: Change) -> None:
        peer = get_peer(self.hub, CHILD)
        assert peer is not None
        apply_page(self.hub, peer, FeedPage(changes, f"c{random.random()}", False))

    def _member(self, rng: random.Random, record: dict[str, Any] | None = None) -> dict[str, Any]:
        record = dict(record or person(rng.choice(self.branches)))
        full = self.full.setdefault(record["id"], record.get("fullMembershipDate"))
        record["status"] = rng.choice(STATUSES)
        record["category"] = rng.choice(CATEGORIES) if full is not None else "probationary"
        record.pop("fullMembershipDate", None)
        if record["category"] == "full" and full is not None:
            record["fullMembershipDate"] = full
        record["organisationId"] = rng.choice(self.branches)
        record["name"] = rng.choice(("王芳", "李强", "张伟", "陈静"))
        return record

    def step(self, op: str, rng: random.Random) -> None:
        hub, members = self.hub, self.members
        if op == "create" or (not members and op in ("replace", "delete", "batch")):
            record = self._member(rng)
            create_record(hub, ADMIN, "members", record)
            members[record["id"]] = record
        elif op == "replace":
            rid = rng.choice(sorted(members))
            record = self._member(rng, members[rid])
            replace_record(hub, ADMIN, "members", rid, record, None)
            members[rid] = record
        elif op == "delete":
            rid = rng.choice(sorted(members))
            delete_record(hub, ADMIN, "members", rid, None)
            del members[rid]
        elif op == "batch":  # as POST /v1/bulk writes them: several in one transaction
            ops: list[Op] = []
            for n, rid in enumerate(rng.sample(sorted(members), min(3, len(members)))):
                record = self._member(rng, members[rid])
                members[rid] = record
                prepared = prepare(hub, n, "replace", "members", record, record_id=rid)
                assert isinstance(prepared, Op)
                ops.append(prepared)
            fresh = self._member(rng)
            members[fresh["id"]] = fresh
            prepared = prepare(hub, len(ops), "create", "members", fresh)
            assert isinstance(prepared, Op)
            ops.append(prepared)
            with hub.db.write() as conn:
                assert all(o.error is None for o in apply_batch(hub, conn, ADMIN, ops))
        elif op == "replicate":
            n = rng.randrange(6)
            rid = f"{self.tag}m{n}"
            version = self.replicas.get(rid, 0) + 1
            self.replicas[rid] = version
            if rng.random() < 0.25:
                self._replicate(Change("members", rid, version, CHILD, True, None))
            else:
                record = {
                    "id": rid,
                    "name": f"复制{version}",
                    "organisationId": f"{self.tag}o",
                    "category": rng.choice(CATEGORIES),
                    "status": rng.choice(STATUSES),
                    "birthDate": f"19{rng.randrange(40, 99)}-01-02",
                    "gender": "1",
                }
                self._replicate(Change("members", rid, version, CHILD, False, record))
        elif op == "restore":  # the child was restored: some replicas become orphans
            keys = [("members", rid) for rid in sorted(self.replicas)]
            with hub.db.write() as conn:
                c = records.c
                mark_unseen(conn, c.owner == CHILD)
                seen = [k for k in keys if rng.random() < 0.5]
                mark_seen(conn, seen)
                orphans = conn.execute(
                    select(c.collection, c.id).where(c.owner == CHILD, c.orphan != CURRENT)
                ).all()
                make_orphans(conn, [(r.collection, r.id) for r in orphans])
        elif op == "seen":
            with hub.db.write() as conn:
                mark_seen(conn, [("members", rid) for rid in self.replicas])


OPS = st.lists(
    st.sampled_from(("create", "replace", "delete", "batch", "replicate", "restore", "seen")),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS, seed=st.integers(0, 2**32))
def test_the_projection_equals_the_documents(hub: Hub, ops: list[str], seed: int) -> None:
    rng = random.Random(seed)
    world = World(hub)
    for op in ops:
        world.step(op, rng)
        assert _stored(hub) == _expected(hub), op
