"""A fault-injecting HTTP proxy in front of a hub, for the network fault tests.

It forwards every request unchanged (the ``Host`` header too, so the signed ``@target-uri`` stays
valid) unless a :class:`Fault` matches, and then loses, duplicates, replays, delays or tampers
with the message the way a real network or an attacker would. The hubs on either side are real
processes; only the wire between them misbehaves.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

import httpx

Action = Literal[
    "lose-request",
    "lose-response",
    "duplicate",
    "replay-later",
    "delay",
    "tamper",
    "tamper-response",
]
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}


@dataclass
class Fault:
    """Misbehave on the next ``times`` requests whose method and path start as given.

    * ``lose-request``: answer 503 without forwarding (the peer never sees the message);
    * ``lose-response``: forward, then answer 502 (the peer acted; the sender does not know);
    * ``duplicate``: forward the same signed bytes twice, answer with the first response;
    * ``replay-later``: forward, and send the same signed bytes again ``seconds`` later;
    * ``delay``: hold the request ``seconds`` before forwarding (a late message);
    * ``tamper``: flip one byte of the request body before forwarding;
    * ``tamper-response``: flip one byte of the response body on its way back.
    """

    method: str
    path: str
    action: Action
    times: int = 1
    seconds: float = 0.0
    hits: int = 0
    #: Status codes of the extra deliveries (duplicate, replay-later).
    echoes: list[int] = field(default_factory=list)


class FaultProxy:
    """``http://127.0.0.1:port`` in front of ``upstream``; faults are added with :meth:`fault`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=120)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def arm(self, fault: Fault) -> Fault:
        """Apply ``fault`` until it has been used ``times`` times."""
        with self._lock:
            self._faults.append(fault)
        return fault

    @contextmanager
    def fault(self, fault: Fault) -> Iterator[Fault]:
        """Apply ``fault`` inside the block (it also ends once used ``times`` times)."""
        self.arm(fault)
        try:
            yield fault
        finally:
            with self._lock:
                if fault in self._faults:
                    self._faults.remove(fault)

    def _match(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and path.startswith(fault.path):
                    fault.hits += 1
                    if fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> httpx.Response:
        return self._client.request(method, self.upstream + path, headers=headers, content=body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP]
                fault = proxy._match(self.command, self.path)
                action = fault.action if fault else None
                if action == "lose-request":
                    self._answer(503, [], b"lost")
                    return
                if action == "delay" and fault is not None:
                    time.sleep(fault.seconds)
                if action == "tamper" and body:
                    body = _flip(body)
                try:
                    response = proxy._forward(self.command, self.path, headers, body)
                except httpx.HTTPError:
                    self._answer(502, [], b"upstream unreachable")
                    return
                if action == "duplicate" and fault is not None:
                    self._echo(fault, headers, body, 0.0)
                if action == "replay-later" and fault is not None:
                    args = (fault, headers, body, fault.seconds)
                    threading.Thread(target=self._echo, args=args, daemon=True).start()
                if action == "lose-response":
                    self._answer(502, [], b"response lost")
                    return
                out = [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP]
                content = response.content
                if action == "tamper-response" and content:
                    content = _flip(content)
                self._answer(response.status_code, out, content)

            def _echo(
                self, fault: Fault, headers: list[tuple[str, str]], body: bytes, wait: float
            ) -> None:
                time.sleep(wait)
                try:
                    status = proxy._forward(self.command, self.path, headers, body).status_code
                except httpx.HTTPError:
                    status = 0
                fault.echoes.append(status)

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)  # unless the client was killed while waiting

            def do_GET(self) -> None:
                self._relay()

            def do_POST(self) -> None:
                self._relay()

        return Handler


def _flip(body: bytes) -> bytes:
    """The body with one bit of its second-to-last byte flipped."""
    return body[:-2] + bytes([body[-2] ^ 0x01]) + body[-1:]
