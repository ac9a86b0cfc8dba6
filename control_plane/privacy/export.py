"""Data-subject access (GDPR Art. 15/20): the caller's sessions, their redacted transcripts
(decrypted) and the decisions about the caller, as one JSON document.

Only the caller's own data: sessions they own (with transcripts, which are encrypted under
their data key) and sessions they were invited into (metadata only: the transcript belongs
to the owner). Decisions are audit records whose actor is the caller's pseudonym, starting
after their last completed erasure: a person who erased and came back sees nothing of
before (the pseudonym is deterministic, so the old records still carry it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.chain import canonical_ts
from control_plane.audit.service import append_audit
from control_plane.audit.tables import AuditRecord
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.crypto.envelope import DataKey, decrypt
from control_plane.crypto.keyring import KeyRing
from control_plane.crypto.service import find_data_key
from control_plane.identity.tables import Subject
from control_plane.privacy.tables import ErasureRequest, TranscriptSegment, TranscriptSession
from control_plane.privacy.types import REDACTED_FIELD
from control_plane.sessions.tables import SessionMember, VoiceSession

EXPORT_VERSION = "cp-subject-export/1"


def _ts(value: datetime | None) -> str | None:
    return canonical_ts(value) if value is not None else None


async def _segments(tx: AsyncSession, key: DataKey | None, session_id: str) -> list[dict[str, Any]]:
    # Any: JSON documents.
    if key is None:
        return []
    rows = (
        await tx.exec(
            select(TranscriptSegment)
            .where(TranscriptSegment.session_id == session_id)
            .order_by(col(TranscriptSegment.seq))
        )
    ).all()
    return [
        {
            "seq": r.seq,
            "role": r.role,
            "start_ms": r.start_ms,
            "end_ms": r.end_ms,
            "text": decrypt(key, r.redacted_ct, table=REDACTED_FIELD, record_id=r.id).decode(),
            "entity_counts": r.entity_counts,
            "stored_at": _ts(r.created_at),
        }
        for r in rows
    ]


def _session_doc(session: VoiceSession, role: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "role": role,
        "status": session.status,
        "storage_mode": session.storage_mode,
        "retention_class": session.retention_class,
        "created_at": _ts(session.created_at),
        "ended_at": _ts(session.ended_at),
        "finalized_at": _ts(session.finalized_at),
    }


async def _audit_floor(tx: AsyncSession, subject_id: str) -> int:
    last = (
        await tx.exec(
            select(func.max(ErasureRequest.audit_seq))
            .where(ErasureRequest.subject_id == subject_id)
            .where(ErasureRequest.status == "completed")
        )
    ).first()
    return int(last or 0)


async def export_subject_data(
    tx: AsyncSession,
    *,
    keys: KeyRing,
    subject_id: str,
    request_id: str,
    audit_limit: int,
    audit_after: int = 0,
    now: datetime,
) -> dict[str, Any]:
    """The caller's data as JSON; audited (``privacy.exported``, counts only)."""
    # Any: a JSON document.
    subject = await tx.get(Subject, subject_id)
    key = await find_data_key(tx, keys=keys, subject_id=subject_id)
    owned = (
        await tx.exec(
            select(VoiceSession)
            .where(VoiceSession.owner_subject_id == subject_id)
            .order_by(col(VoiceSession.created_at))
        )
    ).all()
    invited = (
        await tx.exec(
            select(VoiceSession)
            .join(SessionMember, col(SessionMember.session_id) == col(VoiceSession.id))
            .where(SessionMember.subject_id == subject_id)
            .where(VoiceSession.owner_subject_id != subject_id)
            .order_by(col(VoiceSession.created_at))
        )
    ).all()
    sessions: list[dict[str, Any]] = []
    segments = 0
    for session in owned:
        doc = _session_doc(session, "owner")
        state = await tx.get(TranscriptSession, session.id)
        doc["entity_counts"] = state.entity_counts if state is not None else {}
        doc["transcript"] = await _segments(tx, key, session.id)
        segments += len(doc["transcript"])
        sessions.append(doc)
    sessions.extend(_session_doc(s, "participant") for s in invited)
    floor = max(await _audit_floor(tx, subject_id), audit_after)
    records = (
        await tx.exec(
            select(AuditRecord)
            .where(AuditRecord.actor == subject_id)
            .where(col(AuditRecord.seq) > floor)
            .order_by(col(AuditRecord.seq))
            .limit(audit_limit + 1)
        )
    ).all()
    decisions = [
        {
            "seq": r.seq,
            "ts": _ts(r.ts),
            "event_type": r.event_type,
            "outcome": r.outcome,
            "target": r.target,
            "reason": r.reason,
            "decision_id": r.decision_id,
            "policy_version": r.policy_version,
            "details": r.details,
        }
        for r in records[:audit_limit]
    ]
    document: dict[str, Any] = {
        "version": EXPORT_VERSION,
        "subject": (
            {
                "id": subject.id,
                "tenant": subject.tenant,
                "status": subject.status,
                "legal_hold": subject.legal_hold,
                "created_at": _ts(subject.created_at),
                "last_seen_at": _ts(subject.last_seen_at),
            }
            if subject is not None
            else None
        ),
        "sessions": sessions,
        "decisions": decisions,
        "decisions_truncated": len(records) > audit_limit,
        "next_audit_after": decisions[-1]["seq"] if decisions else floor,
        "exported_at": canonical_ts(now),
    }
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.DATA_EXPORTED,
            outcome=Outcome.SUCCESS,
            actor=subject_id,
            target=subject_id,
            reason="subject access export",
            request_id=request_id,
            details={
                "sessions": len(sessions),
                "segments": segments,
                "decisions": len(decisions),
            },
        ),
        now=now,
    )
    return document
