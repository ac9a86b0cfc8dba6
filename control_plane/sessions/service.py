"""Session lifecycle: create a room and its owner's token; mint joins for members."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.errors import AccessDenied
from control_plane.authz.principals import cedar_principal as principal_ref
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import (
    Action,
    AuthzRequest,
    PrincipalRef,
    SessionId,
    SessionResource,
    TenantId,
    TenantResource,
)
from control_plane.clock import as_utc
from control_plane.crypto.digest import secret_digest
from control_plane.identity.subjects import ensure_subject
from control_plane.identity.tables import Subject
from control_plane.identity.types import SubjectId
from control_plane.sessions.errors import InviteInvalid, SessionEnded, SessionNotFound, TtlTooLong
from control_plane.sessions.joins import JoinRequest, Minter, mint_join
from control_plane.sessions.tables import SessionInvite, SessionMember, VoiceSession
from control_plane.sessions.tenancy import new_room_name
from control_plane.sessions.types import (
    Caller,
    JoinGrant,
    JoinServices,
    SessionOptions,
    SessionStatus,
)
from control_plane.store.uow import unit_of_work

INVITE_TTL = timedelta(hours=1)


def cedar_principal(caller: Caller, subject: Subject) -> PrincipalRef:
    """The Cedar view of a caller whose subject row is ``subject``."""
    return principal_ref(caller.principal, subject_status=subject.status)


async def session_resource(tx: AsyncSession, session: VoiceSession) -> SessionResource:
    """The Cedar view of a session, with its invited members."""
    members = (
        await tx.exec(
            select(SessionMember.subject_id).where(SessionMember.session_id == session.id)
        )
    ).all()
    return SessionResource(
        session_id=SessionId(session.id),
        tenant=TenantId(session.tenant),
        owner=SubjectId(session.owner_subject_id),
        participants=frozenset(SubjectId(m) for m in members),
        allow_video=session.allow_video,
        ended=session.status != SessionStatus.ACTIVE,
    )


async def get_session(tx: AsyncSession, session_id: str) -> VoiceSession:
    """The session or SessionNotFound."""
    if len(session_id) > 40:
        raise SessionNotFound()
    session = await tx.get(VoiceSession, session_id)
    if session is None:
        raise SessionNotFound()
    return session


def _ttl(options_ttl: timedelta | None, services: JoinServices) -> timedelta:
    settings = services.token_settings
    ttl = options_ttl or timedelta(seconds=settings.default_ttl_seconds)
    if ttl > timedelta(seconds=settings.max_ttl_seconds) or ttl < timedelta(seconds=10):
        raise TtlTooLong()
    return ttl


async def create_session(
    tx: AsyncSession,
    *,
    caller: Caller,
    options: SessionOptions,
    services: JoinServices,
    now: datetime,
) -> JoinGrant:
    """Decide create_session, create the LiveKit room, record the session, mint the owner's
    token. The room name is 144 random bits: knowing one room tells nothing of another."""
    ttl = _ttl(options.ttl, services)
    subject = await ensure_subject(tx, principal=caller.principal, now=now)
    principal = cedar_principal(caller, subject)
    decision = decide(
        services.policies,
        AuthzRequest(
            principal,
            Action.CREATE_SESSION,
            TenantResource(TenantId(caller.principal.tenant)),
            services.context(risk=caller.risk_score),
        ),
    )
    await record_decisions(
        tx,
        decisions=[decision],
        actor=caller.principal.subject_id,
        target=None,
        request_id=caller.request_id,
        now=now,
    )
    if not decision.allowed:
        raise AccessDenied(decision_id=decision.id)
    session = VoiceSession(
        id=f"ses_{secrets.token_hex(12)}",
        room_name=new_room_name(),
        tenant=caller.principal.tenant,
        owner_subject_id=caller.principal.subject_id,
        retention_class=options.retention_class,
        storage_mode="no_storage" if options.no_storage else "standard",
        allow_video=options.allow_video,
        agent_requested=options.with_agent,
        created_at=now,
        expires_at=now + timedelta(seconds=services.token_settings.max_session_seconds),
    )
    tx.add(session)
    await tx.flush()
    tx.add(
        SessionMember(
            session_id=session.id,
            subject_id=caller.principal.subject_id,
            role="owner",
            added_at=now,
        )
    )
    await tx.flush()
    lk = services.livekit_settings
    await services.livekit.create_room(
        name=session.room_name,
        empty_timeout=lk.empty_timeout_seconds,
        departure_timeout=lk.departure_timeout_seconds,
        max_participants=lk.max_participants,
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.SESSION_CREATED,
            outcome=Outcome.SUCCESS,
            actor=caller.principal.subject_id,
            target=session.id,
            reason="session created",
            decision_id=decision.id,
            policy_version=decision.policy_version,
            request_id=caller.request_id,
            details={"storage_mode": session.storage_mode, "agent_requested": options.with_agent},
        ),
        now=now,
    )
    return await mint_join(
        tx, JoinRequest(caller=caller, session_id=session.id, ttl=ttl, services=services, now=now)
    )


async def _redeem_invite(
    tx: AsyncSession, *, session: VoiceSession, code: str, subject_id: str, now: datetime
) -> None:
    if len(code) > 128:
        raise InviteInvalid()
    invite = await tx.get(SessionInvite, secret_digest(code))
    if (
        invite is None
        or invite.session_id != session.id
        or invite.used_by is not None
        or as_utc(invite.expires_at) <= now
    ):
        raise InviteInvalid()
    invite.used_by = subject_id
    invite.used_at = now
    tx.add(invite)
    if await tx.get(SessionMember, (session.id, subject_id)) is None:
        tx.add(
            SessionMember(
                session_id=session.id, subject_id=subject_id, role="participant", added_at=now
            )
        )
    await tx.flush()


async def mint_session_token(
    engine: AsyncEngine,
    *,
    caller: Caller,
    session_id: str,
    invite_code: str | None,
    ttl: timedelta | None,
    services: JoinServices,
    now: datetime,
    minter: Minter,
) -> JoinGrant:
    """A join token for an existing session; policy is re-run on every mint (a refresh is a
    new decision, never a copy of an old one).

    Without an invite (every token refresh) the mint is ``minter``'s, whose commits are
    shared by concurrent mints. Redeeming an invite writes too, so that mint runs in a
    transaction of its own, redemption and mint together.
    """
    request = JoinRequest(
        caller=caller, session_id=session_id, ttl=_ttl(ttl, services), services=services, now=now
    )
    if invite_code is None:
        return await minter.submit(request)
    async with unit_of_work(engine) as tx:
        return await _mint_with_invite(tx, request, invite_code)


async def _mint_with_invite(tx: AsyncSession, request: JoinRequest, invite_code: str) -> JoinGrant:
    caller, session_id, now = request.caller, request.session_id, request.now
    session = await get_session(tx, session_id)
    if session.status != SessionStatus.ACTIVE or as_utc(session.expires_at) <= now:
        raise SessionEnded()
    await ensure_subject(tx, principal=caller.principal, now=now)
    if session.tenant == caller.principal.tenant:
        await _redeem_invite(
            tx, session=session, code=invite_code, subject_id=caller.principal.subject_id, now=now
        )
    return await mint_join(tx, request)


async def create_invite(
    tx: AsyncSession, *, caller: Caller, session_id: str, services: JoinServices, now: datetime
) -> tuple[str, datetime]:
    """A single-use invite code; only someone who may join the session may invite."""
    session = await get_session(tx, session_id)
    if session.status != SessionStatus.ACTIVE:
        raise SessionEnded()
    subject = await ensure_subject(tx, principal=caller.principal, now=now)
    decision = decide(
        services.policies,
        AuthzRequest(
            cedar_principal(caller, subject),
            Action.INVITE_PARTICIPANT,
            await session_resource(tx, session),
            services.context(risk=caller.risk_score),
        ),
    )
    await record_decisions(
        tx,
        decisions=[decision],
        actor=caller.principal.subject_id,
        target=session.id,
        request_id=caller.request_id,
        now=now,
    )
    if not decision.allowed:
        raise AccessDenied(decision_id=decision.id)
    code = secrets.token_urlsafe(24)
    expires = now + INVITE_TTL
    tx.add(
        SessionInvite(
            code_hash=secret_digest(code),
            session_id=session.id,
            created_by=caller.principal.subject_id,
            created_at=now,
            expires_at=expires,
        )
    )
    await tx.flush()
    return code, expires
