"""LiveKit's webhook endpoint (public: authenticated by the signature over the body).

The hottest route of the service (every join, leave and track of every room), so it is a
plain Starlette route: FastAPI's dependency solving and response-model validation cost
more than the work itself. Errors still go through the app's exception handlers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from control_plane.deps import request_id_of
from control_plane.livekit import service
from control_plane.state import AppState

_ACK_NEW = b'{"received":true,"duplicate":false}'
_ACK_DUPLICATE = b'{"received":true,"duplicate":true}'


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body (the signature covers these exact bytes); reading stops past ``limit``
    (what was read is enough for the verifier to refuse it as too large)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


async def livekit_webhook(request: Request) -> Response:
    """LiveKit webhook: verified, stored once, acknowledged, processed asynchronously.

    200 ``{"received": true, "duplicate": bool}`` once the delivery is durable; 401 bad
    signature, token or body hash; 400 signed but not acceptable (stale, malformed);
    413 too large; 503 not stored (LiveKit retries).
    """
    state: AppState = request.app.state.cp
    receiver = state.webhooks
    with receiver.intake.delivering():  # processing waits for a quiet moment
        # One byte past the limit is enough for verify_webhook to reject (and audit) it.
        body = await _read_body(request, receiver.policy.max_body_bytes + 1)
        result = await service.receive_webhook(
            receiver,
            body=body,
            authorization=request.headers.get("authorization"),
            peer=request.client.host if request.client else None,
            forwarded_for=request.headers.get("x-forwarded-for"),
            request_id=request_id_of(request),
            now=receiver.clock(),
        )
    return Response(_ACK_NEW if result.is_new else _ACK_DUPLICATE, media_type="application/json")


class _TemplatedRoute(Route):
    """A plain route that names itself in the scope (as FastAPI's routes do), so the
    request metrics label it by its template instead of "unmatched"."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


webhook_route = _TemplatedRoute("/webhooks/livekit", livekit_webhook, methods=["POST"])
