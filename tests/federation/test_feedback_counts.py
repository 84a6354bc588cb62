"""Two hub processes on loopback, a city (parent) and a county (child): feedback (意见建议)
sent to the county travels to the city as counts only, and a meeting whose attendance the
county's secretary recorded from the console reaches the city with the next sync
(``spec/federation.md`` §4.6)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import _logcheck
from tests.federation._network import Node, seed
from tests.server._console_world import csrf, sign_in
from tongxin.federation import CHINA, KeyStore, SigningAuth

COUNTS = "/v1/federation/feedback-counts"


@dataclass
class World:
    city: Node
    county: Node
    org: str
    members: list[str]
    secretary: httpx.Client
    #: Everything personal or textual planted at the county: none of it may reach the city.
    planted: list[str] = field(default_factory=list)


def _secretary(county: Node, org: str) -> httpx.Client:
    password = county.cli(
        "user", "create", "sec-county", "--organisation", org, "--role", "secretary"
    ).stdout.strip()
    return sign_in(county.url, "sec-county", password)[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fbnet")
    city, county = Node("cd-city", root / "city"), Node("cd-wuhou", root / "wuhou")
    prints = {"city": city.init(), "county": county.init()}
    city.start()
    county.start()
    try:
        city.cli(
            "peer", "add", county.url, "--relation", "child", "--fingerprint", prints["county"]
        )
        county.cli("peer", "add", city.url, "--relation", "parent", "--fingerprint", prints["city"])
        org, members = seed(county, 3, 7000)
        secretary = _secretary(county, org)
        try:
            yield World(city, county, org, members, secretary)
        finally:
            secretary.close()
    finally:
        city.stop()
        county.stop()


def _send(world: World, body: str, **fields: str) -> str:
    """A resident sends an opinion to the county's branch; its receipt code."""
    form = f"/console/feedback/to/{world.org}"
    with httpx.Client(base_url=world.county.url, timeout=60) as resident:
        page = resident.get(form)
        assert page.status_code == 200, page.text[:300]
        sent = resident.post(form, data={"csrf": csrf(page.text), "body": body, **fields})
    assert sent.status_code == 201, sent.text[:500]
    found = re.search(r'id="receipt">([A-Z0-9-]+)<', sent.text)
    assert found, sent.text[:800]
    return found.group(1)


def _reply(world: World, body: str, reply: str) -> None:
    ((item,),) = world.county._read("SELECT id FROM console_feedback WHERE body = ?", body)
    path = f"/console/feedback/items/{item}"
    page = world.secretary.get(path)
    assert page.status_code == 200, page.text[:300]
    done = world.secretary.post(path + "/reply", data={"csrf": csrf(page.text), "reply": reply})
    assert 'data-status="answered"' in done.text


def _record_attendance(world: World) -> str:
    """The county's secretary opens a meeting and taps who was there; the meeting's id."""
    now = datetime.now(CHINA)
    form = world.secretary.get("/console/meetings/new")
    made = world.secretary.post(
        "/console/meetings/new",
        data={
            "csrf": csrf(form.text),
            "organisationId": world.org,
            "type": "general-meeting",
            "topic": "学习贯彻党章",
            "startTime": now.strftime("%Y-%m-%dT%H:%M"),
            "endTime": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "location": "党员活动室",
        },
    )
    found = re.search(r"/console/meetings/([^/?]+)$", str(made.url))
    assert made.status_code == 200, made.text[:500]
    assert found, made.url
    meeting = found.group(1)
    page = world.secretary.get(f"/console/meetings/{meeting}")
    m0, m1, m2 = world.members
    saved = world.secretary.post(
        f"/console/meetings/{meeting}",
        data={
            "csrf": csrf(page.text),
            "version": "1",
            f"status:{m0}": "present",
            f"status:{m1}": "excused",
            f"reason:{m1}": "出差",
            f"status:{m2}": "absent",
        },
    )
    assert saved.status_code == 200, saved.text[:500]
    assert "出席情况已保存" in saved.text
    return meeting


def _feedback(node: Node, **params: str) -> dict[str, Any]:
    with node.api() as api:
        got = api.get("/v1/stats", params=params)
    assert got.status_code == 200, got.text
    block: dict[str, Any] = got.json()["feedback"]
    return block


def _sync(world: World) -> None:
    done = world.city.cli("sync", "--once")
    assert "cd-wuhou: ok" in done.stderr, done.stderr


def test_counts_and_the_meeting_reach_the_parent_and_nothing_personal_does(
    world: World,
) -> None:
    tag = secrets.token_hex(3)
    bodies = [f"路灯坏了{tag}", f"垃圾清运{tag}", f"停车难{tag}"]
    names = [f"张{tag}", f"王{tag}"]
    phones = [f"139{secrets.randbelow(10**8):08d}", f"137{secrets.randbelow(10**8):08d}"]
    reply = f"已报修，三天内修好{tag}"
    for phone in phones:
        _logcheck.remember(phone)
    receipts = [
        _send(world, bodies[0], name=names[0], phone=phones[0]),
        _send(world, bodies[1], name=names[1], phone=phones[1]),
        _send(world, bodies[2], anonymous="1"),
    ]
    _reply(world, bodies[0], reply)
    meeting = _record_attendance(world)
    at_county = _feedback(world.county)
    assert (at_county["received"], at_county["answeredWithin7Days"], at_county["open"]) == (3, 1, 2)
    before = _feedback(world.city)
    assert (before["received"], before["answeredWithin7Days"], before["open"]) == (0, 0, 0)

    _sync(world)
    after = _feedback(world.city)
    assert {k: after[k] for k in ("received", "answeredWithin7Days", "open")} == {
        "received": 3,
        "answeredWithin7Days": 1,
        "open": 2,
    }
    # the county's branch as the organisation asked about: its replica lies in the city's tree
    assert _feedback(world.city, organisationId=world.org)["received"] == 3
    yesterday = (datetime.now(CHINA) - timedelta(days=1)).date().isoformat()
    assert _feedback(world.city, to=yesterday)["received"] == 0
    rows = world.city._read("SELECT peer_hub, organisation_id, received FROM peer_feedback_counts")
    assert rows == [("cd-wuhou", world.org, 3)]

    # the meeting with its attendance, recorded on the county's phone pages, is at the city
    with world.city.api() as api:
        got = api.get(f"/v1/activities/{meeting}")
    assert got.status_code == 200, got.text
    m0, m1, m2 = world.members
    attendance = {e["memberId"]: e["status"] for e in got.json()["attendance"]}
    assert attendance == {m0: "present", m1: "excused", m2: "absent"}

    # a second pull replaces, never adds
    _sync(world)
    assert _feedback(world.city)["received"] == 3
    assert len(world.city._read("SELECT * FROM peer_feedback_counts")) == 1

    planted = [*bodies, *names, *phones, reply, *receipts, *(r.replace("-", "") for r in receipts)]
    with world.city.api() as api:
        answers = [
            api.get("/v1/stats").text,
            api.get("/v1/changes", params={"limit": 1000, "include": "sensitive"}).text,
            api.get("/v1/audit", params={"limit": 1000}).text,
            api.get("/v1/peers").text,
        ]
    for text in answers:
        for secret in planted:
            assert secret not in text
    stored = b"".join(p.read_bytes() for p in Path(world.city.workdir).glob("hub.db*"))
    assert stored, "the city's database files"
    for secret in planted:
        assert secret.encode() not in stored, secret
    # the county's own database keeps the items (the search above would find them)
    county_db = b"".join(p.read_bytes() for p in Path(world.county.workdir).glob("hub.db*"))
    assert bodies[0].encode() in county_db


def test_only_the_parent_may_fetch_the_counts(world: World) -> None:
    county, city = world.county, world.city

    def refused(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return str(response.json()["code"])

    # nobody, a token holder, a hub that is no peer: the answers the feed gives a signature
    plain = httpx.get(county.url + COUNTS, headers={"Signature-Input": "tongxin=()"})
    assert refused(plain, 401) == "signature-missing"
    feed = httpx.get(county.url + "/v1/changes", headers={"Signature-Input": "tongxin=()"})
    assert refused(feed, 401) == "signature-missing"
    assert httpx.get(county.url + COUNTS).status_code == 401
    with county.api() as api:
        assert api.get(COUNTS).status_code == 401  # a token is no signature
    stranger = KeyStore.create(city.workdir / "stranger.keys.json", "sc-stranger")
    with httpx.Client(auth=SigningAuth(stranger.signer())) as client:
        assert refused(client.get(county.url + COUNTS), 401) == "unknown-key"
        assert refused(client.get(county.url + "/v1/changes"), 401) == "unknown-key"
    # the county is the city's child: it may not fetch the city's counts (nor its feed)
    child = KeyStore.load(county.workdir / "hub.keys.json").signer()
    with httpx.Client(auth=SigningAuth(child)) as client:
        response = client.get(city.url + COUNTS)
        assert refused(response, 403) == "relation-not-allowed"
        assert response.json()["relation"] == "child"
    # the parent gets integers only
    parent = KeyStore.load(city.workdir / "hub.keys.json").signer()
    with httpx.Client(auth=SigningAuth(parent)) as client:
        document = client.get(county.url + COUNTS).json()
    assert document["format"] == "tongxin-feedback-counts/1"
    for item in document["items"]:
        assert set(item) == {"organisationId", "day", "received", "answeredWithin7Days", "open"}
        assert all(type(item[k]) is int for k in ("received", "answeredWithin7Days", "open"))
