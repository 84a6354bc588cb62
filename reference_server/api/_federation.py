"""Federation over HTTP: the published key set, verifying signed hub-to-hub requests, signing
responses to them, and the peers' status (``spec/federation.md``, ``spec/api.md``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from tongxin.federation import (
    FederationError,
    HttpMessage,
    LetterError,
    hub_of_kid,
    signature_headers,
    verify_message,
)
from tongxin.schemas import TongxinError, problems
from tongxin.server._errors import NotFound
from tongxin.server._federation import (
    DbNonceCache,
    Peer,
    PeerResolver,
    certify,
    get_peer,
    hub_keys,
    list_peers,
)
from tongxin.server._hub import Hub
from tongxin.server._peercounts import served_counts
from tongxin.server._policy import Act, PeerAct, authorize, authorize_peer
from tongxin.server._security import Principal
from tongxin.server._transfers import (
    decide_transfer,
    read_letter,
    read_status,
    receive_letter,
    receive_receipt,
    receive_withdrawal,
    withdraw_transfer,
)

from ._deps import Caller, HubDep, bearer, get_caller
from ._problems import PROBLEM, problem_bytes
from ._records import JSON, problem_responses

__all__ = ["FeedCaller", "PeerCaller", "federation_router", "peer_problem", "signed_response"]


@dataclass(frozen=True, slots=True)
class PeerCaller:
    """A peer hub whose signed request verified."""

    peer: Peer
    request: HttpMessage


def target_uri(hub: Hub, request: Request) -> str:
    """The URL the peer signed: the public URL when set, else the one received."""
    if hub.settings.public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        return hub.settings.public_url.rstrip("/") + request.url.path + query
    return str(request.url)


def _verify(hub: Hub, message: HttpMessage) -> PeerCaller:
    verified = verify_message(message, PeerResolver(hub), nonces=DbNonceCache(hub))
    peer = get_peer(hub, hub_of_kid(verified.keyid))
    assert peer is not None  # the resolver only knows peers' keys
    return PeerCaller(peer, message)


async def get_feed_caller(
    request: Request,
    hub: HubDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | PeerCaller:
    """A token holder, or a peer hub that signed its request (no ``Authorization``)."""
    if "authorization" in request.headers or "signature-input" not in request.headers:
        return await get_caller(request, hub, credentials)
    body = await request.body()
    message = HttpMessage.for_request(
        request.method, target_uri(hub, request), request.headers.items(), body
    )
    # A refused signature is a FederationError: the one problem handler answers it (unsigned).
    return await to_thread.run_sync(_verify, hub, message)


FeedCaller = Annotated[Principal | PeerCaller, Depends(get_feed_caller)]


def signed_response(
    hub: Hub, status: int, body: bytes, request: HttpMessage, media_type: str = JSON
) -> Response:
    """A response signed by this hub and bound to the peer's request (§2.1)."""
    headers = {"content-type": media_type}
    message = HttpMessage.for_response(status, headers, body, request)
    headers.update(signature_headers(message, hub_keys(hub).signer()))
    return Response(body, status_code=status, headers=headers)


async def require_peer_caller(request: Request, hub: HubDep) -> PeerCaller:
    """A peer hub whose signed request verified (hub-to-hub endpoints only)."""
    body = await request.body()
    message = HttpMessage.for_request(
        request.method, target_uri(hub, request), request.headers.items(), body
    )
    # A refused signature is a FederationError: the one problem handler answers it (unsigned).
    return await to_thread.run_sync(_verify, hub, message)


PeerOnly = Annotated[PeerCaller, Depends(require_peer_caller)]


async def _deliver(
    request: Request,
    hub: Hub,
    caller: PeerCaller,
    receive: Callable[[Hub, Any, Any], dict[str, Any]],
    malformed: LetterError,
) -> Response:
    """Hand a signed peer delivery to ``receive``; answer with a signed response or problem."""
    try:
        body = orjson.loads(await request.body())
        out = await to_thread.run_sync(receive, hub, caller.peer, body)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return peer_problem(hub, malformed, request, caller)
    except FederationError as error:
        return peer_problem(hub, error, request, caller)
    return signed_response(hub, 200, orjson.dumps(out), caller.request)


def _print_letter(hub: Hub, transfer_id: str, caller: Principal) -> bytes:
    # Imported on first use: the PDF and font libraries cost no worker its start-up time.
    from tongxin.server._letterpdf import letter_pdf

    return letter_pdf(hub, transfer_id, caller)


def peer_problem(hub: Hub, error: TongxinError, request: Request, caller: PeerCaller) -> Response:
    """``error`` as a problem response signed by this hub and bound to the peer's request."""
    body = problem_bytes(error, request.url.path)
    return signed_response(hub, error.status, body, caller.request, PROBLEM)


def federation_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/.well-known/tongxin/keys",
        tags=["federation"],
        operation_id="keys",
        summary="This hub's signed key set (no authentication)",
        responses=problem_responses(409),
    )
    def keys(hub: HubDep) -> Response:
        return Response(orjson.dumps(hub_keys(hub).document()), media_type=JSON)

    @router.get(
        "/.well-known/tongxin/certificates/{hub_id}",
        tags=["federation"],
        operation_id="certificate",
        summary="This hub's signed certificate for one of its child hubs (no authentication)",
        responses=problem_responses(404, 409),
    )
    def certificate(hub_id: str, hub: HubDep) -> Response:
        document = certify(hub, hub_id)
        if document is None:
            raise NotFound(
                problems.CERTIFICATE_MISSING,
                f"{hub_id} is not a child of this hub",
                f"{hub_id} 不是本枢纽的下级枢纽",
            )
        return Response(orjson.dumps(document), media_type=JSON)

    @router.get(
        "/v1/peers",
        tags=["federation"],
        operation_id="peers",
        summary="The peers of this hub with their sync lag and last error (admin)",
        responses=problem_responses(401, 403, 429),
    )
    def peers(hub: HubDep, caller: Caller) -> Response:
        authorize(caller, Act.PEERS)
        items: list[dict[str, Any]] = [p.to_json() for p in list_peers(hub)]
        return Response(orjson.dumps({"items": items, "next": None}), media_type=JSON)

    @router.post(
        "/v1/federation/hints",
        tags=["federation"],
        operation_id="hint",
        summary="A child's hint that its feed has grown: pull now (signed peer request)",
        status_code=202,
        responses=problem_responses(401, 403),
    )
    async def hint(request: Request, caller: PeerOnly, hub: HubDep) -> Response:
        try:
            authorize_peer(caller.peer.hub_id, caller.peer.relation, PeerAct.HINT)
        except FederationError as error:
            return peer_problem(hub, error, request, caller)
        request.app.state.pull_now.hint(caller.peer.hub_id)
        return signed_response(hub, 202, b'{"pulling":true}', caller.request)

    @router.get(
        "/v1/federation/feedback-counts",
        tags=["federation"],
        operation_id="feedbackCounts",
        summary="Feedback (意见建议) counts per organisation and day, integers only, for the "
        "parent's statistics (signed peer request, a parent only)",
        responses=problem_responses(401, 403),
    )
    async def feedback_counts(request: Request, caller: PeerOnly, hub: HubDep) -> Response:
        try:
            out = await to_thread.run_sync(served_counts, hub, caller.peer)
        except FederationError as error:
            return peer_problem(hub, error, request, caller)
        return signed_response(hub, 200, orjson.dumps(out), caller.request)

    @router.post(
        "/v1/transfers/{id}/withdraw",
        tags=["transfers"],
        operation_id="withdrawTransfer",
        summary="Withdraw an issued letter; sends the signed withdrawal (sending hub). 200 once "
        "withdrawn, 202 while the receiving hub has not answered",
        responses={
            202: {"description": "Withdrawal signed, not yet delivered"},
            **problem_responses(401, 403, 404, 409, 429),
        },
    )
    async def withdraw(id: str, request: Request, hub: HubDep, caller: Caller) -> Response:
        authorize(caller, Act.WRITE)
        reason = _reason(await request.body())
        out = await to_thread.run_sync(withdraw_transfer, hub, id, reason, caller)
        status = 200 if out["state"] == "withdrawn" else 202
        return Response(orjson.dumps(out), status_code=status, media_type=JSON)

    @router.get(
        "/v1/transfers/{id}/letter",
        tags=["transfers"],
        operation_id="getTransferLetter",
        summary="The signed letter of an electronic transfer, as a file (both hubs)",
        responses=problem_responses(401, 403, 404, 429),
    )
    async def letter_file(id: str, hub: HubDep, caller: Caller) -> Response:
        authorize(caller, Act.READ)
        body = await to_thread.run_sync(read_letter, hub, id, caller)
        name = id.replace(":", "_")
        headers = {"Content-Disposition": f'attachment; filename="{name}.letter.json"'}
        return Response(body, media_type=JSON, headers=headers)

    @router.get(
        "/v1/transfers/{id}/letter.pdf",
        tags=["transfers"],
        operation_id="getTransferLetterPdf",
        summary="The signed letter printed as a PDF (存根 / 介绍信 / 回执) with a QR code that "
        "holds the signed letter, for offline checks with `tongxin verify-letter` (both hubs)",
        response_class=Response,
        responses={
            200: {
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                "description": "The printed letter",
            },
            **problem_responses(401, 403, 404, 429, 503),
        },
    )
    async def letter_print(id: str, hub: HubDep, caller: Caller) -> Response:
        authorize(caller, Act.READ)
        body = await to_thread.run_sync(_print_letter, hub, id, caller)
        name = id.replace(":", "_")
        headers = {"Content-Disposition": f'inline; filename="{name}.letter.pdf"'}
        return Response(body, media_type="application/pdf", headers=headers)

    @router.get(
        "/v1/transfers/{id}/history",
        tags=["transfers"],
        operation_id="getTransferHistory",
        summary="State, every step, and the receipt of an electronic transfer (both hubs)",
        responses=problem_responses(401, 403, 404, 429),
    )
    async def history(id: str, hub: HubDep, caller: Caller) -> Response:
        authorize(caller, Act.READ)
        out = await to_thread.run_sync(read_status, hub, id, caller)
        return Response(orjson.dumps(out), media_type=JSON)

    for verb, decision in (("accept", "accepted"), ("reject", "rejected")):
        _decision_route(router, verb, decision)
    for delivery in _DELIVERIES:
        _delivery_route(router, delivery)

    return router


@dataclass(frozen=True, slots=True)
class _Delivery:
    """A signed peer-to-peer message endpoint of the transfer protocol (§3.6)."""

    kind: str
    operation_id: str
    summary: str
    receive: Callable[[Hub, Any, Any], dict[str, Any]]
    malformed_zh: str
    statuses: tuple[int, ...]
    act: PeerAct


_DELIVERIES = (
    _Delivery(
        "letters",
        "deliverLetter",
        "Deliver a signed transfer letter to its receiving hub (signed peer request)",
        receive_letter,
        "正文不是介绍信投递",
        (401, 403, 409, 422),
        PeerAct.DELIVER_LETTER,
    ),
    _Delivery(
        "receipts",
        "deliverReceipt",
        "Deliver the signed receipt to the sending hub (signed peer request)",
        receive_receipt,
        "正文不是回执",
        (401, 403, 404, 409, 422),
        PeerAct.DELIVER_RECEIPT,
    ),
    _Delivery(
        "withdrawals",
        "deliverWithdrawal",
        "Deliver the signed withdrawal of a letter to its receiving hub (signed peer request)",
        receive_withdrawal,
        "正文不是撤回通知",
        (401, 403, 409, 422),
        PeerAct.DELIVER_WITHDRAWAL,
    ),
)


def _delivery_route(router: APIRouter, delivery: _Delivery) -> None:
    singular = delivery.kind.removesuffix("s")

    @router.post(
        f"/v1/federation/{delivery.kind}",
        tags=["federation"],
        operation_id=delivery.operation_id,
        summary=delivery.summary,
        responses=problem_responses(*delivery.statuses),
    )
    async def deliver(request: Request, hub: HubDep, caller: PeerOnly) -> Response:
        malformed = LetterError(
            problems.signed_document_code(singular, "malformed"),
            f"the body is not a {singular}",
            delivery.malformed_zh,
        )
        try:
            authorize_peer(caller.peer.hub_id, caller.peer.relation, delivery.act)
        except FederationError as error:
            return peer_problem(hub, error, request, caller)
        return await _deliver(request, hub, caller, delivery.receive, malformed)


def _decision_route(router: APIRouter, verb: str, decision: Any) -> None:
    @router.post(
        f"/v1/transfers/{{id}}/{verb}",
        tags=["transfers"],
        operation_id=f"{verb}Transfer",
        summary=f"{verb.capitalize()} a received letter; sends the signed receipt (receiving hub)",
        responses=problem_responses(401, 403, 404, 409, 422, 429),
    )
    async def decide(id: str, request: Request, hub: HubDep, caller: Caller) -> Response:
        authorize(caller, Act.WRITE)
        reason = _reason(await request.body())
        out = await to_thread.run_sync(decide_transfer, hub, id, decision, reason, caller)
        return Response(orjson.dumps(out), media_type=JSON)


def _reason(raw: bytes) -> str | None:
    """The optional ``{"reason": "…"}`` of a decision or withdrawal."""
    if not raw.strip():
        return None
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    reason = parsed.get("reason") if isinstance(parsed, dict) else None
    return reason if isinstance(reason, str) else None


def install_federation(app: Any) -> None:
    """The federation routes; their errors are answered by the one problem handler."""
    app.include_router(federation_router())
