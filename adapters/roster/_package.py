"""Import into a package file: re-importing updates the same members and applicants (matched
by citizen ID against the package already there), keeps their versions when nothing changed,
and never creates a person twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ._import import Candidate, Options, Roster, branch_type, organisation_id
from ._model import ImportResult
from ._read import ReadError

__all__ = ["import_to_package", "load_package", "place_branches"]

_META = ("version", "updatedAt")


def load_package(path: Path) -> dict[str, Any] | None:
    """The package at ``path``, or None when there is none yet."""
    if not path.exists():
        return None
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ReadError(path, f"not a readable package ({exc})", "不是可读取的数据包") from None
    if not isinstance(data, dict):
        raise ReadError(path, "not a package", "不是数据包")
    return data


def place_branches(
    roster: Roster, organisations: list[dict[str, Any]], *, create: bool = True
) -> list[dict[str, Any]]:
    """Point every candidate at its organisation: its branch, matched by name among the
    organisations under the root (created as the root's children when missing), else the root.
    Returns the organisations created."""
    opts = roster.options
    root = opts.organisation
    under = subtree_ids(organisations, root)
    by_name = {o["name"]: o["id"] for o in organisations if o["id"] in under | {root}}
    created: list[dict[str, Any]] = []
    for c in roster.candidates:
        if c.branch is None:
            if root:
                c.record["organisationId"] = root
            continue
        if c.branch not in by_name and create:
            org: dict[str, Any] = {
                "id": organisation_id(opts.hub_id, root or "", c.branch),
                "version": 1,
                "updatedAt": opts.stamp,
                "name": c.branch,
                "type": branch_type(c.branch),
            }
            if root:
                org["parentId"] = root
            created.append(org)
            by_name[c.branch] = org["id"]
        c.record["organisationId"] = by_name[c.branch]
    return created


def subtree_ids(organisations: list[dict[str, Any]], root: str | None) -> set[str]:
    if root is None:
        return {o["id"] for o in organisations}
    children: dict[str, list[str]] = {}
    for o in organisations:
        children.setdefault(o.get("parentId") or "", []).append(o["id"])
    out, todo = set(), [root]
    while todo:
        node = todo.pop()
        for child in children.get(node, ()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _content(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in _META}
    if isinstance(out.get("citizenId"), str):
        out["citizenId"] = out["citizenId"].upper()
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _content(a) == _content(b)


def _versions(candidates: list[Candidate], previous: dict[str, dict[str, Any]]) -> None:
    for c in candidates:
        old = previous.get(c.record.get("id", ""))
        if old is None:
            continue
        if _same(old, c.record):
            c.record["version"], c.record["updatedAt"] = old["version"], old["updatedAt"]
        else:
            c.record["version"] = int(old.get("version", 0)) + 1


def _records(base: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [r for r in base.get(key, []) if isinstance(r, dict) and "id" in r]


def _holders(records: list[dict[str, Any]]) -> dict[str, str]:
    return {str(r["citizenId"]).upper(): r["id"] for r in records if r.get("citizenId")}


def import_to_package(paths: list[Path], out: Path, options: Options) -> ImportResult:
    """Import rosters into the package ``out`` (created, or updated in place): members from
    member sheets, applicants from applicants sheets (the package becomes 1.1 when it holds
    applicants)."""
    roster = Roster(options)
    roster.read(paths)
    base = load_package(out) or {}
    organisations = [o for o in base.get("organisations", []) if isinstance(o, dict)]
    before, applicants = _records(base, "members"), _records(base, "applicants")
    created = place_branches(roster, organisations)
    roster.created = {o["id"] for o in created}
    roster.assign_ids(_holders(before), _holders(applicants))
    roster.link_people(before)
    for kind, old in (("members", before), ("applicants", applicants)):
        _versions([c for c in roster.candidates if c.kind == kind], {r["id"]: r for r in old})
    touched = {(c.kind, c.record.get("id")) for c in roster.candidates}
    others = [m for m in before if ("members", m["id"]) not in touched]
    other_applicants = [a for a in applicants if ("applicants", a["id"]) not in touched]
    orgs = organisations + created
    accepted = roster.check(orgs, others, other_applicants)
    result = roster.finish()
    new_members = roster.accepted_of("members")
    members = _merge(before, [r for r in accepted if r["id"] in new_members])
    merged = _merge(applicants, [r for r in accepted if r["id"] not in new_members])
    version = "1.1" if merged else str(base.get("schemaVersion", "1.0"))
    package = {
        "schemaVersion": version,
        "publisher": base.get("publisher", options.hub_id),
        "publishedAt": options.stamp,
        "organisations": orgs,
        "members": members,
        **{k: v for k, v in base.items() if k in ("activities", "duesPayments", "transfers")},
    }
    if merged:
        package["applicants"] = merged
    out.write_bytes(orjson.dumps(package, option=orjson.OPT_INDENT_2) + b"\n")
    result.package = package
    return result


def _merge(before: list[dict[str, Any]], accepted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The previous records in their order, updated where a row was accepted, then the new."""
    new = {m["id"]: m for m in accepted}
    out = [new.pop(m["id"], m) for m in before]
    return out + list(new.values())
