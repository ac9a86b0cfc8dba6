"""A session with a voice agent: create the session, then decide and dispatch the agent.

Asking for an agent never makes session creation fail: a caller whom Cedar does not allow
``dispatch_agent`` (or whose dispatch LiveKit refuses) gets the session without an agent,
and the response says why. The decision is recorded either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.dispatch import (
    DispatchedAgent,
    DispatchRequest,
    DispatchServices,
    dispatch_agent,
)
from control_plane.agents.errors import AgentDispatchFailed
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import Action, AuthzRequest, RequestContext, RiskLevel
from control_plane.clock import as_utc
from control_plane.identity.subjects import ensure_subject
from control_plane.sessions.service import (
    cedar_principal,
    create_session,
    get_session,
    session_resource,
)
from control_plane.sessions.types import Caller, JoinGrant, JoinServices, SessionOptions

REASON_DENIED = "dispatch_agent denied by policy"
REASON_UNAVAILABLE = "agent dispatch unavailable"


@dataclass(frozen=True)
class AgentOutcome:
    """The agent a session got, or why it got none (with the decision that said so)."""

    agent: DispatchedAgent | None
    reason: str | None
    decision_id: str


@dataclass(frozen=True)
class SessionGrant:
    join: JoinGrant
    agent: AgentOutcome | None  # None: no agent was asked for


async def create_session_with_agent(
    tx: AsyncSession,
    *,
    caller: Caller,
    options: SessionOptions,
    services: JoinServices,
    dispatch: DispatchServices,
    now: datetime,
) -> SessionGrant:
    """``create_session``, then (if asked) the agent: Cedar ``dispatch_agent`` on the new
    session, recorded; if allowed, a dispatch bound to the owner's identity."""
    join = await create_session(tx, caller=caller, options=options, services=services, now=now)
    if not options.with_agent:
        return SessionGrant(join=join, agent=None)
    session = await get_session(tx, join.session_id)
    subject = await ensure_subject(tx, principal=caller.principal, now=now)
    high = caller.risk_score >= services.high_risk_score
    decision = decide(
        services.policies,
        AuthzRequest(
            cedar_principal(caller, subject),
            Action.DISPATCH_AGENT,
            await session_resource(tx, session),
            RequestContext(
                risk_score=caller.risk_score,
                risk_level=RiskLevel.HIGH if high else RiskLevel.LOW,
            ),
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
        return SessionGrant(join, AgentOutcome(None, REASON_DENIED, decision.id))
    request = DispatchRequest(
        session_id=session.id,
        room=session.room_name,
        tenant=session.tenant,
        participant_identity=join.token.identity,
        retention_class=session.retention_class,
        decision_id=decision.id,
        policy_version=decision.policy_version,
        session_expires_at=as_utc(session.expires_at),
        actor=caller.principal.subject_id,
        request_id=caller.request_id,
    )
    try:
        agent = await dispatch_agent(tx, services=dispatch, request=request, now=now)
    except AgentDispatchFailed:
        return SessionGrant(join, AgentOutcome(None, REASON_UNAVAILABLE, decision.id))
    return SessionGrant(join, AgentOutcome(agent, None, decision.id))
