"""Remediation through the LiveKit server API: durable tasks, retried with backoff until
done, every step audited; and the re-kick list.

A task is scheduled in the caller's transaction (with the decision that warrants it), so
it exists exactly when that decision is durable. Execution never holds a transaction
across a LiveKit call: claim (short transaction, row lease) -> call -> record (short
transaction). Every replica runs the executor; a row lease makes each task single-owner,
and each step is idempotent (a participant or room that is already gone counts as done).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import RowMapping, bindparam, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.clock import Clock, as_utc
from control_plane.livekit.client import LiveKitRooms
from control_plane.livekit.correlation import base_identity
from control_plane.livekit.errors import LiveKitNotFound, LiveKitUnavailable
from control_plane.livekit.tables import RemediationTask, Removal
from control_plane.livekit.types import NUL_STAND_IN
from control_plane.logs import get_logger
from control_plane.sessions.tenancy import record_for_room
from control_plane.store.uow import after_commit, unit_of_work

_log = get_logger("control_plane.livekit.remediation")
WAKE_REMEDIATION = "livekit.remediation"
CLAIM_BATCH = 50
PARALLEL_TASKS = 8
BASE_BACKOFF_SECONDS = 0.5

Wake = Callable[[str], None]


class RemediationKind(StrEnum):
    EVICT = "evict"  # unexplained or over-granted: cut permissions at once, then remove
    REMOVE = "remove"  # one identity out of one room
    REMOVE_SUBJECT = "remove_subject"  # every identity of a subject (incl. #suffix) in a room
    END_ROOM = "end_room"  # ended session: remove everyone (audited), then delete the room
    DELETE_DISPATCH = "delete_dispatch"


class Step(StrEnum):
    REVOKE_PERMISSIONS = "revoke_permissions"
    REMOVE_PARTICIPANT = "remove_participant"
    REMOVE_SUBJECT = "remove_subject"
    REMOVE_ALL = "remove_all"
    DELETE_ROOM = "delete_room"
    DELETE_DISPATCH = "delete_dispatch"


STEPS: dict[RemediationKind, tuple[Step, ...]] = {
    RemediationKind.EVICT: (Step.REVOKE_PERMISSIONS, Step.REMOVE_PARTICIPANT),
    RemediationKind.REMOVE: (Step.REMOVE_PARTICIPANT,),
    RemediationKind.REMOVE_SUBJECT: (Step.REMOVE_SUBJECT,),
    RemediationKind.END_ROOM: (Step.REMOVE_ALL, Step.DELETE_ROOM),
    RemediationKind.DELETE_DISPATCH: (Step.DELETE_DISPATCH,),
}


@dataclass(frozen=True)
class RemediationPolicy:
    """How the executor retries: lease, capped exponential backoff, give-up age."""

    lease: timedelta
    max_backoff: timedelta
    give_up_after: timedelta


def backoff(attempts: int, *, cap: timedelta) -> timedelta:
    """0.5 s, 1 s, 2 s, ... capped: quick while LiveKit blips, gentle when it is down."""
    seconds = BASE_BACKOFF_SECONDS * (2 ** min(max(attempts - 1, 0), 20))
    return min(timedelta(seconds=seconds), cap)


async def schedule_remediation(
    tx: AsyncSession,
    *,
    kind: RemediationKind,
    room: str,
    reason: str,
    now: datetime,
    wake: Wake | None,
    identity: str | None = None,
    sid: str | None = None,
    subject_id: str | None = None,
    session_id: str | None = None,
    dispatch_id: str | None = None,
    anomaly_id: str | None = None,
) -> RemediationTask:
    """A pending task for this action (an identical pending one is reused); the executor is
    woken once the caller's transaction commits."""
    existing = (
        await tx.exec(
            select(RemediationTask)
            .where(RemediationTask.room_name == room)
            .where(RemediationTask.identity == identity)
            .where(RemediationTask.sid == sid)
            .where(RemediationTask.kind == kind.value)
            .where(RemediationTask.dispatch_id == dispatch_id)
            .where(RemediationTask.subject_id == subject_id)
            .where(RemediationTask.status == "pending")
        )
    ).first()
    if existing is not None:
        return existing
    task = RemediationTask(
        id=f"rem_{secrets.token_hex(12)}",
        kind=kind.value,
        room_name=room,
        identity=identity,
        sid=sid,
        subject_id=subject_id,
        session_id=session_id,
        dispatch_id=dispatch_id,
        reason=reason[:128],
        anomaly_id=anomaly_id,
        next_attempt_at=now,
        created_at=now,
    )
    tx.add(task)
    await tx.flush()
    if wake is not None:
        after_commit(tx, lambda: wake(WAKE_REMEDIATION))
    return task


async def has_pending_remediation(tx: AsyncSession, *, room: str, sid: str) -> bool:
    """True if an eviction or removal of this connection is still under way."""
    found = (
        await tx.exec(
            select(RemediationTask.id)
            .where(RemediationTask.room_name == room)
            .where(RemediationTask.sid == sid)
            .where(RemediationTask.status == "pending")
            .limit(1)
        )
    ).first()
    return found is not None


async def record_removal(
    tx: AsyncSession, *, room: str, identity: str, reason: str, now: datetime, ttl: timedelta
) -> None:
    """Put an identity on the re-kick list (``room="*"``: every room) until ``now + ttl``.

    The exact identity: evicting ``<subject>#x`` must not put the subject it imitates on
    the list (an intruder could otherwise get the real user refused, T-JOIN-4)."""
    tx.add(
        Removal(
            room_name=room,
            identity=identity[:256],
            reason=reason[:128],
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await tx.flush()


_REMOVALS = Removal.__table__  # type: ignore[attr-defined]
# Built once (compiled forms are cached): join auditing reads it for every join.
_ACTIVE_REMOVALS = (
    sa_select(_REMOVALS.c.room_name, _REMOVALS.c.created_at, _REMOVALS.c.expires_at)
    .where(_REMOVALS.c.identity == bindparam("identity"))
    .where(_REMOVALS.c.expires_at > bindparam("now"))
)


async def list_active_removals(
    tx: AsyncSession, *, identity: str, now: datetime
) -> Sequence[RowMapping]:
    """The identity's live re-kick entries (any room): room_name, created_at, expires_at."""
    connection = await tx.connection()
    result = await connection.execute(_ACTIVE_REMOVALS, {"identity": identity, "now": now})
    return result.mappings().all()


def claim_token(owner: str) -> str:
    """A fresh lease-owner value per claim, so a claim can read back exactly its rows."""
    return f"{owner[:18]}-{secrets.token_hex(6)}"


async def _claim(engine: AsyncEngine, *, owner: str, now: datetime, lease: timedelta) -> list[str]:
    """Lease up to CLAIM_BATCH due tasks to ``owner`` (portable row claim, no SKIP LOCKED).

    The lease condition is repeated in the outer UPDATE, so on PostgreSQL a row another
    replica claimed first fails the re-check and is skipped.
    """
    due = (
        (col(RemediationTask.status) == "pending")
        & (col(RemediationTask.next_attempt_at) <= now)
        & or_(col(RemediationTask.lease_until).is_(None), col(RemediationTask.lease_until) < now)
    )
    async with unit_of_work(engine) as tx:
        ids = (
            await tx.exec(
                select(RemediationTask.id)
                .where(due)
                .order_by(col(RemediationTask.next_attempt_at))
                .limit(CLAIM_BATCH)
            )
        ).all()
        if not ids:
            return []
        await tx.exec(
            update(RemediationTask)
            .where(col(RemediationTask.id).in_(ids))
            .where(due)
            .values(lease_owner=owner, lease_until=now + lease)
        )
    async with unit_of_work(engine) as tx:
        claimed = (
            await tx.exec(
                select(RemediationTask.id)
                .where(col(RemediationTask.id).in_(ids))
                .where(RemediationTask.lease_owner == owner)
            )
        ).all()
    return list(claimed)


async def _remove_matching(livekit: LiveKitRooms, room: str, subject_id: str | None) -> int:
    """Remove every participant (of ``subject_id`` only, derived identities included)."""
    removed = 0
    for participant in await livekit.list_participants(room=room):
        if subject_id is not None and base_identity(participant.identity) != subject_id:
            continue
        try:
            await livekit.remove_participant(room=room, identity=participant.identity)
            removed += 1
        except LiveKitNotFound:
            continue
    return removed


async def _is_superseded(livekit: LiveKitRooms, task: RemediationTask, identity: str) -> bool:
    """The identity is now held by another connection than the one the task is about."""
    if task.sid is None or not identity:
        return False
    current = await livekit.get_participant(room=task.room_name, identity=identity)
    return current.sid != task.sid


async def _live_identity(livekit: LiveKitRooms, task: RemediationTask) -> str:
    """The identity to act on: the stored one, or, where the store had to replace a NUL
    (``storable``), the live identity of the task's connection (by sid)."""
    identity = task.identity or ""
    if NUL_STAND_IN not in identity or task.sid is None:
        return identity
    for participant in await livekit.list_participants(room=task.room_name):
        if participant.sid == task.sid:
            return participant.identity
    return identity


async def _call_step(livekit: LiveKitRooms, task: RemediationTask, step: Step) -> str:
    """Run one step against LiveKit; "ok", "not_found" (already done) or raises."""
    try:
        per_connection = step in (Step.REVOKE_PERMISSIONS, Step.REMOVE_PARTICIPANT)
        identity = await _live_identity(livekit, task) if per_connection else ""
        if per_connection and await _is_superseded(livekit, task, identity):
            return "superseded"
        if step is Step.REVOKE_PERMISSIONS:
            await livekit.revoke_permissions(room=task.room_name, identity=identity)
        elif step is Step.REMOVE_PARTICIPANT:
            await livekit.remove_participant(room=task.room_name, identity=identity)
        elif step in (Step.REMOVE_SUBJECT, Step.REMOVE_ALL):
            subject = task.subject_id if step is Step.REMOVE_SUBJECT else None
            return f"removed {await _remove_matching(livekit, task.room_name, subject)}"
        elif step is Step.DELETE_ROOM:
            await livekit.delete_room(room=task.room_name)
        elif step is Step.DELETE_DISPATCH:
            await livekit.delete_dispatch(room=task.room_name, dispatch_id=task.dispatch_id or "")
    except LiveKitNotFound:
        return "not_found"
    except LiveKitUnavailable:
        # LiveKit v1.13.5 answers 503 "no response from servers" (not 404) for a dispatch
        # or participant of a room it has already closed: retried, that is a day of
        # attempts for nothing. Whatever the step was for ended with the room.
        if task.room_name not in await livekit.list_rooms():
            return "room_gone"
        raise
    return "ok"


def _step_event(task: RemediationTask, step: Step, outcome: Outcome, result: str) -> AuditEvent:
    return AuditEvent(
        type=AuditEventType.REMEDIATION,
        outcome=outcome,
        actor="control-plane",
        target=task.session_id or task.room_name[:256],
        reason=f"{step.value}: {result} ({task.reason})",
        details={
            "step": step.value,
            "task_id": task.id,
            "kind": task.kind,
            "room": task.room_name[:256],
            "identity": (task.identity or task.subject_id or "")[:256],
            "sid": task.sid,
            "result": result,
            "attempt": task.attempts + 1,
            "anomaly_id": task.anomaly_id,
        },
    )


async def _record(
    engine: AsyncEngine,
    task_id: str,
    *,
    owner: str,
    now: datetime,
    step: Step,
    result: str | None,
    policy: RemediationPolicy,
) -> RemediationTask | None:
    """Record one step's result on the task we still hold; None if we lost the lease."""
    async with unit_of_work(engine) as tx:
        task = await tx.get(RemediationTask, task_id)
        if task is None or task.lease_owner != owner or task.status != "pending":
            return None
        event: AuditEvent | None
        if result is None:  # LiveKit unavailable: back off, keep the step
            # Audited on the first failure and on giving up, not per attempt (T-DOS-3): a
            # task retried for a day must not append a record every minute.
            first = task.attempts == 0
            event = _step_event(task, step, Outcome.FAILURE, "unavailable") if first else None
            task.attempts += 1
            task.last_error = "livekit_unavailable"
            task.lease_owner = None
            task.lease_until = None
            task.next_attempt_at = now + backoff(task.attempts, cap=policy.max_backoff)
            if now - as_utc(task.created_at) > policy.give_up_after:
                task.status = "failed"
                task.done_at = now
                event = _step_event(task, step, Outcome.FAILURE, "gave_up")
            if event is None:
                _log.info("livekit.remediation_retry", event_id=task.id, count=task.attempts)
        else:
            event = _step_event(task, step, Outcome.SUCCESS, result)
            task.step += 1
            if task.step >= len(STEPS[RemediationKind(task.kind)]):
                task.status = "done"
                task.done_at = now
                task.lease_owner = None
                task.lease_until = None
        tx.add(task)
        if event is not None:
            await record_for_room(tx, task.room_name)
            await append_audit(tx, event=event, now=now)
        return task


async def _run_task(
    engine: AsyncEngine,
    task_id: str,
    *,
    livekit: LiveKitRooms,
    clock: Clock,
    owner: str,
    policy: RemediationPolicy,
) -> None:
    async with unit_of_work(engine) as tx:
        task = await tx.get(RemediationTask, task_id)
    if task is None:
        return
    steps = STEPS[RemediationKind(task.kind)]
    while task is not None and task.status == "pending" and task.step < len(steps):
        step = steps[task.step]
        try:
            result: str | None = await _call_step(livekit, task, step)
        except LiveKitUnavailable:
            result = None
        task = await _record(
            engine, task.id, owner=owner, now=clock(), step=step, result=result, policy=policy
        )
        if result is None:
            return
    if task is not None and task.status == "done":
        _log.info("livekit.remediation_done", event_id=task.id, room=task.room_name)


async def run_due_remediations(
    engine: AsyncEngine,
    *,
    livekit: LiveKitRooms,
    clock: Clock,
    owner: str,
    policy: RemediationPolicy,
) -> int:
    """Claim and run due tasks (a few at a time); returns how many were claimed."""
    claim = claim_token(owner)
    ids = await _claim(engine, owner=claim, now=clock(), lease=policy.lease)
    if not ids:
        return 0
    gate = asyncio.Semaphore(PARALLEL_TASKS)

    async def _one(task_id: str) -> None:
        async with gate:
            try:
                await _run_task(
                    engine, task_id, livekit=livekit, clock=clock, owner=claim, policy=policy
                )
            except Exception as exc:  # one bad task must not stop the others
                _log.error(
                    "livekit.remediation_failed", event_id=task_id, error_code=type(exc).__name__
                )

    await asyncio.gather(*(_one(task_id) for task_id in ids))
    return len(ids)
