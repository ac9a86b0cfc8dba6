"""`control-plane keys rotate-kek --new-kek-file`: embedded key files rotated in place."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from control_plane.cli import main as cli_main
from control_plane.config import KeySettings
from control_plane.crypto.envelope import kek_id
from control_plane.crypto.keyring import KeyRing, load_key_ring
from control_plane.crypto.service import ensure_data_key, find_data_key
from control_plane.crypto.tables import SubjectDataKey
from control_plane.store.engine import create_engine
from control_plane.store.migrate import upgrade_database
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock

pytestmark = [pytest.mark.integration]


def _cli(argv: list[str]) -> int:
    try:
        cli_main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


async def _seed(database_url: str, ring: KeyRing, clock: FrozenClock) -> None:
    await upgrade_database(database_url)
    engine = create_engine(database_url)
    try:
        async with unit_of_work(engine) as tx:
            await ensure_data_key(tx, keys=ring, subject_id="sub_cli", now=clock())
    finally:
        await engine.dispose()


async def _check(database_url: str, ring: KeyRing) -> str:
    engine = create_engine(database_url)
    try:
        async with unit_of_work(engine) as tx:
            row = await tx.get(SubjectDataKey, "sub_cli")
            assert row is not None
            assert await find_data_key(tx, keys=ring, subject_id="sub_cli") is not None
            return row.kek_id
    finally:
        await engine.dispose()


def test_cli_rotates_the_embedded_key_file(
    tmp_path: Path, database_url: str, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_dir = tmp_path / "keys"
    monkeypatch.setenv("CONTROL_PLANE_DATABASE__URL", database_url)
    monkeypatch.setenv("CONTROL_PLANE_KEYS__DIR", str(key_dir))
    monkeypatch.setenv("CONTROL_PLANE_SERVER__VAR_DIR", str(tmp_path / "var"))
    ring = load_key_ring(KeySettings(), key_dir, is_development=True)
    asyncio.run(_seed(database_url, ring, clock))
    new_file = tmp_path / "new.kek"
    new_file.write_text(secrets.token_hex(32))
    assert _cli(["keys", "rotate-kek", "--new-kek-file", str(new_file)]) == 0
    rotated = load_key_ring(KeySettings(), key_dir, is_development=True)
    assert rotated.kek == bytes.fromhex(new_file.read_text())
    assert rotated.previous_kek == ring.kek
    assert asyncio.run(_check(database_url, rotated)) == kek_id(rotated.kek)
    # Nothing left under the old KEK: a second run re-wraps nothing and succeeds.
    assert _cli(["keys", "rotate-kek"]) == 0
