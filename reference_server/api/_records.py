"""``/v1/{collection}``: create, read, replace, delete and list records of each type."""

import re
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

import orjson
from anyio import to_thread
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from tongxin.schemas import RECORD_TYPES, Record, problems
from tongxin.schemas._fields import ID_PATTERN
from tongxin.server._errors import BadRequest, HubError, PreconditionRequired
from tongxin.server._hub import Hub
from tongxin.server._policy import Act, authorize, authorize_search
from tongxin.server._reads import (
    NAMED,
    PERSONAL,
    Search,
    get_record,
    list_records,
    sensitive_allowed,
)
from tongxin.server._security import Principal
from tongxin.server._service import create_record, delete_record, replace_record
from tongxin.server._settings import Settings
from tongxin.server._transfers import Actor, issue_transfer, plan_transfer
from tongxin.server._writes import Outcome

from ._deps import Caller, HubDep, json_body
from ._pages import page_body

__all__ = ["record_router"]

JSON = "application/json"
IfMatch = Annotated[str | None, Header(description='ETag of the version, e.g. `"3"`.')]
IdPath = Annotated[
    str,
    Path(
        description="Record id, e.g. `cd-wuhou:m00000001` (the id pattern of the standard).",
        max_length=96,
        pattern=ID_PATTERN,
    ),
]


_ETAG = re.compile(r'"[0-9]{1,18}"')
#: Marks a 200 that carries an orphan (``spec/federation.md`` §4.5), read on explicit request.
ORPHANED_HEADER = "Tongxin-Orphaned"


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version in a strong ``If-Match`` (``"3"``); None for ``*``; 428 when absent."""
    if value is None:
        raise PreconditionRequired(
            problems.IF_MATCH_REQUIRED,
            "send If-Match with the ETag of the version you are changing",
            "请在 If-Match 中附上所修改版本的 ETag",
        )
    value = value.strip()
    if value == "*":
        return None
    if _ETAG.fullmatch(value):
        return int(value[1:-1])
    raise BadRequest(
        problems.INVALID_IF_MATCH,
        'If-Match must be a strong ETag such as "3"',
        'If-Match 必须是强 ETag，例如 "3"',
    )


def _written(
    hub: Hub, caller: Principal, outcome: Outcome, collection: str, request: Request
) -> Response:
    assert outcome.doc is not None
    assert outcome.version is not None
    body = outcome.doc.encode()
    if outcome.sensitive and caller.has("records:read-sensitive"):
        body = orjson.dumps({**orjson.loads(body), **outcome.sensitive})
    headers = {"ETag": etag(outcome.version)}
    if outcome.status == 201:
        headers["Location"] = f"/v1/{collection}/{outcome.id}"
    if outcome.warnings:
        headers["Tongxin-Warnings"] = ", ".join(f"{w.rule} {w.pointer}" for w in outcome.warnings)
    return Response(body, outcome.status, headers=headers, media_type=JSON)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        c: {
            "content": {"application/problem+json": {"schema": schema}},
            "description": "An RFC 9457 problem.",
        }
        for c in codes
    }


def _body_doc(model: type[Record]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def _add(router: APIRouter, settings: Settings, model: type[Record]) -> None:
    coll = model.collection
    name = model.__name__
    tag = coll

    @router.post(
        f"/v1/{coll}",
        response_model=model,
        status_code=201,
        tags=[tag],
        operation_id=f"create{name}",
        summary=f"Create a {model.titles[1].lower()}",
        openapi_extra=_body_doc(model),
        responses={
            200: {"description": "Identical record already stored"},
            **problem_responses(400, 401, 403, 409, 413, 415, 422, 429),
        },
    )
    async def create(request: Request, hub: HubDep, caller: Caller) -> Response:
        body = await json_body(request, hub)
        peer = None
        if coll == "transfers":
            authorize(caller, Act.WRITE)
            peer = await to_thread.run_sync(plan_transfer, hub, body)
        outcome = await to_thread.run_sync(create_record, hub, caller, coll, body)
        response = _written(hub, caller, outcome, coll, request)
        if peer is not None and outcome.id is not None:
            # an electronic transfer to a peer hub: issue the signed letter and deliver it
            actor = Actor.of(caller)
            await to_thread.run_sync(issue_transfer, hub, peer, outcome.id, actor)
            response.headers["Link"] = f'</v1/transfers/{outcome.id}/letter>; rel="letter"'
        return response

    @router.get(
        f"/v1/{coll}/{{id}}",
        response_model=model,
        tags=[tag],
        operation_id=f"get{name}",
        summary=f"Read one {model.titles[1].lower()}",
        responses=problem_responses(401, 404, 410, 429),
    )
    async def read(
        id: IdPath,
        hub: HubDep,
        caller: Caller,
        orphaned: Annotated[
            Literal["exclude", "include"],
            Query(
                description="`include` reads an orphan (a replica its restored owner hub no "
                "longer holds) with the header `Tongxin-Orphaned: true`; by default an orphan "
                "answers 410 `orphaned`."
            ),
        ] = "exclude",
    ) -> Response:
        authorize(caller, Act.READ)
        found = await to_thread.run_sync(
            partial(get_record, orphaned=orphaned == "include"), hub, caller, coll, id
        )
        headers = {"ETag": etag(found.version)}
        if found.orphaned:
            headers[ORPHANED_HEADER] = "true"
        return Response(found.body, headers=headers, media_type=JSON)

    @router.put(
        f"/v1/{coll}/{{id}}",
        response_model=model,
        tags=[tag],
        operation_id=f"replace{name}",
        summary=f"Replace a {model.titles[1].lower()}",
        openapi_extra=_body_doc(model),
        responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 429),
    )
    async def replace(
        id: IdPath,
        request: Request,
        hub: HubDep,
        caller: Caller,
        if_match: IfMatch = None,
    ) -> Response:
        expected = parse_if_match(if_match)
        body = await json_body(request, hub)
        outcome = await to_thread.run_sync(replace_record, hub, caller, coll, id, body, expected)
        return _written(hub, caller, outcome, coll, request)

    @router.delete(
        f"/v1/{coll}/{{id}}",
        status_code=204,
        tags=[tag],
        operation_id=f"delete{name}",
        summary=f"Delete a {model.titles[1].lower()}",
        responses=problem_responses(400, 401, 403, 404, 409, 412, 428, 429),
    )
    def remove(
        id: IdPath,
        hub: HubDep,
        caller: Caller,
        if_match: IfMatch = None,
    ) -> Response:
        expected = parse_if_match(if_match)
        outcome = delete_record(hub, caller, coll, id, expected)
        assert outcome.version is not None
        return Response(status_code=204, headers={"ETag": etag(outcome.version)})

    @router.get(
        f"/v1/{coll}",
        tags=[tag],
        operation_id=f"list{name}s",
        summary=f"List {coll} (keyset pagination)",
        responses={
            200: {
                "description": "A page of records",
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["items", "next"],
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "items": {"$ref": f"#/components/schemas/{name}"},
                                },
                                "next": {"type": ["string", "null"]},
                                "total": {
                                    "type": "integer",
                                    "description": "With `count=true`: how many records "
                                    "match in all, within the caller's subtree.",
                                },
                            },
                        }
                    }
                },
            },
            **problem_responses(400, 401, 403, 429),
        },
    )
    def listing(
        request: Request,
        hub: HubDep,
        caller: Caller,
        after: Annotated[
            str | None, Query(description="Cursor from `next`.", max_length=400)
        ] = None,
        limit: Annotated[int, Query(ge=1, le=settings.max_page_size)] = settings.page_size,
        organisation_id: Annotated[
            str | None, Query(alias="organisationId", max_length=96, pattern=ID_PATTERN)
        ] = None,
        updated_since: Annotated[datetime | None, Query(alias="updatedSince")] = None,
        include: Annotated[Literal["sensitive"] | None, Query()] = None,
        orphaned: Annotated[
            Literal["exclude", "include", "only"],
            Query(
                description="Orphans (replicas their restored owner hub no longer holds) are "
                "left out by default; `include` lists them with the others, `only` lists "
                "nothing else."
            ),
        ] = "exclude",
        subtree: Annotated[
            bool,
            Query(
                description="With `organisationId`: also the records of every organisation "
                "below it."
            ),
        ] = False,
        count: Annotated[
            bool,
            Query(
                description="Add `total`: how many records match the filters in all (within "
                "the caller's subtree)."
            ),
        ] = False,
        name: Annotated[
            str | None,
            Query(
                description="Organisations, members and applicants whose `name` contains this "
                "text.",
                min_length=1,
                max_length=100,
            ),
        ] = None,
    ) -> Response:
        authorize(caller, Act.READ)
        if updated_since is not None and updated_since.tzinfo is None:
            raise _naive()
        if subtree and organisation_id is None:
            raise _bad("subtree=true needs organisationId", "包含下级组织时须同时指定组织")
        if name is not None and coll not in NAMED:
            raise _bad(f"{coll} have no name to search", "该类记录没有可搜索的名称")
        search = Search(organisation_id=organisation_id, subtree=subtree, name=name)
        page = list_records(
            hub,
            caller,
            coll,
            after=after,
            limit=limit,
            updated_since=updated_since,
            sensitive=sensitive_allowed(caller, include == "sensitive"),
            orphaned=orphaned,
            search=search,
            count=count,
        )
        return Response(page_body(request, page), media_type=JSON)

    if coll in PERSONAL:
        _add_search(router, settings, model)


_SEARCH_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "citizenId": {"type": "string", "minLength": 1, "maxLength": 40},
        "phone": {"type": "string", "minLength": 1, "maxLength": 40},
        "organisationId": {"type": "string", "maxLength": 96, "pattern": ID_PATTERN},
        "subtree": {"type": "boolean"},
        "count": {"type": "boolean"},
        "limit": {"type": "integer", "minimum": 1},
        "after": {"type": "string", "maxLength": 400},
        "include": {"enum": ["sensitive"]},
    },
}
_SEARCH_FIELDS = {
    "name": str,
    "citizenId": str,
    "phone": str,
    "organisationId": str,
    "subtree": bool,
    "count": bool,
    "limit": int,
    "after": str,
    "include": str,
}


def _add_search(router: APIRouter, settings: Settings, model: type[Record]) -> None:
    coll = model.collection
    name = model.__name__

    @router.post(
        f"/v1/{coll}/search",
        tags=[coll],
        operation_id=f"search{name}s",
        summary=f"Search {coll} by name, citizen ID or phone (in the body, never in a URL)",
        openapi_extra={
            "requestBody": {"required": True, "content": {JSON: {"schema": _SEARCH_BODY}}}
        },
        responses={
            200: {
                "description": "A page of records; `after` continues the search",
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["items", "after"],
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "items": {"$ref": f"#/components/schemas/{name}"},
                                },
                                "after": {"type": ["string", "null"]},
                                "total": {"type": "integer"},
                            },
                        }
                    }
                },
            },
            **problem_responses(400, 401, 403, 413, 415, 429),
        },
    )
    async def search(request: Request, hub: HubDep, caller: Caller) -> Response:
        authorize(caller, Act.READ)
        body = await json_body(request, hub)
        asked = _search_body(body, settings)
        authorize_search(caller, asked.get("citizenId"), asked.get("phone"))
        org = asked.get("organisationId")
        if asked.get("subtree") and org is None:
            raise _bad("subtree needs organisationId", "包含下级组织时须同时指定组织")
        found = Search(
            organisation_id=org,
            subtree=bool(asked.get("subtree")),
            name=asked.get("name"),
            citizen_id=asked.get("citizenId"),
            phone=asked.get("phone"),
        )
        page = await to_thread.run_sync(
            partial(
                list_records,
                hub,
                caller,
                coll,
                after=asked.get("after"),
                limit=asked.get("limit", settings.page_size),
                sensitive=sensitive_allowed(caller, asked.get("include") == "sensitive"),
                search=found,
                count=bool(asked.get("count")),
            )
        )
        out = b'{"items":[' + b",".join(page.items) + b'],"after":'
        out += orjson.dumps(page.cursor if page.more else None)
        if page.total is not None:
            out += b',"total":' + str(page.total).encode()
        return Response(out + b"}", media_type=JSON)


def _search_body(body: Any, settings: Settings) -> dict[str, Any]:
    """The search's fields, checked (400 ``invalid-parameter`` naming the first wrong one)."""
    if not isinstance(body, dict):
        raise _bad("the search is a JSON object", "查找条件须为对象")
    for key, value in body.items():
        kind = _SEARCH_FIELDS.get(key)
        if kind is None:
            raise _bad(f"unknown search field {key!r}", "查找条件中有未知字段")
        if type(value) is not kind or (isinstance(value, str) and not 0 < len(value) <= 400):
            raise _bad(
                f"search field {key!r} has the wrong type or length", "查找条件字段类型或长度不符"
            )
    limit = body.get("limit", settings.page_size)
    if not 1 <= limit <= settings.max_page_size:
        raise _bad(f"limit must lie in 1 … {settings.max_page_size}", "每页条数超出允许范围")
    org = body.get("organisationId")
    if org is not None and not re.fullmatch(ID_PATTERN, org):
        raise _bad("organisationId is not an id", "组织标识无效")
    if body.get("include") not in (None, "sensitive"):
        raise _bad("include may only be 'sensitive'", "包含项的取值无效")
    return body


def _bad(en: str, zh: str) -> HubError:
    return BadRequest(problems.INVALID_PARAMETER, en, zh)


def _naive() -> HubError:
    return BadRequest(
        problems.INVALID_PARAMETER,
        "updatedSince needs a time-zone offset",
        "updatedSince 需要带时区",
    )


def record_router(settings: Settings) -> APIRouter:
    """The record routes of every type of the standard."""
    router = APIRouter()
    for model in RECORD_TYPES:
        _add(router, settings, model)
    return router
