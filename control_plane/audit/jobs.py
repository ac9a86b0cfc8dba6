"""The checkpoint job: sign the chain head periodically, safely on every replica."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.chain import ChainBreak
from control_plane.audit.service import (
    AuditChainBroken,
    VerifiedPrefix,
    find_chain_bounds,
    find_latest_checkpoint,
    segment_start,
    write_checkpoint,
)
from control_plane.audit.tables import AuditCheckpoint
from control_plane.audit.verify import walk_segment
from control_plane.audit.witness import append_witness
from control_plane.config import AuditSettings
from control_plane.jobs import Job
from control_plane.logs import get_logger
from control_plane.store.engine import try_lease
from control_plane.store.uow import unit_of_work

CHECKPOINT_LEASE_KEY = 0x63705F63686B70  # "cp_chkp"
MAX_POLL_SECONDS = 30.0
# Records walked per read transaction before the lock is taken. The SQLite store has one
# connection: a walk of the whole segment inside one transaction held every request's
# commit for its duration (240 ms for ~7,000 records, measured on the webhook intake).
# Between batches the walk gives way (``pace``, the server waits for a moment with no
# webhook delivery in progress). With 200-record batches back to back (5,000-10,000
# records every 30 s after a 30,000-event burst), 1,000/s webhook deliveries saw a ~0.5 s
# window of 50-100 ms acknowledgements; giving way, with 50-record batches, it went away.
PREVERIFY_BATCH = 50
Pace = Callable[[], Awaitable[None]]
_log = get_logger("control_plane.audit")


async def _yield() -> None:
    await asyncio.sleep(0)


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


async def preverify(
    engine: AsyncEngine,
    *,
    start: tuple[int, str],
    through_seq: int,
    batch: int = PREVERIFY_BATCH,
    pace: Pace = _yield,
) -> VerifiedPrefix | ChainBreak:
    """Walk the records after ``start`` up to ``through_seq`` in short read transactions,
    giving the loop and the connection back between them; the first break, if any."""
    at, checked, purges = start, 0, {}
    while at[0] < through_seq:
        async with unit_of_work(engine) as tx:
            segment = await walk_segment(
                tx, after_seq=at[0], after_hash=at[1], through_seq=min(at[0] + batch, through_seq)
            )
        if segment.chain_break is not None:
            return segment.chain_break
        if segment.checked == 0 or segment.last_seq is None or segment.last_hash is None:
            break  # records missing in the range: the locked walk decides
        at = (segment.last_seq, segment.last_hash)
        checked += segment.checked
        purges.update(segment.purges)
        await pace()
    return VerifiedPrefix(start=start, through=at, checked=checked, purges=purges)


def _refused(chain_break: ChainBreak) -> None:
    _log.error("audit.checkpoint_refused", reason=chain_break.reason, seq=chain_break.seq)


async def run_checkpoint_step(
    engine: AsyncEngine,
    *,
    key: Ed25519PrivateKey,
    settings: AuditSettings,
    now: datetime,
    pace: Pace = _yield,
    witness_file: Path | None = None,
) -> AuditCheckpoint | None:
    """One job step: under a lease (one replica at a time), sign the head if due.

    The records since the last checkpoint are walked first in short read transactions
    (``preverify``); under the write lock only what was appended meanwhile is walked.
    A chain that does not extend the last checkpoint is never signed: the step logs
    ``audit.checkpoint_refused`` naming the record and returns None, every time, until an
    operator runs ``control-plane audit verify``. A written checkpoint is then appended to
    ``witness_file`` (see audit/witness.py).
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
        start = segment_start(bounds, last)
    prefix = await preverify(engine, start=start, through_seq=bounds.head_seq, pace=pace)
    if isinstance(prefix, ChainBreak):
        _refused(prefix)
        return None
    async with unit_of_work(engine) as tx:
        if not await try_lease(await tx.connection(), CHECKPOINT_LEASE_KEY):
            return None
        try:
            checkpoint = await write_checkpoint(tx, key=key, now=now, prefix=prefix)
        except AuditChainBroken as exc:
            _refused(exc.chain_break)
            return None
    if checkpoint is not None:
        _log.info("audit.checkpoint_written", seq=checkpoint.head_seq)
        if witness_file is not None:
            await witness(witness_file, checkpoint)
    return checkpoint


async def witness(path: Path, checkpoint: AuditCheckpoint) -> None:
    """Append a committed checkpoint to the witness file; a failure is logged, and the
    next checkpoint (which covers this one's records) is witnessed instead."""
    try:
        await asyncio.to_thread(append_witness, path, checkpoint)
    except OSError as exc:
        _log.error(
            "audit.witness_write_failed", error_code=type(exc).__name__, seq=checkpoint.head_seq
        )


CHECKPOINT_JOB = "audit.checkpoint"


def audit_jobs(
    engine: AsyncEngine,
    *,
    key: Ed25519PrivateKey,
    settings: AuditSettings,
    clock: Callable[[], datetime],
    pace: Pace = _yield,
    witness_file: Path | None = None,
) -> list[Job]:
    """The checkpoint job (every replica runs it; the lease makes one sign at a time).
    ``pace`` runs between read batches (the server passes the webhook intake's)."""

    async def step() -> AuditCheckpoint | None:
        return await run_checkpoint_step(
            engine, key=key, settings=settings, now=clock(), pace=pace, witness_file=witness_file
        )

    return [Job(CHECKPOINT_JOB, poll_seconds(settings), step)]
