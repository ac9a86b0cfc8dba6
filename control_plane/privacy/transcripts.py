"""Transcript intake: authorise the worker, redact, encrypt, store; or only count.

Order matters for the security argument:
1. the credential was verified by the dependency (signature, type, row, not revoked);
2. the credential's session must be the path's session, and Cedar must allow
   ``write_transcript`` for an Agent bound to that session (denials are recorded at once);
3. Presidio runs before anything is written, off the event loop, and before the audit
   chain's lock is taken (a slow model must not serialise every audited request);
4. only redacted text is stored, encrypted under the session owner's data key and bound to
   its row; raw text is kept (encrypted, short retention) only when settings or the
   session ask; ``no_storage`` sessions keep counts and nothing else.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.types import WorkerClaims
from control_plane.audit.service import append_audit, set_audit_tenant
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.errors import AccessDenied
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import (
    Action,
    AgentId,
    AgentPrincipal,
    AuthzRequest,
    Decision,
    SessionId,
    TenantId,
)
from control_plane.clock import as_utc
from control_plane.crypto.envelope import DataKey, decrypt, encrypt
from control_plane.crypto.service import ensure_data_key
from control_plane.privacy.errors import CredentialSessionMismatch, TranscriptClosed
from control_plane.privacy.placeholders import SessionPlaceholders
from control_plane.privacy.redaction.spans import render
from control_plane.privacy.redaction.types import EntityType
from control_plane.privacy.tables import TranscriptSegment, TranscriptSession
from control_plane.privacy.types import (
    PLACEHOLDER_FIELD,
    RAW_FIELD,
    REDACTED_FIELD,
    PrivacyServices,
    SegmentIn,
    TranscriptAccepted,
)
from control_plane.risk.service import audit_rejection
from control_plane.sessions.service import get_session, session_resource
from control_plane.sessions.tables import VoiceSession
from control_plane.sessions.types import SessionStatus

NO_STORAGE = "no_storage"


def agent_actor(claims: WorkerClaims) -> str:
    """How a worker appears in the audit log."""
    return f"agent:{claims.worker_id}"[:128]


def keeps_raw(session: VoiceSession, services: PrivacyServices) -> bool:
    """Raw text is kept only if settings or the session ask, and its retention is non-zero."""
    if services.retention.raw_transcript_seconds <= 0 or session.storage_mode == NO_STORAGE:
        return False
    asked = session.retention_class == services.privacy.keep_raw_retention_class
    return services.retention.store_raw_transcripts or asked


def _stored_reason(counts: Counter[str], *, store_text: bool) -> str:
    """Why the batch was stored; says so when a segment was masked whole (fail closed)."""
    stored = " and stored" if store_text else ""
    if counts.get(EntityType.REDACTION_FAILED.value):
        return "redaction engine failed: segments fully masked" + stored
    return "transcript segments redacted" + stored


async def _reject(
    tx: AsyncSession,
    *,
    services: PrivacyServices,
    claims: WorkerClaims,
    session_id: str,
    reason: str,
    request_id: str,
    now: datetime,
) -> None:
    """Audit a refused batch within the worker's rejection budget (T-DOS-3): a worker
    posting to a session its credential is not bound to, again and again, is refused each
    time but cannot flood the audit chain."""
    await audit_rejection(
        tx,
        services.limiter,
        limit=services.rejection_audit_limit,
        scope="transcript-rejected",
        address_key=agent_actor(claims),
        event=AuditEvent(
            type=AuditEventType.TRANSCRIPT_REJECTED,
            outcome=Outcome.DENIED,
            actor=agent_actor(claims),
            target=session_id[:256],
            reason=reason,
            request_id=request_id,
        ),
        now=now,
    )


async def _authorize(
    tx: AsyncSession,
    *,
    services: PrivacyServices,
    claims: WorkerClaims,
    session: VoiceSession,
    request_id: str,
    now: datetime,
) -> Decision:
    principal = AgentPrincipal(
        agent_id=AgentId(claims.worker_id),
        tenant=TenantId(session.tenant),
        session_id=SessionId(claims.session_id) if claims.session_id else None,
    )
    decision = decide(
        services.policies,
        AuthzRequest(principal, Action.WRITE_TRANSCRIPT, await session_resource(tx, session)),
    )
    if not decision.allowed:
        await record_decisions(
            tx,
            decisions=[decision],
            actor=agent_actor(claims),
            target=session.id,
            request_id=request_id,
            now=now,
        )
        raise AccessDenied(decision_id=decision.id)
    return decision


async def lock_transcript(
    tx: AsyncSession, *, session_id: str, now: datetime
) -> tuple[VoiceSession, TranscriptSession]:
    """Lock the session row (serialising writers and finalisation of one session) and
    return it with its transcript state, created on first use."""
    session = (
        await tx.exec(
            select(VoiceSession)
            .where(VoiceSession.id == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    state = await tx.get(TranscriptSession, session_id, populate_existing=True)
    if state is None:
        state = TranscriptSession(
            session_id=session_id,
            subject_id=session.owner_subject_id,
            storage_mode=session.storage_mode,
            created_at=now,
            updated_at=now,
        )
        tx.add(state)
        await tx.flush()
    return session, state


def load_placeholders(key: DataKey, state: TranscriptSession) -> SessionPlaceholders:
    """The session's placeholder map (decrypted), or a fresh one."""
    if state.placeholder_ct is None:
        return SessionPlaceholders()
    data = decrypt(key, state.placeholder_ct, table=PLACEHOLDER_FIELD, record_id=state.session_id)
    return SessionPlaceholders.loads(data)


def save_placeholders(key: DataKey, state: TranscriptSession, mapping: SessionPlaceholders) -> None:
    if mapping.changed or state.placeholder_ct is None:
        state.placeholder_ct = encrypt(
            key, mapping.dumps(), table=PLACEHOLDER_FIELD, record_id=state.session_id
        )


def add_counts(base: Mapping[str, int], extra: Mapping[str, int]) -> dict[str, int]:
    total = Counter(base)
    total.update(extra)
    return dict(sorted(total.items()))


def _is_closed(session: VoiceSession, now: datetime) -> bool:
    return (
        session.finalized_at is not None
        or session.status != SessionStatus.ACTIVE
        or as_utc(session.expires_at) <= now
    )


async def store_transcript(
    tx: AsyncSession,
    *,
    services: PrivacyServices,
    claims: WorkerClaims,
    session_id: str,
    segments: Sequence[SegmentIn],
    request_id: str,
    now: datetime,
) -> TranscriptAccepted:
    """Authorise, redact and store one batch of a session's final segments; audited."""
    if claims.session_id != session_id:
        await _reject(
            tx,
            services=services,
            claims=claims,
            session_id=session_id,
            reason="credential bound to another session",
            request_id=request_id,
            now=now,
        )
        raise CredentialSessionMismatch()
    session = await get_session(tx, session_id)
    set_audit_tenant(tx, session.tenant)  # the worker acts inside the session's tenant
    decision = await _authorize(
        tx, services=services, claims=claims, session=session, request_id=request_id, now=now
    )
    if _is_closed(session, now):
        raise TranscriptClosed()
    finals = [s for s in segments if s.final]
    findings = await services.redactor.redact_many([s.text for s in finals])
    session, state = await lock_transcript(tx, session_id=session_id, now=now)
    if _is_closed(session, now):
        raise TranscriptClosed()
    batch_counts: Counter[str] = Counter()
    for found in findings:
        batch_counts.update(found.counts)
    store_text = session.storage_mode != NO_STORAGE
    if store_text and finals:
        key = await ensure_data_key(
            tx, keys=services.keys, subject_id=session.owner_subject_id, now=now
        )
        mapping = load_placeholders(key, state)
        raw = keeps_raw(session, services)
        for offset, (segment, found) in enumerate(zip(finals, findings, strict=True)):
            redacted = render(segment.text, list(found.entities), mapping).redacted
            row_id = uuid.uuid4().hex
            tx.add(
                TranscriptSegment(
                    id=row_id,
                    session_id=session_id,
                    subject_id=session.owner_subject_id,
                    seq=state.next_seq + offset,
                    role=segment.role.value,
                    start_ms=segment.start_ms,
                    end_ms=segment.end_ms,
                    redacted_ct=encrypt(
                        key, redacted.encode(), table=REDACTED_FIELD, record_id=row_id
                    ),
                    raw_ct=(
                        encrypt(key, segment.text.encode(), table=RAW_FIELD, record_id=row_id)
                        if raw
                        else None
                    ),
                    entity_counts=dict(found.counts),
                    created_at=now,
                )
            )
        save_placeholders(key, state, mapping)
        state.next_seq += len(finals)
        state.segments_stored += len(finals)
    state.segments_received += len(finals)
    state.non_final_ignored += len(segments) - len(finals)
    state.entity_counts = add_counts(state.entity_counts, batch_counts)
    state.updated_at = now
    tx.add(state)
    await tx.flush()
    await record_decisions(
        tx,
        decisions=[decision],
        actor=agent_actor(claims),
        target=session_id,
        request_id=request_id,
        now=now,
    )
    accepted = TranscriptAccepted(
        session_id=session_id,
        received=len(segments),
        stored=len(finals) if store_text else 0,
        ignored_non_final=len(segments) - len(finals),
        text_stored=store_text,
        entity_counts=dict(sorted(batch_counts.items())),
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.TRANSCRIPT_STORED,
            outcome=Outcome.SUCCESS,
            actor=agent_actor(claims),
            target=session_id,
            reason=_stored_reason(batch_counts, store_text=store_text),
            decision_id=decision.id,
            policy_version=decision.policy_version,
            request_id=request_id,
            details={
                "segments": accepted.stored,
                "ignored_non_final": accepted.ignored_non_final,
                "storage_mode": session.storage_mode,
                "entity_counts": dict(accepted.entity_counts),
            },
        ),
        now=now,
    )
    return accepted
