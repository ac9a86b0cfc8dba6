"""Whose records: what the control plane records about a room belongs to its session's tenant.

Background work (webhook processing, the reconciler, remediation) acts for no caller, so
its audit records would otherwise be platform-wide, out of sight of the tenant's own
security auditors, though they are about that tenant's rooms (an unexplained join, an
eviction). A room the control plane did not create stays platform-wide.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import RowMapping, bindparam
from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import set_audit_tenant
from control_plane.sessions.tables import VoiceSession

MAX_ROOM_NAME_LENGTH = 64
ROOM_PREFIX = "cp-"
_OWN_ROOM = re.compile(r"cp-[A-Za-z0-9_-]{24}")


def new_room_name() -> str:
    """A fresh room name: 144 random bits behind a prefix that marks it as ours, so that
    an event about it can be told apart from a room we never created (``is_own_room_name``)."""
    return f"{ROOM_PREFIX}{secrets.token_urlsafe(18)}"


def is_own_room_name(room: str) -> bool:
    """True for a name ``new_room_name`` could have made (pure). LiveKit may report such a
    room before the session that created it has committed (the room is created inside
    the session's transaction): its events wait for the session row (T-TEN-2)."""
    return _OWN_ROOM.fullmatch(room) is not None


_SESSIONS = VoiceSession.__table__  # type: ignore[attr-defined]
_ROOM_SESSION = sa_select(
    _SESSIONS.c.id,
    _SESSIONS.c.room_name,
    _SESSIONS.c.tenant,
    _SESSIONS.c.status,
    _SESSIONS.c.expires_at,
    _SESSIONS.c.ended_at,
).where(_SESSIONS.c.room_name == bindparam("room"))


async def room_session(tx: AsyncSession, room: str) -> RowMapping | None:
    """The session of this LiveKit room (id, room_name, tenant, status, expires_at,
    ended_at), or None if it is not ours; one Core read, for every webhook event."""
    if not room or len(room) > MAX_ROOM_NAME_LENGTH:
        return None
    connection = await tx.connection()
    return (await connection.execute(_ROOM_SESSION, {"room": room})).mappings().first()


async def record_for_room(tx: AsyncSession, room: str) -> RowMapping | None:
    """The records this unit of work appends from now on belong to ``room``'s tenant (set
    once per unit of work that is about one room). Returns the room's session as
    ``room_session`` reads it, for the unit of work's join facts (one read, not two)."""
    session = await room_session(tx, room)
    set_audit_tenant(tx, str(session["tenant"]) if session is not None else None)
    return session
