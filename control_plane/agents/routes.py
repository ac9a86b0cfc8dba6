"""Agent endpoints: worker heartbeats and turn metrics (internal, worker credentials), the
fleet (security auditors, admins) and a session's metrics (read_session)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status

from control_plane.agents import fleet, metrics
from control_plane.agents.deps import ProcessWorker
from control_plane.agents.schemas import (
    DistributionOut,
    FleetOut,
    HeartbeatIn,
    MetricsAcceptedOut,
    MetricsIn,
    SessionMetricsOut,
    ToolCallOut,
    TurnOut,
    WorkerOut,
)
from control_plane.agents.tables import AgentWorker
from control_plane.agents.types import SessionMetrics, ToolTiming, TurnReport
from control_plane.clock import as_utc
from control_plane.deps import RequestId, State, Tx
from control_plane.identity.deps import CurrentPrincipal
from control_plane.privacy.deps import SessionWorker

internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])
router = APIRouter(tags=["agents"])

_WORKER_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "no valid, unrevoked worker credential of the right kind"},
    403: {"description": "credential bound to another session or worker, or denied by policy"},
    404: {"description": "no such session"},
    409: {"description": "the session is closed"},
    413: {"description": "body too large"},
    422: {"description": "invalid body (bounds, types, non-finite or negative numbers)"},
}
_USER_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not authenticated"},
    403: {"description": "denied by policy"},
    503: {"description": "policies or store unavailable"},
}


@internal_router.post(
    "/workers/heartbeat",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_WORKER_ERRORS,
    summary="Worker heartbeat: alive, and how many jobs it runs",
)
async def heartbeat(body: HeartbeatIn, worker: ProcessWorker, tx: Tx, state: State) -> Response:
    await fleet.record_heartbeat(
        tx,
        claims=worker,
        worker_id=body.worker_id,
        active_jobs=body.active_jobs,
        agent_name=body.agent_name,
        now=state.clock(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal_router.post(
    "/sessions/{session_id}/metrics",
    response_model=MetricsAcceptedOut,
    status_code=status.HTTP_201_CREATED,
    responses=_WORKER_ERRORS,
    summary="Worker intake: per-turn latency metrics of the session it serves",
)
async def post_metrics(
    session_id: str,
    body: MetricsIn,
    worker: SessionWorker,
    tx: Tx,
    state: State,
    request_id: RequestId,
) -> MetricsAcceptedOut:
    accepted = await metrics.store_turn_metrics(
        tx,
        policies=state.policies.current,
        telemetry=state.agents.telemetry,
        claims=worker,
        session_id=session_id,
        turns=[
            TurnReport(
                turn_id=t.turn_id,
                eou_delay_ms=t.eou_delay_ms,
                llm_ttft_ms=t.llm_ttft_ms,
                tts_ttfb_ms=t.tts_ttfb_ms,
                time_to_first_audio_ms=t.time_to_first_audio_ms,
                e2e_response_ms=t.e2e_response_ms,
                tool_calls=tuple(ToolTiming(c.name, c.duration_ms) for c in t.tool_calls),
                interrupted=t.interrupted,
                reconnects=t.reconnects,
            )
            for t in body.turns
        ],
        request_id=request_id,
        now=state.clock(),
        limiter=state.limiter,
        rejection_audit_limit=state.settings.risk.rejection_audit_limit,
    )
    return MetricsAcceptedOut(
        session_id=accepted.session_id, received=accepted.received, stored=accepted.stored
    )


def _aware(ts: datetime | None) -> datetime | None:
    return as_utc(ts) if ts is not None else None


def _worker_out(row: AgentWorker, now: datetime) -> WorkerOut:
    last = _aware(row.last_heartbeat_at)
    return WorkerOut(
        worker_id=row.id,
        supervisor=row.supervisor_id,
        slot=row.slot,
        agent_name=row.agent_name,
        status=row.status,
        pid=row.pid,
        process_alive=row.process_alive,
        started_at=_aware(row.started_at),
        last_heartbeat_at=last,
        heartbeat_age_seconds=round((now - last).total_seconds(), 3) if last else None,
        restarts=row.restarts,
        last_exit_code=row.last_exit_code,
        active_jobs=row.active_jobs,
        credential_expires_at=_aware(row.credential_expires_at),
        stopped_at=_aware(row.stopped_at),
    )


@router.get(
    "/v1/agents",
    response_model=FleetOut,
    responses=_USER_ERRORS,
    summary="The voice agent worker fleet (security auditors and admins: read_agents)",
)
async def list_agents(
    principal: CurrentPrincipal, tx: Tx, state: State, request_id: RequestId
) -> FleetOut:
    now = state.clock()
    rows = await fleet.read_fleet(
        tx,
        principal=principal,
        policies=state.policies.current,
        request_id=request_id,
        now=now,
    )
    return FleetOut(
        agent_name=state.settings.agents.agent_name,
        workers=[_worker_out(r, now) for r in rows],
    )


def _turn_out(turn: TurnReport) -> TurnOut:
    return TurnOut(
        turn_id=turn.turn_id,
        eou_delay_ms=turn.eou_delay_ms,
        llm_ttft_ms=turn.llm_ttft_ms,
        tts_ttfb_ms=turn.tts_ttfb_ms,
        time_to_first_audio_ms=turn.time_to_first_audio_ms,
        e2e_response_ms=turn.e2e_response_ms,
        tool_calls=[ToolCallOut(name=c.name, duration_ms=c.duration_ms) for c in turn.tool_calls],
        interrupted=turn.interrupted,
        reconnects=turn.reconnects,
    )


def _metrics_out(summary: SessionMetrics) -> SessionMetricsOut:
    return SessionMetricsOut(
        session_id=summary.session_id,
        turns=summary.turns,
        interrupted=summary.interrupted,
        reconnects=summary.reconnects,
        tool_calls=summary.tool_calls,
        latencies={
            name: DistributionOut(count=d.count, p50=d.p50, p95=d.p95, max=d.max)
            for name, d in summary.latencies.items()
        },
        items=[_turn_out(t) for t in summary.items],
    )


@router.get(
    "/v1/sessions/{session_id}/metrics",
    response_model=SessionMetricsOut,
    responses={**_USER_ERRORS, 404: {"description": "no such session"}},
    summary="A session's turn latency metrics with per-metric p50/p95 (read_session)",
)
async def session_metrics(
    session_id: str, principal: CurrentPrincipal, tx: Tx, state: State, request_id: RequestId
) -> SessionMetricsOut:
    summary = await metrics.read_session_metrics(
        tx,
        principal=principal,
        policies=state.policies.current,
        session_id=session_id,
        request_id=request_id,
        now=state.clock(),
    )
    return _metrics_out(summary)
