"""Replication logic: convergence under any delivery, tombstones, ownership, minimisation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tongxin.federation import (
    Change,
    Decision,
    Entry,
    FeedPage,
    PeerPolicy,
    ReplicaReadOnlyError,
    apply_changes,
    check_writable,
    decide,
    minimise,
)
from tongxin.schemas import citizen_id_check

LOCAL = "cd"
CHILDREN = {"cd-wuhou", "cd-jinjiang"}


def _from_children(owner: str) -> bool:
    return owner in CHILDREN


def _apply(state: dict, changes: list[Change]) -> dict:  # type: ignore[type-arg]
    return apply_changes(state, changes, local_hub=LOCAL, may_speak_for=_from_children).state


@st.composite
def histories(draw: st.DrawFn) -> list[Change]:
    """The feed a child would publish: per record, versions 1..n, deletions and re-creations
    as they come, every change at most once, in commit order."""
    changes: list[Change] = []
    for n in range(draw(st.integers(1, 5))):
        owner = draw(st.sampled_from(sorted(CHILDREN)))
        record_id = f"{owner}:m{n}"
        for version in range(1, draw(st.integers(1, 6)) + 1):
            deleted = draw(st.booleans())
            record = (
                None if deleted else {"id": record_id, "version": version, "name": f"v{version}"}
            )
            changes.append(Change("members", record_id, version, owner, deleted, record))
    # Interleave the records' histories while keeping each record's own order.
    return draw(st.permutations(changes).map(lambda p: sorted(p, key=lambda c: c.version)))


@settings(max_examples=150, deadline=None)
@given(history=histories(), data=st.data())
def test_any_delivery_converges_to_in_order_delivery(
    history: list[Change], data: st.DataObject
) -> None:
    in_order = _apply({}, history)
    shuffled = data.draw(st.permutations(history), label="order")
    doubled = data.draw(st.lists(st.sampled_from(history), max_size=len(history)), label="extra")
    messy = [*shuffled, *doubled]
    # Delivered in pages, with a crash and a retry of the last page in between.
    cut = data.draw(st.integers(0, len(messy)), label="cut")
    state = _apply(_apply({}, messy[:cut]), messy[max(0, cut - 3) :])
    assert state == in_order
    assert _apply(in_order, history) == in_order  # idempotent


@settings(max_examples=60, deadline=None)
@given(history=histories())
def test_latest_version_wins_and_tombstones_replicate(history: list[Change]) -> None:
    state = _apply({}, history)
    for change in history:
        held = state[(change.type, change.id)]
        latest = max(c.version for c in history if c.id == change.id)
        assert held.version == latest
        final = next(c for c in history if c.id == change.id and c.version == latest)
        assert held.deleted == final.deleted
        assert (held.record is None) == final.deleted


def _change(
    version: int, owner: str = "cd-wuhou", deleted: bool = False, **record: object
) -> Change:
    body = None if deleted else {"id": "cd-wuhou:m1", "version": version, **record}
    return Change("members", "cd-wuhou:m1", version, owner, deleted, body)


def test_same_version_conflict_is_resolved_the_same_everywhere() -> None:
    a, b = _change(2, name="甲"), _change(2, name="乙")
    assert _apply({}, [a, b]) == _apply({}, [b, a])
    tomb = _change(2, deleted=True)
    assert _apply({}, [a, tomb])[("members", "cd-wuhou:m1")].deleted
    assert _apply({}, [tomb, a])[("members", "cd-wuhou:m1")].deleted


def test_peer_cannot_speak_for_another_owner() -> None:
    result = apply_changes(
        {}, [_change(1, owner="zg-other")], local_hub=LOCAL, may_speak_for=_from_children
    )
    assert result.state == {}
    assert result.refused[0][1] is Decision.NOT_AUTHORITATIVE


def test_records_owned_here_are_never_overwritten() -> None:
    ours = {("members", "cd-wuhou:m1"): Entry(1, LOCAL, False, {"id": "cd-wuhou:m1"})}
    result = apply_changes(ours, [_change(9)], local_hub=LOCAL, may_speak_for=_from_children)
    assert result.state == ours
    assert result.refused[0][1] is Decision.OWNED_HERE
    assert (
        decide(_change(1, owner=LOCAL), None, local_hub=LOCAL, may_speak_for=lambda _: True)
        is Decision.NOT_AUTHORITATIVE
    )


def test_ownership_moves_with_a_higher_version() -> None:
    """After a transfer the receiving hub writes the member at the next version as owner."""
    before = _apply({}, [_change(5, owner="cd-wuhou", name="李梅")])
    after = _apply(before, [_change(6, owner="cd-jinjiang", name="李梅")])
    assert after[("members", "cd-wuhou:m1")].owner == "cd-jinjiang"
    stale = _apply(after, [_change(5, owner="cd-wuhou", name="李梅")])
    assert stale == after


def test_writes_to_a_replica_are_refused_with_the_owner() -> None:
    check_writable("cd", "cd")
    with pytest.raises(ReplicaReadOnlyError) as caught:
        check_writable("cd-wuhou", "cd", "https://wuhou.example.cn/v1/members/cd-wuhou:m1")
    problem = caught.value.to_problem()
    assert (problem["status"], problem["code"], problem["owner"]) == (
        409,
        "replica-read-only",
        "cd-wuhou",
    )
    assert problem["ownerUrl"].startswith("https://wuhou")


def test_feed_page_from_the_wire() -> None:
    page = FeedPage.from_wire(
        {
            "items": [_change(1).to_wire(), _change(2, deleted=True).to_wire()],
            "next": "https://h/v1/changes?after=abc",
            "cursor": "abc",
        }
    )
    assert [c.deleted for c in page.changes] == [False, True]
    assert page.changes[1].record is None
    assert (page.cursor, page.more) == ("abc", True)


MEMBER = {
    "id": "cd-wuhou:m1",
    "name": "李梅",
    "citizenId": "51010719900517002x",
    "phone": "13800138000",
    "organisationId": "cd-wuhou:o1",
}


def test_upward_policy_drops_phone_and_hashes_citizen_id() -> None:
    change = Change("members", "cd-wuhou:m1", 3, "cd-wuhou", False, MEMBER)
    out = minimise(change, PeerPolicy.upward(b"k" * 32))
    assert out is not None
    assert out.record == {"id": "cd-wuhou:m1", "name": "李梅", "organisationId": "cd-wuhou:o1"}
    assert out.hashed["citizenId"].startswith("hmac-sha256:")
    assert "51010719900517002" not in str(out.to_wire())
    # The same person under the same link key links across children; another key does not.
    again = minimise(
        Change(
            "members",
            "cd-jinjiang:m9",
            1,
            "cd-jinjiang",
            False,
            {**MEMBER, "citizenId": "51010719900517002X"},
        ),
        PeerPolicy.upward(b"k" * 32),
    )
    other = minimise(change, PeerPolicy.upward(b"z" * 32))
    assert again is not None
    assert other is not None
    assert again.hashed == out.hashed != other.hashed


def test_policy_types_and_tombstones() -> None:
    policy = PeerPolicy.from_wire({"types": ["organisations"], "fields": {}})
    assert minimise(_change(1), policy) is None
    tomb = Change("members", "cd-wuhou:m1", 4, "cd-wuhou", True, None)
    assert minimise(tomb, PeerPolicy.upward(b"k")) == tomb


def test_policy_wire_round_trip() -> None:
    policy = PeerPolicy.upward(b"k")
    assert PeerPolicy.from_wire(policy.to_wire(), b"k") == policy
    allowed = PeerPolicy.from_wire({"fields": {"members": {"phone": "keep", "citizenId": "keep"}}})
    change = Change("members", "cd-wuhou:m1", 3, "cd-wuhou", False, MEMBER)
    assert minimise(change, allowed) == change
    with pytest.raises(ValueError, match="link key"):
        minimise(change, PeerPolicy.from_wire({"fields": {"members": {"citizenId": "hash"}}}))


@pytest.mark.parametrize(
    "wire",
    [{"types": None}, {}, {"types": None, "fields": {}}, {"fields": {"members": {"name": "keep"}}}],
)
def test_a_policy_without_field_rules_minimises(wire: dict[str, Any]) -> None:
    """``{"types": null}`` (the old default toward siblings and children) never means
    "everything": phone is dropped and the citizen ID leaves only as the keyed hash."""
    change = Change("members", "cd-wuhou:m1", 3, "cd-wuhou", False, MEMBER)
    out = minimise(change, PeerPolicy.from_wire(wire, b"k" * 32))
    assert out is not None
    assert out.record is not None
    assert "phone" not in out.record
    assert "citizenId" not in out.record
    assert out.hashed["citizenId"] == PeerPolicy.upward(b"k" * 32).hash_value(
        "citizenId", "51010719900517002X"
    )
    phone_only = PeerPolicy.from_wire({"fields": {"members": {"phone": "keep"}}}, b"k" * 32)
    kept = minimise(change, phone_only)
    assert kept is not None
    assert kept.record is not None
    assert kept.record["phone"] == MEMBER["phone"]
    assert "citizenId" not in kept.record


def test_the_link_key_holder_recovers_the_citizen_id_from_its_hash() -> None:
    """What spec/federation.md §0 and §5 say: the keyed hash hides the number from those without
    the link key only. With the key, birth date and gender beside the hash and a guessed region,
    about 500 tries recover it."""
    key, number = b"k" * 32, "510107199005170027"
    out = minimise(
        Change("members", "cd-wuhou:m1", 3, "cd-wuhou", False, {**MEMBER, "citizenId": number}),
        PeerPolicy.upward(key),
    )
    assert out is not None
    birth, female = "19900517", True  # from birthDate and gender, which travel in clear
    tries = [f"510107{birth}{seq:03d}" for seq in range(1000) if seq % 2 == (0 if female else 1)]
    found = [
        first17 + citizen_id_check(first17)
        for first17 in tries
        if PeerPolicy.upward(key).hash_value("citizenId", first17 + citizen_id_check(first17))
        == out.hashed["citizenId"]
    ]
    assert found == [number]
    # without the key, the same search finds nothing
    assert not any(
        PeerPolicy.upward(b"z" * 32).hash_value("citizenId", t + citizen_id_check(t))
        == out.hashed["citizenId"]
        for t in tries
    )


@pytest.mark.parametrize("wire", [{}, {"types": None}, {"fields": {"members": {"phone": "keep"}}}])
def test_applicants_are_minimised_like_members(wire: dict[str, Any]) -> None:
    record = {**MEMBER, "id": "cd-wuhou:p1", "stage": "activist"}
    change = Change("applicants", "cd-wuhou:p1", 2, "cd-wuhou", False, record)
    out = minimise(change, PeerPolicy.from_wire(wire, b"k" * 32))
    assert out is not None
    assert out.record is not None
    assert "phone" not in out.record
    assert "citizenId" not in out.record
    assert out.hashed["citizenId"].startswith("hmac-sha256:")
    assert "51010719900517002" not in str(out.to_wire())


def _without_content(state: dict) -> dict:  # type: ignore[type-arg]
    return {k: Entry(e.version, e.owner, e.deleted, None) for k, e in state.items()}


@settings(max_examples=100, deadline=None)
@given(first=histories(), second=histories(), data=st.data())
def test_entries_without_content_decide_as_full_entries(
    first: list[Change], second: list[Change], data: st.DataObject
) -> None:
    """What a hub runs: its local copies come without their content, read only on a version
    tie; the result is the one the full copies give."""
    state = _apply({}, first)
    changes = data.draw(st.permutations([*second, *first]), label="page")
    reads: list[tuple[str, str]] = []

    def content(key: tuple[str, str]) -> Any:
        reads.append(key)
        return state[key].record

    full = apply_changes(state, changes, local_hub=LOCAL, may_speak_for=_from_children)
    lazy = apply_changes(
        _without_content(state),
        changes,
        local_hub=LOCAL,
        may_speak_for=_from_children,
        content=content,
    )
    assert lazy.applied == full.applied
    assert lazy.refused == full.refused
    for key in reads:  # read only on a tie of version and tombstone
        assert any(
            (c.type, c.id) == key and (c.version, c.deleted) == (state[key].version, False)
            for c in changes
        )


def test_a_restored_peer_is_taken_at_a_version_not_above_ours() -> None:
    held = Entry(5, "cd-wuhou", False, {"id": "cd-wuhou:m1", "name": "old"})
    again = Change("members", "cd-wuhou:m1", 3, "cd-wuhou", False, {"id": "cd-wuhou:m1"})
    args: dict[str, Any] = {"local_hub": LOCAL, "may_speak_for": _from_children}
    assert decide(again, held, **args) is Decision.SKIP
    assert decide(again, held, restored=True, **args) is Decision.APPLY
    # ... only for a record it owns: another owner's copy is not its to rewrite
    other = Entry(5, "cd-jinjiang", False, {"id": "cd-wuhou:m1"})
    assert decide(again, other, restored=True, **args) is Decision.SKIP


def test_an_orphan_is_taken_again_from_its_owner_at_any_version() -> None:
    orphan = Entry(5, "cd-wuhou", False, None, orphaned=True)
    again = Change("members", "cd-wuhou:m1", 1, "cd-wuhou", False, {"id": "cd-wuhou:m1"})
    args: dict[str, Any] = {"local_hub": LOCAL, "may_speak_for": _from_children}
    assert decide(again, orphan, **args) is Decision.APPLY
    assert decide(again, Entry(5, "cd-wuhou", False, None), **args) is Decision.SKIP
