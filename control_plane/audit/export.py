"""OCSF JSON-lines export, resumable from a sequence cursor.

Records become visible in sequence order (``append_audit_now`` assigns seq N+1 only once
N's transaction ended), so "every record with seq > cursor" never skips one that commits
later: exporting with ``after = last_seq`` of the previous bundle gives no duplicates and
no gaps. Each bundle ends with ``ocsf.end_marker``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from control_plane.audit.ocsf import end_marker, to_ocsf
from control_plane.audit.service import find_chain_bounds, list_audit, scope_filter
from control_plane.audit.tables import AuditRecord
from control_plane.audit.types import AuditScope
from control_plane.store.uow import unit_of_work

EXPORT_BATCH = 500
MAX_EXPORT_LIMIT = 1_000_000


@dataclass
class ExportProgress:
    """Filled in as the export streams; ``last_seq`` is the cursor for the next run."""

    after_seq: int
    last_seq: int
    count: int = 0
    has_more: bool = False


def _line(event: object) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, sort_keys=True) + "\n"


async def _has_more(engine: AsyncEngine, scope: AuditScope, after_seq: int) -> bool:
    async with unit_of_work(engine) as tx:
        query = select(col(AuditRecord.seq)).where(col(AuditRecord.seq) > after_seq)
        where = scope_filter(scope)
        if where is not None:
            query = query.where(where)
        return (await tx.exec(query.limit(1))).first() is not None


async def stream_ocsf_export(
    engine: AsyncEngine,
    *,
    scope: AuditScope,
    after_seq: int,
    limit: int,
    product_version: str,
    clock: Callable[[], datetime],
    progress: ExportProgress | None = None,
) -> AsyncIterator[str]:
    """OCSF JSON lines for the records in ``scope`` after ``after_seq`` (at most ``limit``),
    then the end marker. One short read transaction per batch, so a long export holds no
    transaction open while the consumer reads."""
    state = progress or ExportProgress(after_seq=after_seq, last_seq=after_seq)
    remaining = min(limit, MAX_EXPORT_LIMIT)
    while remaining > 0:
        requested = min(EXPORT_BATCH, remaining)
        async with unit_of_work(engine) as tx:
            batch = await list_audit(tx, scope=scope, after_seq=state.last_seq, limit=requested)
        if not batch:
            break
        for record in batch:
            yield _line(to_ocsf(record, product_version=product_version))
        state.count += len(batch)
        state.last_seq = batch[-1].seq
        remaining -= len(batch)
        if len(batch) < requested:
            break
    state.has_more = await _has_more(engine, scope, state.last_seq)
    async with unit_of_work(engine) as tx:
        bounds = await find_chain_bounds(tx)
    yield _line(
        end_marker(
            after_seq=state.after_seq,
            last_seq=state.last_seq,
            count=state.count,
            has_more=state.has_more,
            head_seq=bounds.head_seq if bounds else None,
            now=clock(),
            product_version=product_version,
        )
    )
