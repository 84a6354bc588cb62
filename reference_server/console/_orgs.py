"""The organisation tree with member counts (counted in the database), and the organisation
create and edit forms. Only the signed-in user's subtree exists for these pages; saving goes
through the API's write path (:func:`tongxin.server._service.write_record`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import and_, func, select

from tongxin.server._accounts import Session
from tongxin.server._directory import organisations
from tongxin.server._errors import HubError
from tongxin.server._hub import Hub
from tongxin.server._security import NOWHERE, Principal
from tongxin.server._service import create_record, replace_record
from tongxin.server._tables import fact_kind, org_tree, record_facts

from ._kit import (
    Spec,
    editable,
    errors_of,
    form_values,
    form_version,
    may_write,
    merge_form,
    word,
)
from ._page import checked_form, error_page, hub_of, lang_of, render, signed_in

__all__ = ["ORG_FIELDS", "TreeNode", "org_pages", "org_tree_counts"]

_ORPHAN = 2
_LIMIT = 2000

ORG_FIELDS = [
    Spec("name", "名称", "Name", required=True),
    Spec("type", "组织类别", "Type", "code", "organisation-type", required=True),
    Spec("parentId", "上级党组织", "Parent organisation", "org"),
    Spec("divisionCode", "行政区划代码", "Division code"),
    Spec("establishedDate", "成立日期", "Established", "date"),
    Spec("creditCode", "统一社会信用代码", "Credit code"),
    Spec("hostUnit", "所在单位", "Host unit"),
    Spec("termYears", "任期（年）", "Term (years)", "int"),
    Spec("electedDate", "换届选举日期", "Elected", "date"),
]


@dataclass(frozen=True, slots=True)
class TreeNode:
    """An organisation of the caller's subtree: depth below the caller's root, its own members
    and the members of its whole subtree."""

    id: str
    name: str
    type: str
    depth: int
    direct: int
    total: int


def org_tree_counts(hub: Hub, principal: Principal) -> list[TreeNode]:
    """The caller's organisations in tree order with member counts. The members placed at each
    organisation are counted by the database (``GROUP BY`` over the members' index of
    ``record_facts``, no record read); each count is then carried up the chain of parents
    here, over the organisations alone (work in proportion to organisations × depth, whatever
    the number of members)."""
    c = record_facts.c  # live records only: a tombstone has no row there
    inside = org_tree.c.path.startswith(principal.subtree or NOWHERE, autoescape=True)
    where = and_(fact_kind("members"), c.orphan != _ORPHAN)
    tree = select(org_tree.c.id, org_tree.c.parent_id, org_tree.c.path)
    if principal.restricted:
        where = and_(where, c.scope_org.in_(select(org_tree.c.id).where(inside)))
        tree = tree.where(inside)
    counted = select(c.scope_org, func.count()).where(where).group_by(c.scope_org)
    with hub.db.read() as conn:
        direct: dict[str, int] = {str(k): int(n) for k, n in conn.execute(counted).all()}
        places = conn.execute(tree).all()
        parent_of = {p.id: p.parent_id for p in places}
        total: dict[str, int] = {}
        for org, n in direct.items():
            at: str | None = org
            while at is not None and at in parent_of:
                total[at] = total.get(at, 0) + n
                at = parent_of[at]
        shown = sorted(places, key=lambda p: str(p.path))[:_LIMIT]
        o = record_facts.alias("o")
        named = {
            r.id: (r.name, r.type)
            for r in conn.execute(
                select(o.c.id, o.c.name, o.c.type).where(
                    o.c.collection == "organisations", o.c.id.in_([p.id for p in shown])
                )
            )
        }
    # the caller's own organisation (or a top-level one) is at depth 0
    base = (principal.subtree or "").count("/") if principal.restricted else 1
    nodes = [
        TreeNode(
            p.id,
            str(named[p.id][0] or p.id),
            str(named[p.id][1] or ""),
            str(p.path).count("/") - base,
            direct.get(p.id, 0),
            total.get(p.id, 0),
        )
        for p in shown
        if p.id in named
    ]
    return _by_name(nodes, {p.id: p.parent_id for p in shown})


def _by_name(nodes: list[TreeNode], parents: dict[str, str | None]) -> list[TreeNode]:
    """Tree order with each organisation's children by name (the paths order them by id)."""
    children: dict[str | None, list[TreeNode]] = {}
    for node in nodes:
        parent = parents.get(node.id)
        children.setdefault(parent if parent in parents else None, []).append(node)
    out: list[TreeNode] = []
    stack = sorted(children.get(None, []), key=lambda n: (n.name, n.id), reverse=True)
    while stack:
        node = stack.pop()
        out.append(node)
        below = children.get(node.id, [])
        stack.extend(sorted(below, key=lambda n: (n.name, n.id), reverse=True))
    return out


def org_pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def form_page(
        request: Request,
        session: Session,
        *,
        values: dict[str, str],
        version: int | None,
        action: str,
        heading: str,
        status: int = 200,
        errors: Any = None,
        reload: str | None = None,
    ) -> Response:
        orgs = await to_thread.run_sync(organisations, hub_of(request), session.principal)
        return render(
            request,
            "record_form.html",
            status,
            session=session,
            specs=ORG_FIELDS,
            values=values,
            version=version,
            action=action,
            heading=heading,
            errors=errors,
            orgs=orgs,
            sealed={},
            back="/console/orgs",
            reload=reload,
        )

    @router.get("/console/orgs")
    async def tree(request: Request) -> Response:
        session = await signed_in(request)
        nodes = await to_thread.run_sync(org_tree_counts, hub_of(request), session.principal)
        return render(
            request, "org_tree.html", session=session, nodes=nodes, writer=may_write(session)
        )

    @router.get("/console/orgs/new")
    async def new_form(request: Request, parentId: str = "") -> Response:  # noqa: N803
        session = await signed_in(request)
        if not may_write(session):
            return error_page(request, session, "read-only", 403)
        values = {"parentId": parentId[:96] or session.organisation_id, "type": "branch"}
        heading = word(request, "new-org")
        return await form_page(
            request, session, values=values, version=None, action="/console/orgs/new",
            heading=heading,
        )  # fmt: skip

    @router.post("/console/orgs/new")
    async def create(request: Request) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        if not may_write(session):
            return error_page(request, session, "read-only", 403)
        body, entered = merge_form({}, form, ORG_FIELDS)
        hub = hub_of(request)
        try:
            await to_thread.run_sync(create_record, hub, session.principal, "organisations", body)
        except HubError as error:
            return await form_page(
                request, session, values=entered, version=None, action="/console/orgs/new",
                heading=word(request, "new-org"), status=error.status,
                errors=errors_of(error, ORG_FIELDS, lang_of(request), None),
            )  # fmt: skip
        return RedirectResponse("/console/orgs", status_code=303)

    @router.get("/console/orgs/{org_id}/edit")
    async def edit_form(request: Request, org_id: str) -> Response:
        session = await signed_in(request)
        found = await editable(request, session, "organisations", org_id)
        record, version = found
        return await form_page(
            request, session, values=form_values(record, ORG_FIELDS), version=version,
            action=request.url.path, heading=f"{record.get('name', '')}",
        )  # fmt: skip

    @router.post("/console/orgs/{org_id}/edit")
    async def edit(request: Request, org_id: str) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        hub = hub_of(request)
        stored, _ = await editable(request, session, "organisations", org_id)
        mine = form_version(form)
        body, entered = merge_form(stored, form, ORG_FIELDS)
        try:
            await to_thread.run_sync(
                replace_record, hub, session.principal, "organisations", org_id, body, mine
            )
        except HubError as error:
            return await form_page(
                request, session, values=entered, version=mine, action=request.url.path,
                heading=str(stored.get("name", "")), status=error.status,
                errors=errors_of(error, ORG_FIELDS, lang_of(request), mine),
                reload=request.url.path,
            )  # fmt: skip
        return RedirectResponse("/console/orgs", status_code=303)

    return router
