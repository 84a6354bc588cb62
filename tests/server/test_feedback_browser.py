"""The feedback channel (意见建议) in a real headless Chromium at phone width (375 px): a resident
sends an opinion (with a script tag in it, which must stay text) from the public form, the
branch secretary answers and closes it in the console, the receipt code shows the answer, and
the dashboard counts it like ``GET /v1/stats``. Screenshots as in ``test_console_browser``
(``$TONGXIN_SCREENSHOT_DIR`` for ``docs/``). Any request outside the hub fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tongxin.server import create_token, open_hub
from tongxin.server._accounts import create_user

from .conftest import Backend, make_backend, organisation, start_server
from .test_console_browser import (
    WIDTHS,
    Visit,
    launch_chromium,
    pytestmark,  # noqa: F401 (the same markers: browser, skipped without Debian's chromium)
)

OPINION = "小区东门路灯坏了一周，晚上出行不便。<script>alert('x')</script>"
ANSWER = "已联系物业报修，本周五前修好。"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("sqlite", tmp_path_factory.mktemp("feedback-browser"))


@pytest.fixture(scope="module")
def world(backend: Backend) -> Iterator[dict[str, Any]]:
    server = start_server(backend)
    try:
        with server.client() as admin:
            root = organisation(name="示范社区党委")
            branch = organisation(root["id"], name="第一网格党支部")
            for record in (root, branch):
                assert admin.post("/v1/organisations", json=record).status_code == 201
        hub = open_hub(backend.settings())
        try:
            password = create_user(hub.db, "sec-grid", branch["id"], "secretary")
            token = create_token(hub.db, ["records:read"], organisation_id=branch["id"])
        finally:
            hub.close()
        yield {"server": server, "branch": branch["id"], "password": password, "token": token}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def test_feedback_sent_answered_closed_and_counted_on_a_phone(
    browser: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    server = world["server"]
    resident = Visit(browser, server, WIDTHS["phone"], tmp_path)
    secretary = Visit(browser, server, WIDTHS["phone"], tmp_path)
    dialogs: list[str] = []
    for visit in (resident, secretary):
        visit.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page = resident.page
        page.goto(f"{server.url}/console/feedback/to/{world['branch']}")
        assert "第一网格党支部" in page.inner_text("#form-title")
        page.fill("#fb-body", OPINION)
        page.check("#fb-anonymous")
        page.fill("#fb-phone", "13912345678")
        resident.shot("feedback-form-phone")
        page.click("#fb-send")
        code = page.inner_text("#receipt").strip()
        assert len(code) == 19
        resident.shot("feedback-receipt-code-phone")

        secretary.login("sec-grid", world["password"])
        staff = secretary.page
        staff.goto(server.url + "/console/feedback")
        assert staff.get_attribute("#fb-counts", "data-open") == "1"
        staff.wait_for_function("document.querySelector('#share-qr').complete")
        assert staff.evaluate("document.querySelector('#share-qr').naturalWidth") > 0
        secretary.shot("feedback-list-phone")
        staff.click("#fb-items a")
        assert staff.inner_text("#fb-text") == OPINION  # the script tag is text
        assert staff.inner_text("#fb-phone-shown") == "13912345678"
        staff.fill("#fb-reply", ANSWER)
        staff.click("#fb-save")
        assert staff.get_attribute("#fb-item", "data-status") == "answered"
        secretary.shot("feedback-answer-phone")
        staff.click("#fb-close")
        assert staff.get_attribute("#fb-item", "data-status") == "closed"

        page.goto(server.url + "/console/feedback/receipt")
        page.fill("#rc-code", code)
        page.click("#rc-look")
        assert page.get_attribute("#rc-status", "data-status") == "closed"
        assert page.inner_text("#rc-reply") == ANSWER
        resident.shot("feedback-receipt-answer-phone")

        with server.client(world["token"]) as api:
            counts = api.get("/v1/stats").json()["feedback"]
        assert counts["received"] == 1
        assert counts["answeredWithin7Days"] == 1
        assert counts["open"] == 0
        staff.goto(server.url + "/console/")
        for key, value in counts.items():
            if key not in ("from", "to"):
                assert staff.inner_text(f"[data-key='feedback.{key}']") == str(value)
        width = staff.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1, width
        assert dialogs == []
        assert resident.outside() == []
        assert secretary.outside() == []
    finally:
        resident.context.close()
        secretary.context.close()
