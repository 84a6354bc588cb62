"""Import into a hub: branches matched by name under the root (created when missing), members
and applicants sent through ``POST /v1/bulk``, members matched at the hub by citizen ID through
its keyed hash (a create refused with ``UNQ-001`` names the member who holds the number, and
the row is sent again as an update of that member), applicants matched against the hub's
applicants, and the hub's per-line results folded into the report."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tongxin.schemas import Issue, Severity

from ._http import HubClient, HubRequestError
from ._import import Candidate, Options, Roster
from ._model import ImportResult
from ._package import place_branches
from ._rules import roster_rule

__all__ = ["import_to_hub"]

_MEMBER_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,31}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
Progress = Callable[[int, int], None]


def import_to_hub(
    paths: list[Path], client: HubClient, options: Options, progress: Progress | None = None
) -> ImportResult:
    """Import rosters into the hub behind ``client``."""
    roster = Roster(options)
    roster.read(paths)
    organisations = list(client.records("organisations"))
    created = place_branches(roster, organisations)
    roster.created = {o["id"] for o in created}
    applicants = [c for c in roster.candidates if c.kind == "applicants"]
    held: list[dict[str, Any]] = _readable(client, "applicants") if applicants else []
    # with applicants, the hub's members are read: introducers name them
    members: list[dict[str, Any]] = _readable(client, "members") if applicants else []
    roster.assign_ids(_holders(members), _holders(held))
    _same_people(applicants, held)
    roster.link_people(members)
    rows = {c.record.get("id") for c in roster.candidates}
    accepted = roster.check(organisations + created, [m for m in members if m["id"] not in rows])
    by_id = {(c.kind, c.record.get("id")): c for c in roster.candidates if not c.rejected}
    new_members = roster.accepted_of("members")
    ops = [_upsert("organisations", o) for o in created]
    ops += [_upsert("members", m) for m in accepted if m["id"] in new_members]
    ops += [_upsert("applicants", a) for a in accepted if a["id"] not in new_members]
    sender = _Sender(client, len(ops), progress)
    results = sender.send(ops)
    again: list[tuple[dict[str, Any], Candidate]] = []
    counts: Counter[str] = Counter()
    for op, res in zip(ops, results, strict=True):
        if op["type"] == "organisations":
            counts[res.get("outcome", "error")] += 1
            continue
        c = by_id[(op["type"], op["record"]["id"])]
        other = _holder(res)
        if other is not None:
            again.append((op, c))
            c.record["id"] = other
            continue
        counts[res.get("outcome", "error")] += 1
        _fold(c, res)
    if again:
        ops2 = [_upsert(op["type"], {**op["record"], "id": c.record["id"]}) for op, c in again]
        for (_op, c), res in zip(again, _Sender(client, len(ops2), progress).send(ops2),
                                 strict=True):  # fmt: skip
            counts[res.get("outcome", "error")] += 1
            _fold(c, res)
    result = roster.finish()
    result.hub = dict(counts)
    return result


def _readable(client: HubClient, collection: str) -> list[dict[str, Any]]:
    """Every record of ``collection`` the token may read, with citizen IDs when it may."""
    try:
        return list(client.records(collection, include="sensitive"))
    except HubRequestError:  # a token without records:read-sensitive
        return list(client.records(collection))


def _holders(records: list[dict[str, Any]]) -> dict[str, str]:
    return {str(r["citizenId"]).upper(): r["id"] for r in records if r.get("citizenId")}


def _same_people(rows: list[Candidate], held: list[dict[str, Any]]) -> None:
    """An applicant row not matched by citizen ID takes the id of the hub's applicant of the
    same name, birth date and organisation (a token that may not read citizen IDs)."""
    ids = {a["id"] for a in held}
    by_person = {(a.get("name"), a.get("birthDate"), a.get("organisationId")): a["id"]
                 for a in held}  # fmt: skip
    for c in rows:
        r = c.record
        if r.get("id") not in ids:
            found = by_person.get((r.get("name"), r.get("birthDate"), r.get("organisationId")))
            if found is not None:
                r["id"] = found


def _upsert(collection: str, record: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in record.items() if k not in ("version", "updatedAt")}
    return {"op": "upsert", "type": collection, "record": body}


def _holder(res: dict[str, Any]) -> str | None:
    """The member that already holds the row's citizen ID (UNQ-001 names it), or None."""
    if res.get("code") != "duplicate-citizen-id":
        return None
    existing = res.get("existing")
    if isinstance(existing, str) and existing.startswith("/v1/members/"):
        return existing.removeprefix("/v1/members/")
    for p in res.get("problems", []):  # hubs that do not name `existing` in bulk results
        if p.get("rule") == "UNQ-001":
            found = _MEMBER_ID.search(p.get("message", {}).get("en", ""))
            if found and found[0] != res.get("id"):
                return found[0]
    return None


def _fold(c: Candidate, res: dict[str, Any]) -> None:
    """Add the hub's findings on a row that the local check has not already reported."""
    have = {(i.rule, i.column) for i in c.issues}
    problems = res.get("problems", [])
    if res.get("outcome") == "error" and not any(p.get("severity") == "error" for p in problems):
        detail = str(res.get("detail") or res.get("code") or res.get("status"))
        status = res.get("status", "")
        c.at(None, roster_rule("ROS-030").issue("", detail=detail, status=status))
        return
    for p in problems:
        pointer = str(p.get("pointer", "")).removeprefix("/record")
        name = pointer.split("/")[1] if pointer.count("/") else None
        name = "organisation" if name == "organisationId" else name
        message = p.get("message", {})
        issue = Issue(
            str(p.get("rule", "ROS-030")),
            Severity(p.get("severity", "error")),
            pointer,
            str(message.get("zh-CN", "")),
            str(message.get("en", "")),
        )
        col = c.cols.get(name) if name else None
        from ._read import column_letter

        if (issue.rule, column_letter(col) if col is not None else None) not in have:
            c.at(name, issue)


class _Sender:
    """Bulk requests of at most the hub's ``maxBulkLines``, with one progress total."""

    def __init__(self, client: HubClient, total: int, progress: Progress | None) -> None:
        self.client, self.total, self.progress, self.done = client, total, progress, 0

    def send(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        size = max(1, min(self.client.bulk_lines, 2000))
        results: list[dict[str, Any]] = []
        for start in range(0, len(ops), size):
            chunk = [orjson.dumps(op) for op in ops[start : start + size]]
            base = self.done

            def tick(n: int, base: int = base) -> None:
                if self.progress is not None:
                    self.progress(base + n, self.total)

            results.extend(self.client.bulk(chunk, tick))
            self.done = base + len(chunk)
        return results
