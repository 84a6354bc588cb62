"""The checks of level ``federation``: the key set, signed hub-to-hub requests and replicas.

The refusals (unsigned, tampered, unknown key) need no trust. The signed feed, the replay and
the forged signature need a key the target trusts as a parent hub: ``--peer-keys`` names that
hub's key store (``spec/federation.md`` §1.5)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from tongxin.federation import (
    FederationError,
    HttpMessage,
    KeySet,
    KeyStore,
    signature_headers,
    verify_key_set,
    verify_message,
)
from tongxin.schemas import problems

from ._model import Context, Fail, Skip
from ._read import expect_problem, expect_status, read_feed

__all__ = [
    "forged_signature",
    "key_set",
    "replayed",
    "replica_read_only",
    "signed_feed",
    "tampered",
    "unknown_key",
    "unsigned",
]

PROBE_HUB = "txc-probe"


def _key_set(ctx: Context) -> KeySet:
    if "keyset" not in ctx.cache:
        key_set(ctx)
    found: KeySet = ctx.cache["keyset"]
    return found


def key_set(ctx: Context) -> None:
    response = ctx.call("GET", "/.well-known/tongxin/keys", token=False)
    expect_status(ctx, response, 200)
    doc = ctx.json(response)
    if not isinstance(doc, dict) or doc.get("format") != "tongxin-keys/1":
        raise Fail(
            "the key set's format is not tongxin-keys/1", "密钥集的 format 不是 tongxin-keys/1"
        )
    if doc.get("hubId") != ctx.hub_id:
        raise Fail(
            f"the key set names hub {doc.get('hubId')!r}, discovery {ctx.hub_id!r}",
            f"密钥集的枢纽为 {doc.get('hubId')!r}，发现文档为 {ctx.hub_id!r}",
        )
    try:
        from tongxin.federation import parse_key_set

        parsed = parse_key_set(doc)
        pins = sorted(k.fingerprint for k in parsed if k.usable_at(int(time.time())))
        ctx.cache["keyset"] = verify_key_set(doc, pins, int(time.time()))
    except FederationError as error:
        raise Fail(
            f"the key set does not verify: {error.code} ({error.detail_en})",
            f"密钥集验证失败：{error.code}（{error.detail_zh}）",
        ) from None
    ctx.cache["fingerprints"] = pins


def _probe(ctx: Context) -> KeyStore:
    """A throw-away key store the target does not know."""
    if "probe" not in ctx.cache:
        folder = Path(tempfile.mkdtemp(prefix="txc-"))
        ctx.cache["probe"] = KeyStore.create(folder / "probe.keys.json", PROBE_HUB)
    found: KeyStore = ctx.cache["probe"]
    return found


def _trusted(ctx: Context) -> KeyStore:
    if ctx.target.peer_keys is None:
        raise Skip(
            "needs --peer-keys: the key store of a hub the target trusts as its parent",
            "需要 --peer-keys：目标枢纽信任为上级的枢纽的密钥库",
        )
    if "trusted" not in ctx.cache:
        ctx.cache["trusted"] = KeyStore.load(ctx.target.peer_keys)
    found: KeyStore = ctx.cache["trusted"]
    return found


def _signed(
    ctx: Context, store: KeyStore, method: str, path: str, body: bytes = b""
) -> httpx.Request:
    headers = {"Content-Type": "application/json"} if body else {}
    request = ctx.client.build_request(method, path, content=body, headers=headers)
    message = HttpMessage.from_httpx(request)
    request.headers.update(signature_headers(message, store.signer(), now=int(time.time())))
    return request


def _send(ctx: Context, request: httpx.Request) -> httpx.Response:
    try:
        response = ctx.client.send(request)
    except httpx.HTTPError as error:
        raise Fail(f"no response ({error})", f"无响应（{error}）") from None
    ctx.remember(response)
    return response


HINT = orjson.dumps({"seq": 1})


def unsigned(ctx: Context) -> None:
    response = ctx.call(
        "POST",
        "/v1/federation/hints",
        token=False,
        content=HINT,
        headers={"Content-Type": "application/json"},
    )
    expect_problem(ctx, response, 401, problems.SIGNATURE_MISSING)


def tampered(ctx: Context) -> None:
    request = _signed(ctx, _probe(ctx), "POST", "/v1/federation/hints", HINT)
    request = ctx.client.build_request(
        "POST",
        "/v1/federation/hints",
        content=orjson.dumps({"seq": 2}),
        headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
    )
    expect_problem(ctx, _send(ctx, request), 401, problems.DIGEST_MISMATCH)


def unknown_key(ctx: Context) -> None:
    request = _signed(ctx, _probe(ctx), "POST", "/v1/federation/hints", HINT)
    expect_problem(ctx, _send(ctx, request), 401, problems.UNKNOWN_KEY)


def signed_feed(ctx: Context) -> None:
    store = _trusted(ctx)
    request = _signed(ctx, store, "GET", "/v1/changes?limit=10")
    response = _send(ctx, request)
    expect_status(ctx, response, 200)
    try:
        verify_message(HttpMessage.from_httpx(response), _key_set(ctx), now=int(time.time()))
    except FederationError as error:
        raise Fail(
            f"the feed's response signature does not verify: {error.code}",
            f"变更流响应的签名验证失败：{error.code}",
        ) from None
    body = ctx.json(response)
    for item in body.get("items", []):
        record = item.get("record") or {}
        if "citizenId" in record or "phone" in record:
            raise Fail(
                "the feed shows a parent a citizen ID or phone in clear (default policy: none)",
                "变更流向上级明文提供了公民身份号码或电话（默认策略不提供）",
            )
    ctx.cache["signed"] = request


def replayed(ctx: Context) -> None:
    store = _trusted(ctx)
    request = _signed(ctx, store, "GET", "/v1/changes?limit=1")
    first = _send(ctx, request)
    expect_status(ctx, first, 200)
    again = ctx.client.build_request("GET", "/v1/changes?limit=1", headers=dict(request.headers))
    expect_problem(ctx, _send(ctx, again), 401, problems.REPLAYED_NONCE)


def forged_signature(ctx: Context) -> None:
    store = _trusted(ctx)
    request = _signed(ctx, store, "GET", "/v1/changes?limit=1")
    label, value = request.headers["signature"].split("=:", 1)
    raw = bytearray(value.rstrip(":").encode())
    raw[5] = ord("A") if raw[5] != ord("A") else ord("B")
    request.headers["signature"] = f"{label}=:{raw.decode()}:"
    expect_problem(ctx, _send(ctx, request), 401, problems.BAD_SIGNATURE)


def replica_read_only(ctx: Context) -> None:
    ctx.sandbox()
    items = ctx.cache.get("feed")
    if items is None:
        items, _ = read_feed(ctx)
    replica = next(
        (
            i
            for i in items
            if i.get("owner") not in (None, ctx.hub_id) and not i.get("deleted") and i.get("record")
        ),
        None,
    )
    if replica is None:
        raise Skip("the target holds no replica", "目标枢纽没有只读副本")
    record: dict[str, Any] = dict(replica["record"])
    version = replica["version"]
    path = f"/v1/{replica['type']}/{replica['id']}"
    response = ctx.call("PUT", path, json=record, headers={"If-Match": f'"{version}"'})
    expect_problem(ctx, response, 409, problems.REPLICA_READ_ONLY)
    # A version the record does not have: a hub that wrongly allows replica deletes still
    # deletes nothing of the target's real records (it answers 412 instead of 409).
    never = f'"{int(version) + 1_000_000}"'
    response = ctx.call("DELETE", path, headers={"If-Match": never})
    expect_problem(ctx, response, 409, problems.REPLICA_READ_ONLY)
