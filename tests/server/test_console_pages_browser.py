"""The record pages in a real headless Chromium (Debian's ``chromium``, through Playwright's
``executable_path``), at a desktop width and at 375 px: log in, open the organisation tree, go
to a branch's members and open one, edit it, see the standard's rule message at the field it
concerns, fix it and save. Screenshots as in ``test_console_browser`` (``$TONGXIN_SCREENSHOT_DIR``
for ``docs/``); any request outside the hub fails the test.

Marked ``browser``: ``pytest -m "not browser"`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tongxin.server import open_hub
from tongxin.server._accounts import create_user

from .conftest import Backend, Server, make_backend, organisation, person, start_server
from .test_console_browser import (
    NEW_PASSWORD,
    WIDTHS,
    Visit,
    launch_chromium,
    pytestmark,  # noqa: F401 (the same markers: browser, skipped without Debian's chromium)
)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("sqlite", tmp_path_factory.mktemp("pages-browser"))


@pytest.fixture(scope="module")
def world(backend: Backend) -> Iterator[dict[str, Any]]:
    server = start_server(backend)
    members: list[dict[str, Any]] = []
    try:
        with server.client() as admin:
            root = organisation(name="示范县委")
            assert admin.post("/v1/organisations", json=root).status_code == 201
            branches = {}
            for name, count in (("第一党支部", 4), ("第二党支部", 3)):
                branch = organisation(root["id"], name=name)
                assert admin.post("/v1/organisations", json=branch).status_code == 201
                branches[name] = branch["id"]
                for n in range(count):
                    record = person(branch["id"], name=f"{'张王'[n % 2]}{name[1]}{n}号")
                    assert admin.post("/v1/members", json=record).status_code == 201
                    if name == "第一党支部":
                        members.append(record)
        hub = open_hub(backend.settings())
        try:
            password = create_user(hub.db, "county", root["id"], "organiser")
        finally:
            hub.close()
        yield {"server": server, "members": members, "password": password, "branches": branches}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    yield from launch_chromium()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_tree_member_and_an_edit_with_a_rule_message_at_its_field(
    chromium: Any, world: dict[str, Any], width: str, tmp_path: Path
) -> None:
    server: Server = world["server"]
    member = world["members"][0 if width == "desktop" else 1]
    visit = Visit(chromium, server, WIDTHS[width], tmp_path)
    try:
        password, world["password"] = world["password"], NEW_PASSWORD
        visit.login("county", password)
        page = visit.page
        page.click("a[href='/console/orgs']")
        page.wait_for_selector("#tree")
        branch = world["branches"]["第一党支部"]
        row = page.locator(f"#tree tr[data-id='{branch}']")
        assert row.get_attribute("data-direct") == "4"
        visit.shot(f"console-orgs-{width}")
        row.locator(".members-link").click()
        page.wait_for_selector("#results")
        page.click(f"#results tr[data-id='{member['id']}'] a")
        page.wait_for_selector("#member-name")
        assert page.inner_text("#member-name") == member["name"]
        visit.shot(f"console-member-{width}")
        page.click("#edit-member")
        page.wait_for_selector("#record-form")
        birth = member["birthDate"]
        page.fill("#in-joinedDate", f"{int(birth[:4]) + 12}{birth[4:]}")
        page.click("#save")
        page.wait_for_selector("#err-joinedDate")
        message = page.inner_text("#f-joinedDate #err-joinedDate")
        assert "未满十八周岁" in message
        assert page.get_attribute("#in-joinedDate", "aria-invalid") == "true"
        assert page.locator(".field-error").count() == 1
        page.locator("#f-joinedDate").scroll_into_view_if_needed()
        visit.shot(f"console-member-rule-{width}")
        page.fill("#in-joinedDate", member["joinedDate"])
        page.fill("#in-workUnit", "县行政审批局")
        page.click("#save")
        page.wait_for_selector("#saved")
        assert page.inner_text("[data-field='workUnit']") == "县行政审批局"
        assert page.inner_text("#version") == "2"
        assert visit.outside() == []
    finally:
        visit.context.close()
