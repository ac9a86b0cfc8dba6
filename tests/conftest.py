"""Suite-wide fixtures: the real-service harness, database backends, apps and clocks.

Backends: every test that takes ``database_url`` runs on SQLite and on a real PostgreSQL
(a fresh database cloned from a migrated template). ``CP_TEST_BACKENDS=sqlite`` runs the
embedded defaults alone.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.app import (
    FrozenClock,
    RunningApp,
    create_pg_database,
    drop_pg_database,
    drop_pg_template,
    ensure_pg_template,
    make_settings,
    running_app,
)
from tests.support.fixtures import *  # noqa: F403
from tests.support.harness import HarnessEnv

BACKENDS = tuple(
    b.strip() for b in os.environ.get("CP_TEST_BACKENDS", "sqlite,postgres").split(",") if b.strip()
)


@pytest.fixture(scope="session")
def pg_template(harness_env: HarnessEnv) -> Iterator[HarnessEnv]:
    ensure_pg_template(harness_env)
    yield harness_env
    drop_pg_template(harness_env)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cp.db'}"
        return
    env: HarnessEnv = request.getfixturevalue("pg_template")
    url = create_pg_database(env)
    try:
        yield url
    finally:
        drop_pg_database(env, url)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest_asyncio.fixture
async def live_app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    """The real app wired to the real IdP, LiveKit and the backend under test."""
    settings = make_settings(tmp_path, database_url=database_url, env=harness_env)
    async with running_app(settings, clock=clock) as running:
        yield running
