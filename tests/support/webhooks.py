"""Helpers for LiveKit webhook tests: events and signatures as livekit-server makes them,
and the real app served by a real uvicorn on a loopback port (so livekit-server's own
webhooks reach it)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import uvicorn
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.config import Settings
from control_plane.state import AppState
from tests.support.harness import is_listening

WEBHOOK_PORT = 8787
WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT}/webhooks/livekit"


def webhook_token(
    body: bytes,
    *,
    key: str,
    secret: str,
    exp: bool = True,
    now: float | None = None,
) -> str:
    """The Authorization value livekit-server sends: a raw HS256 JWT binding sha256(body)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {  # Any: JWT claims are JSON values
        "iss": key,
        "nbf": issued,
        "iat": issued,
        "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }
    if exp:
        claims["exp"] = issued + 300
    return jwt.encode(claims, secret, algorithm="HS256")


def event_body(
    event: str,
    *,
    room: str = "cp-test-room",
    event_id: str | None = None,
    created_at: int | None = None,
    participant: dict[str, Any] | None = None,
    track: dict[str, Any] | None = None,
) -> bytes:
    """A protojson WebhookEvent body shaped like livekit-server's (camelCase, int64 as
    strings, zero values omitted)."""
    document: dict[str, Any] = {  # Any: protojson document
        "event": event,
        "room": {"sid": "RM_test", "name": room, "turnPassword": "turn-secret"},
        "id": event_id or f"EV_{secrets.token_hex(6)}",
        "createdAt": str(created_at if created_at is not None else int(time.time())),
    }
    if participant is not None:
        document["participant"] = participant
    if track is not None:
        document["track"] = track
    return json.dumps(document).encode()


def participant_json(
    *,
    sid: str | None = None,
    identity: str,
    joined_at: datetime | None = None,
    attributes: dict[str, str] | None = None,
    permission: dict[str, Any] | None = None,
    kind: str | None = None,
    disconnect_reason: str | None = None,
) -> dict[str, Any]:
    joined = int(joined_at.timestamp() if joined_at else time.time())
    document: dict[str, Any] = {
        "sid": sid or f"PA_{secrets.token_hex(6)}",
        "identity": identity,
        "state": "ACTIVE",
        "joinedAt": str(joined),
        "joinedAtMs": str(joined * 1000),
        "attributes": attributes or {},
    }
    if permission is not None:
        document["permission"] = permission
    if kind is not None:
        document["kind"] = kind
    if disconnect_reason is not None:
        document["disconnectReason"] = disconnect_reason
    return document


@dataclass
class ServedApp:
    app: FastAPI
    server: uvicorn.Server
    base_url: str

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.cp
        return state


@asynccontextmanager
async def serve_app(
    settings: Settings,
    *,
    port: int = WEBHOOK_PORT,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[ServedApp]:
    """The real app on a real uvicorn in this event loop, on 127.0.0.1:``port``."""
    if is_listening(port):
        raise RuntimeError(f"127.0.0.1:{port} is busy: another control plane is running there")
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    app = create_app(settings, **kwargs)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn exited before starting")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 30 s")
            await asyncio.sleep(0.05)
        yield ServedApp(app=app, server=server, base_url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task
