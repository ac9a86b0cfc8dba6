"""Agent dispatches the control plane created: read by join auditing (an agent join is
explained only by one of them) and closed when their session ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.tables import AgentDispatch


async def list_room_dispatches(tx: AsyncSession, *, room: str) -> Sequence[AgentDispatch]:
    """Every dispatch we created into this room (deleted ones included, newest first)."""
    return (
        await tx.exec(
            select(AgentDispatch)
            .where(AgentDispatch.room_name == room)
            .order_by(col(AgentDispatch.created_at).desc())
        )
    ).all()


async def mark_dispatch_deleted(tx: AsyncSession, *, dispatch_id: str, now: datetime) -> None:
    """Record that a dispatch was (or is being) deleted; idempotent."""
    dispatch = await tx.get(AgentDispatch, dispatch_id)
    if dispatch is not None and dispatch.deleted_at is None:
        dispatch.deleted_at = now
        tx.add(dispatch)
        await tx.flush()
