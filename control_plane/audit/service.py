"""Audit service: append to the hash chain, checkpoint it, verify it, search and export it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.chain import (
    GENESIS_HASH,
    ChainBreak,
    find_break,
    is_checkpoint_valid,
    record_hash,
    sign_checkpoint,
)
from control_plane.audit.tables import AuditCheckpoint, AuditRecord
from control_plane.audit.types import EVENT_SCHEMAS, AuditEvent, Outcome
from control_plane.crypto.keyring import public_key_id
from control_plane.store.engine import lock_audit_tail
from control_plane.store.uow import keep_on_rollback

VERIFY_BATCH = 2000


async def append_audit(
    tx: AsyncSession, *, event: AuditEvent, now: datetime, record_id: str | None = None
) -> AuditRecord:
    """Append one record; a denial or failure record survives a rollback of its transaction.

    See ``append_audit_now`` for the chaining guarantees.
    """
    record = await append_audit_now(tx, event=event, now=now, record_id=record_id)
    if event.outcome is not Outcome.SUCCESS:
        rid = record.id

        async def _again(session: AsyncSession) -> None:
            await append_audit_now(session, event=event, now=now, record_id=rid)

        keep_on_rollback(tx, _again)
    return record


async def append_audit_now(
    tx: AsyncSession, *, event: AuditEvent, now: datetime, record_id: str | None = None
) -> AuditRecord:
    """Append one record linked to the chain tail; the chain stays linear across replicas.

    The tail is read under a transaction-scoped lock (``lock_audit_tail``), so two writers
    can never link to the same predecessor. The record becomes durable with the caller's
    transaction: a mint whose audit record cannot be written is rolled back with it.
    """
    schema = EVENT_SCHEMAS[event.type]
    missing = schema.required - set(event.details)
    if missing:
        raise ValueError(f"audit event {event.type} lacks details {sorted(missing)}")
    await lock_audit_tail(await tx.connection())
    tail = (
        await tx.exec(
            select(AuditRecord.seq, AuditRecord.hash).order_by(col(AuditRecord.seq).desc()).limit(1)
        )
    ).first()
    seq, prev_hash = (tail[0] + 1, tail[1]) if tail else (1, GENESIS_HASH)
    fields: dict[str, object] = {
        "seq": seq,
        "id": record_id or uuid.uuid4().hex,
        "ts": now,
        "event_type": event.type.value,
        "outcome": event.outcome.value,
        "actor": event.actor,
        "target": event.target,
        "reason": event.reason[:512],
        "decision_id": event.decision_id,
        "policy_version": event.policy_version,
        "request_id": event.request_id,
        "details": dict(event.details),
        "prev_hash": prev_hash,
    }
    record = AuditRecord.model_validate({**fields, "hash": record_hash(fields)})
    tx.add(record)
    await tx.flush()
    return record


async def write_checkpoint(
    tx: AsyncSession, *, key: Ed25519PrivateKey, now: datetime
) -> AuditCheckpoint | None:
    """Sign the current chain head (Ed25519); None when the chain is empty."""
    await lock_audit_tail(await tx.connection())
    head = (
        await tx.exec(select(AuditRecord).order_by(col(AuditRecord.seq).desc()).limit(1))
    ).first()
    if head is None:
        return None
    checkpoint = AuditCheckpoint(
        ts=now,
        head_seq=head.seq,
        head_hash=head.hash,
        key_id=public_key_id(key.public_key()),
        signature=sign_checkpoint(key, head.seq, head.hash, now),
    )
    tx.add(checkpoint)
    await tx.flush()
    return checkpoint


@dataclass(frozen=True)
class VerifyReport:
    records_checked: int
    checkpoints_checked: int
    first_seq: int | None
    head_seq: int | None
    chain_break: ChainBreak | None
    bad_checkpoint: int | None

    @property
    def is_intact(self) -> bool:
        return self.chain_break is None and self.bad_checkpoint is None


def _fields(record: AuditRecord) -> dict[str, object]:
    return record.model_dump()


async def verify_audit(tx: AsyncSession, *, public_key: Ed25519PublicKey) -> VerifyReport:
    """Walk the whole chain and every checkpoint; name the first bad record or checkpoint."""
    checked = 0
    first_seq: int | None = None
    head_seq: int | None = None
    start_hash: str | None = None
    after = 0
    chain_break: ChainBreak | None = None
    while chain_break is None:
        batch = (
            await tx.exec(
                select(AuditRecord)
                .where(col(AuditRecord.seq) > after)
                .order_by(col(AuditRecord.seq))
                .limit(VERIFY_BATCH)
            )
        ).all()
        if not batch:
            break
        if start_hash is None:
            first_seq = batch[0].seq
            # Records before first_seq may have been purged by retention: the first kept
            # record's link is trusted only if it is genesis or covered by a checkpoint.
            start_hash = batch[0].prev_hash if first_seq > 1 else GENESIS_HASH
        chain_break = find_break((_fields(r) for r in batch), start_hash=start_hash)
        checked += len(batch)
        start_hash = batch[-1].hash
        after = head_seq = batch[-1].seq
    bad_checkpoint: int | None = None
    checkpoints = (await tx.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id)))).all()
    for checkpoint in checkpoints:
        record = await tx.get(AuditRecord, checkpoint.head_seq)
        signed = is_checkpoint_valid(
            public_key,
            checkpoint.head_seq,
            checkpoint.head_hash,
            checkpoint.ts,
            checkpoint.signature,
        )
        if not signed or (record is not None and record.hash != checkpoint.head_hash):
            bad_checkpoint = checkpoint.id
            break
    return VerifyReport(
        records_checked=checked,
        checkpoints_checked=len(checkpoints),
        first_seq=first_seq,
        head_seq=head_seq,
        chain_break=chain_break,
        bad_checkpoint=bad_checkpoint,
    )


async def list_audit(
    tx: AsyncSession,
    *,
    after_seq: int = 0,
    limit: int = 100,
    actor: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[AuditRecord]:
    """Records in chain order after a cursor, filtered; at most ``limit``."""
    query = select(AuditRecord).where(col(AuditRecord.seq) > after_seq)
    if actor is not None:
        query = query.where(AuditRecord.actor == actor)
    if event_type is not None:
        query = query.where(AuditRecord.event_type == event_type)
    if since is not None:
        query = query.where(col(AuditRecord.ts) >= since)
    if until is not None:
        query = query.where(col(AuditRecord.ts) < until)
    return (await tx.exec(query.order_by(col(AuditRecord.seq)).limit(limit))).all()
