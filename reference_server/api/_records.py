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
from tongxin.server._policy import Act, authorize
from tongxin.server._reads import get_record, list_records, sensitive_allowed
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
    ) -> Response:
        authorize(caller, Act.READ)
        if updated_since is not None and updated_since.tzinfo is None:
            raise _naive()
        page = list_records(
            hub,
            caller,
            coll,
            after=after,
            limit=limit,
            organisation_id=organisation_id,
            updated_since=updated_since,
            sensitive=sensitive_allowed(caller, include == "sensitive"),
            orphaned=orphaned,
        )
        return Response(page_body(request, page), media_type=JSON)


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
