"""A restore is visible to the federation (``spec/federation.md`` §4.5): a county restored from
a backup older than its city's cursor starts a new feed epoch; the city's cursor then answers
410 ``epoch-changed``, the city re-syncs from the start, counts the reset, keeps the records the
county lost as orphans (served onwards as tombstones) and misses nothing written after the
restore. Two live hubs: the city on SQLite, the county on each database."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import _logcheck
from tests.federation._network import TONGXIN, Node, city_and_county, new_member, seed
from tests.server.conftest import BACKENDS, make_backend
from tongxin.federation import KeyStore, SigningAuth

PASSPHRASE = "restore-drill-passphrase-2026"


@contextmanager
def _two_hubs(root: Path, city_db: str, county_db: str) -> Iterator[tuple[Node, Node]]:
    """A city (parent) and its county (child), each on a database of kind ``*_db``."""
    databases = [make_backend(city_db, root / "city-db"), make_backend(county_db, root / "c-db")]
    try:
        city_backend, county_backend = (next(d) for d in databases)
        city, county = (
            Node(hub, root / name, database=None if b.name == "sqlite" else b.url)
            for hub, name, b in (
                ("cd-city", "city", city_backend),
                ("cd-wuhou", "county", county_backend),
            )
        )
        yield from city_and_county(city, county)
    finally:
        for database in databases:
            database.close()


@pytest.fixture(params=BACKENDS)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Node, Node]]:
    """The county on each database, the city on SQLite."""
    with _two_hubs(tmp_path_factory.mktemp("restored"), "sqlite", request.param) as hubs:
        yield hubs


@pytest.fixture(params=BACKENDS)
def parent_on(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Node, Node]]:
    """The city (where orphans are kept and read) on each database, the county on SQLite."""
    with _two_hubs(tmp_path_factory.mktemp("orphans"), request.param, "sqlite") as hubs:
        yield hubs


def _backup_cli(node: Node, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**node.env(), "TONGXIN_BACKUP_PASSPHRASE": PASSPHRASE}
    done = subprocess.run(
        [TONGXIN, *args, "--database", node.db],
        env=env,
        cwd=node.workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    _logcheck.keep(f"{node.hub_id}-{args[0]}", done.stderr)
    assert done.returncode == 0, done.stderr
    return done


def _add(node: Node, org: str, n: int) -> str:
    record = new_member(node.hub_id, org, n)
    with node.api() as api:
        assert api.post("/v1/members", json=record).status_code == 201
    return str(record["id"])


def _rename(node: Node, member: str, name: str) -> None:
    with node.api() as api:
        got = api.get(f"/v1/members/{member}")
        assert got.status_code == 200, got.text
        put = api.put(
            f"/v1/members/{member}",
            json={**got.json(), "name": name},
            headers={"If-Match": got.headers["etag"]},
        )
        assert put.status_code == 200, put.text


def _peer(city: Node) -> dict[str, Any]:
    listed = json.loads(city.cli("peer", "list", "--json").stdout)
    (county,) = [p for p in listed if p["hubId"] == "cd-wuhou"]
    return dict(county)


def _orphan_flags(city: Node) -> dict[str, int]:
    rows = city._read("SELECT id, orphan FROM records WHERE collection = 'members'")
    return {i: int(o) for i, o in rows}


def test_a_restored_child_is_detected_and_re_synced(pair: tuple[Node, Node]) -> None:
    city, county = pair
    org, kept = seed(county, 3, 7100)
    city.cli("sync", "--once")
    _backup_cli(county, "backup", "--out", "county.txbk")

    # Written after the backup and pulled by the city: lost by the restore below.
    lost = [_add(county, org, 7200 + n) for n in range(2)]
    _rename(county, kept[0], "备份后改名")
    city.cli("sync", "--once")
    assert {k: v[0] for k, v in city.rows().items() if k[0] == "members"}[("members", kept[0])] == 2
    with county.api() as api:
        old_cursor = api.get("/v1/changes", params={"limit": 1000}).json()["cursor"]

    county.stop()
    _backup_cli(county, "restore", "county.txbk", "--force")
    county.start()

    # A token caller's cursor of the old epoch: 410 epoch-changed naming the new epoch.
    with county.api() as api:
        gone = api.get("/v1/changes", params={"after": old_cursor})
        fresh = api.get("/v1/changes", params={"limit": 1})
    assert gone.status_code == 410, gone.text
    problem = gone.json()
    assert problem["code"] == "epoch-changed"
    assert problem["bootstrap"] == "/v1/changes"
    assert problem["epoch"]
    assert problem["epoch"] in problem["detail"]
    assert problem["epoch"] in problem["detailZh"]
    assert fresh.status_code == 200
    # ... and the parent's (a signed peer request) too.
    saved = _peer(city)["cursor"]
    signer = KeyStore.load(city.workdir / "hub.keys.json").signer()
    with httpx.Client(auth=SigningAuth(signer), timeout=60) as as_city:
        peer_gone = as_city.get(county.url + "/v1/changes", params={"after": saved})
    assert peer_gone.status_code == 410, peer_gone.text
    assert peer_gone.json()["code"] == "epoch-changed"

    # Written after the restore: a new member, and edits that reuse the lost version numbers.
    after = _add(county, org, 7300)
    _rename(county, kept[0], "恢复后改名")  # version 2 again, other content
    _rename(county, kept[1], "恢复后另一改名")
    before = _peer(city)
    assert (before["resets"], before["orphans"], before["lastResetAt"]) == (0, 0, None)

    city.cli("sync", "--once")
    status = _peer(city)
    assert status["resets"] == 1
    assert status["lastResetAt"] is not None
    assert status["resyncing"] is False
    assert status["orphans"] == 2
    assert status["lastError"] is None
    text = city.cli("peer", "list").stdout
    assert "history reset 1x" in text
    assert "2 orphans" in text

    flags = _orphan_flags(city)
    assert {m: flags[m] for m in lost} == dict.fromkeys(lost, 2)
    assert {m: flags[m] for m in [*kept, after]} == dict.fromkeys([*kept, after], 0)
    with city.api() as api:
        for member, name in ((kept[0], "恢复后改名"), (kept[1], "恢复后另一改名")):
            assert api.get(f"/v1/members/{member}").json()["name"] == name
        assert api.get(f"/v1/members/{after}").status_code == 200
        # the city's own feed serves the orphans as tombstones (to its parent as well)
        feed = api.get("/v1/changes", params={"limit": 1000, "types": "members"}).json()
    latest = {item["id"]: item for item in feed["items"]}
    for member in lost:
        assert latest[member]["deleted"] is True
        assert latest[member]["reason"] == "orphaned"
        assert latest[member]["record"] is None
    assert latest[after]["deleted"] is False

    # The next round is an ordinary one: no second reset, the orphans stay counted.
    later = _add(county, org, 7400)
    city.cli("sync", "--once")
    again = _peer(city)
    assert (again["resets"], again["orphans"], again["resyncing"]) == (1, 2, False)
    assert ("members", later) in city.rows()


def _restore_losing(city: Node, county: Node, org: str, n: int, base: int) -> list[str]:
    """Back the county up, write ``n`` members the city pulls, then restore the county from the
    backup and let the city re-sync: the ``n`` members are orphans at the city."""
    _backup_cli(county, "backup", "--out", "county.txbk")
    lost = [_add(county, org, base + i) for i in range(n)]
    city.cli("sync", "--once")
    county.stop()
    _backup_cli(county, "restore", "county.txbk", "--force")
    county.start()
    city.cli("sync", "--once")
    assert _peer(city)["orphans"] == n
    return lost


def test_the_parent_never_serves_an_orphan_as_current(parent_on: tuple[Node, Node]) -> None:
    """A direct read at the parent answers 410 ``orphaned``; only an explicit
    ``?orphaned=include`` shows the content, marked; lists leave orphans out unless asked; the
    owner sending the record again makes it current (``spec/api.md`` §4 Orphans)."""
    city, county = parent_on
    org, kept = seed(county, 2, 7500)
    city.cli("sync", "--once")
    lost = _restore_losing(city, county, org, 2, 7600)
    ids = sorted([*kept, *lost])

    def listed(**params: str) -> list[str]:
        with city.api() as api:
            got = api.get("/v1/members", params={"organisationId": org, **params})
        assert got.status_code == 200, got.text
        assert got.json()["next"] is None
        return sorted(item["id"] for item in got.json()["items"])

    with city.api() as api:
        for member in lost:
            for _ in range(2):  # the second read takes the cached-token fast path
                gone = api.get(f"/v1/members/{member}")
                assert gone.status_code == 410, gone.text
                assert gone.headers["content-type"] == "application/problem+json"
                problem = gone.json()
                assert (problem["code"], problem["owner"]) == ("orphaned", "cd-wuhou")
            shown = api.get(f"/v1/members/{member}", params={"orphaned": "include"})
            assert shown.status_code == 200, shown.text
            assert shown.headers["tongxin-orphaned"] == "true"
            assert shown.json()["id"] == member
        for member in kept:
            current = api.get(f"/v1/members/{member}")
            assert current.status_code == 200
            assert "tongxin-orphaned" not in current.headers
    assert listed() == sorted(kept)
    assert listed(orphaned="include") == ids
    assert listed(orphaned="only") == sorted(lost)

    # The county re-enters one of them (as docs/operations.md says to): current again above.
    back = lost[0]
    with city.api() as api:
        content = api.get(f"/v1/members/{back}", params={"orphaned": "include"}).json()
    record = {k: v for k, v in content.items() if k not in ("version", "updatedAt")}
    record["citizenId"] = new_member(county.hub_id, org, 7600)["citizenId"]
    with county.api() as api:
        assert api.post("/v1/members", json=record).status_code == 201
    city.cli("sync", "--once")
    assert _peer(city)["orphans"] == 1
    with city.api() as api:
        again = api.get(f"/v1/members/{back}")
    assert again.status_code == 200, again.text
    assert "tongxin-orphaned" not in again.headers
    assert listed(orphaned="only") == [lost[1]]
    assert listed() == sorted([*kept, back])
