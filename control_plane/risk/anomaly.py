"""Recording anomalies and the risk score they feed into policy decisions."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.risk.tables import Anomaly
from control_plane.risk.types import SEVERITY_SCORE, AnomalyResponse, Severity

RISK_WINDOW = timedelta(hours=1)


async def raise_anomaly(
    tx: AsyncSession,
    *,
    rule: str,
    severity: Severity,
    response: AnomalyResponse,
    subject_id: str | None,
    session_id: str | None,
    evidence: dict[str, object],
    now: datetime,
) -> Anomaly:
    """Record an anomaly and its audit record (which survives a rollback of the caller).

    Evidence must be pseudonymous: ids, counts, reasons, never PII or tokens.
    """
    anomaly = Anomaly(
        id=f"an_{secrets.token_hex(10)}",
        rule=rule,
        severity=severity.value,
        subject_id=subject_id,
        session_id=session_id,
        evidence=evidence,
        response=response.value,
        created_at=now,
    )
    tx.add(anomaly)
    await tx.flush()
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.ANOMALY,
            outcome=Outcome.DENIED,
            actor=subject_id,
            target=session_id,
            reason=rule,
            details={
                "rule": rule,
                "severity": severity.value,
                "response": response.value,
                "anomaly_id": anomaly.id,
                "evidence": evidence,
            },
        ),
        now=now,
    )
    return anomaly


async def risk_score(tx: AsyncSession, *, subject_id: str, now: datetime) -> int:
    """The subject's current risk: the highest step-up/lock anomaly of the last hour."""
    rows = (
        await tx.exec(
            select(Anomaly.severity)
            .where(Anomaly.subject_id == subject_id)
            .where(col(Anomaly.created_at) >= now - RISK_WINDOW)
            .where(col(Anomaly.response).in_([AnomalyResponse.STEP_UP, AnomalyResponse.LOCK]))
        )
    ).all()
    return max((SEVERITY_SCORE[Severity(s)] for s in rows), default=0)
