"""Audit service: append to the hash chain, checkpoint it, search it.

Verification lives in ``audit.verify``, the OCSF export in ``audit.export`` and the purge
path retention uses in ``audit.retention``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement, or_
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.chain import (
    GENESIS_HASH,
    ChainBreak,
    CheckpointClaim,
    record_hash,
    sign_checkpoint,
)
from control_plane.audit.tables import AuditCheckpoint, AuditRecord
from control_plane.audit.types import EVENT_SCHEMAS, AuditEvent, AuditScope, Outcome
from control_plane.audit.verify import claim_of, run_core, start_anchor, walk_segment
from control_plane.crypto.keyring import public_key_id
from control_plane.errors import Conflict
from control_plane.store.engine import lock_audit_tail
from control_plane.store.uow import keep_on_rollback

_RECORDS = AuditRecord.__table__  # type: ignore[attr-defined]
# Built once: SQLAlchemy caches their compiled form, the hot path only binds parameters.
_INSERT_RECORD = sa_insert(_RECORDS)
_SELECT_TAIL = sa_select(_RECORDS.c.seq, _RECORDS.c.hash).order_by(_RECORDS.c.seq.desc()).limit(1)
_CHECKPOINTS = AuditCheckpoint.__table__  # type: ignore[attr-defined]


class AuditChainBroken(Conflict):
    """The chain does not verify, so it must not be signed."""

    code = "audit_chain_broken"
    default_message = "the audit chain does not verify"

    def __init__(self, chain_break: ChainBreak) -> None:
        super().__init__(f"record {chain_break.seq}: {chain_break.reason}")
        self.chain_break = chain_break


_TENANT = "cp.audit_tenant"


@dataclass(frozen=True, slots=True)
class AppendedRecord:
    """Where a record landed in the chain (building the full model costs more than the
    insert on the mint path)."""

    seq: int
    id: str
    hash: str
    tenant: str | None


def set_audit_tenant(tx: AsyncSession, tenant: str | None) -> None:
    """Records this unit of work appends belong to ``tenant`` unless an event names one.

    Set once the caller is known (``identity.deps.get_principal``, the login callback): a
    caller acts within its own tenant (the cross-tenant forbids see to that), so its
    records are its tenant auditors' to read. Without it, records are platform-wide.
    """
    tx.info[_TENANT] = tenant


def audit_tenant(tx: AsyncSession) -> str | None:
    """The tenant this unit of work's records belong to (``set_audit_tenant``); None:
    platform-wide. Rows written beside the records (an anomaly) take the same owner."""
    tenant = tx.info.get(_TENANT)
    return str(tenant) if tenant is not None else None


async def append_audit(
    tx: AsyncSession, *, event: AuditEvent, now: datetime, record_id: str | None = None
) -> AppendedRecord:
    """Append one record; a denial or failure record survives a rollback of its transaction.

    See ``append_audit_now`` for the chaining guarantees.
    """
    (record,) = await append_audit_many(
        tx, events=[event], now=now, record_ids=[record_id] if record_id else None
    )
    return record


async def append_audit_many(
    tx: AsyncSession,
    *,
    events: Sequence[AuditEvent],
    now: datetime,
    record_ids: Sequence[str] | None = None,
) -> list[AppendedRecord]:
    """Append records in order (one lock, one tail read, one multi-row insert); each denial
    or failure record survives a rollback of its transaction, as ``append_audit`` does."""
    records = await append_audit_now_many(tx, events=events, now=now, record_ids=record_ids)
    kept = [
        (event, record.id)
        for event, record in zip(events, records, strict=True)
        if event.outcome is not Outcome.SUCCESS
    ]
    if kept:

        async def _again(session: AsyncSession) -> None:
            await append_audit_now_many(
                session,
                events=[event for event, _ in kept],
                now=now,
                record_ids=[rid for _, rid in kept],
            )

        keep_on_rollback(tx, _again)
    return records


async def append_audit_now(
    tx: AsyncSession, *, event: AuditEvent, now: datetime, record_id: str | None = None
) -> AppendedRecord:
    """Append one record linked to the chain tail; the chain stays linear across replicas.

    The tail is read under a transaction-scoped lock (``lock_audit_tail``), so two writers
    can never link to the same predecessor, and sequence numbers become visible in order
    (seq N+1 is assigned only after N's transaction ended), which is what makes a cursor
    over ``seq`` a complete, resumable export. The primary key on ``seq`` backs this up:
    a second writer on the same tail fails instead of forking the chain. The record becomes
    durable with the caller's transaction: a mint whose audit record cannot be written is
    rolled back with it.
    """
    (record,) = await append_audit_now_many(
        tx, events=[event], now=now, record_ids=[record_id] if record_id else None
    )
    return record


async def append_audit_now_many(
    tx: AsyncSession,
    *,
    events: Sequence[AuditEvent],
    now: datetime,
    record_ids: Sequence[str] | None = None,
) -> list[AppendedRecord]:
    """``append_audit_now`` for several records: consecutive links of the chain, written
    with one statement (a batch of mints shares one lock and one tail read)."""
    if record_ids is not None and len(record_ids) != len(events):
        raise ValueError("record_ids must have one id per event")
    for event in events:
        missing = EVENT_SCHEMAS[event.type].required - set(event.details)
        if missing:
            raise ValueError(f"audit event {event.type} lacks details {sorted(missing)}")
    if not events:
        return []
    # SQLite stores wall-clock time without an offset: hash what will be read back.
    ts = now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)
    connection = await tx.connection()
    await lock_audit_tail(connection)
    tail = (await run_core(tx, _SELECT_TAIL)).mappings().first()
    seq, prev_hash = (int(tail["seq"]), str(tail["hash"])) if tail else (0, GENESIS_HASH)
    default_tenant = tx.info.get(_TENANT)
    rows: list[dict[str, object]] = []
    appended: list[AppendedRecord] = []
    for index, event in enumerate(events):
        seq += 1
        tenant = event.tenant if event.tenant is not None else default_tenant
        fields: dict[str, object] = {
            "seq": seq,
            "id": (record_ids[index] if record_ids is not None else None) or secrets.token_hex(16),
            "ts": ts,
            "event_type": event.type.value,
            "outcome": event.outcome.value,
            "actor": event.actor,
            "target": event.target,
            "reason": event.reason[:512],
            "decision_id": event.decision_id,
            "policy_version": event.policy_version,
            "request_id": event.request_id,
            "details": dict(event.details),
            "tenant": tenant,
            "prev_hash": prev_hash,
        }
        prev_hash = record_hash(fields)
        rows.append({**fields, "hash": prev_hash})
        appended.append(
            AppendedRecord(seq=seq, id=str(fields["id"]), hash=prev_hash, tenant=tenant)
        )
    # A Core insert, not an ORM flush: this runs on every mint and the unit-of-work
    # machinery costs more than the insert.
    await connection.execute(_INSERT_RECORD, rows)
    return appended


@dataclass(frozen=True)
class ChainBounds:
    """The kept chain: its first record's link and its head."""

    first_seq: int
    first_prev_hash: str
    head_seq: int
    head_hash: str


async def find_chain_bounds(tx: AsyncSession) -> ChainBounds | None:
    """First and last record of the kept chain; None when it is empty."""
    first = (
        (
            await run_core(
                tx,
                sa_select(_RECORDS.c.seq, _RECORDS.c.prev_hash).order_by(_RECORDS.c.seq).limit(1),
            )
        )
        .mappings()
        .first()
    )
    head = (
        (
            await run_core(
                tx,
                sa_select(_RECORDS.c.seq, _RECORDS.c.hash).order_by(_RECORDS.c.seq.desc()).limit(1),
            )
        )
        .mappings()
        .first()
    )
    if first is None or head is None:
        return None
    return ChainBounds(
        int(first["seq"]), str(first["prev_hash"]), int(head["seq"]), str(head["hash"])
    )


async def find_latest_checkpoint(tx: AsyncSession) -> AuditCheckpoint | None:
    """The most recent checkpoint, or None."""
    query = select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(1)
    return (await tx.exec(query)).first()


@dataclass(frozen=True)
class VerifiedPrefix:
    """Records already checked outside the write lock: the walk from ``start`` reached
    ``through`` intact and saw these retention ``purges``."""

    start: tuple[int, str]
    through: tuple[int, str]
    checked: int
    purges: dict[int, str]


def segment_start(bounds: ChainBounds, last: AuditCheckpoint | None) -> tuple[int, str]:
    """Where the records a new checkpoint must vouch for begin (seq and hash before them):
    after the last checkpoint, or at the kept chain's start when there is none or
    retention removed what it covered."""
    if last is not None and last.head_seq >= bounds.first_seq:
        return last.head_seq, last.head_hash
    return bounds.first_seq - 1, bounds.first_prev_hash


async def _check_since(
    tx: AsyncSession,
    bounds: ChainBounds,
    last: AuditCheckpoint | None,
    prefix: VerifiedPrefix | None = None,
) -> None:
    """Refuse to sign a chain that does not extend the last checkpoint (ASVS 16.4.2).

    Only the records since the last checkpoint are walked: everything before it is
    covered by its signature over the head hash, which the first new record links to.
    A ``prefix`` checked earlier from the same start is not walked again.
    """
    start = segment_start(bounds, last)
    walk_from = start
    checked, purges = 0, {}
    if prefix is not None and prefix.start == start and prefix.through[0] <= bounds.head_seq:
        walk_from, checked, purges = prefix.through, prefix.checked, dict(prefix.purges)
    segment = await walk_segment(
        tx, after_seq=walk_from[0], after_hash=walk_from[1], through_seq=bounds.head_seq
    )
    checked += segment.checked
    purges.update(segment.purges)
    if last is not None and last.head_seq >= bounds.first_seq:
        if segment.chain_break is None and checked == 0:
            kept = (
                await run_core(
                    tx, sa_select(_RECORDS.c.hash).where(_RECORDS.c.seq == last.head_seq)
                )
            ).scalar()
            if kept != last.head_hash:
                segment.chain_break = ChainBreak(last.head_seq, "no longer has the signed hash")
        start_ok = bounds.first_seq == last.first_seq or (
            purges.get(bounds.first_seq - 1) == bounds.first_prev_hash
        )
    else:
        claims = [claim_of(last.model_dump())] if last is not None else []
        start_ok = (
            start_anchor(bounds.first_seq, bounds.first_prev_hash, purges=purges, claims=claims)
            is not None
        )
    if segment.chain_break is not None:
        raise AuditChainBroken(segment.chain_break)
    if not start_ok:
        raise AuditChainBroken(
            ChainBreak(bounds.first_seq, "records before it were removed without a purge record")
        )


async def write_checkpoint(
    tx: AsyncSession,
    *,
    key: Ed25519PrivateKey,
    now: datetime,
    prefix: VerifiedPrefix | None = None,
) -> AuditCheckpoint | None:
    """Sign where the kept chain starts and ends (Ed25519); None when the chain is empty or
    nothing changed since the last checkpoint. Raises ``AuditChainBroken`` rather than sign
    a chain that does not extend the last checkpoint.

    The walk happens under the audit write lock; pass a ``prefix`` (see
    ``audit.jobs.preverify``) so that only the records appended since are walked there.
    """
    await lock_audit_tail(await tx.connection())
    bounds = await find_chain_bounds(tx)
    if bounds is None:
        return None
    last = await find_latest_checkpoint(tx)
    if last is not None and last.head_seq == bounds.head_seq and last.first_seq == bounds.first_seq:
        return None
    await _check_since(tx, bounds, last, prefix)
    claim = CheckpointClaim(
        first_seq=bounds.first_seq,
        first_prev_hash=bounds.first_prev_hash,
        head_seq=bounds.head_seq,
        head_hash=bounds.head_hash,
        ts=now.astimezone(UTC),
    )
    checkpoint = AuditCheckpoint(
        ts=claim.ts,
        first_seq=claim.first_seq,
        first_prev_hash=claim.first_prev_hash,
        head_seq=claim.head_seq,
        head_hash=claim.head_hash,
        key_id=public_key_id(key.public_key()),
        signature=sign_checkpoint(key, claim),
    )
    tx.add(checkpoint)
    await tx.flush()
    return checkpoint


def scope_filter(scope: AuditScope) -> ColumnElement[bool] | None:
    """The WHERE clause limiting records to a reader's scope (None: no limit)."""
    if scope.everything:
        return None
    clauses: list[ColumnElement[bool]] = []
    if scope.tenants:
        clauses.append(col(AuditRecord.tenant).in_(sorted(scope.tenants)))
    if scope.platform:
        clauses.append(col(AuditRecord.tenant).is_(None))
    if not clauses:
        return col(AuditRecord.seq) < 0  # nothing
    return or_(*clauses)


async def list_audit(
    tx: AsyncSession,
    *,
    scope: AuditScope,
    after_seq: int = 0,
    limit: int = 100,
    actor: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[AuditRecord]:
    """Records in the reader's scope, in chain order after a cursor, filtered; at most
    ``limit``."""
    query = select(AuditRecord).where(col(AuditRecord.seq) > after_seq)
    where = scope_filter(scope)
    if where is not None:
        query = query.where(where)
    if actor is not None:
        query = query.where(col(AuditRecord.actor) == actor)
    if event_type is not None:
        query = query.where(col(AuditRecord.event_type) == event_type)
    if since is not None:
        query = query.where(col(AuditRecord.ts) >= since)
    if until is not None:
        query = query.where(col(AuditRecord.ts) < until)
    return (await tx.exec(query.order_by(col(AuditRecord.seq)).limit(limit))).all()
