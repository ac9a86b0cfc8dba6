"""Erasure benchmark: one subject with 10,000 stored transcript segments, on SQLite and on
PostgreSQL (target: <= 5 s). Run: `uv run python -m tests.benchmarks.bench_erasure`.

The measured span is the whole erasure unit of work as `DELETE /v1/me/data` runs it (Cedar
decision, legal-hold checks, remediation scheduling, key destruction, row deletion, audit
record, signed receipt) plus its commit. Seeding uses bulk inserts of real ciphertexts.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import insert

from control_plane.authz.engine import PolicyStore
from control_plane.config import KeySettings
from control_plane.crypto.envelope import encrypt
from control_plane.crypto.keyring import load_key_ring
from control_plane.crypto.service import ensure_data_key
from control_plane.identity.tables import Subject
from control_plane.identity.types import AuthMethod, Principal, SubjectId
from control_plane.privacy.erasure import ErasureServices, erase_subject
from control_plane.privacy.tables import TranscriptSegment
from control_plane.privacy.types import REDACTED_FIELD
from control_plane.sessions.tables import SessionMember, VoiceSession
from control_plane.store.engine import create_engine
from control_plane.store.migrate import upgrade_database
from control_plane.store.uow import unit_of_work
from control_plane.tokens.tables import MintLedger
from tests.support.harness import REPO_ROOT, ensure_services

TARGET_SECONDS = 5.0
TEXT = "Thanks <PERSON_1>, I have noted <PHONE_NUMBER_1> and your order number."


def _admin(url: str) -> str:
    base = url.replace("postgresql+psycopg://", "postgresql://").rpartition("/")[0]
    return f"{base}/postgres"


def _create_pg_database(test_url: str) -> str:
    """A fresh database of our own (migrated by _run); never touches the test template."""
    name = f"cp_bench_{secrets.token_hex(6)}"
    with psycopg.connect(_admin(test_url), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{test_url.rpartition('/')[0]}/{name}"


def _drop_pg_database(url: str) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass(frozen=True)
class Result:
    backend: str
    segments: int
    sessions: int
    seed_s: float
    erase_s: float
    rows: int


async def _seed(url: str, keys_dir: Path, subject_id: str, segments: int, sessions: int) -> None:
    keys = load_key_ring(KeySettings(), keys_dir, is_development=True)
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with unit_of_work(engine) as tx:
            tx.add(Subject(id=subject_id, tenant="acme", created_at=now, last_seen_at=now))
            await tx.flush()
            key = await ensure_data_key(tx, keys=keys, subject_id=subject_id, now=now)
            session_ids = [f"ses_{secrets.token_hex(12)}" for _ in range(sessions)]
            conn = await tx.connection()
            await conn.execute(
                insert(VoiceSession.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": sid,
                        "room_name": f"cp-{secrets.token_urlsafe(18)}",
                        "tenant": "acme",
                        "owner_subject_id": subject_id,
                        "status": "ended",
                        "retention_class": "standard",
                        "storage_mode": "standard",
                        "allow_video": False,
                        "agent_requested": True,
                        "legal_hold": False,
                        "created_at": now,
                        "expires_at": now + timedelta(hours=1),
                        "end_reason": "bench",
                        "finalized_at": now,
                    }
                    for sid in session_ids
                ],
            )
            await conn.execute(
                insert(SessionMember.__table__),  # type: ignore[attr-defined]
                [
                    {"session_id": sid, "subject_id": subject_id, "role": "owner", "added_at": now}
                    for sid in session_ids
                ],
            )
            await conn.execute(
                insert(MintLedger.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": f"tid_{secrets.token_hex(12)}",
                        "subject_id": subject_id,
                        "session_id": sid,
                        "room_name": "cp-bench",
                        "identity": subject_id,
                        "grants": {},
                        "issued_at": now,
                        "expires_at": now + timedelta(minutes=2),
                        "decision_id": uuid.uuid4().hex,
                        "policy_version": "bench",
                        "client_address": "",
                    }
                    for sid in session_ids
                ],
            )
            rows = []
            for i in range(segments):
                row_id = uuid.uuid4().hex
                rows.append(
                    {
                        "id": row_id,
                        "session_id": session_ids[i % sessions],
                        "subject_id": subject_id,
                        "seq": i // sessions,
                        "role": "user" if i % 2 else "agent",
                        "start_ms": i * 1000,
                        "end_ms": i * 1000 + 900,
                        "redacted_ct": encrypt(
                            key, TEXT.encode(), table=REDACTED_FIELD, record_id=row_id
                        ),
                        "raw_ct": None,
                        "entity_counts": {"PERSON": 1, "PHONE_NUMBER": 1},
                        "created_at": now,
                        "finalized_at": now,
                    }
                )
            table = TranscriptSegment.__table__  # type: ignore[attr-defined]
            for start in range(0, len(rows), 2000):
                await conn.execute(insert(table), rows[start : start + 2000])
    finally:
        await engine.dispose()


async def _erase(url: str, keys_dir: Path, subject_id: str) -> tuple[float, int]:
    keys = load_key_ring(KeySettings(), keys_dir, is_development=True)
    services = ErasureServices(
        keys=keys,
        policies=PolicyStore.open(REPO_ROOT / "policies").current,
        rekick=timedelta(minutes=15),
        wake=None,
    )
    principal = Principal(
        subject_id=SubjectId(subject_id),
        tenant="acme",
        groups=frozenset({"member"}),
        email_verified=True,
        amr=("pwd",),
        acr=None,
        auth_time=None,
        method=AuthMethod.BEARER,
    )
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        async with unit_of_work(engine) as tx:
            receipt = await erase_subject(
                tx,
                services=services,
                requester=principal,
                subject_id=subject_id,
                request_id="bench",
                now=datetime.now(UTC),
            )
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    counts = receipt["counts"]
    assert isinstance(counts, dict)
    return elapsed, sum(int(v) for v in counts.values())


async def _run(backend: str, url: str, segments: int, sessions: int, keys_dir: Path) -> Result:
    await upgrade_database(url)
    subject_id = f"sub_{secrets.token_hex(16)}"
    started = time.perf_counter()
    await _seed(url, keys_dir, subject_id, segments, sessions)
    seeded = time.perf_counter() - started
    erase_s, rows = await _erase(url, keys_dir, subject_id)
    return Result(backend, segments, sessions, seeded, erase_s, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args(argv)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        keys_dir = Path(tmp) / "keys"
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                results.append(
                    asyncio.run(_run(backend, url, args.segments, args.sessions, keys_dir))
                )
                continue
            env = ensure_services(("postgres",))
            url = _create_pg_database(env.test_pg_url)
            try:
                results.append(
                    asyncio.run(_run(backend, url, args.segments, args.sessions, keys_dir))
                )
            finally:
                _drop_pg_database(url)
    print(
        f"{'backend':10} {'segments':>9} {'sessions':>9} {'rows':>7} {'seed s':>8} "
        f"{'erase s':>8}  target <= {TARGET_SECONDS:.0f} s"
    )
    for r in results:
        verdict = "ok" if r.erase_s <= TARGET_SECONDS else "SLOW"
        print(
            f"{r.backend:10} {r.segments:>9} {r.sessions:>9} {r.rows:>7} {r.seed_s:>8.2f} "
            f"{r.erase_s:>8.3f}  {verdict}"
        )
    return 0 if all(r.erase_s <= TARGET_SECONDS for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
