"""The embedded store checkpoints its write-ahead log from a thread, not inside commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from control_plane.store.checkpoint import WalCheckpointer, start_checkpointer
from control_plane.store.engine import create_engine, sqlite_file

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _wal_bytes(database: Path) -> int:
    wal = Path(f"{database}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def _autocheckpoint(url: str, *, background: bool) -> int:
    engine = create_engine(url, background_checkpoints=background)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one())
    finally:
        await engine.dispose()


async def test_the_server_engine_leaves_checkpoints_to_the_thread(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cp.db'}"
    assert await _autocheckpoint(url, background=True) == 0
    assert await _autocheckpoint(url, background=False) == 1000  # CLI tools: SQLite's own
    # Nothing to checkpoint in memory, so nothing is turned off there.
    assert await _autocheckpoint("sqlite+aiosqlite:///:memory:", background=True) == 1000


async def test_checkpoints_copy_the_log_while_the_writer_stays_open(tmp_path: Path) -> None:
    path = tmp_path / "cp.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url, background_checkpoints=True)
    checkpointer = WalCheckpointer(str(path))
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x TEXT)"))
        for batch in range(20):
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO t (x) VALUES (:x)"),
                    [{"x": f"{batch}-{i}" * 50} for i in range(100)],
                )
        result = checkpointer.checkpoint()
        assert not result.busy
        assert result.log_frames > 100  # nothing was checkpointed by the commits
        assert result.checkpointed_frames == result.log_frames
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one()
        assert count == 2000
    finally:
        await engine.dispose()


async def test_the_thread_runs_and_a_clean_stop_truncates_the_log(tmp_path: Path) -> None:
    path = tmp_path / "cp.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url, background_checkpoints=True)
    checkpointer = WalCheckpointer(str(path), interval_seconds=0.01)
    checkpointer.start()
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x TEXT)"))
            await connection.execute(
                text("INSERT INTO t (x) VALUES (:x)"), [{"x": "y" * 500} for _ in range(200)]
            )
    finally:
        await engine.dispose()
        checkpointer.stop()
    assert _wal_bytes(path) == 0
    assert checkpointer.checkpoint().log_frames == 0


async def test_checkpointer_only_for_a_sqlite_file(tmp_path: Path) -> None:
    assert start_checkpointer("postgresql+psycopg://u@127.0.0.1/db") is None
    assert start_checkpointer("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") == str(tmp_path / "a.db")
    with pytest.raises(ValueError, match="unsupported checkpoint mode"):
        WalCheckpointer(str(tmp_path / "a.db")).checkpoint("FULL; DROP TABLE t")
