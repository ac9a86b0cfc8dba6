"""Wire contract of the session endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from control_plane.clock import UtcDateTime
from control_plane.sessions.types import StatusReason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreateSessionRequest(_Strict):
    ttl_seconds: int | None = Field(default=None, ge=10, le=600)
    allow_video: bool = False
    no_storage: bool = False
    with_agent: bool = False


class TokenRequest(_Strict):
    ttl_seconds: int | None = Field(default=None, ge=10, le=600)
    invite: str | None = Field(default=None, min_length=8, max_length=128)


class GrantsOut(_Strict):
    can_publish_sources: list[str]
    can_publish_data: bool
    can_subscribe: bool


class JoinResponse(_Strict):
    session_id: str
    room: str
    livekit_url: str
    token: str
    token_id: str
    identity: str
    expires_at: UtcDateTime
    grants: GrantsOut
    decision_id: str
    policy_version: str


class SessionAgentOut(_Strict):
    """The voice agent dispatched into a new session (its credential went to the agent)."""

    dispatch_id: str
    agent_name: str
    decision_id: str


class SessionCreatedResponse(JoinResponse):
    """The owner's join, plus the agent when one was asked for: ``agent`` is null with
    ``agent_reason`` (and the deciding ``agent_decision_id``) when none was dispatched."""

    agent: SessionAgentOut | None = None
    agent_reason: str | None = None
    agent_decision_id: str | None = None


class InviteResponse(_Strict):
    invite: str
    expires_at: UtcDateTime


class SubjectStatusRequest(_Strict):
    # A closed code: free text is refused with 422 (see StatusReason).
    reason: StatusReason = StatusReason.UNSPECIFIED


class SubjectStatusOut(_Strict):
    subject_id: str
    status: str
    rooms: int
    browser_sessions_revoked: int


class SessionEndedOut(_Strict):
    session_id: str
    status: str
    ended_at: UtcDateTime | None
    end_reason: str


class SubjectSessionsEndedOut(_Strict):
    subject_id: str
    ended: list[str]
    rooms: int
