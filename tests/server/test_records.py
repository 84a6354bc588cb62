"""Records over HTTP against a live hub: create, read, replace, delete, list, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tongxin.server import Hub
from tongxin.server._tables import records

from .conftest import Server, organisation, person, uid


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail", "errors"} <= set(body)
    for error in body["errors"]:
        assert {"pointer", "rule", "message"} <= set(error)
        assert set(error["message"]) == {"zh-CN", "en"}
    return body


def test_discovery_docs_and_openapi(server: Server) -> None:
    doc = httpx.get(server.url + "/.well-known/tongxin").json()
    assert doc["hub"]["id"] == "test-hub"
    assert doc["schemaVersions"] == ["1.0", "1.1"]
    assert doc["feeds"]["changes"]["tombstoneRetentionDays"] == 90
    assert {"maxBulkLines", "pageSize"} <= set(doc["limits"])
    assert httpx.get(server.url + "/docs").status_code == 200
    assert "/v1/members/{id}" in httpx.get(server.url + "/openapi.json").json()["paths"]


def test_create_read_replace_delete(api: httpx.Client, tree: dict[str, str]) -> None:
    record = person(tree["a"])
    created = api.post("/v1/members", json=record)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/members/{record['id']}"
    got = api.get(f"/v1/members/{record['id']}")
    assert got.json()["version"] == 1
    assert got.json()["name"] == record["name"]
    changed = {**record, "workUnit": "新单位"}
    url = f"/v1/members/{record['id']}"
    assert_problem(api.put(url, json=changed), 428, "if-match-required")
    stale = assert_problem(
        api.put(url, json=changed, headers={"If-Match": '"7"'}), 412, "version-mismatch"
    )
    assert stale["currentVersion"] == 1
    replaced = api.put(url, json=changed, headers={"If-Match": '"1"'})
    assert replaced.status_code == 200
    assert replaced.headers["etag"] == '"2"'
    assert replaced.json()["workUnit"] == "新单位"
    same = api.put(url, json=changed, headers={"If-Match": '"2"'})
    assert same.status_code == 200
    assert same.headers["etag"] == '"2"', "an identical replace is not a new version"
    assert_problem(api.delete(url), 428, "if-match-required")
    assert api.delete(url, headers={"If-Match": '"2"'}).status_code == 204
    assert_problem(api.get(url), 410, "deleted")


def test_identical_create_is_idempotent_and_different_one_conflicts(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    record = person(tree["a"])
    assert api.post("/v1/members", json=record).status_code == 201
    assert api.post("/v1/members", json=record).status_code == 200
    body = assert_problem(
        api.post("/v1/members", json={**record, "name": "别人"}), 409, "already-exists"
    )
    assert body["errors"][0]["rule"] == "UNQ-002"


def test_meeting_with_attendance_and_dues(api: httpx.Client, tree: dict[str, str]) -> None:
    people = [person(tree["b"]) for _ in range(4)]
    for p in people:
        assert api.post("/v1/members", json=p).status_code == 201
    meeting = {
        "id": uid("a"),
        "organisationId": tree["b"],
        "type": "general-meeting",
        "startTime": "2025-12-10T14:30:00+08:00",
        "endTime": "2025-12-10T16:30:00+08:00",
        "topic": "学习贯彻会议精神",
        "attendance": [{"memberId": p["id"], "status": "present"} for p in people],
    }
    assert api.post("/v1/activities", json=meeting).status_code == 201
    dues = {
        "id": uid("d"),
        "memberId": people[0]["id"],
        "period": "2025-12",
        "memberClass": "salaried",
        "base": "4000.00",
        "amount": "40.00",
        "paidDate": "2025-12-20",
    }
    assert api.post("/v1/duesPayments", json=dues).status_code == 201
    bad = {**meeting, "id": uid("a"), "attendance": [{"memberId": uid("m"), "status": "present"}]}
    body = assert_problem(api.post("/v1/activities", json=bad), 422, "unresolved-reference")
    assert body["errors"][0]["pointer"] == "/attendance/0/memberId"


def test_invalid_record_names_field_rule_and_both_languages(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    record = person(tree["a"], citizenId="110101199003070000")
    body = assert_problem(api.post("/v1/members", json=record), 422, "invalid-record")
    [error] = [e for e in body["errors"] if e["pointer"] == "/citizenId"]
    assert error["rule"] == "MBR-001"
    assert error["message"]["zh-CN"]
    assert error["message"]["en"]


def test_unknown_organisation_is_an_error_on_the_hub(api: httpx.Client) -> None:
    body = assert_problem(
        api.post("/v1/members", json=person(uid("o"))), 422, "unresolved-reference"
    )
    assert body["errors"][0] == {
        **body["errors"][0],
        "pointer": "/organisationId",
        "rule": "REF-001",
    }


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "invalid-json"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported-media-type"),
        (b"[1, 2]", {"content-type": "application/json"}, 422, "invalid-record"),
        (
            b'{"x": "' + b"a" * 2_000_000 + b'"}',
            {"content-type": "application/json"},
            413,
            "payload-too-large",
        ),
    ],
)
def test_unusable_bodies_get_a_clear_4xx(
    api: httpx.Client, content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    assert_problem(api.post("/v1/members", content=content, headers=headers), status, code)


def test_unknown_field_is_named(api: httpx.Client, tree: dict[str, str]) -> None:
    body = assert_problem(
        api.post("/v1/members", json={**person(tree["a"]), "nickname": "x"}), 422, "invalid-record"
    )
    assert any(e["pointer"] == "/nickname" and e["rule"] == "SCH-001" for e in body["errors"])


def test_authentication_and_scopes(server: Server, tree: dict[str, str]) -> None:
    anonymous = httpx.get(server.url + "/v1/members")
    assert_problem(anonymous, 401, "unauthorized")
    with server.client("tx_not-a-token") as bad:
        assert_problem(bad.get("/v1/members"), 401, "unauthorized")
    with server.client("reader") as reader:
        assert reader.get("/v1/members").status_code == 200
        assert_problem(reader.post("/v1/members", json=person(tree["a"])), 403, "scope-missing")
        assert_problem(reader.get("/v1/audit"), 403, "scope-missing")


def test_unknown_route_is_a_problem(api: httpx.Client) -> None:
    assert_problem(api.get("/v1/nothing"), 404, "not-found")


def test_list_keyset_pagination_and_filters(api: httpx.Client) -> None:
    root = organisation()
    api.post("/v1/organisations", json=root)
    branch = organisation(root["id"])
    api.post("/v1/organisations", json=branch)
    made = {person(branch["id"])["id"] for _ in range(0)}
    for _ in range(7):
        record = person(branch["id"])
        assert api.post("/v1/members", json=record).status_code == 201
        made.add(record["id"])
    seen: list[str] = []
    url: str | None = f"/v1/members?organisationId={branch['id']}&limit=3"
    pages = 0
    while url:
        page = api.get(url).json()
        assert set(page) == {"items", "next"}
        seen += [item["id"] for item in page["items"]]
        assert all("citizenId" not in item and "phone" not in item for item in page["items"])
        url, pages = page["next"], pages + 1
    assert sorted(seen) == sorted(made)
    assert pages == 3
    assert_problem(api.get("/v1/members?limit=0"), 400, "invalid-parameter")
    assert_problem(
        api.get("/v1/members?updatedSince=2020-01-01T00:00:00"), 400, "invalid-parameter"
    )


def test_sensitive_fields_need_their_scope_and_are_encrypted_at_rest(
    server: Server, tree: dict[str, str], hub: Hub
) -> None:
    record = person(tree["a"])
    with server.client("writer") as writer:
        assert writer.post("/v1/members", json=record).status_code == 201
        assert "citizenId" not in writer.get(f"/v1/members/{record['id']}").json()
        assert_problem(writer.get("/v1/members?include=sensitive"), 403, "scope-missing")
    with server.client() as admin:
        assert admin.get(f"/v1/members/{record['id']}").json()["citizenId"] == record["citizenId"]
        listed = admin.get(f"/v1/members?organisationId={tree['a']}").json()["items"]
        assert all("citizenId" not in m for m in listed)
        listed = admin.get(f"/v1/members?organisationId={tree['a']}&include=sensitive").json()
        assert record["citizenId"] in {m.get("citizenId") for m in listed["items"]}
    with hub.db.read() as conn:
        row = conn.execute(select(records).where(records.c.id == record["id"])).one()
    stored = (row.doc or "").encode() + bytes(row.sealed) + (row.citizen_hash or "").encode()
    for secret in (record["citizenId"], record["phone"]):
        assert secret.encode() not in stored
