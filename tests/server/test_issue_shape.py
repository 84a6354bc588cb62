"""One issue wire form: ``POST /v1/validate``, ``/v1/bulk`` result lines and problem bodies
describe the same finding with the same members (``pointer``, ``rule``, ``severity``,
``message``); the validation report also carries ``path``, the deprecated alias of ``pointer``
kept until 2.0."""

from __future__ import annotations

import httpx
import orjson

from .conftest import person

WIRE = {"pointer", "rule", "severity", "message"}


def test_validate_bulk_and_problems_answer_in_the_same_issue_shape(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    record = {**person(tree["a"]), "gender": "7"}
    report = api.post("/v1/validate?type=members", json=record)
    assert report.status_code == 200, report.text
    checked = [i for i in report.json()["issues"] if i["rule"] == "SCH-001"]
    assert checked, report.text
    issue = checked[0]
    assert set(issue) == WIRE | {"path"}
    assert issue["path"] == issue["pointer"] == "/gender"

    line = orjson.dumps({"op": "upsert", "type": "members", "record": record}) + b"\n"
    bulk = api.post("/v1/bulk", content=line, headers={"content-type": "application/x-ndjson"})
    assert bulk.status_code == 200, bulk.text
    result = orjson.loads(bulk.content.splitlines()[0])
    assert (result["status"], result["code"]) == (422, "invalid-record")
    in_bulk = next(p for p in result["problems"] if p["rule"] == "SCH-001")
    assert set(in_bulk) == WIRE
    assert in_bulk == {**{k: issue[k] for k in WIRE}, "pointer": "/record/gender"}

    refused = api.post("/v1/members", json=record)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    in_problem = next(e for e in refused.json()["errors"] if e["rule"] == "SCH-001")
    assert set(in_problem) == WIRE
    assert in_problem == {k: issue[k] for k in WIRE}
