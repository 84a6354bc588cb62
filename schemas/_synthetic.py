"""Synthetic, valid packages of any size, for benchmarks, simulations and tests.

Every generated record follows every rule of the standard (with ``as_of`` = ``published_at``):
citizen IDs carry their true check digit, birth dates and genders agree with them, branches
have enough full members, general meetings reach their quorum and dues match the brackets.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any

import orjson

from ._checkdigits import citizen_id_check

__all__ = ["ALL", "ALL_11", "Plant", "SyntheticHub", "member", "organisations", "write_package"]

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_STAMP = "2026-01-01T08:00:00+08:00"


@dataclass(frozen=True, slots=True)
class SyntheticHub:
    """Shape of the generated data: hub id, members and members per branch."""

    hub_id: str = "cd-wuhou"
    members: int = 1000
    per_branch: int = 25
    division: str = "510107"
    seed: int = 7

    def rid(self, kind: str, n: int) -> str:
        return f"{self.hub_id}:{kind}{n:08d}"


def _citizen_id(division: str, birth: date, seq: int) -> str:
    first17 = f"{division}{birth:%Y%m%d}{seq:03d}"
    return first17 + citizen_id_check(first17)


def organisations(hub: SyntheticHub) -> Iterator[dict[str, Any]]:
    """One primary committee and enough branches for ``hub.members``."""
    yield {
        "id": hub.rid("o", 0),
        "version": 1,
        "updatedAt": _STAMP,
        "name": "中共示范县委直属机关委员会",
        "type": "primary-committee",
        "divisionCode": hub.division,
        "establishedDate": "1990-07-01",
        "termYears": 5,
        "electedDate": "2024-06-01",
    }
    for b in range(1, -(-hub.members // hub.per_branch) + 1):
        yield {
            "id": hub.rid("o", b),
            "version": 1,
            "updatedAt": _STAMP,
            "name": f"第{b}党支部",
            "type": "branch",
            "parentId": hub.rid("o", 0),
            "divisionCode": hub.division,
            "establishedDate": "2005-03-01",
            "termYears": 3,
            "electedDate": "2024-03-01",
        }


def member(hub: SyntheticHub, n: int, rng: random.Random) -> dict[str, Any]:
    """Member ``n`` (0-based); the last member of each branch is probationary."""
    birth = date(1960, 1, 1) + timedelta(days=n % 14000)  # (birth, seq) unique below 7M
    male = rng.random() < 0.6
    seq = (n // 14000) * 2 + (1 if male else 0)
    probationary = n % hub.per_branch == hub.per_branch - 1
    joined = date(max(birth.year + 19, 2000) + rng.randrange(0, 5), rng.randrange(1, 13), 1)
    if probationary:
        joined = date(2025, 6, 1)
    record: dict[str, Any] = {
        "id": hub.rid("m", n),
        "version": 1,
        "updatedAt": _STAMP,
        "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN),
        "gender": "1" if male else "2",
        "ethnicity": "01",
        "birthDate": birth.isoformat(),
        "citizenId": _citizen_id(hub.division, birth, seq),
        "education": "21",
        "organisationId": hub.rid("o", n // hub.per_branch + 1),
        "category": "probationary" if probationary else "full",
        "joinedDate": joined.isoformat(),
        "status": "normal",
        "phone": f"13{rng.randrange(0, 10**9):09d}",
        "workUnit": "示范县人民政府办公室",
    }
    if not probationary:
        record["fullMembershipDate"] = joined.replace(year=joined.year + 1).isoformat()
    return record


def _dues(hub: SyntheticHub, n: int) -> dict[str, Any]:
    base = Decimal(2000 + (n * 37) % 8000)
    rate = (
        Decimal("0.005") if base <= 3000 else Decimal("0.01") if base <= 5000 else Decimal("0.015")
    )
    return {
        "id": hub.rid("d", n),
        "version": 1,
        "updatedAt": _STAMP,
        "memberId": hub.rid("m", n),
        "period": "2025-12",
        "memberClass": "salaried",
        "base": f"{base}.00",
        "amount": str((base * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "paidDate": "2025-12-20",
    }


def _meeting(hub: SyntheticHub, branch: int) -> dict[str, Any]:
    first = (branch - 1) * hub.per_branch
    ids = range(first, min(first + hub.per_branch, hub.members))
    return {
        "id": hub.rid("a", branch),
        "version": 1,
        "updatedAt": _STAMP,
        "organisationId": hub.rid("o", branch),
        "type": "general-meeting",
        "startTime": "2025-12-10T14:30:00+08:00",
        "endTime": "2025-12-10T16:30:00+08:00",
        "topic": "学习贯彻党的二十届四中全会精神",
        "location": "三楼会议室",
        "presenter": "支部书记",
        "attendance": [{"memberId": hub.rid("m", i), "status": "present"} for i in ids],
    }


def _transfer(hub: SyntheticHub, n: int) -> dict[str, Any]:
    return {
        "id": hub.rid("t", n), "version": 1, "updatedAt": _STAMP, "memberId": hub.rid("m", n),
        "fromOrganisationId": hub.rid("o", n // hub.per_branch + 1),
        "toOrganisationId": "cd-jinjiang:o00000001", "reason": "residence-change",
        "duesPaidUntil": "2025-12", "issuedDate": "2025-12-15", "validDays": 90, "state": "issued",
    }  # fmt: skip


#: A hook that may change a generated record: (collection, index, record) -> record.
Plant = Callable[[str, int, dict[str, Any]], dict[str, Any]]
ALL = ("organisations", "members", "activities", "duesPayments", "transfers")
#: The record arrays of a 1.1 package.
ALL_11 = (*ALL, "applicants")
_POSTS = ("secretary", "deputy-secretary", "organisation-member", "propaganda-member",
          "discipline-member")  # fmt: skip


def _leaders(hub: SyntheticHub, org: dict[str, Any], b: int) -> dict[str, Any]:
    """A 1.1 organisation with its leaders: branch ``b`` led by its first five members (all
    full), the committee (``b`` = 0) by the first member of the first branch."""
    first = 0 if b == 0 else (b - 1) * hub.per_branch
    posts = _POSTS[:1] if b == 0 else _POSTS
    if first + len(posts) >= min(hub.members, first + hub.per_branch - 1):
        return org
    leaders = [
        {"memberId": hub.rid("m", first + i), "name": f"第{b}支部{post}", "post": post,
         "since": "2024-03-01"}
        for i, post in enumerate(posts)
    ]  # fmt: skip
    return {**org, "leaders": leaders}


def _applicant(hub: SyntheticHub, b: int) -> dict[str, Any]:
    """Branch ``b``'s last member, probationary since 2025-06-01, as the applicant admitted."""
    first = (b - 1) * hub.per_branch
    birth = date(1995, 1, 1) + timedelta(days=b % 3000)
    return {
        "id": hub.rid("p", b), "version": 1, "updatedAt": _STAMP, "name": "入党申请人",
        "gender": "1", "birthDate": birth.isoformat(),
        "citizenId": _citizen_id(hub.division, birth, 901 + 2 * (b // 3000)),
        "organisationId": hub.rid("o", b), "stage": "admitted", "applicationDate": "2023-01-10",
        "talkDate": "2023-01-20", "activistDate": "2023-04-01", "candidateDate": "2024-05-01",
        "trainingHours": 30, "sponsors": [hub.rid("m", first + 2)],
        "introducers": [hub.rid("m", first), hub.rid("m", first + 1)],
        "branchVoteDate": "2025-06-01", "approvalDate": "2025-07-15",
        "memberId": hub.rid("m", first + hub.per_branch - 1),
    }  # fmt: skip


def _sections(hub: SyntheticHub, version: str) -> dict[str, Iterator[dict[str, Any]]]:
    rng = random.Random(hub.seed)
    branches = -(-hub.members // hub.per_branch)
    orgs = organisations(hub)
    if version != "1.0":
        orgs = (_leaders(hub, o, b) for b, o in enumerate(orgs))
    full_branches = hub.members // hub.per_branch
    return {
        "applicants": (_applicant(hub, b) for b in range(1, full_branches + 1)),
        "organisations": orgs,
        "members": (member(hub, n, rng) for n in range(hub.members)),
        "activities": (_meeting(hub, b) for b in range(1, branches + 1)),
        "duesPayments": (_dues(hub, n) for n in range(hub.members)),
        "transfers": (_transfer(hub, n) for n in range(0, hub.members, 1000)),
    }


def write_package(
    out: Path | IO[bytes],
    hub: SyntheticHub,
    *,
    collections: tuple[str, ...] = ALL,
    plant: Plant | None = None,
    extra: dict[str, list[dict[str, Any]]] | None = None,
    version: str = "1.0",
) -> None:
    """Write a valid package of ``version`` for ``hub`` one record at a time (bounded memory).

    ``plant`` may change records on the way (to plant faults); ``extra`` records are appended
    to their collections. A 1.1 package gives every branch its leaders and, in ``applicants``,
    one admitted applicant per full branch (its probationary member).
    """
    if isinstance(out, Path):
        with out.open("wb") as file:
            write_package(
                file, hub, collections=collections, plant=plant, extra=extra, version=version
            )
        return
    sections = _sections(hub, version)
    out.write(b'{"schemaVersion":"' + version.encode() + b'","publisher":"' + hub.hub_id.encode())
    out.write(b'","publishedAt":"2026-01-01T08:00:00+08:00"')
    for name in collections:
        records = itertools.chain(sections[name], (extra or {}).get(name, []))
        out.write(b',\n"' + name.encode() + b'":[')
        for i, record in enumerate(records):
            if plant is not None:
                record = plant(name, i, record)
            out.write((b"\n" if i == 0 else b",\n") + orjson.dumps(record))
        out.write(b"]")
    out.write(b"}\n")
