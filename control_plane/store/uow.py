"""Units of work: one transaction per request or job step; commit on success only.

Some writes must outlive a rollback: the audit record of a denial or a failed login is
the whole point of the request that failed. Such writes register a *survivor* on the
session (``keep_on_rollback``); when the unit of work rolls back, it replays the
survivors in a fresh transaction on the same session (the same connection, so the
embedded SQLite single-connection pool cannot deadlock) and then re-raises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.logs import get_logger

Survivor = Callable[[AsyncSession], Awaitable[object]]
_SURVIVORS = "cp.survivors"
_log = get_logger("control_plane.store")


def keep_on_rollback(tx: AsyncSession, write: Survivor) -> None:
    """Replay ``write`` in its own transaction if this unit of work rolls back."""
    survivors: list[Survivor] = tx.info.setdefault(_SURVIVORS, [])
    survivors.append(write)


async def _replay(session: AsyncSession, survivors: list[Survivor]) -> None:
    try:
        async with session.begin():
            for write in survivors:
                await write(session)
    except Exception as exc:  # the store itself may be what failed; never mask the cause
        _log.error(
            "store.survivor_write_failed", error_code=type(exc).__name__, count=len(survivors)
        )


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed when the block succeeds, else rolled back
    (and its survivors replayed).

    The transaction begins with the first statement (SQLAlchemy's autobegin) and a block
    that made none ends without a commit: a request whose dependencies only might write
    (an audit record if authentication fails, say) costs no connection, no BEGIN and no
    COMMIT when they do not.
    """
    session = AsyncSession(engine, expire_on_commit=False)
    try:
        try:
            yield session
            if session.in_transaction():
                await session.commit()
        except BaseException:
            await session.rollback()
            survivors: list[Survivor] = session.info.pop(_SURVIVORS, [])
            if survivors:
                await _replay(session, survivors)
            raise
        session.info.pop(_SURVIVORS, None)
    finally:
        await session.close()


def after_commit(tx: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once this unit of work has committed (never after a rollback).

    For in-process wake-ups (a queue, a job) that must not fire before the rows they
    announce are visible to other sessions.
    """

    def _fire(_session: object) -> None:
        callback()

    event.listen(tx.sync_session, "after_commit", _fire, once=True)
