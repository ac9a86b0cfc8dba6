"""The typed application state built once in the lifespan; dependencies read it from here."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.agents.runtime import AgentRuntime
from control_plane.authz.engine import PolicyStore
from control_plane.clock import Clock
from control_plane.config import Settings
from control_plane.crypto.hs256 import Hs256Key
from control_plane.crypto.keyring import KeyRing
from control_plane.identity.client import OidcClient
from control_plane.jobs import JobRunner
from control_plane.livekit.client import LiveKitRooms
from control_plane.livekit.jobs import LiveKitWork
from control_plane.livekit.service import WebhookReceiver
from control_plane.privacy.redactor import TranscriptRedactor
from control_plane.risk.address import Network
from control_plane.risk.limiter import RateLimiter
from control_plane.risk.monitor import RiskMonitor
from control_plane.sessions.joins import Minter


@dataclass(frozen=True)
class AppState:
    """Everything a request needs; owned by the lifespan, never module-global."""

    settings: Settings
    engine: AsyncEngine
    keys: KeyRing
    http: httpx.AsyncClient
    registry: CollectorRegistry
    clock: Clock
    policies: PolicyStore
    oidc: OidcClient | None
    livekit: LiveKitRooms
    limiter: RateLimiter
    trusted_proxies: tuple[Network, ...]
    redactor: TranscriptRedactor
    jobs: JobRunner
    livekit_work: LiveKitWork
    webhooks: WebhookReceiver
    risk: RiskMonitor
    agents: AgentRuntime
    minter: Minter
    token_key: Hs256Key | None
    """Signs LiveKit join tokens (the LiveKit API secret, checked once); None when LiveKit
    is not configured."""
