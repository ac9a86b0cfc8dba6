"""Revocation: lock or unlock a subject, end a session, end all of a subject's sessions.

Each is decided by Cedar (``lock_subject``, ``end_session``) with the decision recorded,
then takes effect on both sides in one transaction: the store (status, browser sessions)
and LiveKit (durable remediation tasks the executor runs as soon as this commits). A
lock ends all live participation at once and blocks minting (``cedar_principal`` treats
a non-active subject as locked); tokens minted before the lock stay refused for the
re-kick window even after an unlock, because LiveKit keeps refreshing them (ASVS 7.4.2,
7.4.5; livekit.md §5.1-5.2).

Nobody locks their own subject (refused with 409, audited): so every lock leaves the
administrator who made it active, and the last active administrator can never be locked
by hand. A lock that outlived an erasure (``identity.suppression``) is lifted by an
unlock like any other. The status itself changes in ``identity.subjects``
(``change_subject_status``), as for every other writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.errors import AccessDenied
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide_many
from control_plane.authz.types import (
    Action,
    AuthzRequest,
    Decision,
    RequestContext,
    Resource,
    SubjectResource,
    TenantId,
)
from control_plane.identity.browser import revoke_all_browser_sessions
from control_plane.identity.errors import SubjectNotFound
from control_plane.identity.subjects import (
    SUBJECT_ID,
    change_subject_status,
    ensure_subject,
    find_subject,
    get_subject,
)
from control_plane.identity.suppression import find_suppression, lift_suppression
from control_plane.identity.tables import Subject
from control_plane.identity.types import SubjectId, SubjectStatus
from control_plane.livekit.remediation import (
    RemediationKind,
    Wake,
    record_removal,
    schedule_remediation,
)
from control_plane.livekit.service import list_open_participation_rooms
from control_plane.sessions.errors import SelfLockRefused, SubjectErasing
from control_plane.sessions.lifecycle import (
    end_session_record,
    list_member_rooms,
    list_owned_active_sessions,
)
from control_plane.sessions.service import cedar_principal, get_session, session_resource
from control_plane.sessions.tables import VoiceSession
from control_plane.sessions.types import Caller, StatusReason


@dataclass(frozen=True)
class RevocationServices:
    """What revocation needs besides the transaction."""

    policies: PolicySnapshot
    rekick: timedelta
    wake: Wake | None


@dataclass(frozen=True)
class SubjectChange:
    subject_id: str
    status: str
    rooms: int
    browser_sessions_revoked: int


@dataclass(frozen=True)
class SessionsEnded:
    subject_id: str
    ended: tuple[str, ...]
    rooms: int


async def _decide(
    tx: AsyncSession,
    *,
    caller: Caller,
    requests: Sequence[tuple[Action, Resource, str | None]],
    services: RevocationServices,
    now: datetime,
) -> list[Decision]:
    """Decide and record every request; AccessDenied if any is denied (nothing happens)."""
    me = await ensure_subject(tx, principal=caller.principal, now=now)
    principal = cedar_principal(caller, me)
    if not requests:
        return []
    decisions = decide_many(
        services.policies,
        [
            AuthzRequest(principal, action, resource, RequestContext())
            for action, resource, _ in requests
        ],
    )
    for decision, (_, _, target) in zip(decisions, requests, strict=True):
        await record_decisions(
            tx,
            decisions=[decision],
            actor=caller.principal.subject_id,
            target=target,
            request_id=caller.request_id,
            now=now,
        )
    denied = next((d for d in decisions if not d.allowed), None)
    if denied is not None:
        raise AccessDenied(decision_id=denied.id)
    return list(decisions)


async def evict_subject_everywhere(
    tx: AsyncSession,
    *,
    subject_id: str,
    reason: str,
    now: datetime,
    rekick: timedelta,
    wake: Wake | None,
) -> int:
    """Remove every connection of the subject (derived identities included) from every
    room it may be in, and refuse its earlier tokens for the re-kick window. Returns the
    number of rooms."""
    rooms = set(await list_member_rooms(tx, subject_id=subject_id))
    rooms.update(await list_open_participation_rooms(tx, subject_id=subject_id))
    for room in sorted(rooms):
        await schedule_remediation(
            tx,
            kind=RemediationKind.REMOVE_SUBJECT,
            room=room,
            subject_id=subject_id,
            reason=reason,
            now=now,
            wake=wake,
        )
    await record_removal(tx, room="*", identity=subject_id, reason=reason, now=now, ttl=rekick)
    return len(rooms)


def _subject_resource(subject: Subject) -> SubjectResource:
    return SubjectResource(subject_id=SubjectId(subject.id), tenant=TenantId(subject.tenant))


async def lock_subject(
    tx: AsyncSession,
    *,
    caller: Caller,
    subject_id: str,
    reason: StatusReason,
    services: RevocationServices,
    now: datetime,
) -> SubjectChange:
    """Lock a subject: no new tokens, browser sessions revoked, removed from every room."""
    subject = await get_subject(tx, subject_id)
    decisions = await _decide(
        tx,
        caller=caller,
        requests=[(Action.LOCK_SUBJECT, _subject_resource(subject), subject.id)],
        services=services,
        now=now,
    )
    if subject.id == caller.principal.subject_id:
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.SUBJECT_LOCKED,
                outcome=Outcome.DENIED,
                actor=caller.principal.subject_id,
                target=subject.id,
                reason="refused: a caller cannot lock their own subject",
                decision_id=decisions[0].id,
                policy_version=decisions[0].policy_version,
                request_id=caller.request_id,
            ),
            now=now,
        )
        raise SelfLockRefused()
    await change_subject_status(tx, subject, to=SubjectStatus.LOCKED, reason=reason.value, now=now)
    revoked = await revoke_all_browser_sessions(tx, subject_id=SubjectId(subject.id), now=now)
    rooms = await evict_subject_everywhere(
        tx,
        subject_id=subject.id,
        reason="subject locked",
        now=now,
        rekick=services.rekick,
        wake=services.wake,
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.SUBJECT_LOCKED,
            outcome=Outcome.SUCCESS,
            actor=caller.principal.subject_id,
            target=subject.id,
            reason=f"locked: {reason.value}",
            decision_id=decisions[0].id,
            policy_version=decisions[0].policy_version,
            request_id=caller.request_id,
            details={"rooms": rooms, "browser_sessions_revoked": revoked, "status": subject.status},
        ),
        now=now,
    )
    return SubjectChange(subject.id, subject.status, rooms, revoked)


async def _unlock_target(
    tx: AsyncSession, subject_id: str
) -> tuple[SubjectResource, Subject | None]:
    """The subject to unlock: its row, or for an erased subject only its suppression."""
    if not SUBJECT_ID.match(subject_id):
        raise SubjectNotFound()
    subject = await find_subject(tx, subject_id)
    if subject is not None:
        return _subject_resource(subject), subject
    suppression = await find_suppression(tx, subject_id)
    if suppression is None:
        raise SubjectNotFound()
    return SubjectResource(SubjectId(subject_id), TenantId(suppression.tenant)), None


async def unlock_subject(
    tx: AsyncSession,
    *,
    caller: Caller,
    subject_id: str,
    reason: StatusReason,
    services: RevocationServices,
    now: datetime,
) -> SubjectChange:
    """Unlock a locked subject (new mints allowed again; older tokens stay refused until
    the re-kick window ends), and lift a lock that outlived its erasure. A subject being
    erased cannot be unlocked."""
    resource, subject = await _unlock_target(tx, subject_id)
    decisions = await _decide(
        tx,
        caller=caller,
        requests=[(Action.LOCK_SUBJECT, resource, subject_id)],
        services=services,
        now=now,
    )
    if subject is not None and subject.status == SubjectStatus.ERASING:
        raise SubjectErasing()
    if subject is not None:
        await change_subject_status(
            tx, subject, to=SubjectStatus.ACTIVE, reason=reason.value, now=now
        )
    lifted = await lift_suppression(tx, subject_id=subject_id)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.SUBJECT_UNLOCKED,
            outcome=Outcome.SUCCESS,
            actor=caller.principal.subject_id,
            target=subject_id,
            reason=f"unlocked: {reason.value}",
            decision_id=decisions[0].id,
            policy_version=decisions[0].policy_version,
            request_id=caller.request_id,
            details={"suppression_lifted": lifted},
        ),
        now=now,
    )
    return SubjectChange(subject_id, subject.status if subject else SubjectStatus.ACTIVE, 0, 0)


async def end_session(
    tx: AsyncSession,
    *,
    caller: Caller,
    session_id: str,
    services: RevocationServices,
    now: datetime,
) -> VoiceSession:
    """End one session (idempotent): room deleted, participants removed, dispatches
    deleted, all as durable remediation."""
    session = await get_session(tx, session_id)
    decisions = await _decide(
        tx,
        caller=caller,
        requests=[(Action.END_SESSION, await session_resource(tx, session), session.id)],
        services=services,
        now=now,
    )
    await end_session_record(
        tx,
        session=session,
        reason="ended by request",
        actor=caller.principal.subject_id,
        now=now,
        wake=services.wake,
        request_id=caller.request_id,
        decision_id=decisions[0].id,
        policy_version=decisions[0].policy_version,
    )
    return session


async def end_subject_sessions(
    tx: AsyncSession,
    *,
    caller: Caller,
    subject_id: str,
    services: RevocationServices,
    now: datetime,
) -> SessionsEnded:
    """End every live session the subject owns and take it out of every other room.

    All or nothing: each owned session is decided (``end_session``) and one denial ends
    none. Taking someone else out of rooms they do not own is a revocation of that
    subject, so for another subject ``lock_subject`` is decided as well; for oneself
    ("log out everywhere", ASVS 7.4.5) the session decisions suffice.
    """
    subject = await get_subject(tx, subject_id)
    owned = await list_owned_active_sessions(tx, subject_id=subject.id)
    requests: list[tuple[Action, Resource, str | None]] = [
        (Action.END_SESSION, await session_resource(tx, s), s.id) for s in owned
    ]
    if subject.id != caller.principal.subject_id:
        requests.append((Action.LOCK_SUBJECT, _subject_resource(subject), subject.id))
    decisions = await _decide(tx, caller=caller, requests=requests, services=services, now=now)
    ended: list[str] = []
    for session, decision in zip(owned, decisions, strict=False):
        if await end_session_record(
            tx,
            session=session,
            reason="all sessions of the subject ended by request",
            actor=caller.principal.subject_id,
            now=now,
            wake=services.wake,
            request_id=caller.request_id,
            decision_id=decision.id,
            policy_version=decision.policy_version,
        ):
            ended.append(session.id)
    rooms = await evict_subject_everywhere(
        tx,
        subject_id=subject.id,
        reason="subject's sessions ended",
        now=now,
        rekick=services.rekick,
        wake=services.wake,
    )
    return SessionsEnded(subject.id, tuple(ended), rooms)
