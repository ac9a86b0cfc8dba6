"""Per-subject data keys: created on first use, unwrapped per use, destroyed on erasure,
re-wrapped when the key-encryption key rotates.

There is deliberately no cache of unwrapped data keys: an unwrap is one AES-GCM operation
on 32 bytes (microseconds), while a cache on several replicas would keep a destroyed key
usable in memory after an erasure elsewhere (crypto-shredding must be immediate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.crypto.envelope import (
    DataKey,
    EnvelopeError,
    generate_data_key,
    kek_id,
    unwrap_data_key,
    wrap_data_key,
)
from control_plane.crypto.keyring import KeyRing
from control_plane.crypto.tables import SubjectDataKey
from control_plane.errors import Unavailable
from control_plane.identity.tables import Subject
from control_plane.logs import get_logger
from control_plane.store.uow import unit_of_work

_log = get_logger("control_plane.crypto")
ROTATION_BATCH = 500


class DataKeyUnavailable(Unavailable):
    """A stored data key cannot be unwrapped with any KEK this process holds."""

    code = "data_key_unavailable"
    default_message = "encryption key unavailable"


def _unwrap(keys: KeyRing, row: SubjectDataKey) -> DataKey:
    kek = keys.keks().get(row.kek_id)
    if kek is None:
        # A replica that has not been given the new KEK yet (or a retired KEK's wrap).
        _log.error("crypto.kek_unknown", reason="no KEK with the stored id", count=1)
        raise DataKeyUnavailable()
    try:
        return unwrap_data_key(kek, row.wrapped_key, subject_id=row.subject_id)
    except EnvelopeError as exc:
        _log.error("crypto.unwrap_failed", reason="wrapped key failed authentication")
        raise DataKeyUnavailable() from exc


async def find_data_key(tx: AsyncSession, *, keys: KeyRing, subject_id: str) -> DataKey | None:
    """The subject's data key, or None when it was never created or has been destroyed."""
    row = await tx.get(SubjectDataKey, subject_id)
    return _unwrap(keys, row) if row is not None else None


async def ensure_data_key(
    tx: AsyncSession, *, keys: KeyRing, subject_id: str, now: datetime
) -> DataKey:
    """The subject's data key, created (and wrapped under the current KEK) on first use.

    Creation locks the subject row, so two replicas creating the first key of one subject
    serialise, and creation cannot interleave with an erasure (which holds the same lock).
    """
    existing = await find_data_key(tx, keys=keys, subject_id=subject_id)
    if existing is not None:
        return existing
    await tx.exec(select(Subject.id).where(Subject.id == subject_id).with_for_update())
    row = await tx.get(SubjectDataKey, subject_id, populate_existing=True)
    if row is not None:
        return _unwrap(keys, row)
    material = generate_data_key()
    tx.add(
        SubjectDataKey(
            subject_id=subject_id,
            wrapped_key=wrap_data_key(keys.kek, material, subject_id=subject_id),
            kek_id=keys.kek_id,
            created_at=now,
        )
    )
    await tx.flush()
    return DataKey(subject_id=subject_id, material=material)


async def destroy_data_key(tx: AsyncSession, *, subject_id: str) -> bool:
    """Crypto-shred: delete the subject's wrapped data key; True if one existed."""
    result = await tx.exec(
        delete(SubjectDataKey).where(col(SubjectDataKey.subject_id) == subject_id)
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class RotationReport:
    target_kek_id: str
    rewrapped: int
    already_current: int
    unknown_kek: dict[str, int]

    @property
    def is_complete(self) -> bool:
        return not self.unknown_kek


async def _rotate_batch(
    tx: AsyncSession,
    *,
    target: bytes,
    sources: Mapping[str, bytes],
    skip: set[str],
    now: datetime,
) -> tuple[int, dict[str, int]]:
    target_id = kek_id(target)
    rows = (
        await tx.exec(
            select(SubjectDataKey)
            .where(col(SubjectDataKey.kek_id).not_in([target_id, *skip]))
            .order_by(col(SubjectDataKey.subject_id))
            .limit(ROTATION_BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    unknown: dict[str, int] = {}
    done = 0
    for row in rows:
        source = sources.get(row.kek_id)
        if source is None:
            unknown[row.kek_id] = unknown.get(row.kek_id, 0) + 1
            continue
        try:
            key = unwrap_data_key(source, row.wrapped_key, subject_id=row.subject_id)
        except EnvelopeError:
            unknown[row.kek_id] = unknown.get(row.kek_id, 0) + 1
            continue
        row.wrapped_key = wrap_data_key(target, key.material, subject_id=row.subject_id)
        row.kek_id = target_id
        row.rewrapped_at = now
        tx.add(row)
        done += 1
    await tx.flush()
    return done, unknown


async def rotate_kek(
    engine: AsyncEngine,
    *,
    target: bytes,
    sources: Mapping[str, bytes],
    actor: str,
    now: datetime,
) -> RotationReport:
    """Re-wrap every data key not under ``target``, unwrapping with ``sources`` (by KEK id).

    One unit of work per batch of rows (locked, skipping rows another replica is doing), so
    the command can be interrupted and run again. Data keys themselves do not change: no
    ciphertext is re-encrypted, which is what makes rotation cheap. Audited once, with counts.
    """
    target_id = kek_id(target)
    rewrapped = 0
    unknown: dict[str, int] = {}
    while True:
        async with unit_of_work(engine) as tx:
            done, missing = await _rotate_batch(
                tx, target=target, sources=sources, skip=set(unknown), now=now
            )
        for key_id, count in missing.items():
            unknown[key_id] = unknown.get(key_id, 0) + count
        rewrapped += done
        if not done and not missing:
            break
    async with unit_of_work(engine) as tx:
        current = len(
            (
                await tx.exec(
                    select(SubjectDataKey.subject_id).where(SubjectDataKey.kek_id == target_id)
                )
            ).all()
        )
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.KEY_ROTATED,
                outcome=Outcome.SUCCESS if not unknown else Outcome.FAILURE,
                actor=actor,
                target=f"kek:{target_id}",
                reason="data keys re-wrapped under a new key-encryption key",
                details={
                    "key": "kek",
                    "kek_id": target_id,
                    "rewrapped": rewrapped,
                    "under_target": current,
                    "unknown_kek": dict(unknown),
                },
            ),
            now=now,
        )
    return RotationReport(
        target_kek_id=target_id,
        rewrapped=rewrapped,
        already_current=current - rewrapped,
        unknown_kek=unknown,
    )
