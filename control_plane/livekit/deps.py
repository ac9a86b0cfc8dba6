"""LiveKit dependencies: the webhook receiver and the sender's pseudonymous address."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.livekit.service import WebhookReceiver
from control_plane.risk.address import client_address
from control_plane.state import AppState


async def get_webhook_receiver(request: Request) -> WebhookReceiver:
    """The lifespan-built receiver (async: the hot path never waits for a worker thread)."""
    state: AppState = request.app.state.cp
    return WebhookReceiver(
        policy=state.livekit_work.policy,
        intake=state.livekit_work.intake,
        engine=state.engine,
        limiter=state.limiter,
        rejection_audit_limit=state.settings.webhooks.rejection_audit_limit,
        clock=state.clock,
    )


async def get_sender_hash(request: Request) -> str:
    """A keyed hash of the sender's address (for the rejection budget and the audit)."""
    state: AppState = request.app.state.cp
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers.get("x-forwarded-for"), state.trusted_proxies)
    return pseudonymize_address(state.keys.pseudonym_key, address)


Receiver = Annotated[WebhookReceiver, Depends(get_webhook_receiver)]
SenderHash = Annotated[str, Depends(get_sender_hash)]
