"""The worker fleet in the store: slots a supervisor runs, heartbeats workers send.

The supervisor writes a slot's process facts (pid, status, restarts, current credential);
the heartbeat endpoint writes what the worker reports (last heartbeat, active jobs). Any
replica reads the same rows, so the fleet view and the supervisor's health checks agree
even when the heartbeat reached another replica.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.errors import WorkerMismatch
from control_plane.agents.tables import AgentWorker
from control_plane.agents.types import WorkerClaims
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.errors import AccessDenied
from control_plane.authz.principals import cedar_principal
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import Action, AuthzRequest, TenantId, TenantResource
from control_plane.identity.subjects import ensure_subject
from control_plane.identity.types import Principal

MAX_ACTIVE_JOBS = 10_000
FLEET_LIMIT = 500


async def register_worker(
    tx: AsyncSession,
    *,
    worker_id: str,
    supervisor_id: str,
    slot: int,
    agent_name: str,
    now: datetime,
) -> None:
    """A new slot of this supervisor, not started yet."""
    tx.add(
        AgentWorker(
            id=worker_id,
            supervisor_id=supervisor_id,
            slot=slot,
            agent_name=agent_name,
            status="starting",
            created_at=now,
            updated_at=now,
        )
    )
    await tx.flush()


async def record_worker_started(
    tx: AsyncSession,
    *,
    worker_id: str,
    pid: int,
    credential_jti: str,
    credential_expires_at: datetime,
    restarts: int,
    now: datetime,
) -> None:
    """A process was launched for the slot with a fresh credential."""
    await tx.exec(
        update(AgentWorker)
        .where(col(AgentWorker.id) == worker_id)
        .values(
            status="starting",
            pid=pid,
            process_alive=True,
            restarts=restarts,
            credential_jti=credential_jti,
            credential_expires_at=credential_expires_at,
            started_at=now,
            active_jobs=0,
            updated_at=now,
        )
    )


async def record_worker_state(
    tx: AsyncSession,
    *,
    worker_id: str,
    status: str,
    now: datetime,
    process_alive: bool | None = None,
    exit_code: int | None = None,
) -> None:
    """A status change seen by the supervisor (running, unhealthy, backoff after an exit)."""
    values: dict[str, object] = {"status": status, "updated_at": now}
    if process_alive is not None:
        values["process_alive"] = process_alive
    if process_alive is False:
        values["pid"] = None
        values["active_jobs"] = 0
    if exit_code is not None:
        values["last_exit_code"] = exit_code
    await tx.exec(update(AgentWorker).where(col(AgentWorker.id) == worker_id).values(**values))


async def record_credential_rotated(
    tx: AsyncSession, *, worker_id: str, credential_jti: str, expires_at: datetime, now: datetime
) -> None:
    """The slot's process credential was replaced before it expired."""
    await tx.exec(
        update(AgentWorker)
        .where(col(AgentWorker.id) == worker_id)
        .values(credential_jti=credential_jti, credential_expires_at=expires_at, updated_at=now)
    )


async def record_workers_stopped(
    tx: AsyncSession, *, worker_ids: Sequence[str], now: datetime
) -> None:
    """The supervisor shut these slots down (drained or killed)."""
    if not worker_ids:
        return
    await tx.exec(
        update(AgentWorker)
        .where(col(AgentWorker.id).in_(list(worker_ids)))
        .values(
            status="stopped",
            pid=None,
            process_alive=False,
            active_jobs=0,
            credential_jti=None,
            stopped_at=now,
            updated_at=now,
        )
    )


async def record_heartbeat(
    tx: AsyncSession,
    *,
    claims: WorkerClaims,
    worker_id: str,
    active_jobs: int,
    agent_name: str,
    now: datetime,
) -> None:
    """A worker says it is alive. Only for its own slot (the credential names the worker),
    only for a slot still supervised, and only under the slot's agent name."""
    if worker_id != claims.worker_id:
        raise WorkerMismatch()
    result = await tx.exec(
        update(AgentWorker)
        .where(col(AgentWorker.id) == worker_id)
        .where(col(AgentWorker.agent_name) == agent_name)
        .where(col(AgentWorker.stopped_at).is_(None))
        .values(
            last_heartbeat_at=now,
            active_jobs=max(0, min(active_jobs, MAX_ACTIVE_JOBS)),
        )
    )
    if not result.rowcount:
        raise WorkerMismatch("no such supervised worker")


async def list_supervised(tx: AsyncSession, *, supervisor_id: str) -> Sequence[AgentWorker]:
    """The slots of one supervisor (its health checks read heartbeats from here)."""
    return (
        await tx.exec(
            select(AgentWorker)
            .where(AgentWorker.supervisor_id == supervisor_id)
            .execution_options(populate_existing=True)
        )
    ).all()


async def list_fleet(tx: AsyncSession, *, include_stopped: bool = False) -> Sequence[AgentWorker]:
    """Every worker slot, live ones first, newest first (bounded)."""
    query = select(AgentWorker)
    if not include_stopped:
        query = query.where(col(AgentWorker.stopped_at).is_(None))
    return (
        await tx.exec(
            query.order_by(
                col(AgentWorker.stopped_at).is_not(None),
                col(AgentWorker.created_at).desc(),
                col(AgentWorker.slot),
            ).limit(FLEET_LIMIT)
        )
    ).all()


async def read_fleet(
    tx: AsyncSession,
    *,
    principal: Principal,
    policies: PolicySnapshot,
    request_id: str,
    now: datetime,
) -> Sequence[AgentWorker]:
    """The worker fleet, for whoever Cedar allows ``read_agents`` on their tenant (security
    auditors, admins); the decision is recorded. Rows hold no secret (no credential)."""
    subject = await ensure_subject(tx, principal=principal, now=now)
    decision = decide(
        policies,
        AuthzRequest(
            cedar_principal(principal, subject_status=subject.status),
            Action.READ_AGENTS,
            TenantResource(TenantId(principal.tenant)),
        ),
    )
    await record_decisions(
        tx,
        decisions=[decision],
        actor=principal.subject_id,
        target=None,
        request_id=request_id,
        now=now,
    )
    if not decision.allowed:
        raise AccessDenied(decision_id=decision.id)
    return await list_fleet(tx)
