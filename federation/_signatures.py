"""HTTP Message Signatures (RFC 9421) under the Tongxin profile, for requests and responses.

The profile (``tag="tongxin/1"``, label ``tongxin``, algorithm ``ed25519``):

* requests cover ``@method``, ``@target-uri``, ``content-digest`` and, when the request has a
  body type, ``content-type``;
* responses cover ``@status``, ``content-digest``, ``content-type`` when present, and the
  request's ``"@method";req`` and ``"@target-uri";req`` so a response cannot be replayed for
  another request;
* parameters ``created``, ``expires`` (at most 300 s later), ``keyid``, ``nonce``, ``alg``,
  ``tag``.

:func:`verify_message` runs the checks in a fixed order and raises :class:`SignatureError`
naming the first that failed; the nonce is remembered only after the signature verified, so
unsigned traffic cannot fill the replay cache.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from tongxin.schemas import problems
from tongxin.schemas.problems import ProblemCode

from ._digest import check_content_digest, content_digest
from ._errors import SignatureError
from ._keys import KeyResolver, KeyStatus, Signer
from ._replay import NonceCache
from ._sfv import InnerList, Item, Token, parse_dictionary, serialize_inner_list, serialize_item

__all__ = [
    "LABEL",
    "MAX_WINDOW",
    "PROFILE_TAG",
    "HttpMessage",
    "VerifiedSignature",
    "signature_base",
    "signature_headers",
    "verify_message",
]

LABEL = "tongxin"
PROFILE_TAG = "tongxin/1"
#: Longest ``expires - created`` a verifier accepts (seconds).
MAX_WINDOW = 300
#: Clock difference tolerated between hubs (seconds).
SKEW = 60

_REQUEST = ("@method", "@target-uri", "content-digest")
_RESPONSE = ("@status", "content-digest")


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """What a signature covers: a request (``method``, ``target_uri``) or a response
    (``status``, and the ``request`` it answers). Header names are lower-case; repeated fields
    are joined with ``", "`` (RFC 9421 §2.1)."""

    headers: Mapping[str, str]
    body: bytes = b""
    method: str | None = None
    target_uri: str | None = None
    status: int | None = None
    request: HttpMessage | None = None

    @staticmethod
    def fields(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        """Lower-case names; repeated fields joined; values trimmed."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, str] = {}
        for name, value in pairs:
            key, value = name.lower(), value.strip()
            out[key] = f"{out[key]}, {value}" if key in out else value
        return out

    @classmethod
    def for_request(
        cls,
        method: str,
        target_uri: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes = b"",
    ) -> HttpMessage:
        """A request as the server received it (``target_uri`` is the full URL)."""
        return cls(cls.fields(headers), body, method=method.upper(), target_uri=target_uri)

    @classmethod
    def for_response(
        cls,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        request: HttpMessage | None,
    ) -> HttpMessage:
        return cls(cls.fields(headers), body, status=status, request=request)

    @classmethod
    def from_httpx(cls, message: httpx.Request | httpx.Response) -> HttpMessage:
        """An ``httpx`` request or (read) response."""
        if isinstance(message, httpx.Request):
            return cls.for_request(
                message.method, str(message.url), message.headers.multi_items(), message.content
            )
        return cls.for_response(
            message.status_code,
            message.headers.multi_items(),
            message.content,
            cls.from_httpx(message.request),
        )


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """What a verified signature tells: which key (and so which hub) signed, and when."""

    keyid: str
    created: int
    expires: int
    nonce: str
    components: tuple[str, ...]


# -- signature base ------------------------------------------------------------------------------
def _fail(code: ProblemCode, en: str, zh: str) -> SignatureError:
    return SignatureError(code, en, zh)


def _derived(message: HttpMessage, name: str) -> str | None:
    if name == "@method":
        return message.method
    if name == "@target-uri":
        return message.target_uri
    if name == "@status":
        return None if message.status is None else str(message.status)
    if message.target_uri is None:
        return None
    url = urlsplit(message.target_uri)
    if name == "@authority":
        host = (url.hostname or "").lower()
        default = {"http": 80, "https": 443}.get(url.scheme)
        return host if url.port in (None, default) else f"{host}:{url.port}"
    if name == "@scheme":
        return url.scheme.lower()
    if name == "@path":
        return url.path or "/"
    if name == "@query":
        return "?" + url.query
    return None


def _component_value(message: HttpMessage, component: Item) -> str:
    name = component.value
    if not isinstance(name, str) or set(component.params) - {"req"}:
        raise _fail(
            problems.SIGNATURE_MALFORMED,
            f"unsupported component {serialize_item(component)}",
            f"不支持的签名组件 {serialize_item(component)}",
        )
    source = message
    if component.params.get("req"):
        if message.request is None:
            raise _fail(
                problems.COMPONENT_MISSING,
                f"{name};req needs the request",
                f"{name};req 需要对应的请求",
            )
        source = message.request
    value = _derived(source, name) if name.startswith("@") else source.headers.get(name)
    if value is None:
        raise _fail(
            problems.COMPONENT_MISSING,
            f"the signature covers {serialize_item(component)}, which the message lacks",
            f"签名覆盖的组件 {serialize_item(component)} 在消息中不存在",
        )
    return value


def signature_base(message: HttpMessage, signature_input: InnerList) -> bytes:
    """The RFC 9421 §2.5 signature base for one ``Signature-Input`` member."""
    lines = [f"{serialize_item(c)}: {_component_value(message, c)}" for c in signature_input.items]
    lines.append(f'"@signature-params": {serialize_inner_list(signature_input)}')
    return "\n".join(lines).encode("utf-8")


# -- signing -------------------------------------------------------------------------------------
def _covered(message: HttpMessage) -> tuple[Item, ...]:
    if message.status is None:
        names = list(_REQUEST)
        reqs: list[Item] = []
    else:
        names = list(_RESPONSE)
        reqs = (
            [Item("@method", {"req": True}), Item("@target-uri", {"req": True})]
            if message.request is not None
            else []
        )
    if "content-type" in message.headers:
        names.append("content-type")
    return (*(Item(n) for n in names), *reqs)


def signature_headers(
    message: HttpMessage,
    signer: Signer,
    *,
    now: int | None = None,
    expires_in: int = MAX_WINDOW,
    nonce: str | None = None,
) -> dict[str, str]:
    """``Content-Digest``, ``Signature-Input`` and ``Signature`` to add to ``message``.

    The digest is computed here from ``message.body``; a ``Content-Digest`` already present is
    replaced.
    """
    created = int(time.time()) if now is None else now
    headers = dict(message.headers)
    headers["content-digest"] = content_digest(message.body)
    message = replace(message, headers=headers)
    params: dict[str, Any] = {
        "created": created,
        "expires": created + min(expires_in, MAX_WINDOW),
        "keyid": signer.kid,
        "nonce": nonce or secrets.token_urlsafe(16),
        "alg": "ed25519",
        "tag": PROFILE_TAG,
    }
    inner = InnerList(_covered(message), params)
    value = signer.sign(signature_base(message, inner))
    return {
        "Content-Digest": headers["content-digest"],
        "Signature-Input": f"{LABEL}={serialize_inner_list(inner)}",
        "Signature": f"{LABEL}=:{base64.b64encode(value).decode('ascii')}:",
    }


# -- verifying -----------------------------------------------------------------------------------
def _member(message: HttpMessage, label: str) -> tuple[InnerList, bytes]:
    inputs, sigs = message.headers.get("signature-input"), message.headers.get("signature")
    if not inputs or not sigs:
        raise _fail(
            problems.SIGNATURE_MISSING,
            "the message carries no Signature-Input and Signature headers",
            "消息缺少 Signature-Input 与 Signature 头",
        )
    try:
        inner, sig = parse_dictionary(inputs).get(label), parse_dictionary(sigs).get(label)
    except ValueError as error:
        raise _fail(problems.SIGNATURE_MALFORMED, str(error), f"签名头格式错误：{error}") from None
    if inner is None or sig is None:
        raise _fail(
            problems.SIGNATURE_MISSING,
            f"no signature labelled {label!r}",
            f"没有标签为 {label!r} 的签名",
        )
    if (
        not isinstance(inner, InnerList)
        or not isinstance(sig, Item)
        or not isinstance(sig.value, bytes)
    ):
        raise _fail(
            problems.SIGNATURE_MALFORMED,
            "Signature-Input must be an inner list and Signature a byte sequence",
            "Signature-Input 须为内列表，Signature 须为字节序列",
        )
    return inner, sig.value


def _profile(message: HttpMessage, inner: InnerList) -> tuple[int, int, str, str]:
    p = inner.params
    created, expires, keyid, nonce = (p.get(k) for k in ("created", "expires", "keyid", "nonce"))
    if (
        p.get("tag") != PROFILE_TAG
        or p.get("alg", "ed25519") != "ed25519"
        or not isinstance(created, int)
        or not isinstance(expires, int)
        or isinstance(created, bool)
        or isinstance(expires, bool)
        or not isinstance(keyid, str)
        or not isinstance(nonce, str)
        or isinstance(keyid, Token)
        or not nonce
    ):
        raise _fail(
            problems.SIGNATURE_PROFILE,
            f'the signature must carry tag="{PROFILE_TAG}", alg="ed25519", created, expires, '
            "keyid and nonce",
            f'签名须带 tag="{PROFILE_TAG}"、alg="ed25519"、created、expires、keyid 与 nonce',
        )
    covered = {serialize_item(c) for c in inner.items}
    required = [serialize_item(c) for c in _covered(message)]
    missing = [r for r in required if r not in covered]
    if missing:
        raise _fail(
            problems.COMPONENT_MISSING,
            f"the signature must cover {', '.join(missing)}",
            f"签名须覆盖 {', '.join(missing)}",
        )
    return created, expires, keyid, nonce


def _window(created: int, expires: int, now: int, max_window: int, skew: int) -> None:
    if expires - created > max_window or expires <= created:
        raise _fail(
            problems.WINDOW_TOO_LONG,
            f"expires must be after created and at most {max_window} s later",
            f"expires 须晚于 created 且不超过 {max_window} 秒",
        )
    if created > now + skew:
        raise _fail(
            problems.NOT_YET_VALID,
            "the signature was created in the future: check the clock",
            "签名时间晚于当前时间，请检查时钟",
        )
    if now > expires + skew:
        raise _fail(problems.EXPIRED, "the signature has expired", "签名已过期")


def verify_message(
    message: HttpMessage,
    keys: KeyResolver,
    *,
    nonces: NonceCache | None = None,
    now: int | None = None,
    max_window: int = MAX_WINDOW,
    skew: int = SKEW,
    label: str = LABEL,
) -> VerifiedSignature:
    """Verify a request (server side) or a response (client side) under the Tongxin profile.

    Order of checks: ``signature-missing``/``signature-malformed``, ``signature-profile``,
    ``component-missing``, ``window-too-long``/``not-yet-valid``/``expired``,
    ``digest-missing``/``digest-mismatch`` (recomputed from the body), ``unknown-key``,
    ``revoked-key``, ``key-inactive``, ``bad-signature``, ``replayed-nonce``.
    """
    now = int(time.time()) if now is None else now
    inner, signature = _member(message, label)
    created, expires, keyid, nonce = _profile(message, inner)
    _window(created, expires, now, max_window, skew)
    check_content_digest(message.headers.get("content-digest"), message.body)
    key = keys.key(keyid)
    if key is None:
        raise _fail(
            problems.UNKNOWN_KEY, f"no trusted key {keyid!r}", f"没有受信任的密钥 {keyid!r}"
        )
    if key.status is KeyStatus.REVOKED:
        raise _fail(
            problems.REVOKED_KEY, f"key {keyid!r} has been revoked", f"密钥 {keyid!r} 已被吊销"
        )
    if not key.usable_at(created):
        raise _fail(
            problems.KEY_INACTIVE,
            f"key {keyid!r} is outside its validity period",
            f"密钥 {keyid!r} 不在有效期内",
        )
    if not key.verify(signature, signature_base(message, inner)):
        raise _fail(problems.BAD_SIGNATURE, "the signature does not verify", "签名验证失败")
    if nonces is not None and nonces.seen(keyid, nonce, expires + skew):
        raise _fail(
            problems.REPLAYED_NONCE,
            "this nonce was used before: the message is a replay",
            "该 nonce 已使用过：消息系重放",
        )
    components = tuple(serialize_item(c) for c in inner.items)
    return VerifiedSignature(keyid, created, expires, nonce, components)
