"""The subject: its reads, its creation, and locking a subject (every status change).

A subject is a person known only by pseudonym (``identity.tables.Subject``). Its status is
read on every decision (``cedar_principal`` treats a subject that is not active as locked)
and changes in exactly one place, ``change_subject_status``, whoever asks:

- an administrator locks or unlocks it (``sessions.revocation``);
- a detector's ``lock`` response locks it (``risk.responses``);
- an erasure marks it ``erasing`` before its rows go (``privacy.erasure``);
- a new row for a pseudonym whose lock outlived an erasure starts ``locked``
  (``identity.suppression``; ``ensure_subject``).

An erased subject has no row: ``find_subject`` returns None and ``subject_status`` None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.identity.errors import SubjectNotFound
from control_plane.identity.suppression import (
    LOCKED_BEFORE_ERASURE,
    find_suppression,
    suppressed_among,
)
from control_plane.identity.tables import Subject
from control_plane.identity.types import Principal, SubjectId, SubjectStatus
from control_plane.store.engine import insert_new

LAST_SEEN_GRANULARITY = timedelta(minutes=5)
SUBJECT_ID_MAX_LENGTH = 64
SUBJECT_ID = re.compile(r"^sub_[0-9a-f]{32}$")
"""The shape of a pseudonym (``identity.pseudonym``); anything else is not a subject."""

_SUBJECTS = Subject.__table__  # type: ignore[attr-defined]


_TRANSITIONS: dict[SubjectStatus, frozenset[SubjectStatus]] = {
    SubjectStatus.ACTIVE: frozenset({SubjectStatus.LOCKED, SubjectStatus.ERASING}),
    SubjectStatus.LOCKED: frozenset({SubjectStatus.ACTIVE, SubjectStatus.ERASING}),
    SubjectStatus.ERASING: frozenset(),  # never unlocked: the erasure completes or rolls back
}


def is_active(status: str | None) -> bool:
    """Whether a subject with this status (None: never seen) may act."""
    return status == SubjectStatus.ACTIVE


def can_change_status(current: str, to: SubjectStatus) -> bool:
    """Whether ``current`` may become ``to`` (pure; an unknown status changes to nothing)."""
    try:
        return to in _TRANSITIONS[SubjectStatus(current)]
    except ValueError:
        return False


async def change_subject_status(
    tx: AsyncSession, subject: Subject, *, to: SubjectStatus, reason: str, now: datetime
) -> bool:
    """Locking a subject, unlocking it, marking it for erasure: the one writer of
    ``Subject.status``. Applies the change if the transition is allowed (``_TRANSITIONS``)
    and returns whether it did; a subject already in ``to`` (or in a status that cannot
    become ``to``) is left as it is. The caller audits."""
    if not can_change_status(subject.status, to):
        return False
    subject.status = to.value
    subject.status_reason = reason[:256]
    subject.status_changed_at = now
    tx.add(subject)
    await tx.flush()
    return True


def _new_subject_row(
    subject_id: str, *, tenant: str, suppressed: bool, now: datetime
) -> dict[str, object]:
    """A new subject: active, or locked if its lock outlived an erasure."""
    return {
        "id": subject_id,
        "tenant": tenant,
        "created_at": now,
        "last_seen_at": now,
        "status": (SubjectStatus.LOCKED if suppressed else SubjectStatus.ACTIVE).value,
        "status_reason": LOCKED_BEFORE_ERASURE if suppressed else "",
        "status_changed_at": now if suppressed else None,
        "legal_hold": False,
    }


async def find_subject(tx: AsyncSession, subject_id: SubjectId | str) -> Subject | None:
    """The subject row, or None if never seen (or erased)."""
    return await tx.get(Subject, subject_id)


async def get_subject(tx: AsyncSession, subject_id: str) -> Subject:
    """The subject behind a pseudonym from a URL, or SubjectNotFound."""
    subject = await find_subject(tx, subject_id) if SUBJECT_ID.match(subject_id) else None
    if subject is None:
        raise SubjectNotFound()
    return subject


async def ensure_subject(tx: AsyncSession, *, principal: Principal, now: datetime) -> Subject:
    """The principal's subject row, created if new (locked if its lock outlived an erasure);
    last-seen updated at most every 5 min.

    Race-safe: a new user's first requests arrive together (on several replicas too), so
    the row is inserted with ``ON CONFLICT DO NOTHING`` and then read. The loser of the
    race waits on the winner's insert and reads its row, instead of failing on the primary
    key (that was a 503 for all but one of the first concurrent requests).
    """
    subject = await tx.get(Subject, principal.subject_id)
    if subject is None:
        suppressed = await find_suppression(tx, principal.subject_id) is not None
        row = _new_subject_row(
            principal.subject_id, tenant=principal.tenant, suppressed=suppressed, now=now
        )
        await insert_new(await tx.connection(), _SUBJECTS, [row], key="id")
        subject = await tx.get(Subject, principal.subject_id)
        if subject is None:  # erased between the insert and the read
            raise SubjectNotFound()
        return subject
    last_seen = subject.last_seen_at
    if last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=now.tzinfo)
    if now - last_seen > LAST_SEEN_GRANULARITY:
        subject.last_seen_at = now
        tx.add(subject)
    return subject


# Built once (compiled forms are cached): these run for every batch of mints.
_SELECT_SUBJECTS = sa_select(_SUBJECTS.c.id, _SUBJECTS.c.status, _SUBJECTS.c.last_seen_at).where(
    _SUBJECTS.c.id.in_(bindparam("ids", expanding=True))
)
_TOUCH_SUBJECT = (
    sa_update(_SUBJECTS)
    .where(_SUBJECTS.c.id == bindparam("subject_id"))
    .values(last_seen_at=bindparam("seen_at"))
)


async def ensure_subjects(
    tx: AsyncSession, *, principals: Sequence[Principal], now: datetime
) -> dict[str, str]:
    """``ensure_subject`` for several principals at once (one read, at most one insert and
    one update): the status of each subject, keyed by subject id."""
    wanted = {principal.subject_id: principal for principal in principals}
    if not wanted:
        return {}
    connection = await tx.connection()
    rows = (await connection.execute(_SELECT_SUBJECTS, {"ids": list(wanted)})).all()
    statuses: dict[str, str] = {}
    stale: list[dict[str, object]] = []
    for subject_id, status, last_seen in rows:
        statuses[subject_id] = status
        seen = last_seen if last_seen.tzinfo is not None else last_seen.replace(tzinfo=now.tzinfo)
        if now - seen > LAST_SEEN_GRANULARITY:
            stale.append({"subject_id": subject_id, "seen_at": now})
    unseen = [subject_id for subject_id in wanted if subject_id not in statuses]
    suppressed = await suppressed_among(tx, unseen)  # a lock that outlived an erasure
    new = [
        _new_subject_row(
            subject_id,
            tenant=wanted[subject_id].tenant,
            suppressed=subject_id in suppressed,
            now=now,
        )
        for subject_id in unseen
    ]
    # A row another replica inserted first is just as new, and got the same status.
    await insert_new(connection, _SUBJECTS, new, key="id")
    statuses.update((str(row["id"]), str(row["status"])) for row in new)
    if stale:
        await connection.execute(_TOUCH_SUBJECT, stale)
    return statuses


_SUBJECT_STATUS = sa_select(_SUBJECTS.c.status).where(_SUBJECTS.c.id == bindparam("id"))


async def subject_status(tx: AsyncSession, subject_id: str) -> str | None:
    """The subject's status (``SubjectStatus``), or None if never seen (one Core read:
    join auditing asks for every join)."""
    if len(subject_id) > SUBJECT_ID_MAX_LENGTH:
        return None
    connection = await tx.connection()
    status = (await connection.execute(_SUBJECT_STATUS, {"id": subject_id})).scalar()
    return str(status) if status is not None else None
