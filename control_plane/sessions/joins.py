"""Join tokens for one request or a batch of them, decided and recorded in one transaction.

Every join is decided afresh (a refresh is a new decision, never a copy of an old one) from
facts read in the same transaction as the records: the session (status, expiry, members),
the caller's subject status (locked, erasing) and its risk. A batch reads those facts with
one statement per table, decides each request with Cedar, writes every ledger row with one
statement and every audit record with one chain append, and only then signs. A request that
is refused (no such session, ended, denied) is an outcome of its own: it never fails the
others, and its denial record is written with theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit_many
from control_plane.audit.types import AuditEvent
from control_plane.authz.errors import AccessDenied
from control_plane.authz.principals import cedar_principal
from control_plane.authz.recording import decisions_event
from control_plane.authz.service import decide_many
from control_plane.authz.types import (
    JOIN_ACTIONS,
    AuthzRequest,
    SessionId,
    SessionResource,
    TenantId,
)
from control_plane.clock import as_utc
from control_plane.errors import ControlPlaneError
from control_plane.identity.subjects import ensure_subjects
from control_plane.identity.types import SubjectId
from control_plane.livekit.errors import LiveKitUnavailable
from control_plane.risk.anomaly import RiskFinding, mfa_login_time, risk_findings, score_of
from control_plane.sessions.errors import MintUnavailable, SessionEnded, SessionNotFound
from control_plane.sessions.tables import SessionMember, VoiceSession
from control_plane.sessions.types import Caller, JoinGrant, JoinServices, SessionStatus
from control_plane.store.group_commit import GroupCommit
from control_plane.tokens.service import PlannedMint, plan_join_token, record_ledger, sign_mint
from control_plane.tokens.types import RoomName

MAX_SESSION_ID_LENGTH = 40
_SESSIONS = VoiceSession.__table__  # type: ignore[attr-defined]
_MEMBERS = SessionMember.__table__  # type: ignore[attr-defined]
# Built once (compiled forms are cached): these run for every batch of mints.
_SELECT_SESSIONS = sa_select(
    _SESSIONS.c.id,
    _SESSIONS.c.room_name,
    _SESSIONS.c.tenant,
    _SESSIONS.c.owner_subject_id,
    _SESSIONS.c.status,
    _SESSIONS.c.allow_video,
    _SESSIONS.c.expires_at,
).where(_SESSIONS.c.id.in_(bindparam("ids", expanding=True)))
_SELECT_MEMBERS = sa_select(_MEMBERS.c.session_id, _MEMBERS.c.subject_id).where(
    _MEMBERS.c.session_id.in_(bindparam("ids", expanding=True))
)


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """One caller asking for a join token into one session."""

    caller: Caller
    session_id: str
    ttl: timedelta
    services: JoinServices
    now: datetime


JoinOutcome = JoinGrant | ControlPlaneError
"""The grant, or the refusal (``SessionNotFound``, ``SessionEnded``, ``AccessDenied``)."""


@dataclass(frozen=True, slots=True)
class _Session:
    id: str
    room_name: str
    resource: SessionResource
    is_open: bool


@dataclass(frozen=True, slots=True)
class _Facts:
    sessions: Mapping[str, _Session]
    statuses: Mapping[str, str]
    risks: Mapping[str, list[RiskFinding]]
    """By subject; a request's score weighs them with its own caller's MFA login time
    (two requests of one subject may come from different logins)."""


async def _load_sessions(
    tx: AsyncSession, ids: Sequence[str], now: datetime
) -> dict[str, _Session]:
    connection = await tx.connection()
    rows = (await connection.execute(_SELECT_SESSIONS, {"ids": list(ids)})).all()
    members: dict[str, set[str]] = {row.id: set() for row in rows}
    if members:
        for session_id, subject_id in await connection.execute(
            _SELECT_MEMBERS, {"ids": list(members)}
        ):
            members[session_id].add(subject_id)
    return {
        row.id: _Session(
            id=row.id,
            room_name=row.room_name,
            resource=SessionResource(
                session_id=SessionId(row.id),
                tenant=TenantId(row.tenant),
                owner=SubjectId(row.owner_subject_id),
                participants=frozenset(SubjectId(m) for m in members[row.id]),
                allow_video=bool(row.allow_video),
                ended=row.status != SessionStatus.ACTIVE,
            ),
            is_open=row.status == SessionStatus.ACTIVE and as_utc(row.expires_at) > now,
        )
        for row in rows
    }


async def _load_facts(tx: AsyncSession, requests: Sequence[JoinRequest]) -> _Facts:
    now = max(request.now for request in requests)
    ids = sorted({r.session_id for r in requests if len(r.session_id) <= MAX_SESSION_ID_LENGTH})
    principals = [request.caller.principal for request in requests]
    return _Facts(
        sessions=await _load_sessions(tx, ids, now) if ids else {},
        statuses=await ensure_subjects(tx, principals=principals, now=now),
        risks=await risk_findings(tx, subject_ids=[p.subject_id for p in principals], now=now),
    )


def _plan(request: JoinRequest, facts: _Facts) -> PlannedMint | AuditEvent | ControlPlaneError:
    """A mint to record, a denial to record, or a refusal that records nothing."""
    if request.services.token_key is None:
        return LiveKitUnavailable("LiveKit is not configured")
    session = facts.sessions.get(request.session_id)
    if session is None:
        return SessionNotFound()
    if not session.is_open:
        return SessionEnded()
    caller = request.caller
    subject_id = caller.principal.subject_id
    principal = cedar_principal(caller.principal, subject_status=facts.statuses[subject_id])
    risk = score_of(facts.risks.get(subject_id, ()), mfa_since=mfa_login_time(caller.principal))
    context = request.services.context(risk=risk, ttl_s=int(request.ttl.total_seconds()))
    decisions = decide_many(
        request.services.policies,
        [AuthzRequest(principal, action, session.resource, context) for action in JOIN_ACTIONS],
    )
    if not decisions[0].allowed:
        # A denial gets its own record; an allowed batch is recorded on the mint record.
        return decisions_event(
            decisions,
            actor=subject_id,
            target=session.id,
            request_id=caller.request_id,
            tenant=caller.principal.tenant,
        )
    return plan_join_token(
        subject_id=subject_id,
        session_id=session.id,
        room=RoomName(session.room_name),
        decisions=decisions,
        ttl=request.ttl,
        now=request.now,
        client_address=caller.address,
        request_id=caller.request_id,
    )


async def mint_joins(tx: AsyncSession, requests: Sequence[JoinRequest]) -> list[JoinOutcome]:
    """Decide, record and sign each request's join token in ``tx`` (in request order).

    The tokens must not leave before ``tx`` commits: the ledger rows and records that
    explain them are written in it.
    """
    if not requests:
        return []
    facts = await _load_facts(tx, requests)
    plans = [_plan(request, facts) for request in requests]
    mints = [plan for plan in plans if isinstance(plan, PlannedMint)]
    events = [
        plan if isinstance(plan, AuditEvent) else plan.audit_event(request.caller.principal.tenant)
        for request, plan in zip(requests, plans, strict=True)
        if not isinstance(plan, ControlPlaneError)
    ]
    await record_ledger(tx, mints)
    await append_audit_many(tx, events=events, now=max(request.now for request in requests))
    outcomes: list[JoinOutcome] = []
    for request, plan in zip(requests, plans, strict=True):
        outcomes.append(await _outcome(tx, request, plan))
    return outcomes


async def _outcome(
    tx: AsyncSession, request: JoinRequest, plan: PlannedMint | AuditEvent | ControlPlaneError
) -> JoinOutcome:
    if isinstance(plan, ControlPlaneError):
        return plan
    if isinstance(plan, AuditEvent):
        return AccessDenied(decision_id=str(plan.decision_id))
    services, caller = request.services, request.caller
    if services.risk is not None:
        await services.risk.observe_mint(
            tx,
            subject_id=caller.principal.subject_id,
            tenant=caller.principal.tenant,
            session_id=plan.session_id,
            request_id=caller.request_id,
            now=request.now,
        )
    if services.token_key is None:  # checked when planned
        raise LiveKitUnavailable("LiveKit is not configured")
    join = plan.join
    return JoinGrant(
        session_id=plan.session_id,
        room=plan.room,
        token=sign_mint(plan, api_key=services.livekit_settings.api_key, key=services.token_key),
        decision_id=join.id,
        policy_version=join.policy_version,
    )


async def mint_join(tx: AsyncSession, request: JoinRequest) -> JoinGrant:
    """One join token in ``tx``; raises the refusal."""
    (outcome,) = await mint_joins(tx, [request])
    if isinstance(outcome, ControlPlaneError):
        raise outcome
    return outcome


Minter = GroupCommit[JoinRequest, JoinGrant]
"""Mints join tokens for concurrent requests with shared commits (see ``store.group_commit``)."""


def join_minter(engine: AsyncEngine) -> Minter:
    """The lifespan's minter: ``start()`` it before serving, ``stop()`` it before the store."""
    return GroupCommit(engine, mint_joins, name="sessions.minter", unavailable=MintUnavailable)
