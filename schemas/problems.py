"""The catalogue of problem codes: every ``code`` a Tongxin error carries, as data.

Each entry gives the HTTP status, the exception class raised for it (``kind``), a title in
Chinese and English, the problem ``type`` URI and a short description. The module-level
constants are the only way code names a problem (``problems.NOT_FOUND``), so a misspelt code
fails type checking and import instead of reaching a client. ``spec/api.md`` §2's table is
generated from :data:`CATALOGUE` (``python -m tongxin.schemas._docs``).

A few codes are published with a second status (``also``): ``letter-expired`` is 422 when a
letter is checked and 409 when a transfer is decided after its expiry; ``certificate-missing``
is 404 from the certificate endpoint and 401 when a sibling's certificate cannot be fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NewType

__all__ = [
    "CATALOGUE",
    "PROBLEM_BASE",
    "ProblemCode",
    "ProblemType",
    "signed_document_code",
]

#: A catalogued problem code. Build one only from the constants below (or, for a peer's
#: answer, with ``ProblemCode(text)``), never from a string literal at a raise site.
ProblemCode = NewType("ProblemCode", str)

#: The namespace of problem ``type`` URIs.
PROBLEM_BASE: Final = "https://tongxin.org.cn/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One catalogued problem."""

    code: ProblemCode
    status: int
    #: The exception class raised for it (its name: the catalogue imports no classes).
    kind: str
    title_en: str
    title_zh: str
    description: str
    #: Further published uses of the same code: ``(status, kind)``.
    also: tuple[tuple[int, str], ...] = ()

    @property
    def type_uri(self) -> str:
        """The problem's ``type``: ``https://tongxin.org.cn/problems/<code>``."""
        return PROBLEM_BASE + self.code

    def uses(self) -> tuple[tuple[int, str], ...]:
        """Every ``(status, kind)`` this code is published with, the primary first."""
        return ((self.status, self.kind), *self.also)


#: Every problem code, in catalogue order.
CATALOGUE: dict[ProblemCode, ProblemType] = {}


def _p(
    code: str,
    status: int,
    kind: str,
    en: str,
    zh: str,
    description: str,
    also: tuple[tuple[int, str], ...] = (),
) -> ProblemCode:
    typed = ProblemCode(code)
    assert typed not in CATALOGUE, code
    CATALOGUE[typed] = ProblemType(typed, status, kind, en, zh, description, also)
    return typed


# -- 400 --------------------------------------------------------------------------------------
BAD_REQUEST = _p(
    "bad-request", 400, "BadRequest", "Bad request", "请求无效", "The request cannot be understood."
)
INVALID_JSON = _p(
    "invalid-json",
    400,
    "BadRequest",
    "Invalid JSON",
    "JSON 无效",
    "The body (or a bulk line, as that line's result) is not JSON.",
)
INVALID_PARAMETER = _p(
    "invalid-parameter",
    400,
    "BadRequest",
    "Invalid parameter",
    "请求参数无效",
    "A path segment, query parameter or header breaks the parameter rules "
    "(§2.1); `parameter` names it, `errors[].pointer` too (hub rule `API-001`).",
)
INVALID_CURSOR = _p(
    "invalid-cursor",
    400,
    "BadRequest",
    "Invalid cursor",
    "游标无效",
    "A cursor this hub did not hand out, or an altered one (lists, the change feed, the audit "
    "log).",
)
INVALID_IF_MATCH = _p(
    "invalid-if-match",
    400,
    "BadRequest",
    "Invalid If-Match",
    "If-Match 无效",
    "`If-Match` is not one strong entity tag.",
)
INVALID_EXPIRY = _p(
    "invalid-expiry",
    400,
    "BadRequest",
    "Invalid expiry",
    "有效期无效",
    "A token's expiry is not a future time with a time zone (hub commands).",
)
UNKNOWN_ORGANISATION = _p(
    "unknown-organisation",
    400,
    "BadRequest",
    "Unknown organisation",
    "组织不存在",
    "A token is asked for a subtree whose organisation this hub does not hold (hub commands).",
)
UNKNOWN_ROLE = _p(
    "unknown-role",
    400,
    "BadRequest",
    "Unknown role",
    "角色不存在",
    "A console user is asked with a role other than admin, organiser, secretary or viewer "
    "(hub commands).",
)
INVALID_USERNAME = _p(
    "invalid-username",
    400,
    "BadRequest",
    "Invalid username",
    "用户名无效",
    "A console username is not 2 to 32 lower-case letters, digits, `.`, `_` or `-` (hub commands).",
)
UNKNOWN_SCOPE = _p(
    "unknown-scope",
    400,
    "BadRequest",
    "Unknown scope",
    "权限范围不存在",
    "A token is asked with an unknown scope, or none (hub commands).",
)
HTTP_ERROR = _p(
    "http-error",
    400,
    "HubError",
    "Request failed",
    "请求失败",
    "Any other refusal of the HTTP layer; `status` is the actual status.",
)
PACKAGE_UNREADABLE = _p(
    "package-unreadable",
    400,
    "PackageReadError",
    "Package unreadable",
    "数据包无法读取",
    "The validator cannot read the input, or it is not UTF-8 text or not JSON (`source`, "
    "`reason`; `tongxin validate` exits 2). The hub answers such a body `invalid-json`.",
)
PACKAGE_SYNTAX = _p(
    "package-syntax",
    400,
    "PackageSyntaxError",
    "Package syntax error",
    "数据包语法错误",
    "The validator's streaming reader found the input not a JSON object (`line`, `column`, "
    "`reason`).",
)
# -- 401 --------------------------------------------------------------------------------------
UNAUTHORIZED = _p(
    "unauthorized",
    401,
    "Unauthorized",
    "Unauthorized",
    "未授权",
    "No, unknown, revoked or expired bearer token.",
)
# Signed hub-to-hub requests (spec/federation.md §2.3, in the order they are checked).
SIGNATURE_MISSING = _p(
    "signature-missing",
    401,
    "SignatureError",
    "Signature missing",
    "缺少签名",
    "No `Signature-Input`/`Signature`, or no member labelled `tongxin`.",
)
SIGNATURE_MALFORMED = _p(
    "signature-malformed",
    401,
    "SignatureError",
    "Signature malformed",
    "签名格式错误",
    "The signature headers are not valid structured fields (RFC 8941).",
)
SIGNATURE_PROFILE = _p(
    "signature-profile",
    401,
    "SignatureError",
    "Signature profile broken",
    "签名参数不符合规范",
    "`tag`, `alg`, `created`, `expires`, `keyid` or `nonce` missing or wrong.",
)
COMPONENT_MISSING = _p(
    "component-missing",
    401,
    "SignatureError",
    "Component missing",
    "签名缺少组件",
    "A required component is not covered, or a covered one is absent.",
)
WINDOW_TOO_LONG = _p(
    "window-too-long",
    401,
    "SignatureError",
    "Signature window too long",
    "签名有效期过长",
    "`expires` not after `created`, or more than 300 s later.",
)
NOT_YET_VALID = _p(
    "not-yet-valid",
    401,
    "SignatureError",
    "Signature not yet valid",
    "签名尚未生效",
    "`created` more than 60 s in the future.",
)
EXPIRED = _p(
    "expired",
    401,
    "SignatureError",
    "Signature expired",
    "签名已过期",
    "Now is more than 60 s after `expires`.",
)
DIGEST_MISSING = _p(
    "digest-missing",
    401,
    "SignatureError",
    "Content digest missing",
    "缺少内容摘要",
    "No `Content-Digest` with `sha-256` or `sha-512`.",
)
DIGEST_MISMATCH = _p(
    "digest-mismatch",
    401,
    "SignatureError",
    "Content digest mismatch",
    "内容摘要不符",
    "A digest recomputed from the body differs.",
)
UNKNOWN_KEY = _p(
    "unknown-key",
    401,
    "SignatureError",
    "Unknown key",
    "密钥未知",
    "No trusted key with this `keyid` (after one refetch).",
)
REVOKED_KEY = _p(
    "revoked-key", 401, "SignatureError", "Revoked key", "密钥已吊销", "The signing key is revoked."
)
KEY_INACTIVE = _p(
    "key-inactive",
    401,
    "SignatureError",
    "Key not valid then",
    "密钥不在有效期内",
    "`created` is outside the key's `nbf`/`exp`.",
)
BAD_SIGNATURE = _p(
    "bad-signature",
    401,
    "SignatureError",
    "Bad signature",
    "签名无效",
    "The Ed25519 signature does not verify over the signature base.",
)
REPLAYED_NONCE = _p(
    "replayed-nonce",
    401,
    "SignatureError",
    "Replayed nonce",
    "随机数被重放",
    "`(keyid, nonce)` was accepted before within its validity.",
)
# Key sets and certificates (spec/federation.md §1).
FINGERPRINT_MISMATCH = _p(
    "fingerprint-mismatch",
    401,
    "TrustError",
    "Fingerprint mismatch",
    "指纹不符",
    "No key of the fetched key set has the pinned fingerprint.",
)
KEYSET_INVALID = _p(
    "keyset-invalid",
    401,
    "TrustError",
    "Invalid key set",
    "密钥集格式错误",
    "The key set document is malformed.",
)
KEYSET_UNSIGNED = _p(
    "keyset-unsigned",
    401,
    "TrustError",
    "Key set not signed",
    "密钥集未经签名",
    "The key set is not signed by the key that qualifies it.",
)
CERTIFICATE_INVALID = _p(
    "certificate-invalid",
    401,
    "TrustError",
    "Invalid certificate",
    "证书无效",
    "A parent's certificate does not name this sibling or its keys.",
)
CERTIFICATE_EXPIRED = _p(
    "certificate-expired",
    401,
    "TrustError",
    "Certificate expired",
    "证书已过期",
    "A parent's certificate for a sibling has expired.",
)
# -- 403 --------------------------------------------------------------------------------------
FORBIDDEN = _p(
    "forbidden", 403, "Forbidden", "Forbidden", "禁止访问", "The caller may not do this."
)
SCOPE_MISSING = _p(
    "scope-missing",
    403,
    "Forbidden",
    "Scope missing",
    "缺少权限范围",
    "The token lacks the scope (`scope` names it).",
)
OUTSIDE_SUBTREE = _p(
    "outside-subtree",
    403,
    "Forbidden",
    "Outside the subtree",
    "超出子树范围",
    "The record or a referenced organisation lies outside the token's subtree.",
)
SUBTREE_TOKEN = _p(
    "subtree-token",
    403,
    "Forbidden",
    "Subtree token",
    "子树令牌无权访问",
    "A hub-wide view (audit log, peers) asked with a subtree token.",
)
RELATION_NOT_ALLOWED = _p(
    "relation-not-allowed",
    403,
    "RelationError",
    "Not allowed for this peer relation",
    "对等关系不允许此操作",
    "A verified peer hub asked for what its relation does not allow (`relation`, `action`: only "
    "a parent pulls the change feed, only a child hints).",
)
# -- 404 --------------------------------------------------------------------------------------
NOT_FOUND = _p(
    "not-found",
    404,
    "NotFound",
    "Not found",
    "没有这个资源",
    "No such record, or outside the token's subtree; unknown path.",
)
TOKEN_UNKNOWN = _p(
    "token-unknown",
    404,
    "NotFound",
    "Unknown token",
    "令牌不存在",
    "No token with this id (hub commands).",
)
USER_UNKNOWN = _p(
    "user-unknown",
    404,
    "NotFound",
    "Unknown user",
    "用户不存在",
    "No console user with this name (hub commands).",
)
LETTER_UNKNOWN = _p(
    "letter-unknown",
    404,
    "NotFound",
    "Unknown letter",
    "介绍信不存在",
    "No letter for this transfer at this hub.",
)
CERTIFICATE_MISSING = _p(
    "certificate-missing",
    404,
    "NotFound",
    "Certificate missing",
    "证书不存在",
    "The certificate endpoint was asked for a hub that is not a child of this "
    "hub; 401 when a sibling's certificate cannot be obtained from the parent.",
    also=((401, "TrustError"),),
)
# -- 405 --------------------------------------------------------------------------------------
METHOD_NOT_ALLOWED = _p(
    "method-not-allowed",
    405,
    "MethodNotAllowed",
    "Method not allowed",
    "不支持该方法",
    "The path does not answer this HTTP method.",
)
# -- 409 --------------------------------------------------------------------------------------
CONFLICT = _p(
    "conflict",
    409,
    "Conflict",
    "Conflict",
    "冲突",
    "The write conflicts with a record stored meanwhile; retry.",
)
ALREADY_EXISTS = _p(
    "already-exists",
    409,
    "Conflict",
    "Already exists",
    "记录已存在",
    "A record with this `id` and other content exists (`UNQ-002`, `currentVersion`).",
)
DUPLICATE_CITIZEN_ID = _p(
    "duplicate-citizen-id",
    409,
    "Conflict",
    "Duplicate citizen ID",
    "公民身份号码重复",
    "The citizen ID is used by another member (`UNQ-001` with `existing`, "
    "or `UNQ-003` for a caller that may not read it).",
)
ID_UNAVAILABLE = _p(
    "id-unavailable",
    409,
    "Conflict",
    "Id unavailable",
    "该标识不可用",
    "The `id` is taken by a record the caller may not read.",
)
IDEMPOTENCY_KEY_IN_USE = _p(
    "idempotency-key-in-use",
    409,
    "Conflict",
    "Idempotency key in use",
    "幂等键正在使用",
    "A request with the same `Idempotency-Key` is still running.",
)
USER_EXISTS = _p(
    "user-exists",
    409,
    "Conflict",
    "User exists",
    "用户已存在",
    "A console user with this name exists already (hub commands).",
)
KEYS_MISSING = _p(
    "keys-missing",
    409,
    "Conflict",
    "Signing keys missing",
    "缺少签名密钥",
    "The hub has no signing keys yet (`tongxin init`).",
)
STILL_REFERENCED = _p(
    "still-referenced",
    409,
    "Conflict",
    "Still referenced",
    "仍被引用",
    "The organisation is referenced by members, activities or child organisations (`REF-003`).",
)
REPLICA_READ_ONLY = _p(
    "replica-read-only",
    409,
    "ReplicaReadOnlyError",
    "Record owned by another hub",
    "记录归其他枢纽所有",
    "A write to a record this hub holds as a read-only replica (`OWN-001`; `owner`, and "
    "`ownerUrl` when known).",
)
TRANSFER_UNKNOWN = _p(
    "transfer-unknown",
    409,
    "TransitionError",
    "Unknown transfer",
    "转接不存在",
    "A receipt or withdrawal for a transfer this hub does not know.",
)
TRANSFER_FINAL = _p(
    "transfer-final",
    409,
    "TransitionError",
    "Transfer already decided",
    "转接已办结",
    "The transfer is already in a final state (`state`; a signed `receipt` when "
    "the receiving hub decided first).",
)
TRANSFER_MISMATCH = _p(
    "transfer-mismatch",
    409,
    "TransitionError",
    "Transfer mismatch",
    "转接不符",
    "The message refers to another letter than the transfer's.",
)
NOT_SENDING_HUB = _p(
    "not-sending-hub",
    409,
    "Conflict",
    "Not the sending hub",
    "本枢纽不是转出方",
    "The transfer action belongs to the sending hub; this hub received the letter.",
)
NOT_RECEIVING_HUB = _p(
    "not-receiving-hub",
    409,
    "Conflict",
    "Not the receiving hub",
    "本枢纽不是转入方",
    "The transfer action belongs to the receiving hub; this hub sent the letter.",
)
# -- 410 --------------------------------------------------------------------------------------
DELETED = _p(
    "deleted",
    410,
    "Gone",
    "Deleted",
    "记录已删除",
    "The record was deleted (tombstone; `currentVersion`).",
)
ORPHANED = _p(
    "orphaned",
    410,
    "Gone",
    "Orphaned replica",
    "孤儿副本",
    "The record is an orphan, a replica its owner hub no longer holds after a restore "
    "(`owner`, `currentVersion`, `read`: `?orphaned=include`; §4 Orphans).",
)
CURSOR_EXPIRED = _p(
    "cursor-expired",
    410,
    "Gone",
    "Cursor expired",
    "游标已过期",
    "The change-feed cursor is older than the retention window (`bootstrap`).",
)
EPOCH_CHANGED = _p(
    "epoch-changed",
    410,
    "Gone",
    "Epoch changed",
    "枢纽纪元已变更",
    "The change-feed cursor belongs to an earlier epoch of this hub (restored from a backup: "
    "`epoch` names the current one, `bootstrap` where to re-sync from the start).",
)
# -- 412, 413, 415 ----------------------------------------------------------------------------
VERSION_MISMATCH = _p(
    "version-mismatch",
    412,
    "PreconditionFailed",
    "Version mismatch",
    "版本不符",
    "`If-Match` is not the current version; `currentVersion` says which is.",
)
PAYLOAD_TOO_LARGE = _p(
    "payload-too-large",
    413,
    "PayloadTooLarge",
    "Payload too large",
    "请求体过大",
    "Body over `maxBodyBytes` / `maxValidateBytes` (`maxBytes`).",
)
TOO_MANY_LINES = _p(
    "too-many-lines",
    413,
    "PayloadTooLarge",
    "Too many lines",
    "行数过多",
    "A bulk request over `maxBulkLines`.",
)
LINE_TOO_LONG = _p(
    "line-too-long",
    413,
    "PayloadTooLarge",
    "Line too long",
    "单行过长",
    "A bulk line over `maxBulkLineBytes`.",
)
UNSUPPORTED_MEDIA_TYPE = _p(
    "unsupported-media-type",
    415,
    "UnsupportedMediaType",
    "Unsupported media type",
    "不支持的媒体类型",
    "Content type other than `application/json` "
    "(records, validate) or `application/x-ndjson` / `application/ndjson` (bulk; "
    "`accepted`).",
)
# -- 422 --------------------------------------------------------------------------------------
INVALID_RECORD = _p(
    "invalid-record",
    422,
    "Unprocessable",
    "Invalid record",
    "记录无效",
    "The record breaks a rule (every `errors` entry names pointer and rule).",
)
INVALID_LINE = _p(
    "invalid-line",
    422,
    "Unprocessable",
    "Invalid bulk line",
    "批量行无效",
    "A bulk line is not an object with `type` and `record` (that line's result).",
)
UNRESOLVED_REFERENCE = _p(
    "unresolved-reference",
    422,
    "Unprocessable",
    "Unresolved reference",
    "引用的记录不存在",
    "A reference to an unknown record, or a member outside the token's subtree (`REF-001`).",
)
ORGANISATION_CYCLE = _p(
    "organisation-cycle",
    422,
    "Unprocessable",
    "Organisation cycle",
    "组织层级成环",
    "The parent would make the organisation its own ancestor (`ORG-101`).",
)
TRANSFER_STATE = _p(
    "transfer-state",
    422,
    "Unprocessable",
    "Transfer state change refused",
    "转接状态变更不允许",
    "A transfer state change that is not allowed (`TRF-101`).",
)
ID_MISMATCH = _p(
    "id-mismatch",
    422,
    "Unprocessable",
    "Id mismatch",
    "标识不一致",
    "The `id` in the body differs from the one in the path.",
)
FOREIGN_ID = _p(
    "foreign-id",
    422,
    "Unprocessable",
    "Foreign id",
    "标识前缀不属于本枢纽",
    "A create under an id prefix that is not this hub's id (`OWN-002`).",
)
IDEMPOTENCY_KEY_REUSED = _p(
    "idempotency-key-reused",
    422,
    "Unprocessable",
    "Idempotency key reused",
    "幂等键已用于其他请求",
    "The `Idempotency-Key` was used before with another request.",
)
UNCHECKABLE_RECORD = _p(
    "uncheckable-record",
    422,
    "Unprocessable",
    "Record cannot be checked",
    "记录无法核验",
    "A stored record needed for the check cannot be read.",
)
LETTER_FUTURE_DATED = _p(
    "letter-future-dated",
    422,
    "Unprocessable",
    "Letter dated ahead",
    "介绍信日期晚于今天",
    "`POST /v1/transfers` of a letter dated after tomorrow (UTC+8): "
    "pointer `/issuedDate`, hub rule `TRF-102`.",
)
LETTER_EXPIRED = _p(
    "letter-expired",
    422,
    "LetterError",
    "Letter expired",
    "介绍信已失效",
    "A letter that is (or would be, when sent: `TRF-102`, pointer `/issuedDate`) expired; "
    "409 with `state` for a decision taken on or after the expiry.",
    also=((409, "TransitionError"),),
)
LETTER_MISDIRECTED = _p(
    "letter-misdirected",
    422,
    "LetterError",
    "Letter misdirected",
    "介绍信投递对象错误",
    "The letter is addressed to another hub.",
)
ORGANISATION_UNKNOWN = _p(
    "organisation-unknown",
    422,
    "LetterError",
    "Receiving organisation unknown",
    "转入组织不存在",
    "The letter's receiving organisation is not held by this hub.",
)
CARGO_INVALID = _p(
    "cargo-invalid",
    422,
    "LetterError",
    "Cargo invalid",
    "随附记录无效",
    "Hub to hub: a record sent beside a letter, receipt or withdrawal breaks the standard; "
    "`errors[].pointer` points into the request body. Signed problem.",
)
CARGO_MISMATCH = _p(
    "cargo-mismatch",
    422,
    "LetterError",
    "Cargo mismatch",
    "随附记录与介绍信不符",
    "Hub to hub: a record sent beside a letter differs from the signed letter (`TRF-103`). "
    "Signed problem.",
)
RECEIPT_MISMATCH = _p(
    "receipt-mismatch",
    422,
    "LetterError",
    "Receipt mismatch",
    "回执不符",
    "The receipt does not answer the transfer's letter.",
)
WITHDRAWAL_MISMATCH = _p(
    "withdrawal-mismatch",
    422,
    "LetterError",
    "Withdrawal mismatch",
    "撤回通知不符",
    "The withdrawal does not refer to the transfer's letter.",
)
# -- 428, 429 ---------------------------------------------------------------------------------
IF_MATCH_REQUIRED = _p(
    "if-match-required",
    428,
    "PreconditionRequired",
    "If-Match required",
    "缺少 If-Match",
    "`PUT` or `DELETE` without `If-Match`.",
)
RATE_LIMITED = _p(
    "rate-limited",
    429,
    "RateLimited",
    "Too many requests",
    "请求过于频繁",
    "The token's rate limit (`Retry-After` in seconds).",
)
VALIDATION_BUSY = _p(
    "validation-busy",
    429,
    "RateLimited",
    "Validation busy",
    "校验繁忙",
    "Every validation slot is busy (`Retry-After` in seconds).",
)
# -- 500, 503 ---------------------------------------------------------------------------------
INTERNAL_ERROR = _p(
    "internal-error",
    500,
    "InternalError",
    "Internal server error",
    "枢纽内部错误",
    "An unexpected failure; the hub logs it and never answers a bare 500 or a stack trace.",
)
DATABASE_UNAVAILABLE = _p(
    "database-unavailable",
    503,
    "ServiceUnavailable",
    "Service unavailable",
    "数据库暂时不可用",
    "The database failed during the request (`Retry-After` in seconds).",
)
LETTER_FONTS_MISSING = _p(
    "letter-fonts-missing",
    503,
    "ServiceUnavailable",
    "Letter fonts missing",
    "缺少打印介绍信所需的中文字体",
    "The hub cannot print a letter as PDF: Debian's `fonts-noto-cjk` is not installed "
    "(`apt-get install fonts-noto-cjk`); the letter file (`/v1/transfers/{id}/letter`) still "
    "works.",
)
NOT_READY = _p(
    "not-ready",
    503,
    "NotReady",
    "Not ready",
    "枢纽尚未就绪",
    "`GET /readyz` found the hub not ready (`reason`: `database-unreachable`, "
    "`migrations-not-current`, `keys-unreadable`; `Retry-After`).",
)

# -- signed documents: <kind>-<failure> (spec/federation.md §1.6, §3) -------------------------
_DOCUMENT_FAILURES: Final = {
    "malformed": ("malformed", "格式错误", "The {kind} is not a signed {kind} or is malformed."),
    "unknown-key": (
        "signed with an unknown key",
        "签名密钥未知",
        "The {kind} is signed with a key the key set does not list.",
    ),
    "revoked-key": (
        "signed with a revoked key",
        "签名密钥已吊销",
        "The {kind} is signed with a key its hub has revoked.",
    ),
    "tampered": ("tampered", "已被改动", "The {kind}'s signature does not match its content."),
    "key-inactive": (
        "key not valid then",
        "签名时密钥不在有效期内",
        "The {kind}'s signing time is outside its key's validity.",
    ),
}
_DOCUMENTS: Final = {
    "letter": ("LetterError", 422, "Letter", "介绍信"),
    "receipt": ("LetterError", 422, "Receipt", "回执"),
    "withdrawal": ("LetterError", 422, "Withdrawal", "撤回通知"),
    "certificate": ("TrustError", 401, "Certificate", "证书"),
}
_SIGNED: dict[tuple[str, str], ProblemCode] = {
    (kind, failure): _p(
        f"{kind}-{failure}",
        status,
        cls,
        f"{name} {en}",
        f"{zh_name}{zh}",
        description.format(kind=kind),
    )
    for kind, (cls, status, name, zh_name) in _DOCUMENTS.items()
    for failure, (en, zh, description) in _DOCUMENT_FAILURES.items()
}
LETTER_MALFORMED: Final = _SIGNED["letter", "malformed"]
RECEIPT_MALFORMED: Final = _SIGNED["receipt", "malformed"]
WITHDRAWAL_MALFORMED: Final = _SIGNED["withdrawal", "malformed"]
CERTIFICATE_MALFORMED: Final = _SIGNED["certificate", "malformed"]


def signed_document_code(kind: str, failure: str) -> ProblemCode:
    """The code of a signed document's ``failure`` (``letter``, ``tampered`` →
    ``letter-tampered``); uncatalogued for a kind the standard does not define."""
    return _SIGNED.get((kind, failure), ProblemCode(f"{kind}-{failure}"))
