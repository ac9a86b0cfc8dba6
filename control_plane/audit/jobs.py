"""The checkpoint job: sign the chain head periodically, safely on every replica."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.service import (
    AuditChainBroken,
    find_chain_bounds,
    find_latest_checkpoint,
    write_checkpoint,
)
from control_plane.audit.tables import AuditCheckpoint
from control_plane.config import AuditSettings
from control_plane.jobs import Job
from control_plane.logs import get_logger
from control_plane.store.engine import try_lease
from control_plane.store.uow import unit_of_work

CHECKPOINT_LEASE_KEY = 0x63705F63686B70  # "cp_chkp"
MAX_POLL_SECONDS = 30.0
_log = get_logger("control_plane.audit")


def is_checkpoint_due(
    *,
    head_seq: int,
    last_head_seq: int | None,
    last_ts: datetime | None,
    now: datetime,
    settings: AuditSettings,
) -> bool:
    """Due when the head moved and either the interval passed or enough records piled up."""
    if last_head_seq is None or last_ts is None:
        return True
    if head_seq == last_head_seq:
        return False
    if head_seq - last_head_seq >= settings.checkpoint_every_records:
        return True
    if last_ts.tzinfo is None:
        last_ts = last_ts.replace(tzinfo=UTC)
    return now - last_ts >= timedelta(seconds=settings.checkpoint_interval_seconds)


def poll_seconds(settings: AuditSettings) -> float:
    """How often the job looks (it signs only when ``is_checkpoint_due``)."""
    return float(min(settings.checkpoint_interval_seconds, MAX_POLL_SECONDS))


async def run_checkpoint_step(
    engine: AsyncEngine, *, key: Ed25519PrivateKey, settings: AuditSettings, now: datetime
) -> AuditCheckpoint | None:
    """One job step: under a lease (one replica at a time), sign the head if due.

    A chain that does not extend the last checkpoint is never signed: the step logs
    ``audit.checkpoint_refused`` naming the record and returns None, every time, until an
    operator runs ``control-plane audit verify``.
    """
    async with unit_of_work(engine) as tx:
        if not await try_lease(await tx.connection(), CHECKPOINT_LEASE_KEY):
            return None
        bounds = await find_chain_bounds(tx)
        if bounds is None:
            return None
        last = await find_latest_checkpoint(tx)
        due = is_checkpoint_due(
            head_seq=bounds.head_seq,
            last_head_seq=last.head_seq if last else None,
            last_ts=last.ts if last else None,
            now=now,
            settings=settings,
        )
        if not due and (last is None or last.first_seq == bounds.first_seq):
            return None
        try:
            checkpoint = await write_checkpoint(tx, key=key, now=now)
        except AuditChainBroken as exc:
            _log.error(
                "audit.checkpoint_refused",
                reason=exc.chain_break.reason,
                seq=exc.chain_break.seq,
            )
            return None
    if checkpoint is not None:
        _log.info("audit.checkpoint_written", seq=checkpoint.head_seq)
    return checkpoint


CHECKPOINT_JOB = "audit.checkpoint"


def audit_jobs(
    engine: AsyncEngine,
    *,
    key: Ed25519PrivateKey,
    settings: AuditSettings,
    clock: Callable[[], datetime],
) -> list[Job]:
    """The checkpoint job (every replica runs it; the lease makes one sign at a time)."""

    async def step() -> AuditCheckpoint | None:
        return await run_checkpoint_step(engine, key=key, settings=settings, now=clock())

    return [Job(CHECKPOINT_JOB, poll_seconds(settings), step)]
