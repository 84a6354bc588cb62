"""Every route against every kind of caller: the authorisation policy as a matrix.

Callers: nobody, an unknown, a revoked and an expired token; tokens with each scope; tokens
limited to one branch (asking inside and outside it); peer hubs of each relation signing their
requests. The expected answer of each cell is written here from ``spec/api.md`` §3 and
``spec/federation.md`` §0, independently of the code, and every route the hub serves must have a
row (a new route without one fails the test).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert, update

from tongxin.federation import KeyStore, PeerPolicy, SigningAuth, key_store_path
from tongxin.server import create_token, open_hub
from tongxin.server._tables import peers, tokens

from .conftest import Backend, Server, applicant, organisation, person, uid

# -- callers -------------------------------------------------------------------------------------
SCOPES = {
    "reader": {"records:read"},
    "sensitive": {"records:read", "records:read-sensitive"},
    "writer": {"records:read", "records:write"},
    "admin": {"admin"},
    "branch-reader": {"records:read"},
    "branch-writer": {"records:read", "records:write"},
    "branch-admin": {"admin"},
}
NO_TOKEN = ("anonymous", "unknown-token", "revoked-token", "expired-token")
RELATIONS = ("parent", "child", "sibling")
CALLERS = (*NO_TOKEN, *SCOPES, *(f"peer-{r}" for r in RELATIONS))


def has(caller: str, scope: str) -> bool:
    held = SCOPES.get(caller, set())
    return scope in held or "admin" in held


@dataclass
class World:
    """The hub under test, its records and a client per caller."""

    server: Server
    ids: dict[str, str]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def admin(self) -> httpx.Client:
        return self.clients["admin"]

    def fresh(self, collection: str, where: str) -> dict[str, Any]:
        """A new record made by the admin in branch ``a`` ("in") or ``b`` ("out")."""
        record = self.record(collection, where)
        made = self.admin().post(f"/v1/{collection}", json=record)
        assert made.status_code == 201, made.text
        return dict(made.json())

    def record(self, collection: str, where: str) -> dict[str, Any]:
        """A valid new record (not stored) of ``collection`` in branch ``a`` or ``b``."""
        org = self.ids["a" if where == "in" else "b"]
        if collection == "organisations":
            return organisation(org, name="新建支部")
        if collection == "members":
            return person(org)
        if collection == "applicants":
            return applicant(org)
        if collection == "activities":
            return {
                "id": uid("a"),
                "organisationId": org,
                "type": "committee-meeting",
                "startTime": "2026-06-01T09:00:00+08:00",
                "endTime": "2026-06-01T10:00:00+08:00",
                "topic": "学习讨论",
                "attendance": [],
            }
        member = self.ids[f"member-{where}"]
        if collection == "duesPayments":
            return {
                "id": uid("d"),
                "memberId": member,
                "period": "2026-05",
                "memberClass": "salaried",
                "base": "3000.00",
                "amount": "15.00",
                "paidDate": "2026-05-20",
            }
        assert collection == "transfers"
        return {
            "id": uid("t"),
            "memberId": member,
            "fromOrganisationId": org,
            "toOrganisationId": self.ids["c"],
            "reason": "residence-change",
            "issuedDate": datetime.now(UTC).date().isoformat(),
            "validDays": 30,
            "state": "issued",
        }


# -- routes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    #: public | read | validate | write | hub-admin | feed | counts | hint | deliver
    act: str
    ok: int
    build: Callable[[World, str], Call]
    #: What a branch token gets for a target outside its branch (None: same as inside).
    outside: int | None = None
    #: An extra check of an allowed answer: (world, caller, where, response).
    check: Callable[[World, str, str, httpx.Response], None] | None = None


COLLECTIONS = ("organisations", "members", "activities", "duesPayments", "transfers", "applicants")
#: A branch token creating outside its branch: an organisation reference outside is refused
#: (organisation ids are public); a member outside is reported as absent, like a missing one.
CREATE_OUTSIDE = {
    "organisations": 403,
    "members": 403,
    "activities": 403,
    "duesPayments": 422,
    "transfers": 422,
    "applicants": 403,
}


def _list_check(collection: str) -> Callable[[World, str, str, httpx.Response], None]:
    def check(world: World, caller: str, where: str, response: httpx.Response) -> None:
        listed = {item["id"] for item in response.json()["items"]}
        outside = world.ids[f"{collection}-out"]
        assert (outside in listed) == (not caller.startswith("branch-")), (collection, caller)

    return check


def _search_check(world: World, caller: str, where: str, response: httpx.Response) -> None:
    """A branch token searching outside its branch finds nothing and counts nothing."""
    body = response.json()
    blind = caller.startswith("branch-") and where == "out"
    assert (body["total"] == 0) == blind, (caller, where, body["total"])
    assert len(body["items"]) == min(body["total"], 100)


def _read_check(world: World, caller: str, where: str, response: httpx.Response) -> None:
    body = response.json()
    if body.get("organisationId") and "birthDate" in body:  # a member or an applicant
        assert ("citizenId" in body) == has(caller, "records:read-sensitive"), caller


def _routes() -> list[Route]:
    routes = [
        Route(
            "GET", "/.well-known/tongxin", "public", 200, lambda w, _: Call("/.well-known/tongxin")
        ),
        Route(
            "GET",
            "/.well-known/tongxin/keys",
            "public",
            200,
            lambda w, _: Call("/.well-known/tongxin/keys"),
        ),
        Route(
            "GET",
            "/.well-known/tongxin/certificates/{hub_id}",
            "public",
            200,
            lambda w, _: Call("/.well-known/tongxin/certificates/mx-child"),
        ),
        Route("GET", "/healthz", "public", 200, lambda w, _: Call("/healthz")),
        Route("GET", "/readyz", "public", 200, lambda w, _: Call("/readyz")),
        Route("GET", "/metrics", "hub-admin", 200, lambda w, _: Call("/metrics")),
        Route("GET", "/v1/audit", "hub-admin", 200, lambda w, _: Call("/v1/audit")),
        Route("GET", "/v1/peers", "hub-admin", 200, lambda w, _: Call("/v1/peers")),
        Route(
            "POST",
            "/v1/validate",
            "validate",
            200,
            lambda w, where: Call("/v1/validate?type=members", json=w.record("members", where)),
        ),
        Route(
            "POST",
            "/v1/bulk",
            "write",
            200,
            lambda w, where: Call(
                "/v1/bulk",
                content=orjson.dumps(
                    {
                        "op": "upsert",
                        "type": "organisations",
                        "record": w.record("organisations", where),
                    }
                )
                + b"\n",
                headers={"Content-Type": "application/x-ndjson"},
            ),
            check=_bulk_check,
        ),
        Route("GET", "/v1/changes", "feed", 200, lambda w, _: Call("/v1/changes?limit=5")),
        Route(
            "GET",
            "/v1/stats",
            "read",
            200,
            lambda w, where: Call(
                f"/v1/stats?organisationId={w.ids['a' if where == 'in' else 'b']}"
            ),
            outside=404,
        ),
        Route(
            "GET",
            "/v1/federation/feedback-counts",
            "counts",
            200,
            lambda w, _: Call("/v1/federation/feedback-counts"),
        ),
        Route(
            "POST",
            "/v1/federation/hints",
            "hint",
            202,
            lambda w, _: Call("/v1/federation/hints", json={}),
        ),
    ]
    routes.append(
        Route(
            "POST",
            "/v1/members/search",
            "read",
            200,
            lambda w, where: Call(
                "/v1/members/search",
                json={"organisationId": w.ids["a" if where == "in" else "b"], "count": True},
            ),
            check=_search_check,
        )
    )
    for kind in ("letters", "receipts", "withdrawals"):
        routes.append(
            Route("POST", f"/v1/federation/{kind}", "deliver", 422,
                  lambda w, _, k=kind: Call(f"/v1/federation/{k}", json={"not": "a message"}))
        )  # fmt: skip
    for verb in ("accept", "reject", "withdraw"):
        routes.append(
            Route("POST", f"/v1/transfers/{{id}}/{verb}", "write", 404,
                  lambda w, where, v=verb: Call(f"{_transfer(w, where)}/{v}", json={}))
        )  # fmt: skip
    for sub in ("letter", "letter.pdf", "history"):
        routes.append(
            Route("GET", f"/v1/transfers/{{id}}/{sub}", "read", 404,
                  lambda w, where, s=sub: Call(f"{_transfer(w, where)}/{s}"))
        )  # fmt: skip
    for c in COLLECTIONS:
        routes += [
            Route("GET", f"/v1/{c}", "read", 200, lambda w, _, c=c: Call(f"/v1/{c}?limit=1000"),
                  check=_list_check(c)),
            Route("GET", f"/v1/{c}/{{id}}", "read", 200,
                  lambda w, where, c=c: Call(f"/v1/{c}/{w.ids[f'{c}-{where}']}"),
                  outside=404, check=_read_check),
            Route("POST", f"/v1/{c}", "write", 201,
                  lambda w, where, c=c: Call(f"/v1/{c}", json=w.record(c, where)),
                  outside=CREATE_OUTSIDE[c]),
            Route("PUT", f"/v1/{c}/{{id}}", "write", 200, _put(c), outside=404),
            Route("DELETE", f"/v1/{c}/{{id}}", "write", 204, _delete(c), outside=404),
        ]  # fmt: skip
    return routes


def _transfer(world: World, where: str) -> str:
    return f"/v1/transfers/{world.ids[f'transfers-{where}']}"


def _bulk_check(world: World, caller: str, where: str, response: httpx.Response) -> None:
    (line,) = response.content.splitlines()
    status = orjson.loads(line)["status"]
    assert status == (403 if caller.startswith("branch-") and where == "out" else 201), caller


def _put(collection: str) -> Callable[[World, str], Call]:
    def build(world: World, where: str) -> Call:
        stored = world.fresh(collection, where)
        body = {k: v for k, v in stored.items() if k not in ("version", "updatedAt")}
        if collection == "organisations":
            body["name"] = "改名支部"
        elif collection == "members":
            body["workUnit"] = "新单位"
        elif collection == "activities":
            body["topic"] = "新议题"
        elif collection == "duesPayments":
            body["paidDate"] = "2026-05-21"
        elif collection == "applicants":
            body["talkDate"] = body["applicationDate"].replace("-03-01", "-03-20")
        else:
            body["reason"] = "work-unit-change"
        headers = {"If-Match": f'"{stored["version"]}"'}
        return Call(f"/v1/{collection}/{stored['id']}", json=body, headers=headers)

    return build


def _delete(collection: str) -> Callable[[World, str], Call]:
    def build(world: World, where: str) -> Call:
        stored = world.fresh(collection, where)
        return Call(
            f"/v1/{collection}/{stored['id']}", headers={"If-Match": f'"{stored["version"]}"'}
        )

    return build


ROUTES = _routes()


def expected(route: Route, caller: str, where: str) -> int:
    """The answer the policy prescribes for ``caller`` on ``route`` (target ``where``)."""
    if route.act == "public":
        return route.ok
    if caller.startswith("peer-"):
        relation = caller.removeprefix("peer-")
        if route.act in ("feed", "counts"):
            return route.ok if relation == "parent" else 403
        if route.act == "hint":
            return route.ok if relation == "child" else 403
        if route.act == "deliver":
            return route.ok
        return 401  # a signature is no token
    if caller in NO_TOKEN or route.act in ("hint", "deliver", "counts"):
        return 401
    scope = {"read": "records:read", "validate": "records:read", "feed": "records:read",
             "write": "records:write", "hub-admin": "admin"}[route.act]  # fmt: skip
    if not has(caller, scope):
        return 403
    branch = caller.startswith("branch-")
    if branch and route.act == "hub-admin":
        return 403
    if branch and where == "out" and route.outside is not None:
        return route.outside
    return route.ok


# -- the world -----------------------------------------------------------------------------------
def _peer(hub: Any, workdir: Path, relation: str) -> KeyStore:
    """A peer hub of ``relation`` known to the hub (its key set pinned), and its key store."""
    hub_id = f"mx-{relation}"
    store = KeyStore.create(workdir / f"{hub_id}.keys.json", hub_id)
    document = store.document()
    policy = PeerPolicy.upward(b"").to_wire() if relation == "parent" else {"types": None}
    with hub.db.write() as conn:
        conn.execute(
            insert(peers).values(
                hub_id=hub_id,
                url=f"http://127.0.0.1:9/{hub_id}",
                relation=relation,
                pins=orjson.dumps(sorted(store.key_set().fingerprints())).decode(),
                key_set=orjson.dumps(document).decode(),
                policy=orjson.dumps(policy).decode(),
                link_key=secrets.token_hex(32) if relation == "parent" else None,
                created_at=datetime.now(UTC),
                keys_fetched_at=datetime.now(UTC),
            )
        )
    return store


@pytest.fixture(scope="module")
def world(server: Server, backend: Backend) -> Iterator[World]:
    hub = open_hub(backend.settings())
    clients: dict[str, httpx.Client] = {}
    try:
        keys = key_store_path(backend.url)  # relative on PostgreSQL: the server's directory
        keys = keys if keys.is_absolute() else backend.workdir / keys
        if not keys.exists():
            KeyStore.create(keys, hub.hub_id)
        admin = clients["admin"] = server.client()
        ids: dict[str, str] = {}
        root = organisation()
        assert admin.post("/v1/organisations", json=root).status_code == 201
        for name in ("a", "b", "c"):
            branch = organisation(root["id"], name=f"第{name}支部")
            assert admin.post("/v1/organisations", json=branch).status_code == 201
            ids[name] = branch["id"]
        world = World(server, ids, {"admin": admin})
        for where in ("in", "out"):
            ids[f"organisations-{where}"] = ids["a" if where == "in" else "b"]
            member = world.fresh("members", where)
            ids[f"member-{where}"] = ids[f"members-{where}"] = member["id"]
            for collection in ("activities", "duesPayments", "transfers", "applicants"):
                ids[f"{collection}-{where}"] = world.fresh(collection, where)["id"]
        for caller, scopes in SCOPES.items():
            if caller == "admin":
                continue
            org = ids["a"] if caller.startswith("branch-") else None
            token = create_token(hub.db, sorted(scopes), organisation_id=org, name=caller)
            clients[caller] = server.client(token)
        revoked = create_token(hub.db, ["admin"], name="revoked")
        expired = create_token(
            hub.db, ["admin"], name="expired", expires_at=datetime.now(UTC) + timedelta(hours=1)
        )
        with hub.db.write() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.name == "revoked")
                .values(revoked_at=datetime.now(UTC))
            )
            conn.execute(
                update(tokens)
                .where(tokens.c.name == "expired")
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        clients["anonymous"] = httpx.Client(base_url=server.url, timeout=60)
        clients["unknown-token"] = server.client("tx_" + secrets.token_urlsafe(32))
        clients["revoked-token"] = server.client(revoked)
        clients["expired-token"] = server.client(expired)
        for relation in RELATIONS:
            store = _peer(hub, backend.workdir, relation)
            clients[f"peer-{relation}"] = httpx.Client(
                base_url=server.url, timeout=60, auth=SigningAuth(store.signer())
            )
        world.clients.update(clients)
        yield world
    finally:
        for client in clients.values():
            client.close()
        hub.close()


# -- the matrix -----------------------------------------------------------------------------------
def _cells() -> Iterator[Any]:
    for route in ROUTES:
        for caller in CALLERS:
            wheres = (
                ("in", "out") if caller.startswith("branch-") and route.act != "public" else ("in",)
            )
            for where in wheres:
                yield pytest.param(
                    route, caller, where, id=f"{route.method} {route.template} {caller} {where}"
                )


def test_every_route_has_a_row(world: World) -> None:
    served = orjson.loads(world.admin().get("/openapi.json").content)["paths"]
    routes = {(m.upper(), p) for p, ops in served.items() for m in ops}
    assert routes == {(r.method, r.template) for r in ROUTES}


@pytest.mark.parametrize(("route", "caller", "where"), list(_cells()))
def test_matrix(world: World, route: Route, caller: str, where: str) -> None:
    call = route.build(world, where)
    response = world.clients[caller].request(
        route.method, call.path, json=call.json, content=call.content, headers=call.headers
    )
    want = expected(route, caller, where)
    assert response.status_code == want, (response.status_code, response.text[:300])
    assert response.status_code < 500
    if response.status_code >= 400:
        problem = response.json()
        assert problem["status"] == response.status_code
        assert problem["detailZh"]
        assert problem["detail"]
    elif route.check is not None:
        route.check(world, caller, where, response)


def test_every_audit_row_names_its_actor(world: World) -> None:
    """Run after the matrix (same module): each change says who made it."""
    rows: list[dict[str, Any]] = []
    url: str | None = "/v1/audit?limit=1000"
    while url:
        page = world.admin().get(url).json()
        rows += page["items"]
        url = page["next"]
    assert rows
    assert all(row["tokenId"] or row["requestId"] for row in rows), [
        row for row in rows if not (row["tokenId"] or row["requestId"])
    ][:3]
