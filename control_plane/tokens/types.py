"""Token value types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NewType

TokenId = NewType("TokenId", str)
RoomName = NewType("RoomName", str)


@dataclass(frozen=True)
class Grants:
    """The media grants of one LiveKit token: exactly the actions Cedar allowed."""

    can_publish_sources: tuple[str, ...]
    can_publish_data: bool
    can_subscribe: bool

    @property
    def can_publish(self) -> bool:
        return bool(self.can_publish_sources)

    def as_dict(self) -> dict[str, object]:
        return {
            "can_publish_sources": list(self.can_publish_sources),
            "can_publish_data": self.can_publish_data,
            "can_subscribe": self.can_subscribe,
        }


@dataclass(frozen=True)
class MintedToken:
    token: str
    token_id: TokenId
    identity: str
    room: RoomName
    grants: Grants
    issued_at: datetime
    expires_at: datetime
