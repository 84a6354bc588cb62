"""Crafted input gets a 4xx, never a 5xx or a dropped connection, on SQLite and PostgreSQL:
NUL and other control characters, huge and non-ASCII numbers and overlong values in every path
and query parameter of the API, forged and altered cursors, and bad ids in bulk lines."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from tongxin.server import Hub

from .conftest import Server, organisation, person, uid
from .test_feed_and_bulk import assert_problem, results

CRAFTED = [
    "\x00",
    "test-hub:m\x00x",
    "a\x1fb",
    "\x7f",
    "\x85",
    "99999999999999999999999999999",
    "-1",
    "１２３",
    "٣",
    "²",
    "x" * 5000,
    "!!!###",
    "%",
    "\u202e\ufeff",
]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _operations(root: Path) -> list[tuple[str, str, list[dict[str, Any]]]]:
    spec = json.loads((root / "spec" / "openapi.json").read_text())
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = [p for p in op.get("parameters", []) if p["in"] in ("path", "query")]
            ops.append((path, method.upper(), params))
    return ops


def _send(
    client: httpx.Client,
    method: str,
    path: str,
    params: list[dict[str, Any]],
    name: str,
    value: str,
) -> httpx.Response:
    url = path
    query: dict[str, str] = {}
    for p in params:
        given = value if p["name"] == name else None
        if p["in"] == "path":
            segment = quote(given, safe=":") if given is not None else uid("m")
            url = url.replace("{" + p["name"] + "}", segment)
        elif given is not None:
            query[p["name"]] = given
    headers = {"If-Match": '"1"', "content-type": "application/json"}
    content = b"{}" if method in ("POST", "PUT") else None
    return client.request(method, url, params=query, headers=headers, content=content)


def test_every_path_and_query_parameter_refuses_crafted_values(server: Server, root: Path) -> None:
    failures: list[str] = []
    with server.client() as client:
        for path, method, params in _operations(root):
            for p in params:
                for value in CRAFTED:
                    try:
                        response = _send(client, method, path, params, p["name"], value)
                    except httpx.TransportError as error:  # a reset connection
                        failures.append(f"{method} {path} {p['name']}={value!r}: {error!r}")
                        continue
                    status = response.status_code
                    if status >= 500:
                        failures.append(f"{method} {path} {p['name']}={value!r}: {status}")
                    elif "\x00" in value and status != 400:
                        failures.append(f"{method} {path} {p['name']}={value!r}: {status} not 400")
        assert client.get("/.well-known/tongxin").status_code == 200
    assert not failures, "\n".join(failures[:40])


def test_nul_and_control_characters_are_refused_naming_the_parameter(api: httpx.Client) -> None:
    body = assert_problem(
        api.get("/v1/members", params={"organisationId": "a\x00b"}), 400, "invalid-parameter"
    )
    assert body["errors"][0]["pointer"] == "/organisationId"
    assert body["errors"][0]["message"]["zh-CN"]
    body = assert_problem(api.get("/v1/members/test-hub:m%00x"), 400, "invalid-parameter")
    assert body["errors"][0]["pointer"] == "/path"
    body = assert_problem(api.get("/v1/members/not%20an%20id"), 400, "invalid-parameter")
    assert body["errors"][0]["pointer"] == "/id"
    # a value the route's own parameter types refuse names its parameter too (§2.1)
    body = assert_problem(api.get("/v1/members", params={"limit": "abc"}), 400, "invalid-parameter")
    assert body["errors"][0]["pointer"] == "/limit"
    assert body["parameter"] == "limit"
    assert_problem(
        api.delete("/v1/members/x%01y", headers={"If-Match": '"1"'}), 400, "invalid-parameter"
    )
    assert_problem(
        api.get("/v1/changes", params={"types": "members\x00"}), 400, "invalid-parameter"
    )
    assert_problem(
        api.put("/v1/members/test-hub:m1", json={}, headers={"If-Match": '"²"'.encode("latin-1")}),
        400,
        "invalid-if-match",
    )
    assert_problem(
        api.put("/v1/members/test-hub:m1", json={}, headers={"If-Match": '"' + "9" * 40 + '"'}),
        400,
        "invalid-if-match",
    )


@pytest.mark.parametrize(
    "route",
    ["/v1/changes", "/v1/audit", "/v1/members", "/v1/organisations"],
)
def test_forged_and_garbage_cursors_answer_invalid_cursor(
    api: httpx.Client, hub: Hub, route: str
) -> None:
    epoch = hub.identity.epoch
    forged = [
        "!!!###",
        "abc",
        _b64("test-hub:m0"),
        _b64(f"{epoch}:99999999999999999999999"),
        _b64(f"{epoch}:１２３"),
        _b64(f"{epoch}:٣"),
        _b64(f"{epoch}:²"),
        _b64("99999999999999999999999"),
        _b64("²"),
        _b64("\x00"),
        _b64("feed|" + epoch + ":1") + "A" * 22,
    ]
    for cursor in forged:
        body = assert_problem(api.get(route, params={"after": cursor}), 400, "invalid-cursor")
        assert body["errors"][0]["pointer"] == "/after"
        assert body["parameter"] == "after"
        assert "游标" in body["detailZh"]


def _a_cursor(api: httpx.Client, route: str) -> str:
    page = api.get(route, params={"limit": 1}).json()
    assert page["next"], page
    return str(httpx.URL(page["next"]).params["after"])


def test_altered_and_misplaced_cursors_are_refused(api: httpx.Client, tree: dict[str, str]) -> None:
    for _ in range(2):
        assert api.post("/v1/organisations", json=organisation(tree["root"])).status_code == 201
    for route in ("/v1/organisations", "/v1/changes", "/v1/audit"):
        cursor = _a_cursor(api, route)
        assert api.get(route, params={"after": cursor}).status_code == 200
        flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
        assert_problem(api.get(route, params={"after": flipped}), 400, "invalid-cursor")
        head = ("B" if cursor[0] != "B" else "C") + cursor[1:]
        assert_problem(api.get(route, params={"after": head}), 400, "invalid-cursor")
    # a cursor of one list is not a cursor of another
    cursor = _a_cursor(api, "/v1/organisations")
    for route in ("/v1/members", "/v1/changes", "/v1/audit"):
        assert_problem(api.get(route, params={"after": cursor}), 400, "invalid-cursor")


def test_feed_cursors_of_the_unsigned_form_keep_working(api: httpx.Client, hub: Hub) -> None:
    legacy = _b64(f"{hub.identity.epoch}:0")
    page = api.get("/v1/changes", params={"after": legacy, "limit": 1})
    assert page.status_code == 200, page.text
    assert page.json()["cursor"] != legacy
    other_epoch = _b64("0" * 32 + ":5")
    assert_problem(api.get("/v1/changes", params={"after": other_epoch}), 410, "epoch-changed")


def test_a_bulk_line_with_a_bad_id_fails_alone(api: httpx.Client, tree: dict[str, str]) -> None:
    good = [person(tree["a"]) for _ in range(3)]
    lines = [
        {"op": "upsert", "type": "members", "record": good[0]},
        {"op": "delete", "type": "members", "id": "test-hub:m\x00x"},
        {"op": "upsert", "type": "members", "record": good[1]},
        {"op": "delete", "type": "members", "id": "x" * 300},
        {"op": "upsert", "type": "members", "record": {**good[2], "id": "test-hub:\x00"}},
        {"op": "delete", "type": "members", "id": "test-hub:m1", "ifMatch": 1 << 63},
        {"op": "upsert", "type": "members", "record": {**good[2], "workUnit": "a\x00b"}},
    ]
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    response = api.post("/v1/bulk", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    out = results(response)
    assert [r["status"] for r in out[:4]] == [201, 422, 201, 422]
    assert out[1]["problems"][0]["pointer"] == "/id"
    assert out[4]["status"] == 422
    assert out[5]["status"] == 422
    assert out[6]["status"] == 422
    assert out[6]["problems"][0]["pointer"] == "/record/workUnit"
    for record in good[:2]:
        assert api.get(f"/v1/members/{record['id']}").status_code == 200


def test_nul_in_a_json_body_is_refused_before_any_lookup(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    member = person(tree["a"], workUnit="a\x00b")
    body = assert_problem(api.post("/v1/members", json=member), 400, "invalid-json")
    assert body["errors"][0]["pointer"] == "/workUnit"
    transfer = {
        "id": uid("t"),
        "memberId": "test-hub:m\x00",
        "fromOrganisationId": tree["a"],
        "toOrganisationId": "cd-x\x00y:o1",
        "state": "issued",
    }
    body = assert_problem(api.post("/v1/transfers", json=transfer), 400, "invalid-json")
    assert body["errors"][0]["pointer"] == "/memberId"
    assert api.get("/.well-known/tongxin").status_code == 200


@pytest.mark.parametrize(
    ("path", "query", "refused"),
    [
        ("/v1/members", b"organisationId=cd-wuhou:o1&limit=5", None),
        ("/v1/members", "organisationId=武侯".encode(), None),
        ("/v1/members", b"organisationId=%E6%AD%A6", None),
        ("/v1/members", b"after=%00", "after"),
        ("/v1/members", b"x=%C2%85", "x"),
        ("/v1/members", b"a=%ff", "query"),
        ("/v1/members", b"after=" + b"a" * 1025, "after"),
        ("/v1/members", b"a=" + b"b" * 5000, "query"),
        ("/v1/members/a\x00", b"", "path"),
        ("/v1/members/\u0085", b"", "path"),
        ("/v1/" + "m" * 1100, b"", "path"),
    ],
)
def test_the_input_guard(path: str, query: bytes, refused: str | None) -> None:
    from tongxin.server.api._guard import check_request

    problem = check_request(path, query)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None
        body = orjson.loads(problem)
        assert body["parameter"] == refused
        assert body["errors"][0]["pointer"] == f"/{refused}"
        assert body["status"] == 400
