"""The rules added in version 1.1, on plain wire dicts (the contract of ``_checks``: fields
present have passed the schema). They run only for documents of 1.1 or later: single-record
rules through :func:`check_record_11`, cross-record rules through :class:`State11`, which
:func:`enable` attaches to a package's context and state.

What 1.1 keeps of each member is two keyed facts (its full membership of an organisation, its
joining date) as hashes in one set, so that leaders, introducers and admitted applicants can be
checked whichever way round the package orders them, in bounded memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._checks import (
    PackageState,
    RecordContext,
    citizen_id_issues,
    months_later_end,
    plus_years,
)
from ._digest11 import Leaders
from ._issues import Issue
from ._rules import RULES

__all__ = [
    "BRANCH_TYPES",
    "LEVELS",
    "State11",
    "check_record_11",
    "enable",
    "plus_months",
]

R = RULES
#: Level of each organisation type, from the top; a parent is on a lower number, except that
#: the primary level (40) may nest.
LEVELS: dict[str, int] = {
    "provincial-committee": 10,
    "provincial-working-committee": 15,
    "city-committee": 20,
    "city-working-committee": 25,
    "county-committee": 30,
    "county-working-committee": 35,
    "primary-committee": 40,
    "township-committee": 40,
    "subdistrict-working-committee": 40,
    "secondary-committee": 40,
    "joint-committee": 40,
    "working-committee": 40,
    "leading-group": 40,
    "general-branch": 50,
    "joint-general-branch": 50,
    "branch": 60,
    "joint-branch": 60,
    "temporary-branch": 60,
    "functional-branch": 60,
    "party-group": 70,
}
_NESTING = 40
BRANCH_TYPES = frozenset(t for t, level in LEVELS.items() if level == 60)
#: Posts that lead without making a committee: a branch of fewer than seven full members has a
#: secretary and, where needed, a deputy.
_NOT_COMMITTEE = frozenset(("secretary", "deputy-secretary"))
_TYPE_TITLES: dict[str, tuple[str, str]] = {}


def plus_months(iso: str, months: int) -> str:
    """The ISO date ``months`` later: the same day of that month, or its last day when it has
    none (31 January + 1 month is 28 or 29 February)."""
    last = months_later_end(iso[:7], months)
    return min(f"{last[:8]}{iso[8:10]}", last)


def _title(code: str) -> tuple[str, str]:
    if not _TYPE_TITLES:
        from ._codelists import codelist

        for c in codelist("organisation-type", "1.1").codes:
            _TYPE_TITLES[c.code] = (c.title_zh, c.title_en.lower())
    return _TYPE_TITLES.get(code, (code, code))


def _current(since: str | None, until: str | None, as_of: str) -> bool:
    return (until is None or until > as_of) and (since is None or since <= as_of)


def _committee(current: list[str]) -> int | None:
    """The size of the committee among the current posts, or None when there is none."""
    seats = [p for p in current if p != "group-leader"]
    if len(seats) >= 3 or any(p not in _NOT_COMMITTEE for p in seats):
        return len(seats)
    return None


def _organisation(r: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]) -> None:
    leaders = r.get("leaders")
    if leaders is None:
        return
    as_of = ctx.as_of_iso
    current = [x["post"] for x in leaders if _current(x.get("since"), x.get("until"), as_of)]
    secretaries = current.count("secretary")
    if secretaries != 1:
        out.append(R["ORG-006"].issue(f"{at}/leaders", count=secretaries))
    if r.get("type") in BRANCH_TYPES:
        size = _committee(current)
        if size is not None and not 3 <= size <= 7:
            out.append(R["ORG-007"].issue(f"{at}/leaders", count=size))


def _applicant(r: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]) -> None:
    birth, cid = r.get("birthDate"), r.get("citizenId")
    if cid is not None:
        citizen_id_issues(r, cid, birth, at, out)
    applied = r.get("applicationDate")
    if birth and applied and applied < plus_years(birth, 18):
        out.append(R["APL-001"].issue(f"{at}/applicationDate", applied=applied, birth=birth))
    talk = r.get("talkDate")
    if applied and talk and talk > (limit := plus_months(applied, 1)):
        out.append(R["APL-002"].issue(f"{at}/talkDate", talk=talk, limit=limit))
    activist = r.get("activistDate")
    if applied and activist and activist < applied:
        out.append(R["APL-003"].issue(f"{at}/activistDate", activist=activist, applied=applied))
    candidate = r.get("candidateDate")
    if activist and candidate and candidate < (due := plus_years(activist, 1)):
        out.append(R["APL-004"].issue(f"{at}/candidateDate", candidate=candidate, due=due))
    vote = r.get("branchVoteDate")
    if candidate and vote and vote < candidate:
        out.append(R["APL-005"].issue(f"{at}/branchVoteDate", vote=vote, candidate=candidate))
    hours = r.get("trainingHours")
    if vote and hours is not None and hours < 24:
        out.append(R["APL-006"].issue(f"{at}/trainingHours", hours=int(hours)))
    introducers, stage = r.get("introducers"), r.get("stage")
    count = len(set(introducers or ()))
    if (introducers is not None or stage == "admitted") and count != 2:
        out.append(R["APL-007"].issue(f"{at}/introducers", count=count))
    approved = r.get("approvalDate")
    if vote and approved:
        if approved > plus_months(vote, 6):
            out.append(R["APL-010"].issue(f"{at}/approvalDate", approved=approved, vote=vote))
        elif approved > plus_months(vote, 3):
            out.append(R["APL-009"].issue(f"{at}/approvalDate", approved=approved, vote=vote))
    if stage == "admitted" and r.get("memberId") is None:
        out.append(R["APL-011"].issue(f"{at}/memberId"))


_CHECKS_11 = {"organisations": _organisation, "applicants": _applicant}


def check_record_11(
    collection: str, record: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]
) -> None:
    """The single-record rules of 1.1 for a well-formed ``record`` at pointer ``at``."""
    check = _CHECKS_11.get(collection)
    if check is not None:
        check(record, at, ctx, out)


@dataclass(slots=True)
class State11:
    """Cross-record state of the 1.1 rules of one package."""

    ctx: RecordContext
    #: hash(("o", member key, organisation id)) of full members in normal standing and
    #: hash(("j", member key, joinedDate)) of every member
    facts: set[int] = field(default_factory=set)
    #: (index, id, type, leaders) of organisations that give leaders
    orgs: list[tuple[int, str, str, Leaders]] = field(default_factory=list)
    #: (pointer, member id) of introducers
    introducers: list[tuple[str, str]] = field(default_factory=list)
    #: (pointer, member id, branch vote date) of admitted applicants
    admitted: list[tuple[str, str, str]] = field(default_factory=list)

    def add(
        self, collection: str, index: int, rid: str | None, key: int | str | None, extra: Any
    ) -> None:
        """Remember what the 1.1 rules need of one record (its digest's ``extra``)."""
        if collection == "members":
            if key is not None:
                _, full_org, joined = extra
                if full_org is not None:
                    self.facts.add(hash(("o", key, full_org)))
                if joined is not None:
                    self.facts.add(hash(("j", key, joined)))
        elif collection == "organisations":
            if rid is not None and extra[2] is not None:
                self.orgs.append((index, rid, extra[1], extra[2]))
        elif collection == "applicants":
            stage, member, vote, introducers = extra
            at = f"/applicants/{index}"
            self.introducers += [(f"{at}/introducers/{i}", m) for i, m in enumerate(introducers)]
            if stage == "admitted" and member is not None and vote is not None:
                self.admitted.append((f"{at}/branchVoteDate", member, vote))

    def add_members(
        self, keys: list[int], full: list[str | None], joined: list[str | None]
    ) -> None:
        """:meth:`add` for a batch of members (``PackageState.add_members``)."""
        facts = self.facts
        facts.update(hash(("o", k, o)) for k, o in zip(keys, full, strict=True) if o is not None)
        facts.update(hash(("j", k, j)) for k, j in zip(keys, joined, strict=True) if j is not None)

    def finish(self, state: PackageState) -> Iterator[Issue]:
        """The 1.1 issues that need the whole package."""
        yield from self._hierarchy(state)
        yield from self._leaders(state)
        members, full = state.ids["members"], state.full_members
        for at, member in self.introducers:
            if member in members and members.key(member) not in full:
                yield R["APL-008"].issue(at, member=member)
        for at, member, vote in self.admitted:
            if member in members and hash(("j", members.key(member), vote)) not in self.facts:
                yield R["APL-012"].issue(at, member=member, vote=vote)

    def _hierarchy(self, state: PackageState) -> Iterator[Issue]:
        tree = state.org_parent
        for index, parent, child_type in tree.values():
            if parent is None or parent not in tree:
                continue
            parent_type = tree[parent][2]
            low, high = LEVELS.get(parent_type), LEVELS.get(child_type)
            if low is None or high is None or low < high or low == high == _NESTING:
                continue
            (pz, pe), (cz, ce) = _title(parent_type), _title(child_type)
            yield R["ORG-005"].issue(
                f"/organisations/{index}/parentId",
                parent_zh=pz,
                parent_en=pe,
                child_zh=cz,
                child_en=ce,
            )

    def _leaders(self, state: PackageState) -> Iterator[Issue]:
        if not self.orgs:
            return
        as_of, members = self.ctx.as_of_iso, state.ids["members"]
        children: dict[str, list[str]] = defaultdict(list)
        for org, (_, parent, _) in state.org_parent.items():
            if parent is not None:
                children[parent].append(org)
        for index, rid, org_type, leaders in self.orgs:
            current = [x for x in leaders if _current(x[2], x[3], as_of)]
            at = f"/organisations/{index}/leaders"
            if (
                org_type in BRANCH_TYPES
                and state.full_per_org[rid] >= 7
                and _committee([x[1] for x in current]) is None
            ):
                yield R["ORG-008"].issue(at, count=state.full_per_org[rid])
            below: list[str] | None = None
            for j, (member, *_rest) in enumerate(leaders):
                if member is None or member not in members or leaders[j] not in current:
                    continue
                if below is None:
                    below = _subtree(rid, children)
                key = members.key(member)
                if not any(hash(("o", key, org)) in self.facts for org in below):
                    yield R["ORG-009"].issue(f"{at}/{j}/memberId", member=member)


def _subtree(root: str, children: dict[str, list[str]]) -> list[str]:
    out, stack, seen = [], [root], {root}
    while stack:
        node = stack.pop()
        out.append(node)
        for child in children.get(node, ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return out


def enable(ctx: RecordContext, state: PackageState | None = None) -> None:
    """Turn the 1.1 rules on for a document of version 1.1."""
    ctx.version, ctx.more = "1.1", check_record_11
    if state is not None:
        state.more = State11(ctx)
