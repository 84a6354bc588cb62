"""The console in a real headless Chromium (Debian's ``chromium`` package, driven by Playwright
through ``executable_path``; never a browser download): log in, search, open the dashboard and
compare every number on it with ``GET /v1/stats``, at a desktop width and at 375 px. Screenshots
go to the test's tmp dir (and to ``$TONGXIN_SCREENSHOT_DIR`` when set, for ``docs/``). Any
request to a URL outside the hub fails the test.

Marked ``browser``: ``pytest -m "not browser"`` leaves them out.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tongxin.server import create_token, open_hub
from tongxin.server._accounts import create_user

from .conftest import Backend, Server, make_backend, organisation, person, start_server

CHROMIUM = Path("/usr/bin/chromium")
NEW_PASSWORD = "a long new password"
WIDTHS = {"desktop": (1280, 900), "phone": (375, 800)}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (apt-get install chromium fonts-noto-cjk)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """One backend is enough here: the numbers are checked on both in test_stats."""
    yield from make_backend("sqlite", tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def world(backend: Backend) -> Iterator[dict[str, Any]]:
    server = start_server(backend)
    ids: dict[str, str] = {}
    names: dict[str, str] = {}
    try:
        with server.client() as admin:
            root = organisation(name="示范县委")
            assert admin.post("/v1/organisations", json=root).status_code == 201
            ids["root"] = root["id"]
            for key, count in (("a", 5), ("b", 2)):
                branch = organisation(root["id"], name=f"第{key}支部")
                assert admin.post("/v1/organisations", json=branch).status_code == 201
                ids[key] = branch["id"]
                for n in range(count):
                    record = person(branch["id"], education="31" if n % 2 else "21")
                    if key == "b" and n == 0:
                        record["name"] = "欧阳明远"  # a name no member of branch a has
                    assert admin.post("/v1/members", json=record).status_code == 201
                    names.setdefault(key, record["name"])
        hub = open_hub(backend.settings())
        try:
            passwords = {
                "county": create_user(hub.db, "county", ids["root"], "organiser"),
                "sec-a": create_user(hub.db, "sec-a", ids["a"], "secretary"),
            }
            tokens = {
                "county": create_token(hub.db, ["records:read"], organisation_id=ids["root"]),
                "sec-a": create_token(hub.db, ["records:read"], organisation_id=ids["a"]),
            }
        finally:
            hub.close()
        yield {
            "server": server,
            "ids": ids,
            "names": names,
            "passwords": passwords,
            "tokens": tokens,
        }
    finally:
        server.stop()


def launch_chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright, for a module-scoped fixture to ``yield from``."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


class Visit:
    """A browser context at one width that records every URL its pages request."""

    def __init__(self, browser: Any, server: Server, size: tuple[int, int], shots: Path) -> None:
        self.server = server
        self.context = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, locale="zh-CN"
        )
        self.page = self.context.new_page()
        self.requested: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.shots = shots

    def outside(self) -> list[str]:
        own = self.server.url + "/"
        return [u for u in self.requested if not u.startswith((own, "data:", "blob:", "about:"))]

    def login(self, username: str, password: str) -> None:
        page = self.page
        page.goto(self.server.url + "/console/")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#submit")
        page.wait_for_load_state()
        if page.url.endswith("/console/password"):
            page.fill("#old", password)
            page.fill("#new", NEW_PASSWORD)
            page.click("#save")
            page.wait_for_load_state()
        assert page.url == self.server.url + "/console/", page.url

    def shot(self, name: str) -> None:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        copy_to = os.environ.get("TONGXIN_SCREENSHOT_DIR")
        if copy_to:
            Path(copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(copy_to) / path.name)


def _value(stats: dict[str, Any], key: str) -> int:
    here: Any = stats
    for part in key.split("."):
        if isinstance(here, list):
            code = None if part == "none" else part
            here = next(item["count"] for item in here if item["code"] == code)
        else:
            here = here[part]
    return int(here)


def _password(world: dict[str, Any], username: str) -> str:
    password: str = world["passwords"][username]
    world["passwords"][username] = NEW_PASSWORD  # the first login replaces it
    return password


@pytest.mark.parametrize("width", list(WIDTHS))
def test_login_search_and_a_dashboard_that_matches_the_api(
    browser: Any, world: dict[str, Any], width: str, tmp_path: Path
) -> None:
    server: Server = world["server"]
    visit = Visit(browser, server, WIDTHS[width], tmp_path)
    try:
        visit.login("county", _password(world, "county"))
        page = visit.page
        page.wait_for_selector(".chart[data-ready='true'] canvas")
        visit.shot(f"console-dashboard-{width}")
        with server.client(world["tokens"]["county"]) as api:
            stats = api.get("/v1/stats").json()
        shown = page.eval_on_selector_all(
            "[data-key]", "els => els.map(e => [e.dataset.key, e.textContent.trim()])"
        )
        assert len(shown) > 10
        for key, text in shown:
            assert int(text) == _value(stats, key), key
        page.click("a[href='/console/members']")
        page.fill("#q-name", world["names"]["b"])
        page.click("#q-submit")
        page.wait_for_selector("#total")
        assert int(page.get_attribute("#total", "data-total") or -1) >= 1
        assert world["names"]["b"] in page.inner_text("#results")
        visit.shot(f"console-members-{width}")
        assert visit.outside() == []
    finally:
        visit.context.close()


def test_a_secretary_sees_only_the_branch_in_the_browser(
    browser: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    server: Server = world["server"]
    visit = Visit(browser, server, WIDTHS["phone"], tmp_path)
    try:
        visit.login("sec-a", _password(world, "sec-a"))
        page = visit.page
        with server.client(world["tokens"]["sec-a"]) as api:
            stats = api.get("/v1/stats").json()
        assert page.inner_text("[data-key='members.total']") == str(stats["members"]["total"])
        assert stats["members"]["total"] == 5
        page.goto(server.url + "/console/members")
        page.fill("#q-name", world["names"]["b"])
        page.click("#q-submit")
        page.wait_for_selector("#total")
        assert page.get_attribute("#total", "data-total") == "0"
        visit.shot("console-secretary-phone")
        assert visit.outside() == []
    finally:
        visit.context.close()
