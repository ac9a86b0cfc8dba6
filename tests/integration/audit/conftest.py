"""Audit fixtures: a migrated database on each backend and a development key ring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.config import KeySettings
from control_plane.crypto.keyring import KeyRing, load_key_ring
from control_plane.store.engine import create_engine, is_sqlite
from control_plane.store.migrate import upgrade_database
from tests.support.audit import CliTarget


@pytest_asyncio.fixture
async def audit_db(database_url: str) -> str:
    """The backend's URL with the schema at head (PostgreSQL databases come migrated)."""
    if is_sqlite(database_url):
        await upgrade_database(database_url)
    return database_url


@pytest_asyncio.fixture
async def engine(audit_db: str) -> AsyncIterator[AsyncEngine]:
    created = create_engine(audit_db)
    try:
        yield created
    finally:
        await created.dispose()


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    return load_key_ring(KeySettings(), tmp_path / "keys", is_development=True)


@pytest.fixture
def cli(audit_db: str, tmp_path: Path) -> CliTarget:
    """`control-plane` runs against the test database and the ``keys`` fixture's folder."""
    return CliTarget(database_url=audit_db, key_dir=tmp_path / "keys", var_dir=tmp_path)
