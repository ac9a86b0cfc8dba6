"""Units of work: one transaction per request or job step; commit on success only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed when the block succeeds, else rolled back."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        yield session
