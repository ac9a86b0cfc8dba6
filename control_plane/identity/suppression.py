"""Locks that survive erasure: an erased subject who was locked stays locked.

Erasure deletes the subject row, and the pseudonym is recomputed from the IdP's ``sub``
at the next login, so without a trace of the lock an erased, locked subject would come
back active. The suppression record keeps only the pseudonym, its tenant and a reason
code (no personal data beyond the pseudonym, kept on the security ground of GDPR
Art. 17(3)(e)); a subject row created for a suppressed pseudonym starts locked, and an
unlock deletes the record.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.identity.tables import SubjectSuppression

LOCKED_BEFORE_ERASURE = "locked_before_erasure"
"""The reason code of a suppression written by an erasure (and the new row's reason)."""

_SUPPRESSIONS = SubjectSuppression.__table__  # type: ignore[attr-defined]
_SELECT_SUPPRESSED = sa_select(_SUPPRESSIONS.c.subject_id).where(
    _SUPPRESSIONS.c.subject_id.in_(bindparam("ids", expanding=True))
)


async def suppress_subject(
    tx: AsyncSession, *, subject_id: str, tenant: str, reason_code: str, now: datetime
) -> SubjectSuppression:
    """Record that this pseudonym is locked, to outlive the subject row (idempotent)."""
    row = await tx.get(SubjectSuppression, subject_id)
    if row is None:
        row = SubjectSuppression(
            subject_id=subject_id, tenant=tenant, reason_code=reason_code[:32], created_at=now
        )
        tx.add(row)
        await tx.flush()
    return row


async def find_suppression(tx: AsyncSession, subject_id: str) -> SubjectSuppression | None:
    """The suppression record of a pseudonym, or None."""
    return await tx.get(SubjectSuppression, subject_id)


async def suppressed_among(tx: AsyncSession, subject_ids: Collection[str]) -> set[str]:
    """Which of these pseudonyms are suppressed (one read; none for an empty set)."""
    if not subject_ids:
        return set()
    connection = await tx.connection()
    rows = (await connection.execute(_SELECT_SUPPRESSED, {"ids": list(subject_ids)})).all()
    return {str(row[0]) for row in rows}


async def lift_suppression(tx: AsyncSession, *, subject_id: str) -> bool:
    """Delete the pseudonym's suppression record (at unlock); whether there was one."""
    row = await tx.get(SubjectSuppression, subject_id)
    if row is None:
        return False
    await tx.delete(row)
    await tx.flush()
    return True
