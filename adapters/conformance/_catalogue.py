"""Every check of the kit, declared here and only here: id, the section of ``spec/`` it tests,
MUST or SHOULD, level, title (zh-CN, en), what the spec requires, and the function.
``spec/conformance.md`` is generated from this table (``python -m
tongxin.adapters.conformance._docs spec/conformance.md``)."""

from __future__ import annotations

from . import _federation as fed
from . import _fuzz as fuzz
from . import _read as read
from . import _write as write
from ._model import Check

__all__ = ["CHECKS", "by_id"]

MUST, SHOULD = True, False

CHECKS: tuple[Check, ...] = (
    # -- read ------------------------------------------------------------------------------------
    Check(
        "TXC-READ-001",
        "api.md §1",
        MUST,
        "read",
        "发现文档",
        "Discovery document",
        "GET /.well-known/tongxin answers 200 without a token: apiVersion 1.0, hub.id, "
        "schemaVersions, conformance, collections, limits, links.",
        read.discovery,
    ),
    Check(
        "TXC-READ-002",
        "api.md §1",
        MUST,
        "read",
        "OpenAPI 描述",
        "OpenAPI document",
        "links.openapi is an OpenAPI 3 document describing /v1/changes and /v1/bulk.",
        read.openapi,
    ),
    Check(
        "TXC-READ-003",
        "api.md §3",
        MUST,
        "read",
        "无令牌时返回 401",
        "401 without a token",
        "Every request but discovery carries a bearer token; none, or an unknown one, "
        "answers 401 problem unauthorized.",
        read.unauthorised,
    ),
    Check(
        "TXC-READ-004",
        "api.md §2, §2.1",
        MUST,
        "read",
        "参数错误的问题详情",
        "Problem details on a bad parameter",
        "A bad query parameter answers 400 application/problem+json with type, title, "
        "status, detail, code invalid-parameter, errors[0] {pointer /limit, rule, severity, "
        "message} and parameter; limit above maxPageSize is refused too.",
        read.bad_parameter,
    ),
    Check(
        "TXC-READ-005",
        "api.md §2.1",
        MUST,
        "read",
        "伪造游标被拒绝",
        "Forged cursors refused",
        "A cursor the hub did not hand out answers 400 invalid-cursor, for lists and the "
        "change feed.",
        read.bad_cursor,
    ),
    Check(
        "TXC-READ-006",
        "api.md §2, §4",
        MUST,
        "read",
        "记录不存在返回 404",
        "404 for a missing record",
        "GET of an unknown id answers 404 problem not-found.",
        read.not_found,
    ),
    Check(
        "TXC-READ-007",
        "api.md §4 Lists",
        MUST,
        "read",
        "列表与键集分页",
        "Lists and keyset paging",
        "Lists are {items, next}, ordered by id, paged by an opaque cursor: following next "
        "gives every record exactly once, the same records as one large page.",
        read.list_paging,
    ),
    Check(
        "TXC-READ-008",
        "api.md §4 Versions",
        MUST,
        "read",
        "强 ETag",
        "Strong ETags",
        'A single-record read carries ETag "<version>", the strong tag of its version.',
        read.etag,
    ),
    Check(
        "TXC-READ-009",
        "api.md §4 Sensitive fields",
        MUST,
        "read",
        "列表不含公民身份号码",
        "No citizen IDs in lists",
        "citizenId and phone never appear in list items unless include=sensitive is asked.",
        read.list_citizen_ids,
    ),
    Check(
        "TXC-READ-010",
        "api.md §7",
        MUST,
        "read",
        "变更流结构与顺序",
        "Change feed shape and order",
        "Items {type, id, version, owner, deleted, record} with a cursor; each record at "
        "most once, with its latest state; a tombstone has record null.",
        read.feed_order,
    ),
    Check(
        "TXC-READ-011",
        "api.md §7",
        MUST,
        "read",
        "变更流游标续读",
        "Change feed cursors",
        "Polling with after=cursor at the end of the feed returns no earlier change, next "
        "null and a cursor.",
        read.feed_resume,
    ),
    Check(
        "TXC-READ-012",
        "api.md §4 Sensitive fields, §7",
        MUST,
        "read",
        "变更流不含公民身份号码",
        "No citizen IDs in the change feed",
        "citizenId and phone never appear in feed items unless include=sensitive is asked.",
        read.feed_citizen_ids,
    ),
    Check(
        "TXC-READ-013",
        "api.md §8a",
        SHOULD,
        "read",
        "请求编号",
        "Request ids",
        "Every response carries X-Request-Id, the request's own when it is well formed.",
        read.request_id,
    ),
    Check(
        "TXC-READ-014",
        "api.md §2",
        MUST,
        "read",
        "任何输入都不返回 5xx（模糊测试）",
        "No 5xx for any input (fuzzing)",
        "A hub never answers 5xx to a request, whatever its parameters or body: requests "
        "generated from its own OpenAPI document (GET and POST /v1/validate, --fuzz N).",
        fuzz.no_server_error,
    ),
    # -- write -----------------------------------------------------------------------------------
    Check(
        "TXC-WRITE-001",
        "api.md §4",
        MUST,
        "write",
        "创建返回 201 与 ETag",
        "Create answers 201 with an ETag",
        'POST /v1/C answers 201 with the stored record at version 1, ETag "1" and Location.',
        write.create,
    ),
    Check(
        "TXC-WRITE-002",
        "api.md §4",
        MUST,
        "write",
        "重试创建返回 200",
        "A retried create answers 200",
        "POST of a record with an existing id and identical content answers 200.",
        write.retried_create,
    ),
    Check(
        "TXC-WRITE-003",
        "api.md §2, §4 Validation",
        MUST,
        "write",
        "无效记录返回 422 及指针与规则",
        "Invalid record: 422 with pointer and rule",
        "A record breaking the standard answers 422 invalid-record; every errors entry names "
        "pointer (/gender here) and rule.",
        write.invalid_record,
    ),
    Check(
        "TXC-WRITE-004",
        "api.md §4 Versions",
        MUST,
        "write",
        "缺少 If-Match 返回 428",
        "428 without If-Match",
        "PUT and DELETE without If-Match answer 428 if-match-required.",
        write.if_match_required,
    ),
    Check(
        "TXC-WRITE-005",
        "api.md §4 Versions",
        MUST,
        "write",
        "过期版本返回 412",
        "412 when stale",
        "PUT with a stale If-Match answers 412 version-mismatch with currentVersion.",
        write.stale_if_match,
    ),
    Check(
        "TXC-WRITE-006",
        "api.md §4 Versions",
        MUST,
        "write",
        "替换与版本递增",
        "Replace and versions",
        "PUT with the current If-Match answers 200 at the next version; identical content "
        "makes no new version.",
        write.update,
    ),
    Check(
        "TXC-WRITE-007",
        "api.md §6",
        MUST,
        "write",
        "批量逐行结果",
        "Bulk: one result per line",
        "POST /v1/bulk answers exactly one result per line, in order; a bad line fails alone "
        "(422, problems with /record/… pointers) and never blocks the others.",
        write.bulk_lines,
    ),
    Check(
        "TXC-WRITE-008",
        "api.md §6 Idempotency-Key",
        MUST,
        "write",
        "幂等键重放",
        "Idempotency-Key replay",
        "A retry with the same key and body returns the first results with "
        "Idempotent-Replayed: true and writes nothing twice.",
        write.idempotency_replay,
    ),
    Check(
        "TXC-WRITE-009",
        "api.md §6 Idempotency-Key",
        MUST,
        "write",
        "幂等键冲突",
        "Idempotency-Key conflict",
        "The same key with another body answers 422 idempotency-key-reused and writes nothing.",
        write.idempotency_conflict,
    ),
    Check(
        "TXC-WRITE-010",
        "api.md §4, §7",
        MUST,
        "write",
        "删除与变更流中的删除标记",
        "Delete and its tombstone in the feed",
        "DELETE with If-Match answers 204 with the tombstone's ETag; reads answer 410 deleted; "
        "the feed shows a tombstone (deleted true, record null) at the next version.",
        write.delete_tombstone,
    ),
    Check(
        "TXC-WRITE-011",
        "api.md §9 UNQ-001",
        MUST,
        "write",
        "并发创建时公民身份号码唯一",
        "Unique citizen ID under concurrent creates",
        "Of concurrent creates of members with one citizen ID exactly one succeeds; the "
        "others answer 409 duplicate-citizen-id.",
        write.concurrent_citizen_id,
    ),
    Check(
        "TXC-WRITE-012",
        "api.md §4, §9 OWN-002",
        MUST,
        "write",
        "拒绝外部前缀的标识",
        "Foreign id prefixes refused",
        "A create under an id prefix that is not the hub's id answers 422 foreign-id, pointer /id.",
        write.foreign_id,
    ),
    # -- federation ------------------------------------------------------------------------------
    Check(
        "TXC-FED-001",
        "federation.md §1.2",
        MUST,
        "federation",
        "密钥集与指纹",
        "Key set and fingerprint",
        "GET /.well-known/tongxin/keys is a tongxin-keys/1 document of the hub's id, signed "
        "by a usable key it lists.",
        fed.key_set,
    ),
    Check(
        "TXC-FED-002",
        "federation.md §2.3",
        MUST,
        "federation",
        "拒绝未签名请求",
        "Unsigned requests refused",
        "A hub-to-hub request without a signature answers 401 signature-missing.",
        fed.unsigned,
    ),
    Check(
        "TXC-FED-003",
        "federation.md §2.1, §2.3",
        MUST,
        "federation",
        "拒绝被改动的请求",
        "Tampered requests refused",
        "A signed request whose body was altered answers 401 digest-mismatch: the digest is "
        "recomputed, never believed.",
        fed.tampered,
    ),
    Check(
        "TXC-FED-004",
        "federation.md §2.3",
        MUST,
        "federation",
        "拒绝未知密钥",
        "Unknown keys refused",
        "A request signed by a key of no trusted peer answers 401 unknown-key.",
        fed.unknown_key,
    ),
    Check(
        "TXC-FED-005",
        "api.md §7 Peers, federation.md §2, §5",
        MUST,
        "federation",
        "签名的变更流",
        "Signed change feed",
        "A parent's signed GET /v1/changes answers 200 with a response signed by the hub and "
        "bound to the request, minimised by the default policy of federation.md §5 (no "
        "citizen ID or phone in clear).",
        fed.signed_feed,
    ),
    Check(
        "TXC-FED-006",
        "federation.md §2.3",
        MUST,
        "federation",
        "拒绝重放的请求",
        "Replayed requests refused",
        "The same signed request sent twice answers 401 replayed-nonce the second time.",
        fed.replayed,
    ),
    Check(
        "TXC-FED-007",
        "federation.md §2.3",
        MUST,
        "federation",
        "拒绝伪造签名",
        "Forged signatures refused",
        "A request whose signature does not verify answers 401 bad-signature.",
        fed.forged_signature,
    ),
    Check(
        "TXC-FED-008",
        "api.md §4 Ownership, §9 OWN-001",
        MUST,
        "federation",
        "拒绝写入只读副本",
        "Replica writes refused",
        "PUT and DELETE of a replica answer 409 replica-read-only, whatever their If-Match (the"
        " kit's DELETE names a version the record does not have, so it can delete nothing).",
        fed.replica_read_only,
    ),
)


def by_id(check_id: str) -> Check:
    for check in CHECKS:
        if check.id == check_id:
            return check
    raise KeyError(check_id)
