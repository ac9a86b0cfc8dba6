"""Alembic migrations, run programmatically (`control-plane migrate`, embedded start-up)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from control_plane.store.engine import sync_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade_database_sync(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def grant_app_role_sync(database_url: str, role: str) -> None:
    """As the owner, after migrating: give ``role`` (the service's own login) read/write on
    every table but INSERT/SELECT only on the audit chain (PostgreSQL; see store/roles.py)."""
    from sqlalchemy import create_engine as create_sync_engine

    from control_plane.store.roles import grant_app_role

    if not database_url.startswith("postgresql"):
        raise ValueError("app roles exist on PostgreSQL only")
    engine = create_sync_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            grant_app_role(connection, role)
    finally:
        engine.dispose()


async def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Async wrapper: migrations run in a worker thread on a synchronous engine."""
    await asyncio.to_thread(upgrade_database_sync, database_url, revision)
