"""The feedback channel (意见建议) over HTTP against a real hub: the public form and its receipt,
the secretary's answer and closing, bad input refused with a zh-CN page (never a 5xx), the
flood limit per address, a branch secretary who never sees another branch's feedback, and
nothing personal in what a parent hub can fetch."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tests import _logcheck
from tongxin.server import open_hub, rotate_data_key
from tongxin.server._feedback import feedback_table
from tongxin.server._tables import audit

from ._console_world import csrf, signed_in, two_branches
from .conftest import Backend, Server, feedback_item

FORM = "/console/feedback/to/{}"


def _receipt(html: str) -> str:
    found = re.search(r'id="receipt">([A-Z0-9-]+)<', html)
    assert found, html[:800]
    return found.group(1)


@dataclass
class World:
    server: Server
    backend: Backend
    ids: dict[str, str]
    staff: dict[str, httpx.Client]


@pytest.fixture(scope="module")
def world(server: Server, backend: Backend) -> Iterator[World]:
    console = two_branches(
        server,
        backend,
        {
            "sec-a": ("a", "secretary"),
            "sec-b": ("b", "secretary"),
            "county": ("root", "organiser"),
            "viewer": ("root", "viewer"),
        },
        root_name="示范县委",
        branches=(("a", "第a支部", 0), ("b", "第b支部", 0)),
    )
    staff = {user: signed_in(server, console, user) for user in console.passwords}
    try:
        yield World(server, backend, console.ids, staff)
    finally:
        for client in staff.values():
            client.close()


def _public(world: World) -> httpx.Client:
    """A resident's browser: no session, its own cookies."""
    return httpx.Client(base_url=world.server.url, timeout=60)


def _send(client: httpx.Client, org: str, **fields: str) -> httpx.Response:
    page = client.get(FORM.format(org))
    assert page.status_code == 200, page.text[:300]
    return client.post(FORM.format(org), data={"csrf": csrf(page.text), **fields})


def _look_up(client: httpx.Client, code: str) -> httpx.Response:
    page = client.get("/console/feedback/receipt")
    return client.post("/console/feedback/receipt", data={"csrf": csrf(page.text), "code": code})


def _item_id(world: World, marker: str) -> str:
    hub = open_hub(world.backend.settings())
    try:
        with hub.db.read() as conn:
            return str(
                conn.execute(
                    select(feedback_table.c.id).where(feedback_table.c.body.contains(marker))
                ).scalar_one()
            )
    finally:
        hub.close()


def _act(client: httpx.Client, item: str, verb: str, **fields: str) -> httpx.Response:
    page = client.get(f"/console/feedback/items/{item}")
    assert page.status_code == 200, page.text[:300]
    return client.post(
        f"/console/feedback/items/{item}/{verb}", data={"csrf": csrf(page.text), **fields}
    )


def _stats(world: World, org: str) -> dict[str, int]:
    with world.server.client() as admin:
        got = admin.get("/v1/stats", params={"organisationId": org})
    assert got.status_code == 200, got.text
    counts: dict[str, int] = got.json()["feedback"]
    return counts


def test_an_opinion_is_answered_closed_and_its_receipt_shows_the_answer(world: World) -> None:
    marker = f"路灯坏了{secrets.token_hex(3)}"
    phone = f"139{secrets.randbelow(10**8):08d}"
    _logcheck.remember(phone)
    before = _stats(world, world.ids["a"])
    with _public(world) as resident:
        sent = _send(resident, world.ids["a"], body=marker, name="张三", phone=phone)
        assert sent.status_code == 201, sent.text[:500]
        code = _receipt(sent.text)
        assert "第a支部" in sent.text
        waiting = _look_up(resident, code.lower().replace("-", " "))
        assert waiting.status_code == 200
        assert 'data-status="open"' in waiting.text
        assert marker in waiting.text
        assert phone not in waiting.text
        assert "张三" not in waiting.text
    item = _item_id(world, marker)
    secretary = world.staff["sec-a"]
    listed = secretary.get("/console/feedback?status=open")
    assert marker[:10] in listed.text
    assert item in listed.text
    shown = secretary.get(f"/console/feedback/items/{item}")
    assert phone in shown.text
    assert "张三" in shown.text
    answered = _act(secretary, item, "reply", reply="已报修，三天内修好。")
    assert answered.status_code == 200
    assert 'data-status="answered"' in answered.text
    closed = _act(secretary, item, "close")
    assert 'data-status="closed"' in closed.text
    assert 'id="reply-form"' not in closed.text
    with _public(world) as resident:
        done = _look_up(resident, code)
    assert 'data-status="closed"' in done.text
    assert "已报修，三天内修好。" in done.text
    after = _stats(world, world.ids["a"])
    assert after["received"] == before["received"] + 1
    assert after["answeredWithin7Days"] == before["answeredWithin7Days"] + 1
    assert after["open"] == before["open"]
    hub = open_hub(world.backend.settings())
    try:
        with hub.db.read() as conn:
            rows = conn.execute(
                select(audit.c.action, audit.c.token_id).where(audit.c.record_id == item)
            ).all()
    finally:
        hub.close()
    actions = [r.action for r in rows]
    assert [a for a in actions if a != "contact-read"] == ["received", "replied", "closed"]
    assert "contact-read" in actions  # each showing of the phone to the secretary
    assert rows[0].token_id is None  # the submitter is not named, not even by address
    assert {r.token_id for r in rows[1:]} == {"user:sec-a"}


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"body": "   "}, 400, "请填写意见建议内容"),
        ({"body": "好" * 2001}, 400, "内容过长"),
        ({"body": "意见", "phone": "call me"}, 400, "电话号码格式不正确"),
        ({"body": "意见", "name": "名" * 41}, 400, "姓名过长"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    world: World, fields: dict[str, str], status: int, message: str
) -> None:
    with _public(world) as resident:
        got = _send(resident, world.ids["a"], **fields)
    assert got.status_code == status
    assert message in got.text
    assert 'id="feedback-form"' in got.text


def test_a_huge_body_is_refused_before_it_is_read(world: World) -> None:
    with _public(world) as resident:
        page = resident.get(FORM.format(world.ids["a"]))
        body = b"csrf=" + csrf(page.text).encode() + b"&body=" + b"x" * (10 * 1024 * 1024)
        got = resident.post(
            FORM.format(world.ids["a"]),
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert got.status_code == 413
    assert "提交的内容过大" in got.text


def test_forms_without_a_token_or_of_another_kind_are_refused(world: World) -> None:
    with _public(world) as resident:
        no_token = resident.post(FORM.format(world.ids["a"]), data={"body": "意见"})
        assert no_token.status_code == 403
        assert "表单已过期" in no_token.text
        multipart = resident.post(FORM.format(world.ids["a"]), files={"body": ("a", b"x")})
        assert multipart.status_code == 415
        assert "表单格式不正确" in multipart.text
        unknown = resident.get(FORM.format("no-such-org"))
        assert unknown.status_code == 404
        assert "该组织不存在" in unknown.text
        svg = resident.get(FORM.format(world.ids["a"]) + "/qr.svg")
        assert svg.status_code == 200
        assert svg.headers["content-type"].startswith("image/svg")
        assert "<svg" in svg.text
        assert "<script" not in svg.text


def test_script_tags_are_shown_as_text(world: World) -> None:
    attack = f'<script>alert("{secrets.token_hex(3)}")</script><img src=x onerror=alert(1)>'
    with _public(world) as resident:
        sent = _send(resident, world.ids["a"], body=attack, name="<b>x</b>")
        assert sent.status_code == 201
        seen = _look_up(resident, _receipt(sent.text))
    item = _item_id(world, attack[:20])
    for html in (seen.text, world.staff["sec-a"].get(f"/console/feedback/items/{item}").text):
        assert attack not in html
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(" in html
    assert "<b>x</b>" not in world.staff["sec-a"].get(f"/console/feedback/items/{item}").text


def test_a_branch_secretary_never_sees_another_branchs_feedback(world: World) -> None:
    marker = f"仅限甲支部{secrets.token_hex(3)}"
    with _public(world) as resident:
        assert _send(resident, world.ids["a"], body=marker, phone="13800000000").status_code == 201
    item = _item_id(world, marker)
    other = world.staff["sec-b"]
    assert marker not in other.get("/console/feedback").text
    refused = other.get(f"/console/feedback/items/{item}")
    assert refused.status_code == 404
    assert "该意见建议不存在" in refused.text
    page = other.get("/console/feedback")
    tried = other.post(
        f"/console/feedback/items/{item}/reply", data={"csrf": csrf(page.text), "reply": "越权"}
    )
    assert tried.status_code == 404
    assert _stats(world, world.ids["b"])["received"] == 0
    viewer = world.staff["viewer"].get(f"/console/feedback/items/{item}")
    assert viewer.status_code == 403
    assert "您的角色不能查看意见建议" in viewer.text
    county = world.staff["county"].get(f"/console/feedback/items/{item}")
    assert county.status_code == 200
    assert marker in county.text
    with httpx.Client(base_url=world.server.url, timeout=60) as stranger:
        anonymous = stranger.get(f"/console/feedback/items/{item}")
    assert anonymous.status_code == 303
    assert "/console/login" in anonymous.headers["location"]


def test_nothing_personal_reaches_what_a_parent_can_fetch(world: World) -> None:
    """Feedback is not a record: not in the change feed, not in the audit log's fields; the
    statistics are counts; name and phone are sealed in the database."""
    marker, phone = f"隐私检查{secrets.token_hex(3)}", f"137{secrets.randbelow(10**8):08d}"
    _logcheck.remember(phone)
    with _public(world) as resident:
        sent = _send(resident, world.ids["a"], body=marker, name="李四私名", phone=phone)
        assert sent.status_code == 201
    with world.server.client() as admin:
        fetched = [
            admin.get("/v1/changes", params={"limit": 1000}).text,
            admin.get("/v1/stats").text,
            admin.get("/v1/audit", params={"limit": 1000}).text,
        ]
    for text in fetched:
        assert marker not in text
        assert phone not in text
        assert "李四私名" not in text
    counts = _stats(world, world.ids["root"])
    assert set(counts) == {"from", "to", "received", "answeredWithin7Days", "open"}
    hub = open_hub(world.backend.settings())
    try:
        with hub.db.read() as conn:
            row = conn.execute(select(feedback_table).where(feedback_table.c.body == marker)).one()
    finally:
        hub.close()
    assert phone.encode() not in bytes(row.contact_sealed)
    assert "李四私名".encode() not in bytes(row.contact_sealed)


def _stored(world: World, created: datetime, replied_after: timedelta | None) -> None:
    """An item of branch a received at ``created`` (UTC), answered ``replied_after`` later."""
    hub = open_hub(world.backend.settings())
    try:
        feedback_item(hub, world.ids["a"], created, replied_after)
    finally:
        hub.close()


def test_the_counts_follow_china_standard_time_days_and_the_7_day_answer(world: World) -> None:
    evening = datetime(2020, 3, 1, 17, 0, tzinfo=UTC)  # 2 March, 01:00 in Beijing
    _stored(world, evening, timedelta(days=2))
    _stored(world, evening, timedelta(days=8))
    _stored(world, evening, None)
    with world.server.client() as admin:
        march_2 = admin.get(
            "/v1/stats",
            params={"organisationId": world.ids["a"], "from": "2020-03-02", "to": "2020-03-02"},
        ).json()["feedback"]
        march_1 = admin.get(
            "/v1/stats",
            params={"organisationId": world.ids["a"], "from": "2020-03-01", "to": "2020-03-01"},
        ).json()["feedback"]
    assert march_2 == {
        "from": "2020-03-02",
        "to": "2020-03-02",
        "received": 3,
        "answeredWithin7Days": 1,
        "open": 1,
    }
    assert march_1["received"] == 0


def test_a_form_with_too_many_fields_is_refused(world: World) -> None:
    with _public(world) as resident:
        page = resident.get(FORM.format(world.ids["a"]))
        fields = {"csrf": csrf(page.text), "body": "意见", **{f"x{n}": "1" for n in range(30)}}
        got = resident.post(FORM.format(world.ids["a"]), data=fields)
    assert got.status_code == 400
    assert "表单格式不正确" in got.text


def test_a_data_key_rotation_reseals_the_contact(world: World) -> None:
    marker, phone = f"轮换密钥{secrets.token_hex(3)}", f"136{secrets.randbelow(10**8):08d}"
    _logcheck.remember(phone)
    with _public(world) as resident:
        assert _send(resident, world.ids["a"], body=marker, phone=phone).status_code == 201
    item = _item_id(world, marker)
    result = rotate_data_key(world.backend.settings(), settle_seconds=0)
    assert result.resealed >= 1
    hub = open_hub(world.backend.settings())
    try:
        with hub.db.read() as conn:
            blob = conn.execute(
                select(feedback_table.c.contact_sealed).where(feedback_table.c.id == item)
            ).scalar_one()
        assert hub.cipher.sealed_with_current(bytes(blob))
    finally:
        hub.close()
    assert phone in world.staff["sec-a"].get(f"/console/feedback/items/{item}").text


def test_a_wrong_receipt_code_reveals_nothing_and_look_ups_are_limited(world: World) -> None:
    with _public(world) as resident:
        malformed = _look_up(resident, "not a code")
        unknown = _look_up(resident, "2345-6789-ABCD-EFGH")
        assert malformed.status_code == unknown.status_code == 404
        assert malformed.text.replace("not a code", "") == unknown.text.replace(
            "2345-6789-ABCD-EFGH", ""
        )
        assert "未找到该回执码" in unknown.text
        statuses = [_look_up(resident, "2345-6789-ABCD-EFGH").status_code for _ in range(40)]
    assert 429 in statuses
    assert statuses.index(429) < 30
    assert 500 not in statuses


def test_a_flood_from_one_address_is_refused(world: World) -> None:
    """Last in the module: it uses up this address's allowance."""
    with _public(world) as resident:
        statuses = [_send(resident, world.ids["b"], body=f"刷屏{n}").status_code for n in range(25)]
        refused = _send(resident, world.ids["b"], body="再来一条")
    assert statuses.count(201) < 20
    assert statuses[-1] == 429
    assert refused.status_code == 429
    assert "提交过于频繁" in refused.text
    assert all(s < 500 for s in statuses)
