"""Verifying the audit chain: links, hashes, signed checkpoints and purged prefixes.

Retention and verification (ASVS 16.4.2; DESIGN.md "Retention"): audit records are purged
as a *prefix* only (``audit.retention.purge_audit_records``), and only records already
covered by a signed checkpoint. The first kept record F then links to a record that no
longer exists, so its ``prev_hash`` cannot be checked against anything in the table.
Verification accepts F as the start of the chain only when something tamper-evident
vouches for that link:

- F is seq 1 and links to the genesis hash; or
- a ``retention.purged`` record that is itself in the verified chain says
  ``audit_through_seq == F - 1`` and ``audit_through_hash == F.prev_hash``; or
- a checkpoint whose Ed25519 signature verifies claims ``first_seq == F`` and
  ``first_prev_hash == F.prev_hash`` (checkpoints sign where the chain started, and the
  checkpoint writer refuses to sign a start that nothing explains).

Anything else is a break named at F: deleting old records without the purge path, or
truncating the chain at a checkpoint boundary, is found. Checkpoints whose head was
purged (head_seq < F) are checked by signature alone; a checkpoint whose head lies past
the current head means the tail was truncated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Executable, Result, RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.chain import (
    GENESIS_HASH,
    ChainBreak,
    CheckpointClaim,
    find_break,
    is_checkpoint_valid,
)
from control_plane.audit.tables import AuditCheckpoint, AuditRecord
from control_plane.audit.types import AuditEventType
from control_plane.crypto.keyring import public_key_id
from control_plane.store.uow import unit_of_work

VERIFY_BATCH = 2000
_RECORDS = AuditRecord.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = AuditCheckpoint.__table__  # type: ignore[attr-defined]

Row = RowMapping


@dataclass(frozen=True)
class CheckpointProblem:
    checkpoint_id: int
    head_seq: int
    reason: str


@dataclass(frozen=True)
class WitnessProblem:
    """A checkpoint the witness file holds that the database no longer stands behind (or
    a line of the file that is not a checkpoint); see ``audit.witness``."""

    line: int
    checkpoint_id: int | None
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    """The result of one verification pass; ``is_intact`` is the verdict."""

    records_checked: int
    checkpoints_checked: int
    first_seq: int | None
    head_seq: int | None
    anchor: str
    chain_break: ChainBreak | None
    checkpoint_problem: CheckpointProblem | None
    witnessed_checked: int = 0
    witness_problem: WitnessProblem | None = None

    @property
    def is_intact(self) -> bool:
        return (
            self.chain_break is None
            and self.checkpoint_problem is None
            and self.witness_problem is None
        )


@dataclass
class SegmentResult:
    """What a walk over part of the chain found."""

    checked: int = 0
    last_seq: int | None = None
    last_hash: str | None = None
    chain_break: ChainBreak | None = None
    # seq -> hash of every record seen, only for the sequence numbers asked for
    watched: dict[int, str] = field(default_factory=dict)
    # audit_through_seq -> audit_through_hash from retention.purged records in the segment
    purges: dict[int, str] = field(default_factory=dict)


async def run_core(tx: AsyncSession, statement: Executable) -> Result[Any]:
    """A Core statement on the session's connection: same transaction, no ORM objects."""
    connection = await tx.connection()
    return await connection.execute(statement)


def claim_of(row: Mapping[Any, object]) -> CheckpointClaim:
    """The signed claim of a checkpoint row."""
    ts = row["ts"]
    if not isinstance(ts, datetime):
        raise TypeError("checkpoint ts is not a datetime")
    return CheckpointClaim(
        first_seq=int(str(row["first_seq"])),
        first_prev_hash=str(row["first_prev_hash"]),
        head_seq=int(str(row["head_seq"])),
        head_hash=str(row["head_hash"]),
        ts=ts,
    )


async def iter_records(
    tx: AsyncSession, *, after_seq: int, through_seq: int | None = None, batch: int = VERIFY_BATCH
) -> AsyncIterator[Sequence[Row]]:
    """Raw record rows in sequence order, in batches (no ORM objects: verify is a scan)."""
    after = after_seq
    while True:
        query = select(_RECORDS).where(_RECORDS.c.seq > after)
        if through_seq is not None:
            query = query.where(_RECORDS.c.seq <= through_seq)
        rows = (await run_core(tx, query.order_by(_RECORDS.c.seq).limit(batch))).mappings().all()
        if not rows:
            return
        yield rows
        after = int(rows[-1]["seq"])
        if len(rows) < batch:
            return


def _purge_attestation(row: Row) -> tuple[int, str] | None:
    if row["event_type"] != AuditEventType.RETENTION_PURGED.value:
        return None
    details = row["details"]
    if not isinstance(details, Mapping):
        return None
    seq, digest = details.get("audit_through_seq"), details.get("audit_through_hash")
    if isinstance(seq, int) and isinstance(digest, str):
        return seq, digest
    return None


async def walk_segment(
    tx: AsyncSession,
    *,
    after_seq: int,
    after_hash: str,
    through_seq: int | None = None,
    watch: frozenset[int] = frozenset(),
) -> SegmentResult:
    """Check links and hashes of the records after ``after_seq`` (whose hash is
    ``after_hash``), stopping at the first break."""
    result = SegmentResult(last_seq=after_seq, last_hash=after_hash)
    async for rows in iter_records(tx, after_seq=after_seq, through_seq=through_seq):
        found = find_break(rows, start_hash=str(result.last_hash), start_seq=result.last_seq)
        for row in rows:
            seq = int(str(row["seq"]))
            if found is not None and seq >= found.seq:
                break
            result.checked += 1
            result.last_seq, result.last_hash = seq, str(row["hash"])
            if seq in watch:
                result.watched[seq] = str(row["hash"])
            attested = _purge_attestation(row)
            if attested is not None:
                result.purges[attested[0]] = attested[1]
        if found is not None:
            result.chain_break = found
            return result
    return result


async def _first_record(tx: AsyncSession) -> Row | None:
    query = select(_RECORDS.c.seq, _RECORDS.c.prev_hash).order_by(_RECORDS.c.seq).limit(1)
    return (await run_core(tx, query)).mappings().first()


def start_anchor(
    first_seq: int,
    first_prev_hash: str,
    *,
    purges: Mapping[int, str],
    claims: Sequence[CheckpointClaim],
) -> str | None:
    """What vouches for the chain starting at ``first_seq`` (None: nothing does)."""
    if first_seq == 1:
        return "genesis" if first_prev_hash == GENESIS_HASH else None
    if purges.get(first_seq - 1) == first_prev_hash:
        return "retention"
    for claim in claims:
        if claim.first_seq == first_seq and claim.first_prev_hash == first_prev_hash:
            return "checkpoint"
    return None


def _signature_problem(
    row: Row, keys: Mapping[str, tuple[int, Ed25519PublicKey]], newest: int
) -> str | None:
    known = keys.get(str(row["key_id"]))
    if known is None:
        return "signed by an unknown key"
    generation, key = known
    if generation < newest:
        # A retired key may have leaked: it vouches only for what it signed before the
        # key that replaced it signed anything.
        return "signed by a retired key after a newer key had signed"
    if not is_checkpoint_valid(key, claim_of(row), str(row["signature"])):
        return "signature does not verify (forged or altered checkpoint)"
    return None


def _check_signatures(
    rows: Sequence[Row], public_keys: Sequence[Ed25519PublicKey]
) -> tuple[list[Row], CheckpointProblem | None]:
    """Checkpoints (in id order) whose signature verifies with a trusted key, keys used in
    the order they were rotated in (``public_keys`` oldest first); the first problem."""
    keys = {public_key_id(key): (generation, key) for generation, key in enumerate(public_keys)}
    valid: list[Row] = []
    problem: CheckpointProblem | None = None
    newest = 0
    for row in rows:
        reason = _signature_problem(row, keys, newest)
        if reason is None:
            valid.append(row)
            newest = max(newest, keys[str(row["key_id"])][0])
        elif problem is None:
            problem = CheckpointProblem(int(str(row["id"])), int(str(row["head_seq"])), reason)
    return valid, problem


def _check_coverage(
    valid: Sequence[Row], segment: SegmentResult, first_seq: int | None
) -> CheckpointProblem | None:
    for row in valid:
        head_seq, head_hash = int(str(row["head_seq"])), str(row["head_hash"])
        cid = int(str(row["id"]))
        if first_seq is not None and head_seq < first_seq:
            continue  # its records were purged; the signature alone is checked
        if segment.chain_break is not None and head_seq >= segment.chain_break.seq:
            continue  # past the break: the break is the finding
        seen = segment.watched.get(head_seq)
        if seen is None:
            return CheckpointProblem(
                cid, head_seq, f"covers record {head_seq}, which is missing (truncated)"
            )
        if seen != head_hash:
            return CheckpointProblem(
                cid, head_seq, f"record {head_seq} no longer has the signed hash (rewritten)"
            )
    return None


Walk = Callable[[int, str, frozenset[int]], Awaitable[SegmentResult]]
"""Walks the chain after (seq, hash) to its end, watching the given sequence numbers."""
Pace = Callable[[], Awaitable[None]]
PACED_BATCH = 500


async def yield_once() -> None:
    """The least a pace can be: one turn of the event loop."""
    await asyncio.sleep(0)


async def verify_audit(
    tx: AsyncSession,
    *,
    public_key: Ed25519PublicKey,
    previous_public_keys: Sequence[Ed25519PublicKey] = (),
) -> VerifyReport:
    """Walk the whole kept chain and every checkpoint, in ``tx``; name the first bad record
    and the first bad checkpoint (see the module docstring for how purged prefixes are
    accepted).

    Checkpoints verify with ``public_key`` or a retired key (``previous_public_keys``,
    oldest first), each only until a newer key has signed a checkpoint.
    """
    rows = (await run_core(tx, select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.id))).mappings().all()
    first = await _first_record(tx)

    async def walk(after_seq: int, after_hash: str, watch: frozenset[int]) -> SegmentResult:
        return await walk_segment(tx, after_seq=after_seq, after_hash=after_hash, watch=watch)

    return await _verify(rows, first, (*previous_public_keys, public_key), walk)


async def verify_audit_paced(
    engine: AsyncEngine,
    *,
    public_key: Ed25519PublicKey,
    previous_public_keys: Sequence[Ed25519PublicKey] = (),
    batch: int = PACED_BATCH,
    pace: Pace = yield_once,
) -> VerifyReport:
    """``verify_audit`` without holding a transaction (or the event loop) for the whole walk.

    The chain as it stood at the start is walked ``batch`` records per short read
    transaction, with ``pace`` between them (the server passes the webhook intake's
    ``give_way``): a long chain no longer holds the embedded store's only connection, or
    the loop, for seconds. Records appended meanwhile are the next verification's. If the
    paced pass finds anything, the whole verification is repeated in one transaction and
    that is the answer: a retention purge between two batches cannot cause a finding.
    """
    keys = (*previous_public_keys, public_key)
    async with unit_of_work(engine) as tx:
        rows = (
            (await run_core(tx, select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.id))).mappings().all()
        )
        first = await _first_record(tx)
        head = (await run_core(tx, select(func.max(_RECORDS.c.seq)))).scalar()

    async def walk(after_seq: int, after_hash: str, watch: frozenset[int]) -> SegmentResult:
        total = SegmentResult(last_seq=after_seq, last_hash=after_hash)
        while head is not None and total.last_seq is not None and total.last_seq < head:
            at_seq, at_hash = total.last_seq, str(total.last_hash)
            async with unit_of_work(engine) as tx:
                part = await walk_segment(
                    tx,
                    after_seq=at_seq,
                    after_hash=at_hash,
                    through_seq=min(at_seq + batch, head),
                    watch=watch,
                )
            total.checked += part.checked
            total.watched.update(part.watched)
            total.purges.update(part.purges)
            total.last_seq, total.last_hash = part.last_seq, part.last_hash
            if part.chain_break is not None or part.checked == 0:
                total.chain_break = part.chain_break or ChainBreak(
                    at_seq + 1, "record missing (found by the paced walk)"
                )
                break
            if total.last_seq is not None and total.last_seq < head:
                await pace()  # between batches, not after the last
        return total

    report = await _verify(rows, first, keys, walk)
    if report.is_intact:
        return report
    async with unit_of_work(engine) as tx:
        return await verify_audit(
            tx, public_key=public_key, previous_public_keys=previous_public_keys
        )


async def _verify(
    rows: Sequence[Row], first: Row | None, public_keys: Sequence[Ed25519PublicKey], walk: Walk
) -> VerifyReport:
    valid, problem = _check_signatures(rows, public_keys)
    if first is None:
        segment = SegmentResult()
        first_seq: int | None = None
        anchor = "empty"
    else:
        first_seq = int(str(first["seq"]))
        segment = await walk(
            first_seq - 1,
            str(first["prev_hash"]),
            frozenset(int(str(r["head_seq"])) for r in valid),
        )
        found = start_anchor(
            first_seq,
            str(first["prev_hash"]),
            purges=segment.purges,
            claims=[claim_of(r) for r in valid],
        )
        anchor = found or "none"
        if found is None and (segment.chain_break is None or segment.chain_break.seq > first_seq):
            segment.chain_break = ChainBreak(
                first_seq,
                f"records before {first_seq} are missing and no retention record or signed "
                "checkpoint vouches for this start",
            )
    problem = problem or _check_coverage(valid, segment, first_seq)
    return VerifyReport(
        records_checked=segment.checked,
        checkpoints_checked=len(rows),
        first_seq=first_seq,
        head_seq=segment.last_seq if first_seq is not None else None,
        anchor=anchor,
        chain_break=segment.chain_break,
        checkpoint_problem=problem,
    )
