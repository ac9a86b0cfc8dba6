"""Legal holds on a subject or a session: suspend retention and block erasure (Art. 17(3)(e)).

Setting or lifting a hold is a Cedar decision (``manage_legal_hold``: admin, MFA, same
tenant) and an audit record (``privacy.legal_hold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.errors import AccessDenied
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import (
    Action,
    AuthzRequest,
    Decision,
    Resource,
    SubjectResource,
    TenantId,
)
from control_plane.identity.errors import SubjectNotFound
from control_plane.identity.tables import Subject
from control_plane.identity.types import Principal, SubjectId
from control_plane.privacy.erasure import cedar_user
from control_plane.sessions.service import get_session, session_resource


@dataclass(frozen=True)
class HoldState:
    kind: str  # subject | session
    id: str
    legal_hold: bool


async def _decide(
    tx: AsyncSession,
    *,
    policies: PolicySnapshot,
    principal: Principal,
    resource: Resource,
    target: str,
    request_id: str,
    now: datetime,
) -> Decision:
    caller = await tx.get(Subject, principal.subject_id)
    decision = decide(
        policies, AuthzRequest(cedar_user(principal, caller), Action.MANAGE_LEGAL_HOLD, resource)
    )
    await record_decisions(
        tx,
        decisions=[decision],
        actor=principal.subject_id,
        target=target,
        request_id=request_id,
        now=now,
    )
    if not decision.allowed:
        raise AccessDenied(decision_id=decision.id)
    return decision


async def _audit(
    tx: AsyncSession,
    *,
    principal: Principal,
    state: HoldState,
    decision: Decision,
    request_id: str,
    now: datetime,
) -> None:
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.LEGAL_HOLD,
            outcome=Outcome.SUCCESS,
            actor=principal.subject_id,
            target=state.id,
            reason=f"legal hold {'set' if state.legal_hold else 'lifted'} on {state.kind}",
            decision_id=decision.id,
            policy_version=decision.policy_version,
            request_id=request_id,
            details={"kind": state.kind, "legal_hold": state.legal_hold},
        ),
        now=now,
    )


async def set_subject_hold(
    tx: AsyncSession,
    *,
    policies: PolicySnapshot,
    principal: Principal,
    subject_id: str,
    hold: bool,
    request_id: str,
    now: datetime,
) -> HoldState:
    """Set or lift a subject's legal hold (idempotent); audited."""
    subject = await tx.get(Subject, subject_id) if len(subject_id) <= 64 else None
    tenant = subject.tenant if subject is not None else principal.tenant
    decision = await _decide(
        tx,
        policies=policies,
        principal=principal,
        resource=SubjectResource(SubjectId(subject_id), TenantId(tenant)),
        target=subject_id,
        request_id=request_id,
        now=now,
    )
    if subject is None:
        raise SubjectNotFound()
    subject.legal_hold = hold
    tx.add(subject)
    state = HoldState("subject", subject_id, hold)
    await _audit(
        tx, principal=principal, state=state, decision=decision, request_id=request_id, now=now
    )
    return state


async def set_session_hold(
    tx: AsyncSession,
    *,
    policies: PolicySnapshot,
    principal: Principal,
    session_id: str,
    hold: bool,
    request_id: str,
    now: datetime,
) -> HoldState:
    """Set or lift a session's legal hold (idempotent); audited."""
    session = await get_session(tx, session_id)
    decision = await _decide(
        tx,
        policies=policies,
        principal=principal,
        resource=await session_resource(tx, session),
        target=session_id,
        request_id=request_id,
        now=now,
    )
    session.legal_hold = hold
    tx.add(session)
    state = HoldState("session", session_id, hold)
    await _audit(
        tx, principal=principal, state=state, decision=decision, request_id=request_id, now=now
    )
    return state
