"""Audit chain benchmark: appends per second (one writer, eight concurrent writers) and
verification throughput, on SQLite and on the harness PostgreSQL.

Run: `.venv/bin/python -m tests.benchmarks.bench_audit [appends] [backends]` (defaults:
2000 appends, `sqlite,postgres`). Each append is its own transaction, as on the mint path;
the concurrent writers share one engine (its pool) and take turns at the chain tail.
PostgreSQL gets a private database (never the test template); it is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.service import append_audit, write_checkpoint
from control_plane.audit.verify import verify_audit
from control_plane.store.engine import create_engine
from control_plane.store.migrate import upgrade_database_sync
from control_plane.store.uow import unit_of_work
from tests.support.audit import make_event
from tests.support.harness import HarnessEnv

DEFAULT_APPENDS = 2000
WRITERS = 8
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    backend: str
    single: float
    concurrent: float
    verify: float
    records: int

    def render(self) -> str:
        return (
            f"| {self.backend:<10} | {self.single:>12,.0f} | {self.concurrent:>16,.0f} "
            f"| {self.verify:>14,.0f} | {self.records:>8,} |"
        )


async def _append(engine: AsyncEngine, count: int, writer: int) -> None:
    for i in range(count):
        async with unit_of_work(engine) as tx:
            await append_audit(
                tx,
                event=make_event(f"w{writer}-{i}", actor=f"sub_{writer}"),
                now=T0 + timedelta(milliseconds=i),
            )


async def _measure(url: str, backend: str, appends: int) -> Row:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        await _append(engine, appends, 0)
        single = appends / (time.perf_counter() - started)
        per_writer = appends // WRITERS
        started = time.perf_counter()
        await asyncio.gather(*(_append(engine, per_writer, w + 1) for w in range(WRITERS)))
        concurrent = per_writer * WRITERS / (time.perf_counter() - started)
        key = Ed25519PrivateKey.generate()
        async with unit_of_work(engine) as tx:
            await write_checkpoint(tx, key=key, now=T0 + timedelta(hours=1))
        started = time.perf_counter()
        async with unit_of_work(engine) as tx:
            report = await verify_audit(tx, public_key=key.public_key())
        verify = report.records_checked / (time.perf_counter() - started)
        if not report.is_intact:
            raise RuntimeError(f"{backend}: the benchmark chain does not verify: {report}")
        return Row(backend, single, concurrent, verify, report.records_checked)
    finally:
        await engine.dispose()


@contextmanager
def _sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_database_sync(url)
        yield url


@contextmanager
def _postgres() -> Iterator[str]:
    env = HarnessEnv.load()
    base, _, _ = env.test_pg_url.rpartition("/")
    admin = f"{base}/postgres".replace("postgresql+psycopg://", "postgresql://")
    name = f"cp_bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{base}/{name}"
    try:
        upgrade_database_sync(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    appends = int(args[0]) if args else DEFAULT_APPENDS
    backends = args[1].split(",") if len(args) > 1 else ["sqlite", "postgres"]
    rows: list[Row] = []
    for backend in backends:
        with _sqlite() if backend == "sqlite" else _postgres() as url:
            rows.append(asyncio.run(_measure(url, backend, appends)))
    print(f"audit chain: {appends} appends per phase, {WRITERS} concurrent writers, 1 engine")
    print("| backend    | appends/s (1) | appends/s (8 conc) | verify rec/s   | records  |")
    print("|------------|--------------:|-------------------:|---------------:|---------:|")
    for row in rows:
        print(row.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
