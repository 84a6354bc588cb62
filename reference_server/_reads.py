"""Reading records: one record, keyset-paginated lists, and the change feed.

Records are stored as their public JSON text, so a read without sensitive fields returns the
stored bytes as they are; sensitive fields are decrypted only for tokens allowed to see them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select, Table, and_, false, func, or_, select

from tongxin.schemas import Issue, Severity, problems

from ._errors import BadRequest, Forbidden, Gone, NotFound
from ._hub import Hub
from ._policy import sees
from ._security import NOWHERE, Principal
from ._store import ORPHAN, open_sealed
from ._tables import (
    fact_kind,
    hub_state,
    name_contains,
    org_tree,
    record_facts,
    records,
    scope_exits,
)

__all__ = [
    "NAMED",
    "PERSONAL",
    "Page",
    "PointReader",
    "Record",
    "Search",
    "decode_cursor",
    "epoch_changed",
    "feed_rows",
    "get_record",
    "invalid_cursor",
    "list_changes",
    "list_records",
    "open_cursor",
    "orphan_gone",
    "sensitive_allowed",
    "sign_cursor",
]


@dataclass(slots=True)
class Record:
    """One record as a client may see it: its JSON bytes and version."""

    body: bytes
    version: int
    #: A replica its restored owner no longer holds, read on explicit request (§4.5).
    orphaned: bool = False


@dataclass(slots=True)
class Page:
    """A page of items (JSON bytes each) and the cursor to continue after the last one."""

    items: list[bytes]
    cursor: str | None
    more: bool
    #: How many records match the list's filters within the caller's scope (``count=true``).
    total: int | None = None


#: Collections whose records carry a ``name`` (searchable with ``name=``).
NAMED = frozenset({"organisations", "members", "applicants"})
#: Collections searchable by citizen ID (keyed hash) and phone (keyed-hash index).
PERSONAL = frozenset({"members"})


@dataclass(frozen=True, slots=True)
class Search:
    """What a list is narrowed to besides its paging: an organisation (alone or with its
    subtree), part of a name, a whole citizen ID, a whole phone number."""

    organisation_id: str | None = None
    subtree: bool = False
    name: str | None = None
    citizen_id: str | None = None
    phone: str | None = None


def sensitive_allowed(principal: Principal, asked: bool) -> bool:
    """Whether a response may carry citizenId and phone; asking without the scope is refused."""
    if asked and not principal.has("records:read-sensitive"):
        raise Forbidden(
            problems.SCOPE_MISSING,
            "include=sensitive needs the scope records:read-sensitive",
            "include=sensitive 需要 records:read-sensitive 权限",
            scope="records:read-sensitive",
        )
    return asked


def _body(hub: Hub, rid: str, doc: str, sealed: bytes | None, sensitive: bool) -> bytes:
    if not (sensitive and sealed):
        return doc.encode()
    record: dict[str, Any] = orjson.loads(doc)
    # A replica's keyed hashes (federation) are for peers, not for readers of this hub.
    record.update(open_sealed(hub.cipher, rid, sealed)[0])
    return orjson.dumps(record)


def _subtree_filter(principal: Principal, table: Table = records) -> ColumnElement[bool] | None:
    """The caller's scope on ``table`` (``records`` or ``record_facts``: the same columns)."""
    if not principal.restricted:
        return None
    prefix = principal.subtree or NOWHERE
    inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
    return or_(table.c.scope_org.in_(inside), table.c.scope_org2.in_(inside))


def _visible(conn: Connection, principal: Principal, *orgs: str | None) -> bool:
    if not principal.restricted:
        return True
    paths = [
        conn.execute(select(org_tree.c.path).where(org_tree.c.id == org)).scalar()
        for org in orgs
        if org is not None
    ]
    return sees(principal, *paths)


def get_record(
    hub: Hub, principal: Principal, collection: str, rid: str, *, orphaned: bool = False
) -> Record:
    """One live record; 404 when absent or outside the token's subtree, 410 when deleted, and
    410 ``orphaned`` for an orphan unless ``orphaned`` (the caller asked for it explicitly)."""
    c = records.c
    query = select(
        c.version, c.deleted, c.doc, c.sealed, c.scope_org, c.scope_org2, c.owner, c.orphan
    ).where(c.collection == collection, c.id == rid)
    with hub.db.read() as conn:
        row = conn.execute(query).first()
        if row is None or not _visible(conn, principal, row.scope_org, row.scope_org2):
            raise NotFound(
                problems.NOT_FOUND,
                f"{collection}/{rid} does not exist",
                f"记录 {collection}/{rid} 不存在",
            )
    if row.deleted:
        raise Gone(
            problems.DELETED,
            f"{collection}/{rid} was deleted",
            f"记录 {collection}/{rid} 已删除",
            currentVersion=row.version,
        )
    if row.orphan == ORPHAN and not orphaned:
        raise orphan_gone(collection, rid, row.owner, row.version)
    sensitive = principal.has("records:read-sensitive")
    body = _body(hub, rid, row.doc, row.sealed, sensitive)
    return Record(body, row.version, row.orphan == ORPHAN)


def orphan_gone(collection: str, rid: str, owner: str, version: int) -> Gone:
    """410 ``orphaned``: a replica whose owner hub was restored from a backup and no longer
    holds it (``spec/federation.md`` §4.5); this hub keeps the row, readable only when asked
    for explicitly (``?orphaned=include``)."""
    return Gone(
        problems.ORPHANED,
        f"{collection}/{rid} is an orphan: its owner hub {owner} was restored from a backup and "
        "no longer holds it, so this copy is not current; read it with ?orphaned=include",
        f"记录 {collection}/{rid} 为孤儿副本：所属枢纽 {owner} 已从备份恢复，不再持有该记录，"
        "此副本并非现行记录；如需查看，请加参数 orphaned=include",
        currentVersion=version,
        owner=owner,
        read="?orphaned=include",
    )


_CURSOR = re.compile(r"[A-Za-z0-9_-]{24,400}")
_TAG_BYTES = 16
#: A feed cursor of the unsigned form hubs handed out before cursors were signed:
#: base64url of ``<epoch>:<seq>``. Still accepted (strictly checked) so that peers and
#: consumers keep their place across an upgrade.
_LEGACY_FEED = re.compile(r"[0-9a-f]{32}:[0-9]{1,18}")


def invalid_cursor(parameter: str = "after") -> BadRequest:
    """400 ``invalid-cursor``: the value is not a cursor this hub handed out (or was altered)."""
    en = f"{parameter} is not a cursor this hub handed out, or it was altered"
    zh = "游标无效：不是本枢纽给出的游标，或已被改动"
    return BadRequest(
        problems.INVALID_CURSOR,
        en,
        zh,
        issues=[Issue("API-001", Severity.ERROR, f"/{parameter}", zh, en)],
        parameter=parameter,
    )


def sign_cursor(hub: Hub, kind: str, value: str) -> str:
    """An opaque cursor for ``value``: base64url of ``kind|value`` and its HMAC (16 bytes)."""
    payload = f"{kind}|{value}".encode()
    blob = payload + hub.cipher.cursor_tag(payload)
    return base64.urlsafe_b64encode(blob).decode().rstrip("=")


def _b64(cursor: str) -> bytes | None:
    if not _CURSOR.fullmatch(cursor):
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None


def open_cursor(hub: Hub, kind: str, cursor: str, parameter: str = "after") -> str:
    """The value of a cursor :func:`sign_cursor` made for ``kind``; 400 ``invalid-cursor`` for
    anything else (garbage, another hub's or another list's cursor, an altered one)."""
    blob = _b64(cursor)
    if blob is None or len(blob) <= _TAG_BYTES:
        raise invalid_cursor(parameter)
    payload, tag = blob[:-_TAG_BYTES], blob[-_TAG_BYTES:]
    if not hmac.compare_digest(tag, hub.cipher.cursor_tag(payload)):
        raise invalid_cursor(parameter)
    found, _, value = payload.decode().partition("|")
    if found != kind:
        raise invalid_cursor(parameter)
    return value


def _search_filter(
    hub: Hub, conn: Connection, collection: str, search: Search, table: Table = records
) -> ColumnElement[bool] | None:
    """The SQL condition of ``search`` on ``table`` (``records``, or ``record_facts`` for a
    count; None: no condition). An organisation that does not exist and one outside the
    caller's subtree narrow the list alike (the caller's own scope is applied besides), so
    neither the items nor a count tell them apart."""
    c = table.c
    where: list[ColumnElement[bool]] = []
    org = search.organisation_id
    if org is not None and search.subtree:
        path = conn.execute(select(org_tree.c.path).where(org_tree.c.id == org)).scalar()
        if path is None:
            return false()
        inside = select(org_tree.c.id).where(org_tree.c.path.startswith(path, autoescape=True))
        where.append(or_(c.scope_org.in_(inside), c.scope_org2.in_(inside)))
    elif org is not None:
        where.append(or_(c.scope_org == org, c.scope_org2 == org))
    if search.name:
        if table is record_facts:
            where.append(name_contains(search.name))
        else:
            named = select(record_facts.c.id).where(
                fact_kind(collection), name_contains(search.name)
            )
            where.append(c.id.in_(named))
    if search.citizen_id:
        hashed = hub.cipher.citizen_hash(search.citizen_id.strip())
        if table is record_facts:
            r = records.c
            where.append(c.id.in_(select(r.id).where(r.collection == collection,
                                                      r.citizen_hash == hashed)))  # fmt: skip
        else:
            where.append(c.citizen_hash == hashed)
    if search.phone:
        from ._phones import phone_ids  # the phone index lives with the console's accounts

        where.append(c.id.in_(phone_ids(hub, search.phone)))
    return and_(*where) if where else None


def list_records(
    hub: Hub,
    principal: Principal,
    collection: str,
    *,
    after: str | None,
    limit: int,
    organisation_id: str | None = None,
    updated_since: datetime | None = None,
    sensitive: bool = False,
    orphaned: str = "exclude",
    search: Search | None = None,
    count: bool = False,
) -> Page:
    """Live records in id order after the cursor ``after``; orphans only when ``orphaned`` is
    ``include`` (with the others) or ``only``. With ``count``, the page also carries how many
    records match in all (``COUNT`` in the database, within the caller's subtree, whatever
    ``after`` is)."""
    c = records.c
    if search is None:
        search = Search(organisation_id=organisation_id)
    where: list[ColumnElement[bool]] = [c.collection == collection, c.deleted.is_(False)]
    if orphaned == "exclude":
        where.append(c.orphan != ORPHAN)
    elif orphaned == "only":
        where.append(c.orphan == ORPHAN)
    if updated_since is not None:
        where.append(c.updated_us >= int(updated_since.timestamp() * 1_000_000))
    scope = _subtree_filter(principal)
    if scope is not None:
        where.append(scope)
    position = c.id > open_cursor(hub, f"list:{collection}", after) if after else None
    with hub.db.read() as conn:
        narrowed = _search_filter(hub, conn, collection, search)
        if narrowed is not None:
            where.append(narrowed)
        query: Select[Any] = select(c.id, c.doc, c.sealed).where(*where)
        if position is not None:
            query = query.where(position)
        rows = conn.execute(query.order_by(c.id).limit(limit + 1)).all()
        total = None
        if count:
            total = _count(hub, conn, principal, collection, orphaned, updated_since, search)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_body(hub, r.id, r.doc, r.sealed, sensitive) for r in rows]
    cursor = sign_cursor(hub, f"list:{collection}", rows[-1].id) if rows else after
    return Page(items, cursor, more, total)


def _count(
    hub: Hub,
    conn: Connection,
    principal: Principal,
    collection: str,
    orphaned: str,
    updated_since: datetime | None,
    search: Search,
) -> int:
    """How many live records ``list_records`` matches in all, counted in ``record_facts`` (one
    row per live record, with the same scope columns): without a name or an update time, from
    the index ``ix_record_facts_scope`` alone instead of half a million stored documents."""
    f = record_facts.c
    where: list[ColumnElement[bool]] = [fact_kind(collection)]
    if orphaned == "exclude":
        where.append(f.orphan != ORPHAN)
    elif orphaned == "only":
        where.append(f.orphan == ORPHAN)
    if updated_since is not None:
        where.append(f.updated_us >= int(updated_since.timestamp() * 1_000_000))
    scope = _subtree_filter(principal, record_facts)
    if scope is not None:
        where.append(scope)
    narrowed = _search_filter(hub, conn, collection, search, record_facts)
    if narrowed is not None:
        where.append(narrowed)
    return int(conn.execute(select(func.count()).where(*where)).scalar_one())


def decode_cursor(hub: Hub, cursor: str | None) -> int:
    """The sequence a change-feed cursor stands for; 400 ``invalid-cursor`` unless this hub
    made it, 410 ``epoch-changed`` when it is from another epoch of this hub (a restore)."""
    if not cursor:
        return 0
    try:
        value = open_cursor(hub, "feed", cursor)
    except BadRequest:
        legacy = _b64(cursor)
        text = legacy.decode("ascii", "replace") if legacy is not None else ""
        if not _LEGACY_FEED.fullmatch(text):
            raise
        value = text
    epoch, _, seq = value.partition(":")
    if epoch != hub.identity.epoch:
        raise epoch_changed(hub)
    return int(seq)


def epoch_changed(hub: Hub) -> Gone:
    """410 ``epoch-changed``: the cursor belongs to another epoch of this hub's change feed (it
    was restored from a backup, or its database was replaced), so its sequence numbers mean
    nothing now; the consumer re-syncs from the start."""
    epoch = hub.identity.epoch
    return Gone(
        problems.EPOCH_CHANGED,
        f"the change feed of this hub started a new epoch {epoch} (it was restored from a backup "
        "or its database was replaced): the cursor belongs to an earlier epoch; re-sync by "
        "reading /v1/changes without `after` from the start, replace your copy with what it "
        "returns (records it no longer holds were lost here), then continue from its cursor",
        f"本枢纽的变更流已进入新纪元 {epoch}（已从备份恢复或更换了数据库），该游标属于此前的纪元："
        "请不带 after 参数从头读取 /v1/changes 重新同步，以返回内容替换本地副本"
        "（不再出现的记录已在本枢纽丢失），再从新游标继续",
        epoch=epoch,
        bootstrap="/v1/changes",
    )


def _expired(en: str, zh: str) -> Gone:
    return Gone(
        problems.CURSOR_EXPIRED,
        f"{en}: re-bootstrap by reading /v1/changes without `after` from the start, replace your "
        "copy with what it returns, then continue from its cursor",
        f"{zh}：请不带 after 参数从头读取 /v1/changes 重新同步，再从新游标继续",
        bootstrap="/v1/changes",
    )


def list_changes(
    hub: Hub,
    principal: Principal,
    *,
    after: str | None,
    limit: int,
    collections: list[str] | None = None,
    sensitive: bool = False,
) -> Page:
    """Changes in commit order after ``after``: the latest state of each changed record, and
    tombstones for deletions. A subtree token also gets a ``moved-out`` tombstone for each record
    that left its subtree after ``after`` and is still outside (:mod:`._exits`)."""
    rows, cursor, more = feed_rows(
        hub, principal, after=after, limit=limit, collections=collections
    )
    return Page([_change(hub, r, sensitive) for r in rows], cursor, more)


def feed_rows(
    hub: Hub,
    principal: Principal,
    *,
    after: str | None,
    limit: int,
    collections: list[str] | None = None,
) -> tuple[list[Any], str | None, bool]:
    """The rows of :func:`list_changes` (``seq``, ``collection``, ``id``, ``version``,
    ``owner``, ``deleted``, ``doc``, ``sealed``, ``orphan``; a ``moved-out`` exit is deleted
    without a doc), the cursor after them and whether more follow."""
    seq = decode_cursor(hub, after)
    c = records.c
    query: Select[Any] = select(
        c.seq, c.collection, c.id, c.version, c.owner, c.deleted, c.doc, c.sealed, c.orphan
    ).where(c.seq > seq)
    if collections:
        query = query.where(c.collection.in_(collections))
    scope = _subtree_filter(principal)
    if scope is not None:
        query = query.where(scope)
    query = query.order_by(c.seq).limit(limit + 1)
    with hub.db.read() as conn:
        purged = conn.execute(select(hub_state.c.purged_seq)).scalar_one()
        if seq and seq < purged:
            raise _expired(
                f"deletions after this cursor were purged (retention "
                f"{hub.settings.tombstone_retention_days:g} days)",
                f"该游标之后的删除记录已超过保留期（{hub.settings.tombstone_retention_days:g} 天）",
            )
        rows: list[Any] = list(conn.execute(query).all())
        if principal.restricted:
            rows = sorted([*rows, *_exits(conn, principal, seq, limit, collections)], key=_seq)
    more = len(rows) > limit
    rows = rows[:limit]
    end = rows[-1].seq if rows else seq
    return rows, sign_cursor(hub, "feed", f"{hub.identity.epoch}:{end}"), more


def _seq(row: Any) -> int:
    return int(row.seq)


@dataclass(frozen=True, slots=True)
class _Exit:
    """A record that left the token's subtree: served as a ``moved-out`` tombstone."""

    seq: int
    collection: str
    id: str
    version: int
    owner: str
    deleted: bool = True
    doc: None = None
    sealed: None = None
    orphan: int = 0


def _exits(
    conn: Connection, principal: Principal, seq: int, limit: int, collections: list[str] | None
) -> list[_Exit]:
    """Records that left ``principal``'s subtree after ``seq`` and are outside it now."""
    e, c = scope_exits.c, records.c
    prefix = principal.subtree or NOWHERE
    inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
    outside = and_(
        or_(c.scope_org.is_(None), c.scope_org.not_in(inside)),
        or_(c.scope_org2.is_(None), c.scope_org2.not_in(inside)),
    )
    query = (
        select(e.seq, e.collection, e.record_id, c.version, c.owner)
        .join(records, and_(c.collection == e.collection, c.id == e.record_id))
        .where(e.seq > seq, e.old_path.startswith(prefix, autoescape=True), outside)
    )
    if collections:
        query = query.where(e.collection.in_(collections))
    rows = conn.execute(query.order_by(e.seq).limit(limit + 1)).all()
    seen: set[tuple[str, str]] = set()
    out: list[_Exit] = []
    for row in rows:  # a record that left twice is told once
        if (row.collection, row.record_id) not in seen:
            seen.add((row.collection, row.record_id))
            out.append(_Exit(row.seq, row.collection, row.record_id, row.version, row.owner))
    return out


def _tombstone(r: Any, reason: str) -> bytes:
    """A feed item telling a consumer to drop its copy: ``reason`` says why (``moved-out`` of
    its subtree, ``orphaned`` by a restored owner), never where the record went."""
    return orjson.dumps(
        {
            "type": r.collection,
            "id": r.id,
            "version": r.version,
            "owner": r.owner,
            "deleted": True,
            "record": None,
            "reason": reason,
        }
    )


def _change(hub: Hub, r: Any, sensitive: bool) -> bytes:
    if isinstance(r, _Exit):
        return _tombstone(r, "moved-out")
    if r.orphan == ORPHAN and not r.deleted:
        # a replica its restored owner no longer holds (spec/federation.md §4.5)
        return _tombstone(r, "orphaned")
    head = orjson.dumps(
        {
            "type": r.collection,
            "id": r.id,
            "version": r.version,
            "owner": r.owner,
            "deleted": r.deleted,
        }
    )
    record = b"null" if r.deleted else _body(hub, r.id, r.doc, r.sealed, sensitive)
    return head[:-1] + b',"record":' + record + b"}"


class PointReader:
    """Single-record reads on one long-lived driver connection (one per process, used from the
    event loop only): no pool checkout, no statement compilation."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._raw: Any = None
        mark = "%s" if hub.db.dialect == "postgresql" else "?"
        self._sql = (
            f"SELECT version, deleted, doc, sealed, orphan FROM records "
            f"WHERE collection = {mark} AND id = {mark}"
        )

    def get(self, principal: Principal, collection: str, rid: str) -> Record | None:
        """The record, or None when the ordinary path must answer (restricted token, absent,
        deleted, orphaned)."""
        if principal.restricted:
            return None
        if self._raw is None:
            self._raw = self._hub.db.reader.raw_connection()
        try:
            row = self._raw.driver_connection.execute(self._sql, (collection, rid)).fetchone()
        except Exception:
            self._raw.invalidate()
            self._raw = None
            return None
        if row is None or row[1] or row[4] == ORPHAN:
            return None
        body = _body(self._hub, rid, row[2], row[3], principal.has("records:read-sensitive"))
        return Record(body, row[0])
