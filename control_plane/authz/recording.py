"""Every policy decision goes to the audit log with its id, policies, version and input."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.types import Decision


def decision_details(decisions: Sequence[Decision]) -> dict[str, object]:
    """The audit form of a batch of decisions: ids, outcomes, policies, masked input."""
    return {
        "action": decisions[0].action.value,
        "decisions": [
            {
                "id": d.id,
                "action": d.action.value,
                "allowed": d.allowed,
                "policies": list(d.determining_policies),
                "errors": list(d.errors),
            }
            for d in decisions
        ],
        "input": decisions[0].masked_input,
    }


def decisions_event(
    decisions: Sequence[Decision],
    *,
    actor: str,
    target: str | None,
    request_id: str | None,
    tenant: str | None = None,
) -> AuditEvent:
    """The audit record of a batch of decisions (e.g. every grant action of one join)."""
    first = decisions[0]
    allowed = [d.action.value for d in decisions if d.allowed]
    denied = [d.action.value for d in decisions if not d.allowed]
    return AuditEvent(
        type=AuditEventType.DECISION,
        outcome=Outcome.SUCCESS if first.allowed else Outcome.DENIED,
        actor=actor,
        target=target,
        reason=f"allowed {allowed or 'nothing'}; denied {denied or 'nothing'}",
        decision_id=first.id,
        policy_version=first.policy_version,
        request_id=request_id,
        details=decision_details(decisions),
        tenant=tenant,
    )


async def record_decisions(
    tx: AsyncSession,
    *,
    decisions: Sequence[Decision],
    actor: str,
    target: str | None,
    request_id: str | None,
    now: datetime,
) -> None:
    """One audit record for a batch of decisions (e.g. every grant action of one join)."""
    if not decisions:
        return
    await append_audit(
        tx,
        event=decisions_event(decisions, actor=actor, target=target, request_id=request_id),
        now=now,
    )
