"""Recording anomalies and the risk score they feed into policy decisions."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.access import authorize_audit_scope
from control_plane.audit.service import append_audit, audit_tenant
from control_plane.audit.types import AuditEvent, AuditEventType, AuditScope, Outcome
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.types import Action
from control_plane.identity.types import Principal
from control_plane.risk.tables import Anomaly
from control_plane.risk.types import SEVERITY_SCORE, AnomalyResponse, Severity
from control_plane.store.uow import keep_on_rollback

RISK_WINDOW = timedelta(hours=1)
_ANOMALY = Anomaly.__table__  # type: ignore[attr-defined]
# Built once (SQLAlchemy caches the compiled form): this runs on every mint.
_RISK_QUERY = (
    sa_select(
        _ANOMALY.c.subject_id, _ANOMALY.c.severity, _ANOMALY.c.response, _ANOMALY.c.created_at
    )
    .where(_ANOMALY.c.subject_id.in_(bindparam("subject_ids", expanding=True)))
    .where(_ANOMALY.c.created_at >= bindparam("since"))
    .where(_ANOMALY.c.response.in_([AnomalyResponse.STEP_UP.value, AnomalyResponse.LOCK.value]))
)


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
    tenant: str | None = None,
    request_id: str | None = None,
) -> Anomaly:
    """Record an anomaly and its audit record; both survive a rollback of the caller (an
    authentication failure's request always rolls back, its anomaly must not).

    Evidence must be pseudonymous: ids, counts, reasons, never PII or tokens. Without an
    explicit ``tenant`` the anomaly belongs to whoever owns this unit of work's audit
    records (``audit_tenant``: the caller's tenant, or the room's session's for webhook
    and reconciler work), never silently platform-wide (T-TEN-1).
    """
    if tenant is None:
        tenant = audit_tenant(tx)
    fields: dict[str, object] = {
        "id": f"an_{secrets.token_hex(10)}",
        "rule": rule,
        "severity": severity.value,
        "subject_id": subject_id,
        "tenant": tenant,
        "session_id": session_id,
        "evidence": evidence,
        "response": response.value,
        "created_at": now,
    }
    anomaly = Anomaly.model_validate(fields)
    tx.add(anomaly)
    await tx.flush()

    async def _again(session: AsyncSession) -> None:
        session.add(Anomaly.model_validate(fields))
        await session.flush()

    keep_on_rollback(tx, _again)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.ANOMALY,
            outcome=Outcome.DENIED,
            actor=subject_id,
            target=session_id,
            reason=rule,
            request_id=request_id,
            tenant=tenant,
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


async def risk_score(
    tx: AsyncSession, *, subject_id: str, now: datetime, mfa_since: datetime | None = None
) -> int:
    """The subject's current risk: the highest step-up/lock anomaly of the last hour.

    A step-up is satisfied by a multi-factor login after it (``mfa_since``: the caller's
    ``auth_time`` when its ``amr`` has an MFA method); a lock never is. One indexed read
    (subject, created_at) that finds nothing for almost every caller.
    """
    findings = await risk_findings(tx, subject_ids=[subject_id], now=now)
    return score_of(findings.get(subject_id, ()), mfa_since=mfa_since)


@dataclass(frozen=True, slots=True)
class RiskFinding:
    """A step-up or lock anomaly of the last hour, as the risk score weighs it."""

    severity: Severity
    response: str
    created_at: datetime


async def risk_findings(
    tx: AsyncSession, *, subject_ids: Sequence[str], now: datetime
) -> dict[str, list[RiskFinding]]:
    """The findings ``risk_score`` weighs, for several subjects with one read (each
    caller's score is then ``score_of`` with that caller's own MFA login time)."""
    found: dict[str, list[RiskFinding]] = {}
    if not subject_ids:
        return found
    connection = await tx.connection()
    rows = await connection.execute(
        _RISK_QUERY, {"subject_ids": sorted(set(subject_ids)), "since": now - RISK_WINDOW}
    )
    for subject_id, severity, response, created_at in rows:
        found.setdefault(subject_id, []).append(
            RiskFinding(Severity(severity), response, created_at)
        )
    return found


def score_of(findings: Iterable[RiskFinding], *, mfa_since: datetime | None) -> int:
    """The highest finding a multi-factor login at ``mfa_since`` has not stepped up."""
    return max(
        (
            SEVERITY_SCORE[f.severity]
            for f in findings
            if not _is_stepped_up(f.response, f.created_at, mfa_since)
        ),
        default=0,
    )


def _is_stepped_up(response: str, created_at: datetime, mfa_since: datetime | None) -> bool:
    if response != AnomalyResponse.STEP_UP.value or mfa_since is None:
        return False
    created = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    since = mfa_since if mfa_since.tzinfo else mfa_since.replace(tzinfo=UTC)
    return since > created


async def list_anomalies(
    tx: AsyncSession,
    *,
    scope: AuditScope,
    limit: int,
    before: datetime | None = None,
    since: datetime | None = None,
    rule: str | None = None,
    subject_id: str | None = None,
) -> Sequence[Anomaly]:
    """Anomalies in a reader's scope (tenant or platform-wide), newest first."""
    query = select(Anomaly)
    if not scope.everything:
        clauses = []
        if scope.tenants:
            clauses.append(col(Anomaly.tenant).in_(sorted(scope.tenants)))
        if scope.platform:
            clauses.append(col(Anomaly.tenant).is_(None))
        if not clauses:
            return []
        query = query.where(or_(*clauses))
    if before is not None:
        query = query.where(col(Anomaly.created_at) < before)
    if since is not None:
        query = query.where(col(Anomaly.created_at) >= since)
    if rule is not None:
        query = query.where(col(Anomaly.rule) == rule)
    if subject_id is not None:
        query = query.where(col(Anomaly.subject_id) == subject_id)
    order = (col(Anomaly.created_at).desc(), col(Anomaly.id).desc())
    return (await tx.exec(query.order_by(*order).limit(limit))).all()


async def search_anomalies(
    tx: AsyncSession,
    *,
    principal: Principal,
    snapshot: PolicySnapshot,
    request_id: str,
    now: datetime,
    limit: int,
    before: datetime | None,
    since: datetime | None,
    rule: str | None,
    subject_id: str | None,
) -> Sequence[Anomaly]:
    """The anomalies the caller may read (Cedar read_audit, like the audit log)."""
    scope = await authorize_audit_scope(
        tx,
        principal=principal,
        action=Action.READ_AUDIT,
        snapshot=snapshot,
        request_id=request_id,
        now=now,
    )
    return await list_anomalies(
        tx,
        scope=scope,
        limit=limit,
        before=before,
        since=since,
        rule=rule,
        subject_id=subject_id,
    )


MFA_METHODS = frozenset({"mfa", "otp", "hwk", "sc"})  # RFC 8176, as the policies' step-up


def mfa_login_time(principal: Principal) -> datetime | None:
    """When the caller last logged in with a second factor (None: not an MFA login)."""
    return principal.auth_time if MFA_METHODS.intersection(principal.amr) else None
