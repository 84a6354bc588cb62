"""Writing records: one engine for single requests and bulk batches.

:func:`prepare` is pure (validation with every rule of the standard, id minting, encryption of
sensitive fields, the keyed citizen-ID hash) and runs outside any transaction. :func:`apply_batch`
runs inside one writing transaction: it loads what the operations touch in a few queries,
decides each operation in order (later lines see earlier ones), then writes rows, the
organisation tree and the audit log with multi-row statements and hands out change sequences.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import (
    Connection,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from tongxin.schemas import Issue, Severity, codelist, field_title, problems, validate_record

from ._crypto import SENSITIVE_FIELDS
from ._errors import Conflict, Forbidden, HubError, NotFound, PreconditionFailed, Unprocessable
from ._exits import subtree_exits
from ._hub import Hub, now_stamp
from ._hubrules import HUB_RULES, TRANSFER_MOVES
from ._policy import may_learn, sees
from ._security import Principal
from ._store import Put, among, content_digest, sensitive_json, write_records
from ._tables import org_tree, records

__all__ = ["Op", "Outcome", "Uncheckable", "apply_batch", "check", "prepare"]

Action = Literal["create", "replace", "upsert", "delete"]
SERVER_FIELDS = ("version", "updatedAt")
_CHUNK = 2000
R = HUB_RULES
log = logging.getLogger("tongxin.server")


@dataclass(slots=True)
class Op:
    """One prepared write."""

    index: int
    action: Action
    collection: str
    id: str
    record: dict[str, Any] | None = None
    sensitive: dict[str, Any] = field(default_factory=dict)
    sealed: bytes | None = None
    citizen_hash: str | None = None
    digest: str = ""
    expected_version: int | None = None
    warnings: list[Issue] = field(default_factory=list)
    #: Sensitive fields the caller omitted and may not read, with the stored values merged back
    #: (None: the field was absent); the write goes ahead only while they are still stored.
    kept: dict[str, Any] | None = None


@dataclass(slots=True)
class Outcome:
    """What happened to one operation: a status and the record as stored, or an error."""

    index: int
    collection: str
    id: str | None
    status: int
    outcome: str
    version: int | None = None
    doc: str | None = None
    sensitive: dict[str, Any] | None = None
    warnings: list[Issue] = field(default_factory=list)
    error: HubError | None = None


@dataclass(slots=True)
class _Row:
    version: int
    deleted: bool
    owner: str
    scope_org: str | None
    scope_org2: str | None
    digest: str
    citizen_hash: str | None
    doc: str | None
    sealed: bytes | None = None
    updated_us: int = 0
    in_db: bool = True


def failed(index: int, collection: str, rid: str | None, error: HubError) -> Outcome:
    return Outcome(index, collection, rid, error.status, "error", error=error)


def prepare(
    hub: Hub,
    index: int,
    action: Action,
    collection: str,
    body: Any,
    *,
    record_id: str | None = None,
    expected_version: int | None = None,
    stamp: str | None = None,
    kept: dict[str, Any] | None = None,
) -> Op | Outcome:
    """Validate and encode one write; an :class:`Outcome` with the error when it is invalid.

    ``kept``: what :func:`keep_unseen` merged into ``body`` (its issues are reworded so that
    they never echo a value the caller may not read)."""
    if action == "delete":
        if not record_id:
            return failed(index, collection, None, _missing_id())
        return Op(index, action, collection, record_id, expected_version=expected_version)
    if not isinstance(body, dict):
        return failed(
            index,
            collection,
            record_id,
            Unprocessable(
                problems.INVALID_RECORD,
                "the record must be a JSON object",
                "记录必须是 JSON 对象",
                issues=[
                    _schema_issue("", "记录必须是 JSON 对象", "the record must be a JSON object")
                ],
            ),
        )
    record = {k: v for k, v in body.items() if k not in SERVER_FIELDS}
    if record_id is not None and record.get("id", record_id) != record_id:
        return failed(
            index,
            collection,
            record_id,
            Unprocessable(
                problems.ID_MISMATCH,
                "the id in the body differs from the id in the URL",
                "请求体中的 id 与 URL 不一致",
                issues=[
                    _schema_issue("/id", "与 URL 中的标识不一致", "differs from the id in the URL")
                ],
            ),
        )
    if action == "create" and "id" not in record:
        record["id"] = f"{hub.hub_id}:{secrets.token_hex(8)}"
    elif record_id is not None:
        record["id"] = record_id
    stamp = stamp or now_stamp()[0]
    candidate = {"id": record.get("id"), "version": 1, "updatedAt": stamp, **record}
    if candidate["id"] is None:
        del candidate["id"]
    try:
        issues = check(collection, candidate)
    except Uncheckable as error:
        return failed(index, collection, record_id, error)
    if kept:
        issues = [_unechoed(i, kept) for i in issues]
    errors = [i for i in issues if i.severity is Severity.ERROR]
    rid = record.get("id") if isinstance(record.get("id"), str) else None
    if errors:
        return failed(
            index,
            collection,
            rid,
            Unprocessable(
                problems.INVALID_RECORD,
                f"the record breaks {len(errors)} rule(s) of the standard",
                f"记录违反数据标准的 {len(errors)} 条规则",
                issues=errors,
            ),
        )
    assert rid is not None  # the schema requires a valid id
    sensitive = {k: record.pop(k) for k in SENSITIVE_FIELDS.get(collection, ()) if k in record}
    citizen = sensitive.get("citizenId")
    plain = sensitive_json(sensitive)  # serialised once: for the seal and the digest
    return Op(
        index,
        action,
        collection,
        rid,
        record,
        sensitive,
        sealed=hub.cipher.seal_json(rid, plain) if sensitive else None,
        citizen_hash=(  # one person is one member; an applicant may share a member's number
            hub.cipher.citizen_hash(citizen)
            if isinstance(citizen, str) and collection == "members"
            else None
        ),
        digest=content_digest(record, sensitive, plain),
        expected_version=expected_version,
        warnings=[i for i in issues if i.severity is not Severity.ERROR],
        kept=kept,
    )


def _unechoed(issue: Issue, kept: dict[str, Any]) -> Issue:
    name = issue.path.split("/")[1] if issue.path.count("/") else ""
    if name not in kept:
        return issue
    return Issue(
        issue.rule,
        issue.severity,
        issue.path,
        "本次修改与该字段的存储值不一致",
        "this edit does not agree with the stored value of this field",
    )


def keep_unseen(
    hub: Hub, principal: Principal, writes: list[tuple[str, str, dict[str, Any]]]
) -> list[dict[str, Any] | None]:
    """Lossless edits: a caller without ``records:read-sensitive`` cannot see citizenId and
    phone, so a body it sends without them keeps the stored values. For each write (collection,
    id, body) of an existing record this caller may edit, the stored value of every sensitive
    field the body omits is merged into ``body`` (in place), before validation, hash and digest;
    the result says what was merged (None: nothing to merge). A caller that may read them and
    omits one erases it, as PUT means."""
    out: list[dict[str, Any] | None] = [None] * len(writes)
    if principal.has("records:read-sensitive"):
        return out
    wanted = [
        n
        for n, (coll, _, body) in enumerate(writes)
        if any(f not in body for f in SENSITIVE_FIELDS.get(coll, ()))
    ]
    if not wanted:
        return out
    with hub.db.read() as conn:
        rows = _load_rows(conn, {writes[n][:2] for n in wanted})
        paths = _load_paths(
            conn, {o for r in rows.values() for o in (r.scope_org, r.scope_org2) if o}
        )
    for n in wanted:
        coll, rid, body = writes[n]
        row = rows.get((coll, rid))
        if row is None or row.deleted or row.owner != hub.hub_id:
            continue
        if principal.restricted and not _sees(principal, row, paths):
            continue
        stored = hub.cipher.open(rid, row.sealed) if row.sealed else {}
        kept = {f: stored.get(f) for f in SENSITIVE_FIELDS[coll] if f not in body}
        body.update((f, v) for f, v in kept.items() if v is not None)
        out[n] = kept
    return out


def _sees(principal: Principal, row: _Row, paths: dict[str, str | None]) -> bool:
    return sees(principal, *(paths.get(o) for o in (row.scope_org, row.scope_org2) if o))


class Uncheckable(Unprocessable):
    """A value the rules of the standard fail on (a defect, logged); the record is refused."""

    def __init__(self) -> None:
        super().__init__(
            problems.UNCHECKABLE_RECORD,
            "the record holds values the rules of the standard cannot check",
            "记录中含有数据标准的规则无法检查的值",
            issues=[_schema_issue("", "规则无法检查该记录", "the rules cannot check this record")],
        )


def check(collection: str, record: Any) -> list[Issue]:
    """``validate_record``; a rule that fails on odd input refuses the record, never crashes."""
    try:
        return validate_record(collection, record)
    except Exception:
        log.exception("a rule failed on a %s record", collection)
        raise Uncheckable() from None


def _schema_issue(path: str, zh: str, en: str) -> Issue:
    return Issue("SCH-001", Severity.ERROR, path, zh, en)


def _missing_id() -> HubError:
    return Unprocessable(
        problems.INVALID_RECORD,
        "a delete needs the record id",
        "删除操作需要记录标识",
        issues=[_schema_issue("/id", "缺少标识", "the id is missing")],
    )


def refs_of(collection: str, r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The references a record makes: (pointer, target collection, target id)."""
    out: list[tuple[str, str, str]] = []

    def add(pointer: str, target: str, value: Any) -> None:
        if isinstance(value, str):
            out.append((pointer, target, value))

    if collection == "organisations":
        add("/parentId", "organisations", r.get("parentId"))
    elif collection in ("members", "activities", "applicants"):
        add("/organisationId", "organisations", r.get("organisationId"))
        for i, person in enumerate(r.get("attendance") or []):
            add(f"/attendance/{i}/memberId", "members", person.get("memberId"))
    elif collection == "duesPayments":
        add("/memberId", "members", r.get("memberId"))
    elif collection == "transfers":
        add("/memberId", "members", r.get("memberId"))
        add("/fromOrganisationId", "organisations", r.get("fromOrganisationId"))
    return out


class _Batch:
    """The state of one batch: rows as loaded and as changed so far, paths, citizen hashes."""

    def __init__(self, hub: Hub, conn: Connection, principal: Principal, ops: list[Op]) -> None:
        self.hub, self.conn, self.principal = hub, conn, principal
        keys = {(op.collection, op.id) for op in ops}
        for op in ops:
            if op.record is not None:
                keys.update((c, i) for _, c, i in refs_of(op.collection, op.record))
        self.rows = _load_rows(conn, keys)
        orgs = {i for c, i in keys if c == "organisations"}
        orgs.update(r.scope_org for r in self.rows.values() if r.scope_org)
        orgs.update(r.scope_org2 for r in self.rows.values() if r.scope_org2)
        orgs.update(
            op.record["toOrganisationId"]
            for op in ops
            if op.collection == "transfers" and op.record
        )
        self.paths = _load_paths(conn, orgs)
        self.taken = _load_hashes(conn, hub.hub_id, {op.citizen_hash for op in ops} - {None})
        self.dirty: dict[tuple[str, str], _Row] = {}
        self.moves: list[tuple[str, str]] = []
        self.tree: dict[str, tuple[str | None, str | None]] = {}
        self.audit: list[dict[str, Any]] = []
        self.stamp, self.stamp_us = now_stamp()

    def visible(self, row: _Row) -> bool:
        return _sees(self.principal, row, self.paths)

    def put(self, op: Op, row: _Row, before: int | None, action: str) -> None:
        key = (op.collection, op.id)
        self.dirty.pop(key, None)
        self.dirty[key] = row
        self.rows[key] = row
        self.audit.append(
            {
                "at": datetime.now(UTC),
                "token_id": self.principal.token_id,
                "action": action,
                "collection": op.collection,
                "record_id": op.id,
                "before_version": before,
                "after_version": row.version,
            }
        )


def _load_rows(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], _Row]:
    out: dict[tuple[str, str], _Row] = {}
    c = records.c
    cols = (
        c.collection,
        c.id,
        c.version,
        c.deleted,
        c.owner,
        c.scope_org,
        c.scope_org2,
        c.digest,
        c.citizen_hash,
        c.doc,
        c.sealed,
        c.updated_us,
    )
    by_collection: dict[str, list[str]] = {}
    for coll, rid in keys:
        by_collection.setdefault(coll, []).append(rid)
    for coll, ids in by_collection.items():
        for i in range(0, len(ids), _CHUNK):
            query = select(*cols).where(
                c.collection == coll, among(conn, c.id, ids[i : i + _CHUNK])
            )
            for r in conn.execute(query):
                out[(r.collection, r.id)] = _Row(
                    r.version,
                    r.deleted,
                    r.owner,
                    r.scope_org,
                    r.scope_org2,
                    r.digest,
                    r.citizen_hash,
                    r.doc,
                    r.sealed,
                    r.updated_us,
                )
    return out


def _load_paths(conn: Connection, ids: set[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    listed = sorted(ids)
    for i in range(0, len(listed), _CHUNK):
        chunk = listed[i : i + _CHUNK]
        query = select(org_tree.c.id, org_tree.c.path).where(among(conn, org_tree.c.id, chunk))
        out.update((r.id, r.path) for r in conn.execute(query))
    return out


def _load_hashes(conn: Connection, owner: str, hashes: set[str | None]) -> dict[str, str]:
    listed = sorted(h for h in hashes if h)
    out: dict[str, str] = {}
    for i in range(0, len(listed), _CHUNK):
        query = select(records.c.citizen_hash, records.c.id).where(
            records.c.owner == owner, among(conn, records.c.citizen_hash, listed[i : i + _CHUNK])
        )
        out.update((r.citizen_hash, r.id) for r in conn.execute(query))
    return out


def apply_batch(hub: Hub, conn: Connection, principal: Principal, ops: list[Op]) -> list[Outcome]:
    """Decide and write ``ops`` in this transaction; one outcome per operation, in order."""
    batch = _Batch(hub, conn, principal, ops)
    outcomes = []
    for op in ops:
        try:
            outcomes.append(_apply(batch, op))
        except HubError as error:
            outcomes.append(failed(op.index, op.collection, op.id, error))
    _flush(batch)
    return outcomes


def _apply(b: _Batch, op: Op) -> Outcome:
    key = (op.collection, op.id)
    cur = b.rows.get(key)
    seen = cur is not None and b.visible(cur)
    live = cur is not None and not cur.deleted and seen
    if cur is not None and seen and cur.owner != b.hub.hub_id:
        raise _replica(cur.owner)
    if op.kept is not None:
        _check_kept(b, op, cur if live else None)
    if op.action == "delete":
        if cur is None or not live:
            raise _not_found(op)
        _check_version(op, cur)
        return _delete(b, op, cur)
    if op.action == "replace" and (cur is None or not live):
        raise _not_found(op)
    if not (seen and cur is not None and cur.owner == b.hub.hub_id):
        # Would create a record: only under this hub's id. The same answer whether or not a
        # record this caller cannot see holds the id.
        _check_prefix(b, op)
    if cur is not None and live:
        _check_version(op, cur)
        if cur.digest == op.digest:
            return Outcome(
                op.index,
                op.collection,
                op.id,
                200,
                "unchanged",
                cur.version,
                cur.doc,
                op.sensitive,
                op.warnings,
            )
        if op.action == "create":
            raise Conflict(
                problems.ALREADY_EXISTS,
                f"{op.id} already exists with other content",
                f"{op.id} 已存在且内容不同",
                issues=[R["UNQ-002"].issue("/id", id=op.id, version=cur.version)],
                currentVersion=cur.version,
            )
    # A record (or tombstone) this caller cannot see holds the id: taken, and nothing more.
    return _write(b, op, cur, hidden=cur is not None and not seen)


def _check_prefix(b: _Batch, op: Op) -> None:
    prefix = op.id.partition(":")[0]
    if prefix != b.hub.hub_id:
        raise Unprocessable(
            problems.FOREIGN_ID,
            f"records created on this hub have ids that start with {b.hub.hub_id}:",
            f"在本枢纽创建的记录，其标识必须以 {b.hub.hub_id}: 开头",
            issues=[R["OWN-002"].issue("/id", prefix=prefix, hub=b.hub.hub_id)],
        )


def _check_kept(b: _Batch, op: Op, cur: _Row | None) -> None:
    """The sensitive values merged into a narrow caller's edit are still the stored ones."""
    assert op.kept is not None
    stored = b.hub.cipher.open(op.id, cur.sealed) if cur is not None and cur.sealed else {}
    if cur is None or any(stored.get(f) != v for f, v in op.kept.items()):
        raise PreconditionFailed(
            problems.VERSION_MISMATCH,
            "the record changed while this edit was prepared; read it again and retry",
            "准备本次修改期间记录已被更改，请重新读取后再试",
        )


def _taken(op: Op) -> HubError:
    # Exists, outside this caller's view: say only that the id is taken, never where.
    return Conflict(
        problems.ID_UNAVAILABLE, f"the id {op.id} cannot be used", f"标识 {op.id} 不可用"
    )


def _check_version(op: Op, cur: _Row) -> None:
    if op.expected_version is not None and op.expected_version != cur.version:
        raise PreconditionFailed(
            problems.VERSION_MISMATCH,
            f"the record is at version {cur.version}, not {op.expected_version}",
            f"记录当前版本为 {cur.version}，不是 {op.expected_version}",
            currentVersion=cur.version,
        )


def _not_found(op: Op) -> HubError:
    return NotFound(
        problems.NOT_FOUND,
        f"{op.collection}/{op.id} does not exist",
        f"记录 {op.collection}/{op.id} 不存在",
    )


def _replica(owner: str) -> HubError:
    return Conflict(
        problems.REPLICA_READ_ONLY,
        f"this record is a read-only replica owned by hub {owner}",
        f"该记录是只读副本，归 {owner} 枢纽所有",
        issues=[R["OWN-001"].issue("/id", owner=owner)],
        owner=owner,
    )


def _scope(b: _Batch, op: Op, record: dict[str, Any]) -> tuple[str | None, str | None]:
    if op.collection == "organisations":
        return op.id, None
    if op.collection in ("members", "activities", "applicants"):
        return record["organisationId"], None
    if op.collection == "duesPayments":
        member = b.rows.get(("members", record["memberId"]))
        return (member.scope_org if member else None), None
    return record["fromOrganisationId"], record["toOrganisationId"]


def _check_refs(b: _Batch, op: Op, record: dict[str, Any]) -> None:
    missing, outside = [], []
    for pointer, target, rid in refs_of(op.collection, record):
        row = b.rows.get((target, rid))
        # Organisation ids are public; an unseen member is reported as absent.
        if (
            row is not None
            and not row.deleted
            and target == "organisations"
            and (not b.principal.sees(b.paths.get(rid)))
        ):
            outside.append(
                R["REF-002"].issue(pointer, **_field(op.collection, pointer), target=rid)
            )
        elif row is None or row.deleted or not b.visible(row):
            missing.append(
                R["REF-001"].issue(pointer, **_field(op.collection, pointer), target=rid)
            )
    if missing:
        raise Unprocessable(
            problems.UNRESOLVED_REFERENCE,
            f"{len(missing)} reference(s) do not resolve on this hub",
            f"{len(missing)} 个引用在本枢纽无法解析",
            issues=missing,
        )
    if outside:
        raise Forbidden(
            problems.OUTSIDE_SUBTREE,
            "the record refers outside this token's organisation subtree",
            "记录引用了本令牌组织范围以外的党组织",
            issues=outside,
        )


def _org_path(b: _Batch, op: Op, record: dict[str, Any], cur: _Row | None) -> str:
    parent = record.get("parentId")
    base = (b.paths.get(parent) or "") if isinstance(parent, str) else ""
    old = b.paths.get(op.id)
    if old is not None and base.startswith(old):
        raise Unprocessable(
            problems.ORGANISATION_CYCLE,
            "the organisation would become its own ancestor",
            "组织将成为自身的下级",
            issues=[R["ORG-101"].issue("/parentId", parent=parent)],
        )
    return base + op.id + "/"


def _write(b: _Batch, op: Op, cur: _Row | None, *, hidden: bool = False) -> Outcome:
    assert op.record is not None
    record = op.record
    _check_refs(b, op, record)
    scope, scope2 = _scope(b, op, record)
    p = b.principal
    where: str | None
    if op.collection == "organisations":
        parent = record.get("parentId")
        base = (b.paths.get(parent) or "") if isinstance(parent, str) else ""
        where = base + op.id + "/"
    else:
        where = b.paths.get(scope or "")
    if p.restricted and not (p.sees(where) or (scope2 is not None and p.sees(b.paths.get(scope2)))):
        raise Forbidden(
            problems.OUTSIDE_SUBTREE,
            "the record lies outside this token's organisation subtree",
            "记录不在本令牌的组织范围内",
        )
    if hidden:
        # Checked after the caller's right to write this content, so that only a write it
        # could make learns that the id is taken.
        raise _taken(op)
    new_path = _org_path(b, op, record, cur) if op.collection == "organisations" else None
    if op.collection == "transfers" and cur is not None and cur.doc and not cur.deleted:
        old_state = orjson.loads(cur.doc).get("state", "issued")
        if record["state"] not in TRANSFER_MOVES.get(old_state, frozenset()):
            raise Unprocessable(
                problems.TRANSFER_STATE,
                f"a transfer cannot move from {old_state} to {record['state']}",
                f"转接状态不能从“{_state_zh(old_state)}”改为“{_state_zh(record['state'])}”",
                issues=[
                    R["TRF-101"].issue(
                        "/state",
                        old=old_state,
                        new=record["state"],
                        old_zh=_state_zh(old_state),
                        new_zh=_state_zh(record["state"]),
                    )
                ],
            )
    if op.citizen_hash is not None:
        other = b.taken.get(op.citizen_hash)
        if other is not None and other != op.id:
            raise _duplicate_person(b, other)
    if cur is not None and cur.citizen_hash and cur.citizen_hash != op.citizen_hash:
        b.taken.pop(cur.citizen_hash, None)
    if op.citizen_hash is not None:
        b.taken[op.citizen_hash] = op.id
    version = cur.version + 1 if cur is not None else 1
    doc = orjson.dumps({"id": op.id, "version": version, "updatedAt": b.stamp, **record}).decode()
    row = _Row(
        version,
        False,
        b.hub.hub_id,
        scope,
        scope2,
        op.digest,
        op.citizen_hash,
        doc,
        op.sealed,
        b.stamp_us,
        in_db=cur.in_db if cur is not None else False,
    )
    if new_path is not None:
        old = b.paths.get(op.id)
        if old is not None and old != new_path:
            b.moves.append((old, new_path))
        b.paths[op.id] = new_path
        b.tree[op.id] = (record.get("parentId"), new_path)
    created = cur is None or cur.deleted
    b.put(op, row, None if cur is None else cur.version, "create" if created else "update")
    return Outcome(
        op.index,
        op.collection,
        op.id,
        201 if created else 200,
        "created" if created else "updated",
        version,
        doc,
        op.sensitive,
        op.warnings,
    )


def _duplicate_person(b: _Batch, other: str) -> HubError:
    row = b.rows.get(("members", other))
    if row is None:
        row = _load_rows(b.conn, [("members", other)]).get(("members", other))
    orgs = [o for o in (row.scope_org, row.scope_org2) if o] if row is not None else []
    missing = {o for o in orgs if o not in b.paths}
    if missing:
        b.paths.update(_load_paths(b.conn, missing))
    if may_learn(b.principal, [b.paths.get(o) for o in orgs]):
        return Conflict(
            problems.DUPLICATE_CITIZEN_ID,
            f"member {other} on this hub has this citizen ID",
            f"本枢纽的党员 {other} 已使用该公民身份号码",
            issues=[R["UNQ-001"].issue("/citizenId", other=other)],
            existing=f"/v1/members/{other}",
        )
    return Conflict(
        problems.DUPLICATE_CITIZEN_ID,
        "another member on this hub has this citizen ID",
        "本枢纽另一名党员已使用该公民身份号码",
        issues=[R["UNQ-003"].issue("/citizenId")],
    )


def _delete(b: _Batch, op: Op, cur: _Row) -> Outcome:
    if op.collection == "organisations":
        _check_unreferenced(b, op.id)
        b.tree[op.id] = (None, None)
    if cur.citizen_hash:
        b.taken.pop(cur.citizen_hash, None)
    row = _Row(
        cur.version + 1,
        True,
        cur.owner,
        cur.scope_org,
        cur.scope_org2,
        "",
        None,
        None,
        None,
        b.stamp_us,
        in_db=cur.in_db,
    )
    b.put(op, row, cur.version, "delete")
    return Outcome(op.index, op.collection, op.id, 200, "deleted", row.version)


def _check_unreferenced(b: _Batch, org_id: str) -> None:
    c = records.c
    query = (
        select(c.collection, c.id)
        .where(
            c.scope_org == org_id,
            c.deleted.is_(False),
            c.collection.in_(("members", "activities", "applicants")),
        )
        .limit(1000)
    )
    users = {(r.collection, r.id) for r in b.conn.execute(query)}
    users |= {
        k for k, row in b.dirty.items() if row.scope_org == org_id and k[0] != "organisations"
    }
    live = sum(
        1
        for k in users
        if (row := b.rows.get(k)) is None or (not row.deleted and row.scope_org == org_id)
    )
    children = {
        r.id
        for r in b.conn.execute(
            select(org_tree.c.id).where(org_tree.c.parent_id == org_id).limit(1000)
        )
    }
    children |= {k for k, (parent, _) in b.tree.items() if parent == org_id}
    live += sum(
        1
        for k in children
        if k not in b.tree or (b.tree[k][0] == org_id and b.tree[k][1] is not None)
    )
    if live:
        raise Conflict(
            problems.STILL_REFERENCED,
            f"the organisation still has {live} child organisations or live records",
            f"党组织仍有 {live} 个下级组织或在册记录",
            issues=[R["REF-003"].issue("/id", count=live)],
        )


def _flush(b: _Batch) -> None:
    if not b.dirty:
        return
    puts = [
        Put(
            {
                "collection": coll,
                "id": rid,
                "owner": row.owner,
                "scope_org": row.scope_org,
                "scope_org2": row.scope_org2,
                "version": row.version,
                "updated_us": row.updated_us,
                "deleted": row.deleted,
                "doc": row.doc,
                "sealed": row.sealed,
                "citizen_hash": row.citizen_hash,
                "digest": row.digest,
            },
            row.in_db,
        )
        for (coll, rid), row in b.dirty.items()
    ]
    write_records(b.conn, puts, [{**a, "request_id": None} for a in b.audit])
    _flush_tree(b)


def _flush_tree(b: _Batch) -> None:
    conn = b.conn
    for old, new in b.moves:
        subtree_exits(conn, old, new)
        conn.execute(
            update(org_tree)
            .where(org_tree.c.path.startswith(old, autoescape=True))
            .values(path=literal(new) + func.substr(org_tree.c.path, len(old) + 1))
        )
    if not b.tree:
        return
    ids = list(b.tree)
    conn.execute(delete(org_tree).where(org_tree.c.id.in_(ids)))
    rows = [
        {"id": i, "parent_id": parent, "path": path}
        for i, (parent, path) in b.tree.items()
        if path is not None
    ]
    if rows:
        conn.execute(insert(org_tree), rows)


def _field(collection: str, pointer: str) -> dict[str, str]:
    """A reference's field for a hub rule's messages: as sent (en) and by its title (zh)."""
    return {"field": pointer[1:], "field_zh": field_title(collection, pointer.rsplit("/", 1)[-1])}


def _state_zh(code: str) -> str:
    """A transfer state by its Chinese title (the code itself when it is not listed)."""
    titles = {c.code: c.title_zh for c in codelist("transfer-state").codes}
    return titles.get(code, code)
