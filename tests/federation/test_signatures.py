"""Signed hub-to-hub requests and responses: the happy path over a transport, and each check
that fails with its own machine code."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tongxin.federation import (
    HttpMessage,
    KeyStore,
    MemoryNonceCache,
    SignatureError,
    SigningAuth,
    from_problem,
    signature_headers,
    verify_message,
)

from .conftest import NOW

URL = "https://jinjiang.example.cn/v1/transfers?x=1"
BODY = b'{"letter": {}}'


def _signed_request(store: KeyStore, now: int = NOW, **changes: str) -> HttpMessage:
    message = HttpMessage.for_request("POST", URL, {"Content-Type": "application/json"}, BODY)
    headers = {**message.headers, **signature_headers(message, store.signer(), now=now)}
    headers.update(changes)
    return HttpMessage.for_request("POST", URL, headers, BODY)


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(SignatureError) as caught:
        call()
    return caught.value.code


def test_signed_request_verifies(wuhou: KeyStore) -> None:
    message = _signed_request(wuhou)
    verified = verify_message(message, wuhou.key_set(), nonces=MemoryNonceCache(), now=NOW + 5)
    assert verified.keyid == wuhou.current.kid
    assert verified.expires - verified.created == 300
    assert verified.components == (
        '"@method"',
        '"@target-uri"',
        '"content-digest"',
        '"content-type"',
    )
    assert message.headers["signature-input"].startswith('tongxin=("@method" "@target-uri"')
    assert 'tag="tongxin/1"' in message.headers["signature-input"]


def test_get_without_body_covers_the_empty_digest(wuhou: KeyStore) -> None:
    message = HttpMessage.for_request("GET", "https://h.example.cn/v1/changes?after=abc", {})
    headers = signature_headers(message, wuhou.signer(), now=NOW)
    assert headers["Content-Digest"] == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    signed = HttpMessage.for_request("GET", message.target_uri or "", headers)
    assert verify_message(signed, wuhou.key_set(), now=NOW).keyid == wuhou.current.kid


def test_signature_missing(wuhou: KeyStore) -> None:
    message = HttpMessage.for_request("POST", URL, {"Content-Type": "application/json"}, BODY)
    assert _code(lambda: verify_message(message, wuhou.key_set(), now=NOW)) == "signature-missing"


def test_signature_malformed(wuhou: KeyStore) -> None:
    message = _signed_request(wuhou, Signature="tongxin=:not base64!:")
    assert _code(lambda: verify_message(message, wuhou.key_set(), now=NOW)) == (
        "signature-malformed"
    )


def test_body_altered_in_transit(wuhou: KeyStore) -> None:
    signed = _signed_request(wuhou)
    tampered = HttpMessage.for_request("POST", URL, signed.headers, BODY.replace(b"{}", b"[]"))
    assert _code(lambda: verify_message(tampered, wuhou.key_set(), now=NOW)) == "digest-mismatch"


def test_digest_header_and_body_both_replaced(wuhou: KeyStore) -> None:
    """An attacker who recomputes Content-Digest for a new body still breaks the signature."""
    signed = _signed_request(wuhou)
    body = b'{"letter": 1}'
    forged = {
        **signed.headers,
        "content-digest": signature_headers(
            HttpMessage.for_request("POST", URL, {}, body), wuhou.signer(), now=NOW
        )["Content-Digest"],
    }
    message = HttpMessage.for_request("POST", URL, forged, body)
    assert _code(lambda: verify_message(message, wuhou.key_set(), now=NOW)) == "bad-signature"


def test_other_target_uri(wuhou: KeyStore) -> None:
    signed = _signed_request(wuhou)
    moved = HttpMessage.for_request("POST", URL.replace("x=1", "x=2"), signed.headers, BODY)
    assert _code(lambda: verify_message(moved, wuhou.key_set(), now=NOW)) == "bad-signature"


@pytest.mark.parametrize(
    ("offset", "code"),
    [(300 + 61, "expired"), (-61, "not-yet-valid")],
)
def test_time_window(wuhou: KeyStore, offset: int, code: str) -> None:
    message = _signed_request(wuhou)
    assert _code(lambda: verify_message(message, wuhou.key_set(), now=NOW + offset)) == code


def test_window_longer_than_five_minutes(wuhou: KeyStore) -> None:
    message = _signed_request(wuhou)
    assert (
        _code(lambda: verify_message(message, wuhou.key_set(), now=NOW, max_window=120))
        == "window-too-long"
    )


def test_unknown_key(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    message = _signed_request(wuhou)
    assert _code(lambda: verify_message(message, jinjiang.key_set(), now=NOW)) == "unknown-key"


def test_revoked_key(wuhou: KeyStore) -> None:
    message = _signed_request(wuhou)
    wuhou.revoke(wuhou.current.kid, NOW)
    assert _code(lambda: verify_message(message, wuhou.key_set(), now=NOW)) == "revoked-key"


def test_message_in_flight_during_rotation_verifies(wuhou: KeyStore) -> None:
    in_flight = _signed_request(wuhou, now=NOW)  # signed just before the rotation
    old = wuhou.current.kid
    wuhou.rotate(NOW + 1)
    verified = verify_message(in_flight, wuhou.key_set(), now=NOW + 2)
    assert verified.keyid == old != wuhou.current.kid


def test_retired_key_outside_its_validity(wuhou: KeyStore) -> None:
    before = _signed_request(wuhou, now=NOW + 8 * 86_400)  # signed by the key about to retire
    wuhou.rotate(NOW)
    assert (
        _code(lambda: verify_message(before, wuhou.key_set(), now=NOW + 8 * 86_400))
        == "key-inactive"
    )


def test_replayed_nonce(wuhou: KeyStore) -> None:
    nonces = MemoryNonceCache(clock=lambda: NOW)
    message = _signed_request(wuhou)
    verify_message(message, wuhou.key_set(), nonces=nonces, now=NOW)
    assert (
        _code(lambda: verify_message(message, wuhou.key_set(), nonces=nonces, now=NOW))
        == "replayed-nonce"
    )


def test_nonce_cache_forgets_after_expiry() -> None:
    clock = [1000.0]
    cache = MemoryNonceCache(clock=lambda: clock[0])
    assert not cache.seen("k", "n", 1010)
    assert cache.seen("k", "n", 1010)
    assert not cache.seen("other", "n", 1010)
    clock[0] = 1011
    assert not cache.seen("x", "y", 2000)
    assert len(cache) == 1
    assert not cache.seen("k", "n", 1500)


def test_failed_signature_does_not_spend_the_nonce(wuhou: KeyStore) -> None:
    nonces = MemoryNonceCache(clock=lambda: NOW)
    good = _signed_request(wuhou)
    bad = HttpMessage.for_request("POST", URL + "&y", good.headers, BODY)
    _code(lambda: verify_message(bad, wuhou.key_set(), nonces=nonces, now=NOW))
    verify_message(good, wuhou.key_set(), nonces=nonces, now=NOW)


def test_profile_requires_content_type_when_present(wuhou: KeyStore) -> None:
    unsigned_type = HttpMessage.for_request("POST", URL, {}, BODY)
    headers = {
        **signature_headers(unsigned_type, wuhou.signer(), now=NOW),
        "Content-Type": "application/json",
    }
    message = HttpMessage.for_request("POST", URL, headers, BODY)
    assert _code(lambda: verify_message(message, wuhou.key_set(), now=NOW)) == ("component-missing")


def test_profile_tag_required(wuhou: KeyStore) -> None:
    signed = _signed_request(wuhou)
    message = _signed_request(
        wuhou,
        **{"Signature-Input": signed.headers["signature-input"].replace(';tag="tongxin/1"', "")},
    )
    assert _code(lambda: verify_message(message, wuhou.key_set(), now=NOW)) == ("signature-profile")


def test_problem_round_trip(wuhou: KeyStore) -> None:
    message = _signed_request(wuhou)
    with pytest.raises(SignatureError) as caught:
        verify_message(message, wuhou.key_set(), now=NOW + 1000)
    problem = caught.value.to_problem("/v1/transfers")
    assert problem["status"] == 401
    assert problem["code"] == "expired"
    assert problem["detailZh"] == "签名已过期"
    again = from_problem(problem)
    assert isinstance(again, SignatureError)
    assert again.code == "expired"


def _peer(server: KeyStore, client_keys: KeyStore, nonces: MemoryNonceCache) -> httpx.MockTransport:
    """A peer hub that verifies each request and answers with a signed response."""

    def handle(request: httpx.Request) -> httpx.Response:
        incoming = HttpMessage.from_httpx(request)
        try:
            verified = verify_message(incoming, client_keys.key_set(), nonces=nonces, now=NOW)
        except SignatureError as error:
            status, body = 401, httpx.Response(401, json=error.to_problem()).content
        else:
            status, body = 200, f'{{"from": "{verified.keyid}"}}'.encode()
        headers = {"Content-Type": "application/json"}
        response = HttpMessage.for_response(status, headers, body, incoming)
        headers.update(signature_headers(response, server.signer(), now=NOW))
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handle)


def test_client_signs_and_verifies_responses(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    auth = SigningAuth(wuhou.signer(), verify_with=jinjiang.key_set(), clock=lambda: NOW)
    transport = _peer(jinjiang, wuhou, MemoryNonceCache(clock=lambda: NOW))
    with httpx.Client(transport=transport, auth=auth) as client:
        response = client.post(URL, json={"letter": {}})
        assert response.status_code == 200
        assert response.json() == {"from": wuhou.current.kid}
        replay = client.build_request("POST", URL, json={"letter": {}})
        replay.headers.update(response.request.headers)
        answered = client.send(replay, auth=None)
        assert answered.status_code == 401
        assert answered.json()["code"] == "replayed-nonce"


def test_response_signature_is_bound_to_its_request(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    request = HttpMessage.for_request("GET", "https://j.example.cn/v1/changes?after=1", {})
    other = HttpMessage.for_request("GET", "https://j.example.cn/v1/changes?after=2", {})
    body = b'{"items": []}'
    headers = {"Content-Type": "application/json"}
    response = HttpMessage.for_response(200, headers, body, request)
    headers.update(signature_headers(response, jinjiang.signer(), now=NOW))
    assert '"@target-uri";req' in headers["Signature-Input"]
    good = HttpMessage.for_response(200, headers, body, request)
    assert verify_message(good, jinjiang.key_set(), now=NOW).keyid == jinjiang.current.kid
    replayed = HttpMessage.for_response(200, headers, body, other)
    assert _code(lambda: verify_message(replayed, jinjiang.key_set(), now=NOW)) == ("bad-signature")


def test_client_refuses_an_unsigned_response(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    auth = SigningAuth(wuhou.signer(), verify_with=jinjiang.key_set(), clock=lambda: NOW)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with (
        httpx.Client(transport=transport, auth=auth) as client,
        pytest.raises(SignatureError, match="signature-missing"),
    ):
        client.get("https://j.example.cn/v1/changes")


async def _async_post(auth: SigningAuth, transport: httpx.MockTransport) -> int:
    async with httpx.AsyncClient(transport=transport, auth=auth) as client:
        return (await client.post(URL, content=BODY)).status_code


def test_async_client_uses_the_same_auth(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    import asyncio

    auth = SigningAuth(wuhou.signer(), verify_with=jinjiang.key_set(), clock=lambda: NOW)
    transport = _peer(jinjiang, wuhou, MemoryNonceCache(clock=lambda: NOW))
    assert asyncio.run(_async_post(auth, transport)) == 200
