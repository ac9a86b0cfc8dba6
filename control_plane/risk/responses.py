"""What happens when a detector fires: the anomaly is recorded (and alerted), and the
configured response takes effect.

- ``alert``: the anomaly row and its audit record; the alert job delivers it.
- ``step_up``: as alert, with a severity of at least ``high``, so the subject's
  ``risk_score`` reaches the policies' high-risk threshold and the high-risk forbids deny
  every media action until the subject logs in again with MFA (``anomaly.risk_score``).
- ``lock``: as step_up, and the subject is locked (``identity.subjects``
  ``change_subject_status``; Cedar's forbid-locked-principal refuses everything), its
  browser sessions revoked, its live participation removed through the injected
  ``SubjectEvictor``, audited SUBJECT_LOCKED.

A finding without a subject (failures per address) can only alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.identity.browser import revoke_all_browser_sessions
from control_plane.identity.subjects import change_subject_status, find_subject
from control_plane.identity.types import SubjectId, SubjectStatus
from control_plane.risk.anomaly import raise_anomaly
from control_plane.risk.detectors import Finding
from control_plane.risk.tables import Anomaly
from control_plane.risk.types import SEVERITY_SCORE, AnomalyResponse, Severity


class SubjectEvictor(Protocol):
    """Removes a locked subject from every room it is in (the LiveKit side of a lock)."""

    async def __call__(
        self, tx: AsyncSession, *, subject_id: str, reason: str, now: datetime
    ) -> None: ...


def effective_response(response: AnomalyResponse, subject_id: str | None) -> AnomalyResponse:
    """Step-up and lock need a subject; without one the anomaly only alerts."""
    return response if subject_id is not None else AnomalyResponse.ALERT


def effective_severity(severity: Severity, response: AnomalyResponse) -> Severity:
    """A response that must take effect carries at least ``high`` (score 80, the policies'
    high-risk threshold)."""
    if (
        response is AnomalyResponse.ALERT
        or SEVERITY_SCORE[severity] >= SEVERITY_SCORE[Severity.HIGH]
    ):
        return severity
    return Severity.HIGH


async def respond(
    tx: AsyncSession,
    *,
    finding: Finding,
    response: AnomalyResponse,
    subject_id: str | None,
    tenant: str | None,
    session_id: str | None,
    request_id: str | None,
    now: datetime,
    evict: SubjectEvictor | None = None,
) -> Anomaly:
    """Record the anomaly and apply its response (see the module docstring)."""
    response = effective_response(response, subject_id)
    anomaly = await raise_anomaly(
        tx,
        rule=finding.rule.value,
        severity=effective_severity(finding.severity, response),
        response=response,
        subject_id=subject_id,
        session_id=session_id,
        evidence=finding.evidence,
        now=now,
        tenant=tenant,
        request_id=request_id,
    )
    if response is AnomalyResponse.LOCK and subject_id is not None:
        await lock_for_anomaly(
            tx, subject_id=subject_id, anomaly=anomaly, request_id=request_id, now=now, evict=evict
        )
    return anomaly


async def lock_for_anomaly(
    tx: AsyncSession,
    *,
    subject_id: str,
    anomaly: Anomaly,
    request_id: str | None,
    now: datetime,
    evict: SubjectEvictor | None,
) -> bool:
    """Lock an active subject because of ``anomaly``; False if it was not active."""
    subject = await find_subject(tx, subject_id)
    if subject is None or subject.status != SubjectStatus.ACTIVE:
        return False
    reason = f"anomaly {anomaly.rule} ({anomaly.id})"
    await change_subject_status(tx, subject, to=SubjectStatus.LOCKED, reason=reason, now=now)
    revoked = await revoke_all_browser_sessions(tx, subject_id=SubjectId(subject_id), now=now)
    if evict is not None:
        await evict(tx, subject_id=subject_id, reason=reason, now=now)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.SUBJECT_LOCKED,
            outcome=Outcome.SUCCESS,
            target=subject_id,
            reason=reason,
            request_id=request_id,
            details={
                "anomaly_id": anomaly.id,
                "rule": anomaly.rule,
                "browser_sessions_revoked": revoked,
                "evicted": evict is not None,
            },
            tenant=subject.tenant,
        ),
        now=now,
    )
    return True
