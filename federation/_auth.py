"""Signing hub-to-hub requests as an ``httpx.Auth``, and optionally verifying the responses.

    client = httpx.Client(base_url=peer_url, auth=SigningAuth(store.signer(), verify_with=peer))

One ``auth_flow`` generator serves ``httpx.Client`` and ``httpx.AsyncClient``; the transport is
whatever the client was given, so tests use ``httpx.MockTransport`` or a live server alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import httpx

from ._keys import KeyResolver, Signer
from ._replay import NonceCache
from ._signatures import HttpMessage, signature_headers, verify_message

__all__ = ["SigningAuth"]


class SigningAuth(httpx.Auth):
    """Adds ``Content-Digest``, ``Signature-Input`` and ``Signature`` to every request.

    With ``verify_with`` (the peer's trusted keys) each response must carry a valid signature
    bound to its request, else :class:`~tongxin.federation.SignatureError` is raised.
    """

    requires_request_body = True

    def __init__(
        self,
        signer: Signer,
        *,
        verify_with: KeyResolver | None = None,
        nonces: NonceCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer, self.verify_with, self.nonces, self.clock = signer, verify_with, nonces, clock
        self.requires_response_body = verify_with is not None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        message = HttpMessage.from_httpx(request)
        request.headers.update(signature_headers(message, self.signer, now=int(self.clock())))
        response = yield request
        if self.verify_with is not None:
            verify_message(
                HttpMessage.from_httpx(response),
                self.verify_with,
                nonces=self.nonces,
                now=int(self.clock()),
            )
