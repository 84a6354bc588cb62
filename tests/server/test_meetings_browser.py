"""Meetings in a real headless Chromium at phone width (375 px): a secretary records a meeting's
attendance by tapping; a member opens the QR code's link (read from the page), checks in with
the last four digits of their phone and is confirmed, then four more check in and one tap
confirms them all; an expired link and wrong digits are refused. Screenshots go where the
console's browser tests put theirs (``$TONGXIN_SCREENSHOT_DIR`` for ``docs/img``). Any request
to a URL outside the hub fails the test."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tongxin.server import create_token, open_hub
from tongxin.server._accounts import create_user
from tongxin.server._checkins import Meeting, sign_link

from .conftest import Backend, Server, make_backend, organisation, person, start_server
from .test_console_browser import WIDTHS, Visit, launch_chromium, pytestmark

__all__ = ["pytestmark"]


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("sqlite", tmp_path_factory.mktemp("meetings-browser"))


@pytest.fixture(scope="module")
def world(backend: Backend) -> Iterator[dict[str, Any]]:
    server = start_server(backend)
    try:
        members: list[dict[str, Any]] = []
        with server.client() as admin:
            root = organisation(name="示范县委")
            branch = organisation(root["id"], name="第一党支部")
            for record in (root, branch):
                assert admin.post("/v1/organisations", json=record).status_code == 201
            for _ in range(5):
                member = person(branch["id"], status="normal")
                assert admin.post("/v1/members", json=member).status_code == 201
                members.append(member)
        hub = open_hub(backend.settings())
        try:
            password = create_user(hub.db, "sec", branch["id"], "secretary")
            token = create_token(hub.db, ["records:read"], organisation_id=branch["id"])
        finally:
            hub.close()
        yield {"server": server, "members": members, "password": password, "token": token}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def _attendance(world: dict[str, Any], meeting_id: str) -> dict[str, str]:
    server: Server = world["server"]
    with server.client(world["token"]) as api:
        stored = api.get(f"/v1/activities/{meeting_id}").json()
    return {e["memberId"]: e["status"] for e in stored["attendance"]}


def test_a_secretary_records_attendance_and_a_member_checks_in(
    browser: Any, world: dict[str, Any], backend: Backend, tmp_path: Path
) -> None:
    server: Server = world["server"]
    members: list[dict[str, Any]] = world["members"]
    visit = Visit(browser, server, WIDTHS["phone"], tmp_path)
    member_phone = Visit(browser, server, WIDTHS["phone"], tmp_path)
    try:
        visit.login("sec", world["password"])
        page = visit.page
        began = time.monotonic()
        page.click("a[href='/console/meetings']")
        page.click("#new-meeting")
        page.select_option("#m-type", "general-meeting")
        page.fill("#m-topic", "学习贯彻党章")
        page.fill("#m-location", "党员活动室")
        visit.shot("meeting-new-phone")
        page.click("#m-create")
        page.wait_for_selector("#attendance-form")
        meeting_id = page.url.rsplit("/", 1)[1]
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll

        # Tap: everyone present, then one excused with a reason, one absent.
        page.click("#all-present")
        first, second = members[0]["id"], members[1]["id"]
        page.click(f"li[data-id='{first}'] .mt-excused span")
        page.fill(f"input[name='reason:{first}']", "出差")
        page.click(f"li[data-id='{second}'] .mt-absent span")
        visit.shot("meeting-attendance-phone")
        page.click("#save-attendance")
        page.wait_for_selector("#notice")
        assert time.monotonic() - began < 60  # a meeting recorded by tapping, within a minute
        assert "出席情况已保存" in page.inner_text("#notice")
        assert "出席 3 人，缺席 1 人，请假 1 人" in page.inner_text("#counts")
        recorded = _attendance(world, meeting_id)
        assert recorded[first] == "excused"
        assert recorded[second] == "absent"
        assert sorted(recorded.values()).count("present") == 3

        # The QR code, and the link beside it that the phone would read from it.
        page.click("#show-qr")
        page.wait_for_selector("#qr svg")
        visit.shot("meeting-qr-phone")
        link = page.get_attribute("#checkin-link", "href") or ""
        assert link.startswith(server.url + "/console/checkin/")

        # A member (of the absent) checks in: wrong digits first, then the right ones.
        phone = member_phone.page
        phone.goto(link)
        phone.select_option("#c-member", second)
        wrong = "0000" if not members[1]["phone"].endswith("0000") else "1111"
        phone.fill("#c-digits", wrong)
        phone.click("#c-submit")
        phone.wait_for_selector("#error")
        assert "后四位不正确" in phone.inner_text("#error")
        member_phone.shot("checkin-wrong-digits-phone")
        phone.select_option("#c-member", second)
        phone.fill("#c-digits", members[1]["phone"][-4:])
        member_phone.shot("checkin-phone")
        phone.click("#c-submit")
        phone.wait_for_selector("#done")
        assert "已签到，待书记确认" in phone.inner_text("#done")
        member_phone.shot("checkin-done-phone")

        # The secretary sees it waiting, and confirms it.
        page.goto(f"{server.url}/console/meetings/{meeting_id}")
        badge = page.inner_text(f"li[data-id='{second}'] .mt-badge")
        assert badge == "已签到，待确认"
        visit.shot("meeting-pending-phone")
        page.click(f"li[data-id='{second}'] .mt-confirm")
        page.wait_for_selector(f"li[data-id='{second}'] [data-state='confirmed']")
        assert _attendance(world, meeting_id)[second] == "present"

        # The four others check in from their phones too; one tap confirms them all.
        for other in (m for m in members if m["id"] != second):
            with httpx.Client(timeout=60) as other_phone:
                form = other_phone.get(link).text
                csrf = re.search(r'name="csrf" value="([^"]+)"', form)
                assert csrf
                done = other_phone.post(
                    link,
                    data={
                        "csrf": csrf.group(1),
                        "member": other["id"],
                        "digits": other["phone"][-4:],
                    },
                )
                assert "已签到，待书记确认" in done.text
        page.reload()
        assert page.inner_text("#confirm-form").startswith("已签到，待确认：4")
        page.click("#confirm-all")
        page.wait_for_selector("#attendance-form")
        assert len(page.query_selector_all("[data-state='confirmed']")) == 5
        assert set(_attendance(world, meeting_id).values()) == {"present"}

        # An expired link (a meeting of last year) is refused.
        hub = open_hub(backend.settings())
        try:
            old = Meeting(
                {"id": meeting_id, "startTime": "2025-06-01T09:00:00+08:00", "endTime": None}, 1
            )
            expired = f"{server.url}/console/checkin/{sign_link(hub, old)}"
        finally:
            hub.close()
        phone.goto(expired)
        assert "签到已结束" in phone.inner_text("#error")
        assert phone.query_selector("#checkin-form") is None
        member_phone.shot("checkin-expired-phone")
        assert visit.outside() == []
        assert member_phone.outside() == []
    finally:
        visit.context.close()
        member_phone.context.close()
