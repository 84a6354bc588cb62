"""``/console/stats`` and its XLSX downloads against a real hub: every table of ``GET /v1/stats``
is on the page and in the workbook with the API's numbers, scoped by the user's subtree; text is
never written as a formula."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from ._console_world import World, signed_in, two_branches
from .conftest import Backend, Server


@pytest.fixture(scope="module")
def world(server: Server, backend: Backend) -> World:
    return two_branches(
        server,
        backend,
        {"stat-county": ("root", "organiser"), "stat-sec-a": ("a", "secretary")},
        root_name="统计县委",
        branches=(("a", "甲支部", 3), ("b", "=1+1", 2)),
    )


@pytest.fixture(scope="module")
def county(server: Server, world: World) -> Iterator[httpx.Client]:
    with closing(signed_in(server, world, "stat-county")) as client:
        yield client


def _sheets(body: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(body))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def test_page_and_workbook_match_the_api(
    world: World, county: httpx.Client, api: httpx.Client
) -> None:
    params = {"organisationId": world.ids["root"]}
    stats = api.get("/v1/stats", params=params).json()
    page = county.get("/console/stats", params=params)
    assert page.status_code == 200
    assert f'data-key="members.total">{stats["members"]["total"]}<' in page.text
    assert page.text.count('class="chart"') >= 12
    for key in ("dues-branch", "transfers-state", "transfers-took", "meetings-branch"):
        assert f'id="table-{key}"' in page.text
    download = county.get("/console/stats.xlsx", params=params)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheets = _sheets(download.content)
    assert len(sheets) == len(re.findall(r'id="table-', page.text))
    genders = {row[0]: row[1] for row in sheets["党员性别"][4:]}
    assert genders == {i["label"]["zh-CN"]: i["count"] for i in stats["members"]["byGender"]}
    dues = sheets["党费交纳率（按支部）"][4:]
    assert {row[0] for row in dues} == {world.ids["a"], world.ids["b"]}
    # a name that looks like a formula stays text
    named = {row[0]: row[1] for row in dues}
    assert named[world.ids["b"]] == "=1+1"
    book = load_workbook(io.BytesIO(download.content))
    cell = next(c for c in book["党费交纳率（按支部）"]["B"] if c.value == "=1+1")
    assert cell.data_type == "s"
    one = county.get("/console/stats.xlsx", params={**params, "table": "by-gender"})
    assert list(_sheets(one.content)) == ["党员性别"]
    assert county.get("/console/stats.xlsx", params={"table": "nope"}).status_code == 404


def test_a_secretary_downloads_only_its_branch(server: Server, world: World) -> None:
    with closing(signed_in(server, world, "stat-sec-a")) as secretary:
        sheets = _sheets(secretary.get("/console/stats.xlsx").content)
        assert [row[0] for row in sheets["党费交纳率（按支部）"][4:]] == [world.ids["a"]]
        assert sum(row[1] for row in sheets["党员类别"][4:]) == 3
        outside = secretary.get("/console/stats.xlsx", params={"organisationId": world.ids["b"]})
        assert outside.status_code == 400
        page = secretary.get("/console/stats", params={"organisationId": world.ids["b"]})
        assert page.status_code == 400
        assert "=1+1" not in page.text


def test_bad_input_and_strangers(server: Server, county: httpx.Client) -> None:
    assert county.get("/console/stats", params={"from": "yesterday"}).status_code == 400
    assert county.get("/console/stats", params={"to": "1000-01-01"}).status_code == 400
    wrong = county.get("/console/stats", params={"from": "2026-05-01", "to": "2026-01-01"})
    assert wrong.status_code == 400
    for path in ("/console/stats", "/console/stats.xlsx"):
        stranger = httpx.get(server.url + path)
        assert stranger.status_code == 303
