"""Gathers every domain's SQLModel tables into one metadata (for Alembic and tests)."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel


def load_metadata() -> MetaData:
    """Import each domain's tables module so their tables register, then return them."""
    import control_plane.agents.tables
    import control_plane.audit.tables
    import control_plane.crypto.tables
    import control_plane.identity.tables
    import control_plane.livekit.tables
    import control_plane.privacy.tables
    import control_plane.risk.tables
    import control_plane.sessions.tables
    import control_plane.tokens.tables  # noqa: F401

    return SQLModel.metadata
