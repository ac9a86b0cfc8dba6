"""Audit event types, their OCSF mapping and the value type appended to the chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MAX_SEQ = 2**62
"""The largest audit cursor any route or command accepts (seq columns are 64-bit)."""

# JSON-safe detail values only: pseudonyms, ids, counts, reasons (no PII).
DetailValue = object


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class OcsfClass(StrEnum):
    AUTHENTICATION = "3002"
    ACCOUNT_CHANGE = "3001"
    API_ACTIVITY = "6003"


@dataclass(frozen=True)
class EventSchema:
    """Where an event type lands in OCSF and which detail keys it must carry."""

    ocsf_class: OcsfClass
    activity_id: int
    required: frozenset[str] = frozenset()


class AuditEventType(StrEnum):
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    BEARER_REJECTED = "auth.bearer_rejected"
    BROWSER_SESSION_REVOKED = "auth.session_revoked"
    DECISION = "authz.decision"
    POLICY_RELOADED = "policy.reloaded"
    POLICY_RELOAD_FAILED = "policy.reload_failed"
    TOKEN_MINTED = "token.minted"  # noqa: S105 - an event name
    TOKEN_MINT_FAILED = "token.mint_failed"  # noqa: S105 - an event name
    RATE_LIMITED = "risk.rate_limited"
    ANOMALY = "risk.anomaly"
    SESSION_CREATED = "session.created"
    SESSION_ENDED = "session.ended"
    SESSION_FINALIZED = "session.finalized"
    WEBHOOK_REJECTED = "webhook.rejected"
    WEBHOOK_EVENT = "webhook.event"
    JOIN_EXPLAINED = "join.explained"
    JOIN_UNEXPLAINED = "join.unexplained"
    PARTICIPATION_CLOSED = "join.closed"
    TRACK_UNEXPLAINED = "join.track_unexplained"
    REMEDIATION = "remediation.action"
    SUBJECT_LOCKED = "subject.locked"
    SUBJECT_UNLOCKED = "subject.unlocked"
    AGENT_DISPATCHED = "agent.dispatched"
    AGENT_WORKER = "agent.worker"
    TRANSCRIPT_STORED = "privacy.transcript_stored"
    TRANSCRIPT_REJECTED = "privacy.transcript_rejected"
    DATA_EXPORTED = "privacy.exported"
    DATA_ERASED = "privacy.erased"
    ERASURE_BLOCKED = "privacy.erasure_blocked"
    LEGAL_HOLD = "privacy.legal_hold"
    RETENTION_PURGED = "retention.purged"
    KEY_ROTATED = "crypto.key_rotated"
    AUDIT_CHECKPOINT = "audit.checkpoint"


EVENT_SCHEMAS: Mapping[AuditEventType, EventSchema] = {
    AuditEventType.LOGIN: EventSchema(OcsfClass.AUTHENTICATION, 1),
    AuditEventType.LOGIN_FAILED: EventSchema(OcsfClass.AUTHENTICATION, 1),
    AuditEventType.LOGOUT: EventSchema(OcsfClass.AUTHENTICATION, 2),
    # A rejected bearer token is a failed logon to the API (OCSF activity 3 is Kerberos TGT).
    AuditEventType.BEARER_REJECTED: EventSchema(OcsfClass.AUTHENTICATION, 1),
    AuditEventType.BROWSER_SESSION_REVOKED: EventSchema(OcsfClass.AUTHENTICATION, 2),
    AuditEventType.DECISION: EventSchema(OcsfClass.API_ACTIVITY, 2, frozenset({"action"})),
    AuditEventType.POLICY_RELOADED: EventSchema(OcsfClass.API_ACTIVITY, 3),
    AuditEventType.POLICY_RELOAD_FAILED: EventSchema(OcsfClass.API_ACTIVITY, 3),
    AuditEventType.TOKEN_MINTED: EventSchema(
        OcsfClass.API_ACTIVITY, 1, frozenset({"grants", "expires_at"})
    ),
    AuditEventType.TOKEN_MINT_FAILED: EventSchema(OcsfClass.API_ACTIVITY, 1),
    AuditEventType.RATE_LIMITED: EventSchema(OcsfClass.API_ACTIVITY, 2, frozenset({"limit"})),
    AuditEventType.ANOMALY: EventSchema(OcsfClass.API_ACTIVITY, 2, frozenset({"rule", "severity"})),
    AuditEventType.SESSION_CREATED: EventSchema(OcsfClass.API_ACTIVITY, 1),
    AuditEventType.SESSION_ENDED: EventSchema(OcsfClass.API_ACTIVITY, 4),
    AuditEventType.SESSION_FINALIZED: EventSchema(
        OcsfClass.API_ACTIVITY, 3, frozenset({"segments", "new_counts"})
    ),
    AuditEventType.WEBHOOK_REJECTED: EventSchema(OcsfClass.API_ACTIVITY, 1),
    AuditEventType.WEBHOOK_EVENT: EventSchema(OcsfClass.API_ACTIVITY, 1, frozenset({"kind"})),
    AuditEventType.JOIN_EXPLAINED: EventSchema(OcsfClass.API_ACTIVITY, 2),
    AuditEventType.JOIN_UNEXPLAINED: EventSchema(OcsfClass.API_ACTIVITY, 2),
    AuditEventType.PARTICIPATION_CLOSED: EventSchema(OcsfClass.API_ACTIVITY, 3),
    AuditEventType.TRACK_UNEXPLAINED: EventSchema(OcsfClass.API_ACTIVITY, 2, frozenset({"source"})),
    AuditEventType.REMEDIATION: EventSchema(OcsfClass.API_ACTIVITY, 3, frozenset({"step"})),
    AuditEventType.SUBJECT_LOCKED: EventSchema(OcsfClass.ACCOUNT_CHANGE, 9),
    AuditEventType.SUBJECT_UNLOCKED: EventSchema(OcsfClass.ACCOUNT_CHANGE, 2),
    AuditEventType.AGENT_DISPATCHED: EventSchema(OcsfClass.API_ACTIVITY, 1),
    AuditEventType.AGENT_WORKER: EventSchema(OcsfClass.API_ACTIVITY, 3),
    AuditEventType.TRANSCRIPT_STORED: EventSchema(OcsfClass.API_ACTIVITY, 1),
    AuditEventType.TRANSCRIPT_REJECTED: EventSchema(OcsfClass.API_ACTIVITY, 1),
    AuditEventType.DATA_EXPORTED: EventSchema(OcsfClass.API_ACTIVITY, 2),
    AuditEventType.DATA_ERASED: EventSchema(OcsfClass.API_ACTIVITY, 4),
    AuditEventType.ERASURE_BLOCKED: EventSchema(OcsfClass.API_ACTIVITY, 4),
    AuditEventType.LEGAL_HOLD: EventSchema(OcsfClass.API_ACTIVITY, 3),
    # Audit purges also carry audit_through_seq/audit_through_hash (see audit.retention).
    AuditEventType.RETENTION_PURGED: EventSchema(OcsfClass.API_ACTIVITY, 4, frozenset({"counts"})),
    AuditEventType.KEY_ROTATED: EventSchema(OcsfClass.API_ACTIVITY, 3),
    AuditEventType.AUDIT_CHECKPOINT: EventSchema(OcsfClass.API_ACTIVITY, 1),
}


@dataclass(frozen=True)
class AuditEvent:
    """What happened, to be appended to the chain. Subjects appear only as pseudonyms."""

    type: AuditEventType
    outcome: Outcome
    actor: str | None = None
    target: str | None = None
    reason: str = ""
    decision_id: str | None = None
    policy_version: str | None = None
    request_id: str | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    tenant: str | None = None
    """The tenant whose auditors may read the record; None is platform-wide."""


@dataclass(frozen=True)
class AuditScope:
    """Which records a reader may see: some tenants' records, the platform-wide ones
    (tenant None), or everything (the operator's CLI)."""

    tenants: frozenset[str] = frozenset()
    platform: bool = False
    everything: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.tenants or self.platform or self.everything)
