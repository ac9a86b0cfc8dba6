"""Purging old audit records without breaking verification (see ``audit.verify``).

Retention must call ``purge_audit_records`` rather than delete audit rows itself: it
removes a *prefix* of the chain, only records a signed checkpoint already covers, and
appends the ``retention.purged`` record (``audit_through_seq``/``audit_through_hash``)
that vouches for the new first record's link, all in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func
from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit_now, find_latest_checkpoint
from control_plane.audit.tables import AuditCheckpoint, AuditRecord
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.audit.verify import run_core
from control_plane.store.engine import lock_audit_tail
from control_plane.store.roles import purge_chain_prefix

_RECORDS = AuditRecord.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = AuditCheckpoint.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AuditPurge:
    """What a purge removed: ``count`` records, the chain prefix through ``through_seq``."""

    count: int
    through_seq: int
    through_hash: str
    record_seq: int  # the retention.purged record that vouches for the new start


async def purge_audit_records(
    tx: AsyncSession, *, before: datetime, now: datetime, request_id: str | None = None
) -> AuditPurge | None:
    """Delete the chain prefix older than ``before`` that the latest signed checkpoint
    covers, and append the ``retention.purged`` record vouching for the new start.

    None when nothing is old enough or no checkpoint covers it yet (the checkpoint job
    runs every ``audit.checkpoint_interval_seconds``, so records are never kept long past
    their retention for lack of one).
    """
    await lock_audit_tail(await tx.connection())
    last = await find_latest_checkpoint(tx)
    if last is None:
        return None
    boundary = (
        await run_core(
            tx,
            sa_select(func.max(_RECORDS.c.seq)).where(
                _RECORDS.c.ts < before, _RECORDS.c.seq <= last.head_seq
            ),
        )
    ).scalar()
    if boundary is None:
        return None
    through_seq = int(boundary)
    first_seq = int((await run_core(tx, sa_select(func.min(_RECORDS.c.seq)))).scalar_one())
    through_hash = (
        await run_core(tx, sa_select(_RECORDS.c.hash).where(_RECORDS.c.seq == through_seq))
    ).scalar_one()
    # The purge record goes in first: the chain's tail is never empty, so the next append
    # continues the sequence instead of starting a new chain at seq 1.
    record = await append_audit_now(
        tx,
        event=AuditEvent(
            type=AuditEventType.RETENTION_PURGED,
            outcome=Outcome.SUCCESS,
            reason="audit records past retention",
            request_id=request_id,
            details={
                "counts": {"audit_record": through_seq - first_seq + 1},
                "audit_through_seq": through_seq,
                "audit_through_hash": str(through_hash),
            },
        ),
        now=now,
    )
    # PostgreSQL: the app role cannot DELETE from the chain (T-AUD-5); the owner's
    # SECURITY DEFINER function removes the prefix after checking the checkpoint and the
    # purge record just appended. SQLite (no roles): plain deletes.
    count = await purge_chain_prefix(await tx.connection(), through_seq=through_seq)
    if count is None:
        deleted = await run_core(tx, delete(_RECORDS).where(_RECORDS.c.seq <= through_seq))
        count = int(deleted.rowcount or 0)  # type: ignore[attr-defined]
        await run_core(tx, delete(_CHECKPOINTS).where(_CHECKPOINTS.c.head_seq < through_seq))
    return AuditPurge(count, through_seq, str(through_hash), record.seq)
