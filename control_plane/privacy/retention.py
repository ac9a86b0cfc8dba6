"""The retention reconciler: purge each class once its period has passed, audited.

Safe on every replica: each batch is one unit of work that first takes the class's lease
(a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer anyway), purges
at most ``BATCH`` rows per table, and appends a ``retention.purged`` record with the
counts in the same transaction, so a purge and its record commit together or not at all.

A row is due when ``clock <= now - period``: kept just before, purged at and after. A
legal hold on the row's subject or session (or on the owner of its session) suspends it.
Audit records go through ``audit.retention.purge_audit_records`` (prefix-only and covered
by a signed checkpoint), capped before the first record about a held subject or session.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.retention import purge_audit_records
from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.config import RetentionSettings
from control_plane.logs import get_logger
from control_plane.privacy.retention_map import (
    SESSION_CASCADE,
    TARGETS,
    RetentionClass,
    RetentionTarget,
    period_seconds,
)
from control_plane.store.engine import try_lease
from control_plane.store.metadata import load_metadata
from control_plane.store.uow import unit_of_work

BATCH = 2000
MAX_BATCHES_PER_PASS = 50
SYSTEM_ACTOR = "control-plane"
_log = get_logger("control_plane.privacy.retention")


def lease_key(retention_class: RetentionClass) -> int:
    """A stable advisory-lock key per class (CRC32 of its name, in a private range)."""
    return 0x63705F72_00000000 | zlib.crc32(f"retention:{retention_class.value}".encode())


@dataclass
class PurgeReport:
    """Rows purged per class and table in one pass."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, retention_class: RetentionClass, table: str, count: int) -> None:
        if count:
            by_table = self.counts.setdefault(retention_class.value, {})
            by_table[table] = by_table.get(table, 0) + count

    @property
    def total(self) -> int:
        return sum(sum(t.values()) for t in self.counts.values())


def _tables() -> Mapping[str, Table]:
    return load_metadata().tables


def _hold_filters(target: RetentionTarget, table: Table) -> list[ColumnElement[bool]]:
    tables = _tables()
    subject, session = tables["subject"], tables["voice_session"]
    held_subjects = select(subject.c.id).where(subject.c.legal_hold == true())
    held_sessions = select(session.c.id).where(
        or_(session.c.legal_hold == true(), session.c.owner_subject_id.in_(held_subjects))
    )
    filters: list[ColumnElement[bool]] = []
    if target.subject_column is not None:
        column = table.c[target.subject_column]
        filters.append(or_(column.is_(None), column.not_in(held_subjects)))
    if target.session_column is not None:
        column = table.c[target.session_column]
        filters.append(or_(column.is_(None), column.not_in(held_sessions)))
    return filters


def _due(target: RetentionTarget, table: Table, cutoff: datetime) -> ColumnElement[bool]:
    conditions = [table.c[target.clock].is_not(None), table.c[target.clock] <= cutoff]
    if target.only_if_set is not None:
        conditions.append(table.c[target.only_if_set].is_not(None))
    return and_(*conditions, *_hold_filters(target, table))


def _usable(target: RetentionTarget, table: Table) -> bool:
    needed = [target.clock, *target.clear, target.only_if_set, target.subject_column]
    needed.append(target.session_column)
    missing = [c for c in needed if c is not None and c not in table.c]
    if missing:
        _log.error("retention.target_unusable", reason="column missing", count=len(missing))
    return not missing and len(table.primary_key.columns) == 1


async def _purge_target(
    conn: AsyncConnection, target: RetentionTarget, table: Table, cutoff: datetime
) -> dict[str, int]:
    pk = next(iter(table.primary_key.columns))
    due_ids = select(pk).where(_due(target, table, cutoff)).limit(BATCH)
    if target.clear:
        result = await conn.execute(
            update(table).where(pk.in_(due_ids)).values({c: None for c in target.clear})
        )
        return {target.table: int(result.rowcount or 0)}
    if target.table == "voice_session":
        return await _purge_sessions(conn, due_ids)
    result = await conn.execute(delete(table).where(pk.in_(due_ids)))
    return {target.table: int(result.rowcount or 0)}


async def _purge_sessions(conn: AsyncConnection, due_ids: Select[Any]) -> dict[str, int]:
    """Delete due sessions and every row that belongs to them (children first)."""
    ids = [str(i) for i in (await conn.execute(due_ids)).scalars()]
    if not ids:
        return {}
    return await delete_session_rows(conn, ids)


async def delete_session_rows(conn: AsyncConnection, session_ids: list[str]) -> dict[str, int]:
    """Delete sessions and their dependent rows; counts per table (zeros omitted)."""
    tables = _tables()
    counts: dict[str, int] = {}
    for name, column in SESSION_CASCADE:
        child = tables.get(name)
        if child is None or column not in child.c:
            continue
        result = await conn.execute(delete(child).where(child.c[column].in_(session_ids)))
        if result.rowcount:
            counts[name] = int(result.rowcount)
    sessions = tables["voice_session"]
    result = await conn.execute(delete(sessions).where(sessions.c.id.in_(session_ids)))
    counts["voice_session"] = int(result.rowcount or 0)
    return counts


async def _audit_purge(
    tx: AsyncSession,
    retention_class: RetentionClass,
    counts: dict[str, int],
    cutoff: datetime,
    now: datetime,
) -> None:
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.RETENTION_PURGED,
            outcome=Outcome.SUCCESS,
            actor=SYSTEM_ACTOR,
            target=f"retention:{retention_class.value}",
            reason=f"{retention_class.value} past retention",
            details={
                "class": retention_class.value,
                "counts": counts,
                "cutoff": cutoff.isoformat(),
            },
        ),
        now=now,
    )


async def _purge_batch(
    engine: AsyncEngine, retention_class: RetentionClass, cutoff: datetime, now: datetime
) -> dict[str, int] | None:
    """One leased unit of work: at most BATCH rows per table; None if the lease is taken."""
    tables = _tables()
    async with unit_of_work(engine) as tx:
        conn = await tx.connection()
        if not await try_lease(conn, lease_key(retention_class)):
            return None
        counts: dict[str, int] = {}
        for target in TARGETS:
            table = tables.get(target.table)
            if target.retention_class is not retention_class or table is None:
                continue
            if not _usable(target, table):
                continue
            for name, count in (await _purge_target(conn, target, table, cutoff)).items():
                if count:
                    counts[name] = counts.get(name, 0) + count
        if counts:
            await _audit_purge(tx, retention_class, counts, cutoff, now)
        return counts


async def _audit_before(tx: AsyncSession, cutoff: datetime) -> datetime:
    """Records older than this may go: past the cutoff (inclusive), and before the first
    record about a held subject or session."""
    tables = _tables()
    records, subject, session = tables["audit_record"], tables["subject"], tables["voice_session"]
    held = (
        select(subject.c.id)
        .where(subject.c.legal_hold == true())
        .union(select(session.c.id).where(session.c.legal_hold == true()))
    )
    conn = await tx.connection()
    after_cutoff = cutoff + timedelta(microseconds=1)
    # Only held records before the cutoff can move the boundary; bounding ``ts`` lets the
    # ts index limit the scan to what is due (it scanned the whole log every pass).
    first = (
        await conn.execute(
            select(func.min(records.c.ts)).where(
                records.c.ts < after_cutoff,
                or_(records.c.actor.in_(held), records.c.target.in_(held)),
            )
        )
    ).scalar()
    if not isinstance(first, datetime):
        return after_cutoff
    if first.tzinfo is None:  # SQLite returns naive UTC
        first = first.replace(tzinfo=UTC)
    return min(after_cutoff, first)


async def _purge_audit(engine: AsyncEngine, cutoff: datetime, now: datetime) -> int | None:
    async with unit_of_work(engine) as tx:
        if not await try_lease(await tx.connection(), lease_key(RetentionClass.AUDIT_RECORD)):
            return None
        before = await _audit_before(tx, cutoff)
        purge = await purge_audit_records(tx, before=before, now=now)
        return purge.count if purge is not None else 0


async def purge_class(
    engine: AsyncEngine,
    *,
    retention_class: RetentionClass,
    settings: RetentionSettings,
    now: datetime,
    report: PurgeReport,
) -> None:
    """Purge one class until nothing is due (or the per-pass batch cap is reached)."""
    cutoff = now - timedelta(seconds=period_seconds(settings, retention_class))
    if retention_class is RetentionClass.AUDIT_RECORD:
        count = await _purge_audit(engine, cutoff, now)
        if count:
            report.add(retention_class, "audit_record", count)
    for _ in range(MAX_BATCHES_PER_PASS):
        counts = await _purge_batch(engine, retention_class, cutoff, now)
        if not counts:
            return
        for table, count in counts.items():
            report.add(retention_class, table, count)
        if max(counts.values()) < BATCH:
            return


async def run_retention(
    engine: AsyncEngine, *, settings: RetentionSettings, now: datetime
) -> PurgeReport:
    """One reconciler pass over every class (the job step and `control-plane retention run`)."""
    report = PurgeReport()
    for retention_class in RetentionClass:
        await purge_class(
            engine, retention_class=retention_class, settings=settings, now=now, report=report
        )
    if report.total:
        _log.info("retention.purged", count=report.total)
    return report
