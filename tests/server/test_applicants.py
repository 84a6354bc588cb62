"""Applicants (standard 1.1) on the hub: stored, checked against the 1.1 rules, listed, fed,
bulk-written and minimised like members."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import select

from tongxin.server import Hub
from tongxin.server._tables import records

from .conftest import Server, applicant, organisation, person
from .test_records import assert_problem


def test_an_applicant_is_stored_read_and_listed_without_sensitive_fields(
    server: Server, tree: dict[str, str], hub: Hub
) -> None:
    record = applicant(tree["a"])
    with server.client("writer") as writer:
        made = writer.post("/v1/applicants", json=record)
        assert made.status_code == 201, made.text
        got = writer.get(f"/v1/applicants/{record['id']}").json()
        assert got["stage"] == "activist"
        assert "citizenId" not in got
        assert "phone" not in got
        assert_problem(writer.get("/v1/applicants?include=sensitive"), 403, "scope-missing")
    with server.client() as admin:
        got = admin.get(f"/v1/applicants/{record['id']}").json()
        assert (got["citizenId"], got["phone"]) == (record["citizenId"], record["phone"])
        listed = admin.get(f"/v1/applicants?organisationId={tree['a']}").json()["items"]
        assert record["id"] in {a["id"] for a in listed}
        assert all("citizenId" not in a and "phone" not in a for a in listed)
        changed = {**record, "stage": "candidate", "candidateDate": "2099-01-01"}
        url = f"/v1/applicants/{record['id']}"
        assert admin.put(url, json=changed, headers={"If-Match": '"1"'}).status_code == 200
    with hub.db.read() as conn:
        row = conn.execute(select(records).where(records.c.id == record["id"])).one()
    stored = (row.doc or "").encode() + bytes(row.sealed)
    for secret in (record["citizenId"], record["phone"]):
        assert secret.encode() not in stored
    assert row.citizen_hash is None  # an applicant does not take a member's citizen ID


def test_an_applicant_and_the_member_admitted_from_them_share_a_citizen_id(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    member = person(tree["a"])
    assert api.post("/v1/members", json=member).status_code == 201
    same = applicant(tree["a"], somebody=member)
    made = api.post("/v1/applicants", json=same)
    assert made.status_code == 201, made.text


def test_an_applicant_breaking_a_1_1_rule_is_refused_at_its_field(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    record = applicant(tree["a"])
    record["activistDate"] = "1900-01-01"
    body = assert_problem(api.post("/v1/applicants", json=record), 422, "invalid-record")
    (error,) = body["errors"]
    assert (error["rule"], error["pointer"]) == ("APL-003", "/activistDate")
    assert error["message"]["zh-CN"]
    assert error["message"]["en"]


def test_leaders_are_accepted_and_checked(api: httpx.Client, tree: dict[str, str]) -> None:
    leaders = [{"name": "王伟", "post": "secretary"}, {"name": "李娜", "post": "secretary"}]
    branch = organisation(tree["root"], name="新支部", leaders=leaders)
    body = assert_problem(api.post("/v1/organisations", json=branch), 422, "invalid-record")
    assert [(e["rule"], e["pointer"]) for e in body["errors"]] == [("ORG-006", "/leaders")]
    branch["leaders"] = leaders[:1]
    assert api.post("/v1/organisations", json=branch).status_code == 201


def test_applicants_go_through_bulk_and_the_change_feed(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    made = [applicant(tree["b"]) for _ in range(3)]
    lines = b"".join(
        orjson.dumps({"op": "upsert", "type": "applicants", "record": r}) + b"\n" for r in made
    )
    response = api.post("/v1/bulk", content=lines, headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert [orjson.loads(x)["status"] for x in response.content.splitlines()] == [201] * 3
    ids, url = set(), "/v1/changes?limit=1000"
    while url:
        page = api.get(url).json()
        ids |= {c["id"] for c in page["items"] if c["type"] == "applicants"}
        url = page.get("next")
    assert {r["id"] for r in made} <= ids


def test_an_organisation_with_applicants_cannot_be_deleted(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    branch = organisation(tree["root"], name="待撤销支部")
    assert api.post("/v1/organisations", json=branch).status_code == 201
    assert api.post("/v1/applicants", json=applicant(branch["id"])).status_code == 201
    refused = api.delete(f"/v1/organisations/{branch['id']}", headers={"If-Match": '"1"'})
    assert refused.status_code == 409, refused.text
