"""Ending sessions: by a caller, at the maximum duration, or when LiveKit closed the room.

Ending is a row claim (``UPDATE ... WHERE status = 'active'``), so whichever replica or
path ends a session first does the work once; the LiveKit side (dispatches deleted,
participants removed, room deleted) is scheduled as durable remediation in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.dispatches import list_room_dispatches, mark_dispatch_deleted
from control_plane.agents.session_credentials import revoke_session_credentials
from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.livekit.remediation import RemediationKind, Wake, schedule_remediation
from control_plane.sessions.tables import SessionMember, VoiceSession
from control_plane.sessions.types import SessionStatus
from control_plane.store.uow import unit_of_work

SYSTEM_ACTOR = "control-plane"
EXPIRE_BATCH = 100


async def find_session_by_room(tx: AsyncSession, room: str) -> VoiceSession | None:
    """The session whose LiveKit room this is, or None (not a room we created)."""
    if len(room) > 64:
        return None
    return (await tx.exec(select(VoiceSession).where(VoiceSession.room_name == room))).first()


async def list_active_sessions(tx: AsyncSession, *, limit: int = 1000) -> Sequence[VoiceSession]:
    """Live sessions, oldest first (the reconciler walks their rooms)."""
    return (
        await tx.exec(
            select(VoiceSession)
            .where(VoiceSession.status == SessionStatus.ACTIVE)
            .order_by(col(VoiceSession.created_at))
            .limit(limit)
        )
    ).all()


async def list_member_rooms(tx: AsyncSession, *, subject_id: str) -> Sequence[str]:
    """Rooms of live sessions the subject owns or was invited into (where it may be)."""
    return (
        await tx.exec(
            select(VoiceSession.room_name)
            .join(SessionMember, col(SessionMember.session_id) == col(VoiceSession.id))
            .where(SessionMember.subject_id == subject_id)
            .where(VoiceSession.status == SessionStatus.ACTIVE)
        )
    ).all()


async def list_owned_active_sessions(
    tx: AsyncSession, *, subject_id: str
) -> Sequence[VoiceSession]:
    """The subject's own live sessions."""
    return (
        await tx.exec(
            select(VoiceSession)
            .where(VoiceSession.owner_subject_id == subject_id)
            .where(VoiceSession.status == SessionStatus.ACTIVE)
        )
    ).all()


async def end_session_record(
    tx: AsyncSession,
    *,
    session: VoiceSession,
    reason: str,
    actor: str,
    now: datetime,
    wake: Wake | None,
    request_id: str | None = None,
    decision_id: str | None = None,
    policy_version: str | None = None,
) -> bool:
    """End a live session once: status ended, dispatches deleted, agent credentials
    revoked, everyone removed, room deleted (durable remediation), audited. False if it
    had already ended."""
    result = await tx.exec(
        update(VoiceSession)
        .where(col(VoiceSession.id) == session.id)
        .where(col(VoiceSession.status) == SessionStatus.ACTIVE)
        .values(status=SessionStatus.ENDED.value, ended_at=now, end_reason=reason[:128])
    )
    if result.rowcount == 0:
        return False
    await tx.refresh(session)
    dispatches = [
        d for d in await list_room_dispatches(tx, room=session.room_name) if not d.deleted_at
    ]
    for dispatch in dispatches:
        await schedule_remediation(
            tx,
            kind=RemediationKind.DELETE_DISPATCH,
            room=session.room_name,
            dispatch_id=dispatch.id,
            session_id=session.id,
            reason=f"session ended: {reason}",
            now=now,
            wake=wake,
        )
        await mark_dispatch_deleted(tx, dispatch_id=dispatch.id, now=now)
    # The agent's session credential dies with the session: nothing more may be written
    # into it (the finalisation pass revokes again, idempotently).
    revoked = await revoke_session_credentials(tx, session_id=session.id, now=now)
    await schedule_remediation(
        tx,
        kind=RemediationKind.END_ROOM,
        room=session.room_name,
        session_id=session.id,
        reason=f"session ended: {reason}",
        now=now,
        wake=wake,
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.SESSION_ENDED,
            outcome=Outcome.SUCCESS,
            actor=actor,
            target=session.id,
            tenant=session.tenant,
            reason=reason,
            decision_id=decision_id,
            policy_version=policy_version,
            request_id=request_id,
            details={
                "reason": reason,
                "dispatches_deleted": len(dispatches),
                "credentials_revoked": revoked,
            },
        ),
        now=now,
    )
    return True


async def end_session_for_room(
    tx: AsyncSession, *, room: str, reason: str, now: datetime, wake: Wake | None
) -> bool:
    """LiveKit closed (or lost) the room: end its session if still live."""
    session = await find_session_by_room(tx, room)
    if session is None or session.status != SessionStatus.ACTIVE:
        return False
    return await end_session_record(
        tx, session=session, reason=reason, actor=SYSTEM_ACTOR, now=now, wake=wake
    )


async def expire_due_sessions(engine: AsyncEngine, *, now: datetime, wake: Wake | None) -> int:
    """Enforce the maximum session duration: end every live session past ``expires_at``.

    One unit of work per session; the conditional update makes it safe on every replica.
    """
    async with unit_of_work(engine) as tx:
        due = (
            await tx.exec(
                select(VoiceSession.id)
                .where(VoiceSession.status == SessionStatus.ACTIVE)
                .where(col(VoiceSession.expires_at) <= now)
                .limit(EXPIRE_BATCH)
            )
        ).all()
    ended = 0
    for session_id in due:
        async with unit_of_work(engine) as tx:
            session = await tx.get(VoiceSession, session_id)
            if session is not None and await end_session_record(
                tx,
                session=session,
                reason="maximum session duration reached",
                actor=SYSTEM_ACTOR,
                now=now,
                wake=wake,
            ):
                ended += 1
    return ended
