"""Frozen value types of the authorization domain.

Everything here is pseudonymous by construction: principals carry the subject pseudonym from
the identity domain, never an email address, a name or an IP address, so a request or a
decision can be written to the audit log as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType, TypeAlias

from control_plane.identity.types import SubjectId

TenantId = NewType("TenantId", str)
SessionId = NewType("SessionId", str)
AgentId = NewType("AgentId", str)
PolicyVersion = NewType("PolicyVersion", str)
DecisionId = NewType("DecisionId", str)

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"

PLATFORM_ID = "control-plane"


class Action(StrEnum):
    """Every action the policy schema declares (action groups excluded)."""

    JOIN = "join"
    PUBLISH_AUDIO = "publish_audio"
    PUBLISH_VIDEO = "publish_video"
    PUBLISH_SCREEN = "publish_screen"
    PUBLISH_DATA = "publish_data"
    SUBSCRIBE = "subscribe"
    CREATE_SESSION = "create_session"
    END_SESSION = "end_session"
    DISPATCH_AGENT = "dispatch_agent"
    INVITE_PARTICIPANT = "invite_participant"
    READ_SESSION = "read_session"
    WRITE_TRANSCRIPT = "write_transcript"
    WRITE_METRICS = "write_metrics"
    READ_AUDIT = "read_audit"
    EXPORT_AUDIT = "export_audit"
    READ_AGENTS = "read_agents"
    EXPLAIN_POLICIES = "explain_policies"
    LOCK_SUBJECT = "lock_subject"
    DELETE_SUBJECT_DATA = "delete_subject_data"
    MANAGE_LEGAL_HOLD = "manage_legal_hold"
    MANAGE_POLICIES = "manage_policies"


JOIN_ACTIONS: tuple[Action, ...] = (
    Action.JOIN,
    Action.PUBLISH_AUDIO,
    Action.PUBLISH_VIDEO,
    Action.PUBLISH_SCREEN,
    Action.PUBLISH_DATA,
    Action.SUBSCRIBE,
)
"""The media actions decided together (one batch) when a token for a room is requested."""


class Role(StrEnum):
    """IdP groups the default policies give meaning to."""

    MEMBER = "member"
    SECURITY_AUDITOR = "security_auditor"
    ADMIN = "admin"


class RiskLevel(StrEnum):
    """The risk domain's verdict on a request; `high` is refused by policy."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class PrincipalRef:
    """A human principal as Cedar sees it: pseudonymous id, tenant, groups and login facts."""

    subject_id: SubjectId
    tenant: TenantId
    groups: frozenset[str] = frozenset()
    email_verified: bool = False
    locked: bool = False
    amr: frozenset[str] = frozenset()
    acr: str = ""


@dataclass(frozen=True, slots=True)
class AgentPrincipal:
    """A voice agent worker; `session_id` is the room it was dispatched to (None when idle)."""

    agent_id: AgentId
    tenant: TenantId
    session_id: SessionId | None = None
    locked: bool = False


@dataclass(frozen=True, slots=True)
class SessionResource:
    """A voice session (LiveKit room) with its owner, invited participants and media opt-ins."""

    session_id: SessionId
    tenant: TenantId
    owner: SubjectId
    participants: frozenset[SubjectId] = frozenset()
    allow_video: bool = False
    allow_screen: bool = False
    ended: bool = False


@dataclass(frozen=True, slots=True)
class TenantResource:
    """A tenant as the target of collection actions (create_session, read_audit, ...)."""

    tenant: TenantId


@dataclass(frozen=True, slots=True)
class SubjectResource:
    """A data subject as the target of lock and erasure requests."""

    subject_id: SubjectId
    tenant: TenantId


@dataclass(frozen=True, slots=True)
class PlatformResource:
    """The singleton platform (policy management)."""


Principal: TypeAlias = PrincipalRef | AgentPrincipal
Resource: TypeAlias = SessionResource | TenantResource | SubjectResource | PlatformResource


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Request facts policies may use; defaults describe a low-risk request with no token."""

    risk_score: int = 0
    risk_level: RiskLevel = RiskLevel.LOW
    requested_ttl_s: int = 0


@dataclass(frozen=True, slots=True)
class AuthzRequest:
    """One question for the policy engine: may `principal` do `action` on `resource`?"""

    principal: Principal
    action: Action
    resource: Resource
    context: RequestContext = RequestContext()


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer, as recorded in the audit log (OPA-style decision record).

    `allowed` is True only when Cedar allowed and no evaluation error occurred.
    `masked_input` holds pseudonymous ids and booleans only and is safe to store.
    """

    id: DecisionId
    action: Action
    allowed: bool
    determining_policies: tuple[str, ...]
    errors: tuple[str, ...]
    policy_version: PolicyVersion
    masked_input: dict[str, JsonValue] = field(hash=False, compare=True)
