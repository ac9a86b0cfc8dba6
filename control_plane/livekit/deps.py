"""LiveKit dependencies: the webhook receiver."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from control_plane.livekit.service import WebhookReceiver
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
        pseudonym_key=state.keys.pseudonym_key,
        trusted_proxies=state.trusted_proxies,
    )


Receiver = Annotated[WebhookReceiver, Depends(get_webhook_receiver)]
