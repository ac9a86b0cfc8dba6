"""LiveKit's webhook endpoint (public: authenticated by the signature over the body)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from control_plane.deps import RequestId
from control_plane.livekit import service
from control_plane.livekit.deps import Receiver

router = APIRouter(tags=["livekit"])


class WebhookAck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    received: bool
    duplicate: bool


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


@router.post(
    "/webhooks/livekit",
    response_model=WebhookAck,
    responses={
        400: {"description": "signed but not acceptable (stale, malformed)"},
        401: {"description": "signature, token or body hash invalid"},
        413: {"description": "body too large"},
        503: {"description": "could not be stored durably; LiveKit retries"},
    },
    summary="LiveKit webhook: verified, stored once, acknowledged, processed asynchronously",
)
async def livekit_webhook(
    request: Request, receiver: Receiver, request_id: RequestId
) -> WebhookAck:
    # One byte past the limit is enough for verify_webhook to reject (and audit) it.
    body = await _read_body(request, receiver.policy.max_body_bytes + 1)
    result = await service.receive_webhook(
        receiver,
        body=body,
        authorization=request.headers.get("authorization"),
        peer=request.client.host if request.client else None,
        forwarded_for=request.headers.get("x-forwarded-for"),
        request_id=request_id,
        now=receiver.clock(),
    )
    return WebhookAck(received=True, duplicate=not result.is_new)
