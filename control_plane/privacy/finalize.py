"""Session finalisation: the whole-session redaction pass, destruction of the raw buffer,
the start of the retention clocks and revocation of the session's worker credentials.

Called by the LiveKit ``room_finished`` handling (``finalize_session`` in the caller's
transaction) and by the finaliser job for sessions that ended or expired without one
(``finalize_due_sessions``). Idempotent: a finalised session is never processed twice, and
the session row lock makes concurrent callers on several replicas take turns.

Callers inside a request should call it before they append audit records in the same
transaction: the redaction pass runs here, and the audit chain's lock is held from the
first append to the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.session_credentials import revoke_session_credentials
from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.clock import as_utc
from control_plane.crypto.envelope import DataKey, decrypt, encrypt
from control_plane.crypto.keyring import KeyRing
from control_plane.crypto.service import find_data_key
from control_plane.identity.tables import Subject
from control_plane.logs import get_logger
from control_plane.privacy.passes import FinalPass, final_pass, plan_windows
from control_plane.privacy.placeholders import SessionPlaceholders
from control_plane.privacy.redactor import TranscriptRedactor
from control_plane.privacy.tables import TranscriptSegment, TranscriptSession
from control_plane.privacy.transcripts import add_counts, load_placeholders
from control_plane.privacy.types import RAW_FIELD, REDACTED_FIELD, FinalizeReport
from control_plane.sessions.errors import SessionNotFound
from control_plane.sessions.lifecycle import end_session_record
from control_plane.sessions.tables import VoiceSession
from control_plane.sessions.types import SessionStatus
from control_plane.store.uow import unit_of_work

WINDOW_BYTES = 12 * 1024  # below the engine's 16 KiB input cap
FINALIZE_BATCH = 20
EXPIRY_GRACE = timedelta(seconds=60)
SYSTEM_ACTOR = "control-plane"
_log = get_logger("control_plane.privacy")


async def _is_held(tx: AsyncSession, session: VoiceSession) -> bool:
    if session.legal_hold:
        return True
    owner = await tx.get(Subject, session.owner_subject_id)
    return bool(owner is not None and owner.legal_hold)


async def _whole_session_pass(
    *,
    redactor: TranscriptRedactor,
    key: DataKey,
    state: TranscriptSession | None,
    segments: Sequence[TranscriptSegment],
) -> tuple[FinalPass, list[str]]:
    """Run the windows through the redactor; returns the pass and the stored texts."""
    stored = [
        decrypt(key, s.redacted_ct, table=REDACTED_FIELD, record_id=s.id).decode() for s in segments
    ]
    use_raw = all(s.raw_ct is not None for s in segments)
    sources = (
        [
            decrypt(key, s.raw_ct, table=RAW_FIELD, record_id=s.id).decode()
            for s in segments
            if s.raw_ct is not None
        ]
        if use_raw
        else stored
    )
    windows = plan_windows([s.role for s in segments], sources, max_bytes=WINDOW_BYTES)
    window_results = await redactor.redact_many([w.text for w in windows])
    segment_entities = None
    if use_raw:
        segment_results = await redactor.redact_many(sources)
        segment_entities = [list(r.entities) for r in segment_results]
    mapping = load_placeholders(key, state) if state is not None else SessionPlaceholders()
    result = final_pass(
        sources,
        windows,
        [list(r.entities) for r in window_results],
        placeholders=mapping,
        segment_entities=segment_entities,
    )
    return result, stored


async def finalize_session(
    tx: AsyncSession,
    *,
    keys: KeyRing,
    redactor: TranscriptRedactor,
    session_id: str,
    reason: str,
    now: datetime,
    request_id: str | None = None,
) -> FinalizeReport:
    """Finalise one session (idempotent); raises SessionNotFound for an unknown id.

    Under a legal hold the pass and the clocks still run, but the raw buffer is kept (a
    hold preserves evidence); retention purges it once the hold is lifted.
    """
    session = (
        await tx.exec(
            select(VoiceSession)
            .where(VoiceSession.id == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if session is None:
        raise SessionNotFound()
    if session.finalized_at is not None:
        return FinalizeReport(session_id=session_id, already_finalized=True)
    held = await _is_held(tx, session)
    state = await tx.get(TranscriptSession, session_id, populate_existing=True)
    segments = (
        await tx.exec(
            select(TranscriptSegment)
            .where(TranscriptSegment.session_id == session_id)
            .order_by(col(TranscriptSegment.seq))
        )
    ).all()
    key = await find_data_key(tx, keys=keys, subject_id=session.owner_subject_id)
    new_counts: dict[str, int] = {}
    rewritten = raw_destroyed = 0
    if segments and key is not None:
        result, stored = await _whole_session_pass(
            redactor=redactor, key=key, state=state, segments=segments
        )
        new_counts = result.new_counts
        for segment, before, after in zip(segments, stored, result.texts, strict=True):
            if after != before:
                segment.redacted_ct = encrypt(
                    key, after.encode(), table=REDACTED_FIELD, record_id=segment.id
                )
                rewritten += 1
    if session.status == SessionStatus.ACTIVE:
        # Still live (room_finished raced the end, or the end job is not running): end it
        # the regular way, after the pass (the audit lock is taken from here on).
        await end_session_record(
            tx, session=session, reason=reason, actor=SYSTEM_ACTOR, now=now, wake=None
        )
    for segment in segments:
        if segment.raw_ct is not None and not held:
            segment.raw_ct = None
            raw_destroyed += 1
        segment.finalized_at = now
        tx.add(segment)
    if state is not None:
        state.placeholder_ct = None  # no more segments will arrive: the map has no use
        state.final_pass_counts = new_counts
        state.entity_counts = add_counts(state.entity_counts, new_counts)
        state.updated_at = now
        tx.add(state)
    session.finalized_at = now
    tx.add(session)
    revoked = await revoke_session_credentials(tx, session_id=session_id, now=now)
    await tx.flush()
    report = FinalizeReport(
        session_id=session_id,
        already_finalized=False,
        segments=len(segments),
        rewritten=rewritten,
        raw_destroyed=raw_destroyed,
        credentials_revoked=revoked,
        new_counts=new_counts,
        held=held,
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.SESSION_FINALIZED,
            outcome=Outcome.SUCCESS,
            actor=SYSTEM_ACTOR,
            target=session_id,
            tenant=session.tenant,
            reason=f"session finalised ({reason[:64]})",
            request_id=request_id,
            details={
                "segments": report.segments,
                "rewritten": rewritten,
                "raw_destroyed": raw_destroyed,
                "credentials_revoked": revoked,
                "new_counts": dict(new_counts),
                "legal_hold": held,
            },
        ),
        now=now,
    )
    return report


async def list_due_sessions(tx: AsyncSession, *, now: datetime, limit: int) -> list[str]:
    """Sessions that ended, or expired more than a grace period ago (the sessions job ends
    them first in normal operation), and are not finalised yet; oldest first."""
    rows = (
        await tx.exec(
            select(VoiceSession.id)
            .where(col(VoiceSession.finalized_at).is_(None))
            .where(
                or_(
                    col(VoiceSession.status) != SessionStatus.ACTIVE,
                    col(VoiceSession.expires_at) <= now - EXPIRY_GRACE,
                )
            )
            .order_by(col(VoiceSession.expires_at))
            .limit(limit)
        )
    ).all()
    return list(rows)


async def finalize_due_sessions(
    engine: AsyncEngine, *, keys: KeyRing, redactor: TranscriptRedactor, now: datetime
) -> list[FinalizeReport]:
    """The finaliser job's step: one unit of work per session, so one failure is isolated."""
    async with unit_of_work(engine) as tx:
        due = await list_due_sessions(tx, now=now, limit=FINALIZE_BATCH)
    reports = []
    for session_id in due:
        try:
            async with unit_of_work(engine) as tx:
                expired = await _expired(tx, session_id, now)
                reason = "maximum session duration reached" if expired else "ended"
                reports.append(
                    await finalize_session(
                        tx,
                        keys=keys,
                        redactor=redactor,
                        session_id=session_id,
                        reason=reason,
                        now=now,
                    )
                )
        except SessionNotFound:
            continue
        except Exception as exc:  # a process edge: one bad session must not stop the others
            _log.error("privacy.finalize_failed", error_code=type(exc).__name__, session=session_id)
    return reports


async def _expired(tx: AsyncSession, session_id: str, now: datetime) -> bool:
    session = await tx.get(VoiceSession, session_id)
    return bool(
        session and session.status == SessionStatus.ACTIVE and as_utc(session.expires_at) <= now
    )
