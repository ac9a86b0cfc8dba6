"""The witness file: every signed checkpoint also appended to a file outside the database.

The chain and its checkpoints live in the same database. Someone who can write to it
(but holds no signing key) cannot alter a record a checkpoint covers, but can cut the
tail: delete the newest records and the checkpoints over them, leaving a shorter chain
that verifies. The witness file (``audit.witness_file``; point it at append-only or
write-once storage, or a path a log shipper forwards) keeps a copy of each checkpoint the
database cannot take back; verification with it finds the cut.

A line is one checkpoint as JSON. It is appended (``O_APPEND``) and flushed to disk after
the checkpoint's transaction commits; a crash between the two loses one copy, never
invents one. Each witnessed checkpoint must still be in the database, signed by a trusted
key, with the chain still holding its head (or that head purged through retention, which
verification checks on its own).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.chain import CheckpointClaim, canonical_ts, is_checkpoint_valid
from control_plane.audit.tables import AuditCheckpoint, AuditRecord
from control_plane.audit.verify import (
    Pace,
    VerifyReport,
    WitnessProblem,
    run_core,
    verify_audit_paced,
    yield_once,
)
from control_plane.crypto.keyring import public_key_id
from control_plane.store.uow import unit_of_work

MAX_LINE_BYTES = 4096
WITNESS_BATCH = 500
_RECORDS = AuditRecord.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = AuditCheckpoint.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Witnessed:
    """One checkpoint as the witness file keeps it (and the file line it is on)."""

    line: int
    checkpoint_id: int
    claim: CheckpointClaim
    key_id: str
    signature: str


class WitnessFileInvalid(Exception):
    """A line of the witness file is not a checkpoint (``problem`` names it)."""

    def __init__(self, problem: WitnessProblem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


def witness_line(checkpoint: AuditCheckpoint) -> str:
    """The JSON line of a committed checkpoint."""
    return json.dumps(
        {
            "id": checkpoint.id,
            "ts": canonical_ts(checkpoint.ts),
            "first_seq": checkpoint.first_seq,
            "first_prev_hash": checkpoint.first_prev_hash,
            "head_seq": checkpoint.head_seq,
            "head_hash": checkpoint.head_hash,
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def append_witness(path: Path, checkpoint: AuditCheckpoint) -> None:
    """Append the checkpoint's line and flush it to disk (blocking: call off the loop)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (witness_line(checkpoint) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(line_no: int, text: str) -> Witnessed:
    def bad(reason: str) -> WitnessFileInvalid:
        return WitnessFileInvalid(WitnessProblem(line_no, None, f"line {line_no}: {reason}"))

    if len(text.encode()) > MAX_LINE_BYTES:
        raise bad("too long")
    try:
        data = json.loads(text)
    except ValueError:
        raise bad("not JSON") from None
    if not isinstance(data, dict):
        raise bad("not an object")
    try:
        return Witnessed(
            line=line_no,
            checkpoint_id=_int(data["id"]),
            claim=CheckpointClaim(
                first_seq=_int(data["first_seq"]),
                first_prev_hash=_str(data["first_prev_hash"]),
                head_seq=_int(data["head_seq"]),
                head_hash=_str(data["head_hash"]),
                ts=datetime.fromisoformat(_str(data["ts"]).replace("Z", "+00:00")),
            ),
            key_id=_str(data["key_id"]),
            signature=_str(data["signature"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"not a checkpoint ({type(exc).__name__})") from None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("expected a non-negative integer")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise TypeError("expected a short string")
    return value


def read_witness(path: Path) -> list[Witnessed]:
    """Every checkpoint in the file (none if it does not exist); ``WitnessFileInvalid``
    names the first line that is not one."""
    if not path.exists():
        return []
    found: list[Witnessed] = []
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            if line.strip():
                found.append(_parse(line_no, line.strip()))
    return found


async def check_witness(
    tx: AsyncSession,
    witnessed: Sequence[Witnessed],
    *,
    public_keys: Sequence[Ed25519PublicKey],
    first_kept_seq: int | None,
) -> WitnessProblem | None:
    """The first witnessed checkpoint the database no longer stands behind, or None (two
    reads for the whole batch: the checkpoints by id, their heads by sequence number)."""
    keys: Mapping[str, Ed25519PublicKey] = {public_key_id(k): k for k in public_keys}
    if not witnessed:
        return None
    checkpoints = await run_core(
        tx,
        select(_CHECKPOINTS.c.id, _CHECKPOINTS.c.signature).where(
            _CHECKPOINTS.c.id.in_({c.checkpoint_id for c in witnessed})
        ),
    )
    stored = {int(row["id"]): str(row["signature"]) for row in checkpoints.mappings()}
    records = await run_core(
        tx,
        select(_RECORDS.c.seq, _RECORDS.c.hash).where(
            _RECORDS.c.seq.in_({c.claim.head_seq for c in witnessed})
        ),
    )
    heads = {int(row["seq"]): str(row["hash"]) for row in records.mappings()}
    for copy in witnessed:
        problem = _check_one(copy, keys, stored, heads, first_kept_seq)
        if problem is not None:
            return WitnessProblem(copy.line, copy.checkpoint_id, problem)
    return None


def _check_one(
    copy: Witnessed,
    keys: Mapping[str, Ed25519PublicKey],
    stored: Mapping[int, str],
    heads: Mapping[int, str],
    first_kept_seq: int | None,
) -> str | None:
    key = keys.get(copy.key_id)
    if key is None or not is_checkpoint_valid(key, copy.claim, copy.signature):
        return "its signature does not verify with a trusted key"
    if stored.get(copy.checkpoint_id) != copy.signature:
        return f"checkpoint {copy.checkpoint_id} is gone from the database or was replaced"
    head = copy.claim.head_seq
    if first_kept_seq is not None and head < first_kept_seq:
        return None  # purged through retention: the chain's start is verified on its own
    kept = heads.get(head)
    if kept is None:
        return f"record {head}, the head it signed, is missing (the chain was cut)"
    if kept != copy.claim.head_hash:
        return f"record {head} no longer has the hash it signed"
    return None


async def verify_witnessed(
    engine: AsyncEngine,
    *,
    public_keys: Sequence[Ed25519PublicKey],
    witness_file: Path | None,
    pace: Pace = yield_once,
    batch: int = WITNESS_BATCH,
) -> VerifyReport:
    """``verify_audit_paced`` with the trusted keys (oldest first, current last), then
    every checkpoint the witness file holds (none when there is no file), ``batch`` of
    them per read transaction."""
    *previous, current = public_keys
    report = await verify_audit_paced(
        engine, public_key=current, previous_public_keys=previous, pace=pace
    )
    if witness_file is None:
        return report
    try:
        copies = await asyncio.to_thread(read_witness, witness_file)
    except WitnessFileInvalid as exc:
        return replace(report, witness_problem=exc.problem)
    except OSError as exc:
        return replace(
            report,
            witness_problem=WitnessProblem(0, None, f"unreadable ({type(exc).__name__})"),
        )
    problem = None
    for start in range(0, len(copies), batch):  # short reads, giving way between
        async with unit_of_work(engine) as tx:
            problem = await check_witness(
                tx,
                copies[start : start + batch],
                public_keys=public_keys,
                first_kept_seq=report.first_seq,
            )
        if problem is not None:
            break
        await pace()
    return replace(report, witnessed_checked=len(copies), witness_problem=problem)
