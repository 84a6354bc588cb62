"""Finding members for the console: by name, by citizen ID (through the hub's keyed hash, never
in clear), by phone (through a keyed-hash index, :mod:`._phones`), within an organisation
subtree, with a total count and pages. Only what the caller sees is searched. Names, categories
and statuses are read from ``record_facts`` (typed columns, a name index for the sorted pages),
never from the stored documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from tongxin.schemas import problems

from ._errors import NotFound
from ._hub import Hub
from ._policy import authorize_search, sees
from ._security import NOWHERE, Principal, org_path
from ._tables import fact_kind, name_contains, org_tree, record_facts, records

__all__ = [
    "SELECTABLE",
    "MemberQuery",
    "MemberRow",
    "Organisation",
    "organisations",
    "search_members",
]

_ORPHAN = 2
F = record_facts.c


@dataclass(frozen=True, slots=True)
class MemberQuery:
    """A search: any of name (part of it), citizen ID (whole), phone (whole); a subtree."""

    name: str | None = None
    citizen_id: str | None = None
    phone: str | None = None
    organisation_id: str | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One member as the list shows it (no sensitive field)."""

    id: str
    name: str
    organisation_id: str
    organisation_name: str
    category: str
    status: str


@dataclass(frozen=True, slots=True)
class Organisation:
    """An organisation of the caller's subtree, with its depth below the caller's root."""

    id: str
    name: str
    depth: int


def _prefix(hub: Hub, principal: Principal, organisation_id: str | None) -> str | None:
    if organisation_id is None:
        return principal.subtree if principal.restricted else None
    with hub.db.read() as conn:
        path = org_path(conn, organisation_id)
    if path is None or not sees(principal, path):
        raise NotFound(
            problems.NOT_FOUND,
            f"organisations/{organisation_id} does not exist",
            f"记录 organisations/{organisation_id} 不存在",
        )
    return path


def _where(hub: Hub, principal: Principal, query: MemberQuery) -> ColumnElement[bool]:
    c = F
    where = and_(fact_kind("members"), c.orphan != _ORPHAN)
    prefix = _prefix(hub, principal, query.organisation_id)
    if prefix is not None:
        inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
        where = and_(where, c.scope_org.in_(inside))
    if query.name:
        where = and_(where, name_contains(query.name))
    if query.citizen_id:
        r = records.c
        hashed = hub.cipher.citizen_hash(query.citizen_id.strip())
        found = select(r.id).where(r.collection == "members", r.citizen_hash == hashed)
        where = and_(where, c.id.in_(found))
    if query.phone:
        from ._phones import phone_ids

        where = and_(where, c.id.in_(phone_ids(hub, query.phone)))
    return where


def search_members(
    hub: Hub, principal: Principal, query: MemberQuery
) -> tuple[int, list[MemberRow]]:
    """The total number of members found, and the page asked for (by name, then id). Finding
    by citizen ID or phone needs ``records:read-sensitive``: an answer of one or none would
    otherwise confirm a number the caller may not read (:func:`._policy.authorize_search`)."""
    authorize_search(principal, query.citizen_id, query.phone)
    where = _where(hub, principal, query)
    # The page's ids first, from the narrow member-name index alone (the filters read only its
    # columns), then their other fields for those 20 rows: never the table row of every member
    # skipped on the way to the first matches.
    page = (
        select(F.id)
        .where(where)
        .order_by(F.name, F.id)
        .limit(query.per_page)
        .offset((max(query.page, 1) - 1) * query.per_page)
        .subquery("page")
    )
    orgs = record_facts.alias("o")
    listing = (
        select(
            F.id,
            F.name.label("name"),
            F.scope_org.label("org"),
            orgs.c.name.label("org_name"),
            F.category.label("category"),
            F.status.label("status"),
        )
        .select_from(
            page.join(record_facts, and_(fact_kind("members"), F.id == page.c.id)).outerjoin(
                orgs, and_(orgs.c.collection == "organisations", orgs.c.id == F.scope_org)
            )
        )
        .order_by(F.name, F.id)
    )
    with hub.db.read() as conn:
        total = conn.execute(select(func.count()).where(where)).scalar_one()
        rows = conn.execute(listing).all()
    return int(total), [_row(r) for r in rows]


def _row(r: Any) -> MemberRow:
    return MemberRow(
        r.id, str(r.name or ""), str(r.org or ""), str(r.org_name or ""), str(r.category or ""),
        str(r.status or ""),
    )  # fmt: skip


#: The organisations a page's selector lists; any other is reached from the organisation tree page.
SELECTABLE = 1_000


def organisations(hub: Hub, principal: Principal, limit: int = SELECTABLE) -> list[Organisation]:
    """The organisations of the caller's subtree in tree order, at most ``limit``: what the
    pages' organisation selectors offer. A check of one organisation never reads this list."""
    query = (
        select(org_tree.c.id, org_tree.c.path, F.name.label("name"))
        .select_from(
            org_tree.join(
                record_facts, and_(F.collection == "organisations", F.id == org_tree.c.id)
            )
        )
        .order_by(org_tree.c.path)
        .limit(limit)
    )
    if principal.restricted:
        prefix = principal.subtree or NOWHERE
        query = query.where(org_tree.c.path.startswith(prefix, autoescape=True))
    base = (principal.subtree or "").count("/")
    with hub.db.read() as conn:
        rows = conn.execute(query).all()
    return [Organisation(r.id, str(r.name or r.id), r.path.count("/") - base - 1) for r in rows]
