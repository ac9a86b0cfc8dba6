"""The reconciler: webhooks get lost (in-memory queues, 30 s max age, livekit#2399), so
every live session's room is listed periodically and the same join auditing applies.

Per room: list participants (network, no transaction open), then one unit of work under
a per-room lease (``try_lease``), so every replica can run it at once. A connection seen
for the first time is audited; an unexplained one still present is removed again; a
track on a source that was not granted is an over-grant; an open participation no longer
listed is closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.clock import Clock, as_utc
from control_plane.livekit.client import LiveKitRooms
from control_plane.livekit.correlation import TOKEN_ID_ATTRIBUTE, JoinReason, track_allowed
from control_plane.livekit.errors import LiveKitNotFound, LiveKitUnavailable
from control_plane.livekit.join_facts import DispatchJobs
from control_plane.livekit.participation import (
    AuditSettings,
    JoinPending,
    audit_join,
    audit_track,
    find_participation,
)
from control_plane.livekit.remediation import (
    RemediationKind,
    has_pending_remediation,
    schedule_remediation,
)
from control_plane.livekit.tables import Participation
from control_plane.livekit.types import ParticipantView
from control_plane.logs import get_logger
from control_plane.sessions.lifecycle import end_session_for_room, list_active_sessions
from control_plane.sessions.tenancy import record_for_room
from control_plane.store.engine import try_lease
from control_plane.store.uow import unit_of_work

_log = get_logger("control_plane.livekit.reconcile")
WAKE_RECONCILE = "livekit.reconcile"
ABSENT = "ABSENT_AT_RECONCILE"


@dataclass
class ReconcileReport:
    rooms: int = 0
    audited: int = 0
    rekicked: int = 0
    closed: int = 0


def room_lease_key(room: str) -> int:
    """A stable signed 64-bit advisory-lock key per room."""
    digest = hashlib.sha256(f"cp-reconcile\x00{room}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def live_rivals(participant: ParticipantView, listed: Sequence[ParticipantView]) -> tuple[str, ...]:
    """Sids listed together with ``participant`` that carry its ``cp.tid`` and joined
    before it (pure): one mint explains one live connection, the first (T-JOIN-5)."""
    token_id = participant.attributes.get(TOKEN_ID_ATTRIBUTE)
    if not token_id:
        return ()
    mine = (participant.joined_at, participant.sid)
    return tuple(
        p.sid
        for p in listed
        if p.sid != participant.sid
        and p.attributes.get(TOKEN_ID_ATTRIBUTE) == token_id
        and (p.joined_at, p.sid) < mine
    )


def _joined_at(participant: ParticipantView, now: datetime) -> datetime:
    if participant.joined_at > 0:
        return datetime.fromtimestamp(participant.joined_at, tz=now.tzinfo)
    return now


async def _reconcile_participant(
    tx: AsyncSession,
    *,
    room: str,
    session: RowMapping | None,
    participant: ParticipantView,
    dispatch_jobs: DispatchJobs | None,
    settings: AuditSettings,
    now: datetime,
    report: ReconcileReport,
    listed: Sequence[ParticipantView] = (),
) -> None:
    row = await find_participation(tx, participant.sid)
    if row is None:
        try:
            await audit_join(
                tx,
                room=room,
                session=session,
                participant=participant,
                joined_at=_joined_at(participant, now),
                source="reconciler",
                event_id=None,
                connected=True,
                dispatch_jobs=dispatch_jobs,
                settings=settings,
                now=now,
                live_rivals=live_rivals(participant, listed),
            )
        except JoinPending:
            return  # a dispatched agent whose job LiveKit does not list yet: next pass
        report.audited += 1
        row = await find_participation(tx, participant.sid)
        if row is None:
            return
    if row.verdict == "unexplained":
        if settings.remediate_unknown_rooms or row.session_id is not None:
            await _rekick(tx, row=row, settings=settings, now=now, report=report)
        return
    for source in participant.track_sources:
        if not track_allowed(source, tuple(row.granted_sources)):
            await audit_track(
                tx,
                room=room,
                sid=participant.sid,
                source=source,
                track_sid="",
                event_id=None,
                settings=settings,
                now=now,
            )
            return


async def _rekick(
    tx: AsyncSession,
    *,
    row: Participation,
    settings: AuditSettings,
    now: datetime,
    report: ReconcileReport,
) -> None:
    """Still present although judged unexplained: remove again unless a removal is running."""
    if await has_pending_remediation(tx, room=row.room_name, sid=row.sid):
        return
    only_late = set(row.reasons) == {JoinReason.SESSION_OVER.value}
    await schedule_remediation(
        tx,
        kind=RemediationKind.REMOVE if only_late else RemediationKind.EVICT,
        room=row.room_name,
        identity=row.identity,
        sid=row.sid,
        subject_id=row.subject_id,
        session_id=row.session_id,
        reason="still present after removal",
        now=now,
        wake=settings.wake,
    )
    report.rekicked += 1


async def _close_absent(
    tx: AsyncSession,
    *,
    room: str,
    present: set[str],
    listed_at: datetime,
    now: datetime,
    report: ReconcileReport,
) -> None:
    """Close open participations LiveKit no longer lists; only those audited before the
    listing was taken (a connection that joined after it cannot be in it)."""
    open_rows = (
        await tx.exec(
            select(Participation)
            .where(Participation.room_name == room)
            .where(col(Participation.left_at).is_(None))
            .where(col(Participation.created_at) < listed_at)
        )
    ).all()
    for row in open_rows:
        if row.sid in present:
            continue
        row.left_at = now
        started = as_utc(row.joined_at) if row.joined_at else now
        row.duration_ms = max(0, int((now - started).total_seconds() * 1000))
        row.disconnect_reason = ABSENT[:32]
        row.updated_at = now
        tx.add(row)
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.PARTICIPATION_CLOSED,
                outcome=Outcome.SUCCESS,
                actor=row.subject_id,
                target=row.session_id or room,
                reason="reconciler: no longer listed by LiveKit (left event lost)",
                details={"sid": row.sid, "duration_ms": row.duration_ms, "source": "reconciler"},
            ),
            now=now,
        )
        report.closed += 1


async def _list_room(
    livekit: LiveKitRooms, room: str, existing: set[str]
) -> tuple[list[ParticipantView] | None, DispatchJobs | None]:
    """Participants (None: the room is gone) and, if agents are present, dispatch jobs.

    ListParticipants answers an empty list for a room that does not exist, so existence
    comes from ListRooms (``existing``)."""
    if room not in existing:
        return None, None
    try:
        participants = await livekit.list_participants(room=room)
    except LiveKitNotFound:
        return None, None
    jobs: DispatchJobs | None = None
    if any(p.kind == "AGENT" for p in participants):
        dispatches = await livekit.list_dispatches(room=room)
        jobs = {d.id: d for d in dispatches}
    return participants, jobs


async def reconcile_rooms(
    engine: AsyncEngine,
    *,
    livekit: LiveKitRooms,
    settings: AuditSettings,
    clock: Clock,
    rooms: Sequence[str] | None = None,
) -> ReconcileReport:
    """One pass over every live session's room (or the given rooms)."""
    report = ReconcileReport()
    if rooms is None:
        async with unit_of_work(engine) as tx:
            rooms = [s.room_name for s in await list_active_sessions(tx)]
    if not rooms:
        return report
    try:
        existing = set(await livekit.list_rooms())
    except LiveKitUnavailable:
        _log.info("livekit.reconcile_unavailable", count=len(rooms))
        return report
    for room in rooms:
        listed_at = clock()
        try:
            participants, jobs = await _list_room(livekit, room, existing)
        except LiveKitUnavailable:
            _log.info("livekit.reconcile_unavailable", room=room)
            continue
        now = clock()
        async with unit_of_work(engine) as tx:
            if not await try_lease(await tx.connection(), room_lease_key(room)):
                continue
            report.rooms += 1
            session = await record_for_room(tx, room)  # one unit of work per room
            if participants is None:  # LiveKit closed the room and room_finished was lost
                await end_session_for_room(
                    tx, room=room, reason="room no longer exists", now=now, wake=settings.wake
                )
                await _close_absent(
                    tx, room=room, present=set(), listed_at=listed_at, now=now, report=report
                )
                continue
            for participant in participants:
                await _reconcile_participant(
                    tx,
                    room=room,
                    session=session,
                    participant=participant,
                    dispatch_jobs=jobs,
                    settings=settings,
                    now=now,
                    report=report,
                    listed=participants,
                )
            await _close_absent(
                tx,
                room=room,
                present={p.sid for p in participants},
                listed_at=listed_at,
                now=now,
                report=report,
            )
    return report
