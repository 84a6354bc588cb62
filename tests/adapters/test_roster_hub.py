"""``tongxin roster import --hub`` and ``export --hub`` against a live hub (``tongxin serve`` on
SQLite): people matched at the hub by citizen ID, nobody created twice, the hub's results in
the report, and a bulk request resumed after a broken connection without writing twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from tests.server.conftest import Server, make_backend, start_server
from tongxin.adapters.roster import HubClient, Options, import_to_hub, load_package
from tongxin.adapters.roster._messy import messy_roster, write_xlsx
from tongxin.cli import app
from tongxin.server import create_token, open_hub

runner = CliRunner()
ROOT = "test-hub:o-root"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    for backend in make_backend("sqlite", tmp_path_factory.mktemp("roster-hub")):
        server = start_server(backend)
        hub = open_hub(backend.settings())
        try:
            token = create_token(
                hub.db, ["records:read", "records:write", "records:read-sensitive"]
            )
        finally:
            hub.close()
        with server.client() as api:
            root = {"id": ROOT, "name": "中共示范县委直属机关委员会", "type": "primary-committee"}
            assert api.post("/v1/organisations", json=root).status_code == 201
        try:
            yield server, token
        finally:
            server.stop()


def _members(server: Server) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url: str | None = "/v1/members?limit=500&include=sensitive"
    with server.client() as api:
        while url:
            page = api.get(url).json()
            out += page["items"]
            url = page["next"]
    return out


def _import(path: Path, server: Server, token: str) -> tuple[int, dict[str, Any]]:
    done = runner.invoke(app, ["roster", "import", str(path), "--hub", server.url, "--token",
                               token, "--organisation", ROOT, "--format", "json"])  # fmt: skip
    return done.exit_code, orjson.loads(done.stdout)


def test_import_twice_creates_nobody_twice(live: tuple[Server, str], tmp_path: Path) -> None:
    server, token = live
    m = messy_roster(60)
    path = tmp_path / "花名册.xlsx"
    where = write_xlsx(m, path)
    code, first = _import(path, server, token)
    assert code == 1
    assert first["rows"] == 60 == first["accepted"] + first["rejected"]
    assert first["rejected"] == len(m.planted)
    rules = {(i["row"], i["rule"]) for i in first["issues"] if i["severity"] == "error"}
    assert {(where[p.index], p.rule) for p in m.planted} <= rules
    assert first["hub"] == {"created": first["accepted"] + 3}  # and three branches
    stored = _members(server)
    assert len(stored) == first["accepted"]
    good = {e["citizenId"]: e for e in m.expected if e is not None}
    assert {s["citizenId"] for s in stored} == set(good)
    for s in stored:
        assert s["gender"] == good[s["citizenId"]]["gender"]
        assert s["birthDate"] == good[s["citizenId"]]["birthDate"]
    code, second = _import(path, server, token)
    assert code == 1
    assert second["accepted"] == first["accepted"]
    assert second["hub"] == {"unchanged": first["accepted"]}
    again = _members(server)
    assert sorted(x["id"] for x in again) == sorted(x["id"] for x in stored)


def test_export_from_hub_round_trips(live: tuple[Server, str], tmp_path: Path) -> None:
    server, token = live
    roster = tmp_path / "export.xlsx"
    done = runner.invoke(app, ["roster", "export", "--hub", server.url, "--token", token,
                               "--organisation", ROOT, "--out", str(roster)])  # fmt: skip
    assert done.exit_code == 0, done.output
    stored = {m["id"]: m for m in _members(server)}
    out = tmp_path / "package.json"
    done = runner.invoke(app, ["roster", "import", str(roster), "--organisation", ROOT,
                               "--out", str(out), "--format", "json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    package = load_package(out)
    assert package is not None
    assert len(package["members"]) == len(stored)
    for m in package["members"]:
        hub = stored[m["id"]]
        same = ("name", "gender", "birthDate", "citizenId", "joinedDate", "phone", "category")
        assert {k: m.get(k) for k in same} == {k: hub.get(k) for k in same}
    # importing the exported roster back into the hub changes nothing
    code, report = _import(roster, server, token)
    assert code == 0
    assert report["hub"] == {"unchanged": len(stored)}


class _CutOnce(httpx.BaseTransport):
    """Passes requests to the hub, but breaks the connection once, after the hub has answered
    the first bulk request (so its batches were committed)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.keys: list[str] = []
        self.cut = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path == "/v1/bulk":
            self.keys.append(request.headers["Idempotency-Key"])
            if not self.cut:
                self.cut = True
                response.read()
                response.close()
                raise httpx.RemoteProtocolError("connection broken", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_bulk_resumes_after_a_broken_connection(live: tuple[Server, str], tmp_path: Path) -> None:
    server, token = live
    m = messy_roster(30, bad=False, division="510108")
    path = tmp_path / "new.xlsx"
    write_xlsx(m, path)
    before = len(_members(server))
    transport = _CutOnce()
    client = HubClient(
        server.url, token, client=httpx.Client(base_url=server.url, transport=transport),
        backoff=0.01,
    )  # fmt: skip
    try:
        result = import_to_hub(
            [path], client, Options("test-hub", ROOT, stamp="2026-01-01T08:00:00+08:00")
        )
    finally:
        client.close()
    assert transport.cut
    assert len(transport.keys) == 2
    assert transport.keys[0] == transport.keys[1]
    assert result.rejected == 0
    assert result.hub.get("error", 0) == 0
    assert len(_members(server)) == before + 30


def _applicants(server: Server) -> list[dict[str, Any]]:
    with server.client() as api:
        page = api.get("/v1/applicants?limit=500&include=sensitive").json()
    assert page["next"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


def test_applicants_sheet_into_the_hub(live: tuple[Server, str], tmp_path: Path) -> None:
    """A members sheet and an applicants sheet into the hub: the applicants stored with their
    introducers as the hub's member ids, the bad rows at their cells, nobody created twice."""
    from tests.adapters.test_roster_applicants import cells, col, write_workbook

    server, token = live
    path = tmp_path / "发展党员.xlsx"
    write_workbook(path)
    code, first = _import(path, server, token)
    assert code == 1
    assert first["rows"] == 12
    assert first["rejected"] == 4
    found = cells(first)
    assert (7, col("确定为发展对象日期"), "APL-004") in found
    assert (8, col("入党介绍人"), "ROS-015") in found
    assert (10, col("递交入党申请书日期"), "APL-001") in found
    stored = {a["name"]: a for a in _applicants(server)}
    assert set(stored) == {"上官甲", "上官乙", "上官丙", "司马丁四"}
    members = {m["name"]: m for m in _members(server)}
    assert stored["上官丙"]["stage"] == "candidate"
    assert stored["上官丙"]["introducers"] == [members["欧阳甲一"]["id"], members["欧阳乙二"]["id"]]
    assert stored["司马丁四"]["memberId"] == members["司马丁四"]["id"]
    assert stored["上官甲"]["citizenId"].startswith("510107")  # kept sealed, read back

    code, again = _import(path, server, token)
    assert code == 1
    assert again["hub"] == {"unchanged": 8}  # 4 members and 4 applicants
    assert {a["id"] for a in _applicants(server)} == {a["id"] for a in stored.values()}

    exported = tmp_path / "export.xlsx"
    done = runner.invoke(app, ["roster", "export", "--hub", server.url, "--token", token,
                               "--organisation", ROOT, "--out", str(exported)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "4 名入党申请人" in done.output
