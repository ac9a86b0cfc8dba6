"""Session value types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.types import RequestContext, RiskLevel
from control_plane.config import LiveKitSettings, TokenSettings
from control_plane.crypto.hs256 import Hs256Key
from control_plane.identity.types import Principal
from control_plane.livekit.client import LiveKitRooms
from control_plane.risk.monitor import RiskMonitor
from control_plane.tokens.types import MintedToken


class SessionStatus(StrEnum):
    """A voice session is live until it ends; an ended session never reopens."""

    ACTIVE = "active"
    ENDED = "ended"


class StatusReason(StrEnum):
    """Why an administrator locked or unlocked a subject: a closed set. Free text would
    go verbatim into the immutable audit chain, out of erasure's reach (a name, a card
    number typed into "reason"), so none is accepted (T-PRIV-4)."""

    UNSPECIFIED = "unspecified"
    SUSPECTED_COMPROMISE = "suspected_compromise"
    SUSPICIOUS_ACTIVITY = "suspicious_activity"
    POLICY_VIOLATION = "policy_violation"
    INVESTIGATION = "investigation"
    OFFBOARDING = "offboarding"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"
    OTHER = "other"


@dataclass(frozen=True)
class Caller:
    """A verified principal plus request facts (address, request id, risk)."""

    principal: Principal
    address: str
    request_id: str
    risk_score: int = 0


@dataclass(frozen=True)
class JoinServices:
    """What minting needs besides the transaction: policies, LiveKit, settings."""

    policies: PolicySnapshot
    livekit: LiveKitRooms
    livekit_settings: LiveKitSettings
    token_key: Hs256Key | None  # None when LiveKit is not configured: no token at all
    token_settings: TokenSettings
    high_risk_score: int
    risk: RiskMonitor | None = None  # anomaly detection after each mint

    def context(self, *, risk: int, ttl_s: int = 0) -> RequestContext:
        """The Cedar context of a request at this risk score (high from high_risk_score)."""
        level = RiskLevel.HIGH if risk >= self.high_risk_score else RiskLevel.LOW
        return RequestContext(risk_score=risk, risk_level=level, requested_ttl_s=ttl_s)


@dataclass(frozen=True)
class SessionOptions:
    ttl: timedelta | None = None
    allow_video: bool = False
    no_storage: bool = False
    with_agent: bool = False
    retention_class: str = "standard"


@dataclass(frozen=True)
class JoinGrant:
    session_id: str
    room: str
    token: MintedToken
    decision_id: str
    policy_version: str
