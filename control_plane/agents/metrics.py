"""Per-turn latency metrics: intake from the worker serving a session, per-session summaries.

Intake is authorised twice: the credential is bound to the session in the path (else 403
and an audit record), and Cedar decides ``write_metrics`` for that agent on that session
(an ended session takes no writes). Rows carry durations and counts only, and are stored
once per (session, turn): a worker retrying a report it could not confirm adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.errors import MetricsClosed
from control_plane.agents.tables import TurnMetric
from control_plane.agents.telemetry import AgentTelemetry
from control_plane.agents.types import (
    LATENCY_FIELDS,
    Distribution,
    MetricsAccepted,
    SessionMetrics,
    ToolTiming,
    TurnReport,
    WorkerClaims,
)
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.errors import AccessDenied
from control_plane.authz.principals import cedar_principal
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import (
    Action,
    AgentId,
    AgentPrincipal,
    AuthzRequest,
    SessionId,
    TenantId,
)
from control_plane.clock import as_utc
from control_plane.identity.subjects import ensure_subject
from control_plane.identity.types import Principal
from control_plane.privacy.errors import CredentialSessionMismatch
from control_plane.risk.limiter import RateLimiter
from control_plane.risk.service import audit_rejection
from control_plane.sessions.service import get_session, session_resource
from control_plane.sessions.tables import VoiceSession
from control_plane.store.engine import insert_new

MAX_TURNS_PER_SESSION = 5000
MAX_ITEMS_SHOWN = 500


def turn_row_id(session_id: str, turn_id: str) -> str:
    """The row key of one turn: the same report twice is one row."""
    return hashlib.sha256(json.dumps([session_id, turn_id]).encode()).hexdigest()


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def distribution(values: Sequence[float]) -> Distribution:
    return Distribution(
        count=len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        max=max(values) if values else None,
    )


def summarize(session_id: str, turns: Sequence[TurnReport]) -> SessionMetrics:
    """Per-metric p50/p95 over a session's turns, plus tool calls (pure)."""
    latencies = {
        field: distribution([v for t in turns if (v := getattr(t, field)) is not None])
        for field in LATENCY_FIELDS
    }
    latencies["tool_call_ms"] = distribution(
        [call.duration_ms for t in turns for call in t.tool_calls]
    )
    return SessionMetrics(
        session_id=session_id,
        turns=len(turns),
        interrupted=sum(1 for t in turns if t.interrupted),
        reconnects=sum(t.reconnects for t in turns),
        tool_calls=sum(len(t.tool_calls) for t in turns),
        latencies=latencies,
        items=tuple(turns[:MAX_ITEMS_SHOWN]),
    )


def _agent_actor(claims: WorkerClaims) -> str:
    return f"agent:{claims.worker_id}"[:128]


async def _authorize_write(
    tx: AsyncSession,
    *,
    policies: PolicySnapshot,
    claims: WorkerClaims,
    session: VoiceSession,
    request_id: str,
    now: datetime,
) -> None:
    principal = AgentPrincipal(
        agent_id=AgentId(claims.worker_id),
        tenant=TenantId(session.tenant),
        session_id=SessionId(claims.session_id) if claims.session_id else None,
    )
    decision = decide(
        policies,
        AuthzRequest(principal, Action.WRITE_METRICS, await session_resource(tx, session)),
    )
    if not decision.allowed:
        await record_decisions(
            tx,
            decisions=[decision],
            actor=_agent_actor(claims),
            target=session.id,
            request_id=request_id,
            now=now,
        )
        raise AccessDenied(decision_id=decision.id)


async def store_turn_metrics(
    tx: AsyncSession,
    *,
    policies: PolicySnapshot,
    telemetry: AgentTelemetry,
    claims: WorkerClaims,
    session_id: str,
    turns: Sequence[TurnReport],
    request_id: str,
    now: datetime,
    limiter: RateLimiter,
    rejection_audit_limit: str,
) -> MetricsAccepted:
    """Authorise and store one batch of a session's turn metrics; observe the new ones.

    A batch for a session the credential is not bound to is refused every time, audited
    within the worker's rejection budget (T-DOS-3)."""
    if claims.session_id != session_id:
        await audit_rejection(
            tx,
            limiter,
            limit=rejection_audit_limit,
            scope="metrics-rejected",
            address_key=_agent_actor(claims),
            event=AuditEvent(
                type=AuditEventType.AGENT_WORKER,
                outcome=Outcome.DENIED,
                actor=_agent_actor(claims),
                target=session_id[:256],
                reason="metrics rejected: credential bound to another session",
                request_id=request_id,
                details={"kind": "metrics"},
            ),
            now=now,
        )
        raise CredentialSessionMismatch()
    session = await get_session(tx, session_id)
    await _authorize_write(
        tx, policies=policies, claims=claims, session=session, request_id=request_id, now=now
    )
    if session.finalized_at is not None or as_utc(session.expires_at) <= now:
        raise MetricsClosed()
    rows = {
        turn_row_id(session_id, t.turn_id): {
            "id": turn_row_id(session_id, t.turn_id),
            "session_id": session_id,
            "turn_id": t.turn_id,
            "agent": claims.worker_id[:128],
            "eou_delay_ms": t.eou_delay_ms,
            "llm_ttft_ms": t.llm_ttft_ms,
            "tts_ttfb_ms": t.tts_ttfb_ms,
            "time_to_first_audio_ms": t.time_to_first_audio_ms,
            "e2e_response_ms": t.e2e_response_ms,
            "tool_calls": [{"name": c.name, "duration_ms": c.duration_ms} for c in t.tool_calls],
            "interrupted": t.interrupted,
            "reconnects": t.reconnects,
            "created_at": now,
        }
        for t in turns
    }
    inserted = await insert_new(
        await tx.connection(),
        TurnMetric.__table__,  # type: ignore[attr-defined]
        list(rows.values()),
        key="id",
    )
    telemetry.observe([t for t in turns if turn_row_id(session_id, t.turn_id) in inserted])
    return MetricsAccepted(session_id=session_id, received=len(turns), stored=len(inserted))


def _report(row: TurnMetric) -> TurnReport:
    return TurnReport(
        turn_id=row.turn_id,
        eou_delay_ms=row.eou_delay_ms,
        llm_ttft_ms=row.llm_ttft_ms,
        tts_ttfb_ms=row.tts_ttfb_ms,
        time_to_first_audio_ms=row.time_to_first_audio_ms,
        e2e_response_ms=row.e2e_response_ms,
        tool_calls=tuple(
            ToolTiming(name=str(c.get("name", "")), duration_ms=float(str(c.get("duration_ms"))))
            for c in row.tool_calls
        ),
        interrupted=row.interrupted,
        reconnects=row.reconnects,
    )


async def read_session_metrics(
    tx: AsyncSession,
    *,
    principal: Principal,
    policies: PolicySnapshot,
    session_id: str,
    request_id: str,
    now: datetime,
) -> SessionMetrics:
    """A session's turn metrics and their p50/p95, for whoever Cedar lets ``read_session``
    (the owner, the tenant's security auditors and admins); the decision is recorded."""
    session = await get_session(tx, session_id)
    subject = await ensure_subject(tx, principal=principal, now=now)
    decision = decide(
        policies,
        AuthzRequest(
            cedar_principal(principal, subject_status=subject.status),
            Action.READ_SESSION,
            await session_resource(tx, session),
        ),
    )
    await record_decisions(
        tx,
        decisions=[decision],
        actor=principal.subject_id,
        target=session.id,
        request_id=request_id,
        now=now,
    )
    if not decision.allowed:
        raise AccessDenied(decision_id=decision.id)
    rows = (
        await tx.exec(
            select(TurnMetric)
            .where(TurnMetric.session_id == session.id)
            .order_by(col(TurnMetric.created_at), col(TurnMetric.turn_id))
            .limit(MAX_TURNS_PER_SESSION)
        )
    ).all()
    return summarize(session.id, [_report(r) for r in rows])
