"""An in-loop SQLite driver for SQLAlchemy's ``sqlite+aiosqlite`` dialect.

aiosqlite runs every statement on a helper thread and wakes the event loop with the
result: two thread hand-offs per statement, which on the embedded mode's mint path cost
more than the statements themselves (measured ~1 ms per statement under load against
~20 µs for the statement). SQLite in WAL mode with ``synchronous=NORMAL`` answers point
queries and appends in microseconds and never waits on the network, so here the
statement runs directly on the event loop thread instead. The async surface SQLAlchemy's
adapter awaits is kept; every call completes without yielding.

Trade-off: a long statement blocks the loop for its duration. The embedded mode is a
single process; long-running work (retention purges) is done in bounded batches, and
``busy_timeout`` is kept short so a second process holding the write lock cannot stall
the server for long. PostgreSQL (production) keeps its real async driver.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

BUSY_TIMEOUT_SECONDS = 2.0
IsolationLevel = Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None


class InlineCursor:
    """The subset of aiosqlite's cursor that SQLAlchemy's adapter awaits."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        # Any: DB-API parameters are untyped.
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, seq)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *_sizes: object) -> None:
        return None

    async def nextset(self) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _ImmediateQueue:
    """Stands in for aiosqlite's work queue: runs the function now, resolves the future."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[Any, Callable[[], object]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller, like aiosqlite does
            future.set_exception(exc)


class InlineConnection:
    """The subset of aiosqlite's connection that SQLAlchemy's adapter uses."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _ImmediateQueue(connection)

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: IsolationLevel) -> None:
        self._conn.isolation_level = value


def inline_creator(path: str) -> Callable[[], Any]:
    """An ``async_creator`` for create_async_engine that opens ``path`` in-loop."""

    async def create() -> InlineConnection:
        connection = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_SECONDS,
            check_same_thread=False,
            detect_types=0,
        )
        return InlineConnection(connection)

    return create
