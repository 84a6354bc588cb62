"""Factories for the federation tests: key stores at a fixed clock, members and transfers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tongxin.federation import CHINA, KeyStore
from tongxin.schemas import Member, Transfer

#: 2025-04-01 09:00 in Chengdu (01:00 UTC).
NOW = int(datetime(2025, 4, 1, 1, 0, tzinfo=UTC).timestamp())


def make_store(tmp: Path, hub_id: str, now: int = NOW) -> KeyStore:
    return KeyStore.create(tmp / f"{hub_id}.keys.json", hub_id, now=now)


@pytest.fixture
def wuhou(tmp_path: Path) -> KeyStore:
    """The sending county hub."""
    return make_store(tmp_path, "cd-wuhou")


@pytest.fixture
def jinjiang(tmp_path: Path) -> KeyStore:
    """The receiving county hub."""
    return make_store(tmp_path, "cd-jinjiang")


def member(**overrides: Any) -> Member:
    data: dict[str, Any] = {
        "id": "cd-wuhou:m00000001",
        "version": 3,
        "updatedAt": "2025-03-30T10:00:00+08:00",
        "name": "李梅",
        "gender": "2",
        "birthDate": "1990-05-17",
        "citizenId": "51010719900517002X",
        "organisationId": "cd-wuhou:o0001",
        "category": "full",
        "joinedDate": "2015-07-01",
        "fullMembershipDate": "2016-07-01",
        "status": "normal",
        "phone": "13800138000",
    }
    data.update(overrides)
    return Member.model_validate(data)


def transfer(**overrides: Any) -> Transfer:
    data: dict[str, Any] = {
        "id": "cd-wuhou:t0001",
        "version": 1,
        "updatedAt": "2025-04-01T09:00:00+08:00",
        "memberId": "cd-wuhou:m00000001",
        "fromOrganisationId": "cd-wuhou:o0001",
        "toOrganisationId": "cd-jinjiang:o0042",
        "reason": "work-unit-change",
        "duesPaidUntil": "2025-03",
        "issuedDate": "2025-04-01",
        "validDays": 90,
        "state": "issued",
        "letterNumber": "武组转〔2025〕0001",
    }
    data.update(overrides)
    return Transfer.model_validate(data)


#: When the letter is signed: the same instant as NOW.
ISSUED_AT = datetime(2025, 4, 1, 9, 0, tzinfo=CHINA)
ISSUED_DAY = date(2025, 4, 1)
