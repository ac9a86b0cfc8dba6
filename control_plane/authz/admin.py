"""Policy administration: explain/what-if for security teams, and audited reloads.

A reload swaps in a new immutable snapshot whole; if the new set fails STRICT validation
the old one stays and the failure is audited. The service never runs without policies.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.engine import PolicySnapshot, PolicyStore
from control_plane.authz.errors import AccessDenied, PolicySetInvalid
from control_plane.authz.principals import cedar_principal
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import Explanation, decide, explain
from control_plane.authz.types import (
    Action,
    AuthzRequest,
    PlatformResource,
    Resource,
    TenantId,
    TenantResource,
)
from control_plane.identity.subjects import ensure_subject
from control_plane.identity.types import Principal


async def authorize(
    tx: AsyncSession,
    *,
    principal: Principal,
    action: Action,
    resource: Resource,
    snapshot: PolicySnapshot,
    request_id: str,
    now: datetime,
    target: str | None = None,
) -> str:
    """Decide one administrative action for the caller; record it; raise AccessDenied.

    Returns the decision id so the caller can put it on the records it writes next.
    """
    subject = await ensure_subject(tx, principal=principal, now=now)
    decision = decide(
        snapshot,
        AuthzRequest(cedar_principal(principal, subject_status=subject.status), action, resource),
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
    return decision.id


async def explain_for(
    tx: AsyncSession,
    *,
    principal: Principal,
    question: AuthzRequest,
    snapshot: PolicySnapshot,
    request_id: str,
    now: datetime,
) -> Explanation:
    """What the current policies decide for a hypothetical request, and why (auditors,
    admins). The hypothetical decision is not a grant and is not recorded as one."""
    await authorize(
        tx,
        principal=principal,
        action=Action.EXPLAIN_POLICIES,
        resource=TenantResource(TenantId(principal.tenant)),
        snapshot=snapshot,
        request_id=request_id,
        now=now,
    )
    return explain(snapshot, question)


async def reload_policies(
    tx: AsyncSession,
    *,
    store: PolicyStore,
    actor: str | None,
    request_id: str | None,
    now: datetime,
) -> PolicySnapshot:
    """Re-read the policy directory; the old set stays on any validation problem."""
    old = store.current.version
    try:
        snapshot = store.reload()
    except PolicySetInvalid as exc:
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.POLICY_RELOAD_FAILED,
                outcome=Outcome.FAILURE,
                actor=actor,
                reason="candidate policy set invalid; previous set kept",
                policy_version=old,
                request_id=request_id,
                details={"problems": [p[:200] for p in exc.problems[:10]]},
            ),
            now=now,
        )
        raise
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.POLICY_RELOADED,
            outcome=Outcome.SUCCESS,
            actor=actor,
            reason="policy set reloaded" if snapshot.version != old else "policy set unchanged",
            policy_version=snapshot.version,
            request_id=request_id,
            details={"previous_version": old, "policies": len(snapshot.policies)},
        ),
        now=now,
    )
    return snapshot


async def reload_as(
    tx: AsyncSession,
    *,
    principal: Principal,
    store: PolicyStore,
    request_id: str,
    now: datetime,
) -> PolicySnapshot:
    """An admin's reload (manage_policies on the platform)."""
    await authorize(
        tx,
        principal=principal,
        action=Action.MANAGE_POLICIES,
        resource=PlatformResource(),
        snapshot=store.current,
        request_id=request_id,
        now=now,
    )
    return await reload_policies(
        tx, store=store, actor=principal.subject_id, request_id=request_id, now=now
    )
