"""Signed hub-to-hub POSTs (``spec/federation.md`` §2): the request is signed with this
hub's key, the answer must be signed by the peer and bound to the request; any failure is a
:class:`DeliveryError` (with the peer's problem when it refused)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tongxin.federation import FederationError, SigningAuth, from_problem

from ._hub import Hub
from ._peers import DbNonceCache, Peer, PeerResolver, hub_keys

__all__ = ["DeliveryError", "post_signed"]


def _client(hub: Hub, peer: Peer, timeout: float) -> httpx.Client:
    auth = SigningAuth(
        hub_keys(hub).signer(),
        verify_with=PeerResolver(hub, only=peer.hub_id),
        nonces=DbNonceCache(hub),
    )
    return hub.http(auth=auth, timeout=timeout)


class DeliveryError(Exception):
    """A message did not reach the peer, or the peer refused it (``problem``)."""

    def __init__(
        self, message: str, problem: FederationError | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.problem, self.status = problem, status

    @property
    def permanent(self) -> bool:
        """The peer refused the message for good (a signed 4xx problem), so sending it again
        cannot help: the message is not retried. Transient, and retried with backoff: no
        answer, a 5xx, 408, 425, 429, and 401 or an unknown signing key (the peer may not have
        fetched a rotated key set yet)."""
        if self.problem is None or self.status is None or not 400 <= self.status < 500:
            return False
        if self.status in (401, 408, 425, 429):
            return False
        return not self.problem.code.endswith("-unknown-key")


def post_signed(
    hub: Hub, peer: Peer, path: str, body: dict[str, Any], timeout: float = 30
) -> dict[str, Any]:
    """POST a signed message to a peer and return its verified answer."""
    try:
        with _client(hub, peer, timeout) as client:
            response = client.post(
                peer.url + path,
                content=orjson.dumps(body),
                headers={"content-type": "application/json"},
            )
    except FederationError as error:
        raise DeliveryError(f"response {error.code}: {error.detail_en}") from None
    except httpx.HTTPError as error:
        raise DeliveryError(f"unreachable: {error}") from None
    if response.status_code != 200:
        try:
            problem = from_problem(response.json())
        except (ValueError, TypeError, AttributeError):
            raise DeliveryError(f"{response.status_code} {response.reason_phrase}") from None
        message = f"{response.status_code} {problem.code}: {problem.detail_en}"
        raise DeliveryError(message, problem, response.status_code)
    answer: dict[str, Any] = response.json()
    return answer
