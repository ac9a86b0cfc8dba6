"""Database engines for SQLite (embedded) and PostgreSQL (production).

Dialect-specific SQL lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from control_plane.errors import ConfigError
from control_plane.store.pool import FairAsyncPool
from control_plane.store.sqlite_inline import inline_creator

SUPPORTED_PREFIXES = ("sqlite+aiosqlite://", "postgresql+psycopg://")
AUDIT_CHAIN_LOCK_KEY = 0x63705F61756474  # "cp_audt": one advisory lock for the audit tail


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sync_url(url: str) -> str:
    """The same database for synchronous tools (Alembic)."""
    return url.replace("sqlite+aiosqlite://", "sqlite://")


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    if not is_sqlite(url):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return path if path and path != ":memory:" else None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, auto_checkpoint: bool) -> None:
    # Any: DB-API connection objects are untyped.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process kill
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=2000")
    if not auto_checkpoint:
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # store/checkpoint.py does it
    cursor.close()


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, background_checkpoints: bool = False
) -> AsyncEngine:
    """An async engine; SQLite gets one pooled connection so writers queue, not spin.

    ``background_checkpoints``: the caller runs a ``WalCheckpointer`` on the SQLite file,
    so commits never checkpoint on the event loop (the server does; CLI tools do not).
    """
    if not url.startswith(SUPPORTED_PREFIXES):
        raise ConfigError(
            "invalid setting database.url: use sqlite+aiosqlite:/// or postgresql+psycopg://"
        )
    if is_sqlite(url):
        path = sqlite_file(url)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=echo,
            poolclass=FairAsyncPool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            async_creator=inline_creator(path or ":memory:"),
        )
        auto_checkpoint = not (background_checkpoints and path is not None)

        def on_connect(dbapi_connection: Any, record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, record, auto_checkpoint=auto_checkpoint)

        event.listen(engine.sync_engine, "connect", on_connect)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        poolclass=FairAsyncPool,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )


async def lock_audit_tail(connection: AsyncConnection) -> None:
    """Serialise appends to the audit chain for the rest of this transaction.

    PostgreSQL: a transaction-scoped advisory lock, so the chain stays linear across
    replicas. SQLite: the database write lock, taken now rather than at the insert.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK_KEY}
        )
    elif connection.dialect.name == "sqlite":
        # A write that changes nothing still takes SQLite's write lock (waiting up to
        # busy_timeout), and the driver opens the transaction at the first write, so the
        # tail read that follows is current even when another process (the CLI, a second
        # engine) appends to the same file.
        await connection.execute(text("UPDATE audit_record SET seq = seq WHERE 0"))


async def try_lease(connection: AsyncConnection, key: int) -> bool:
    """Take a transaction-scoped lease for a reconciler step; False if another holds it."""
    if connection.dialect.name == "postgresql":
        result = await connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}
        )
        return bool(result.scalar())
    return True


async def insert_new(
    connection: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, object]],
    *,
    key: str,
) -> set[object]:
    """Insert the rows whose ``key`` is not stored yet; return the keys actually inserted.

    ``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key`` on both dialects: a
    duplicate (a replayed webhook, a second replica) is skipped, never an error.
    """
    if not rows:
        return set()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=[key])
    result = await connection.execute(
        statement.returning(table.c[key]), [dict(row) for row in rows]
    )
    return set(result.scalars().all())


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer a trivial query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
