"""Pure grant computation: decisions in, LiveKit grants out. Never more than allowed."""

from __future__ import annotations

from collections.abc import Iterable

from control_plane.authz.types import Action, Decision
from control_plane.tokens.types import Grants

# Which LiveKit track sources each publish action unlocks (livekit.md §1: explicit
# can_publish_sources, because an unset source list means "every source").
SOURCES_BY_ACTION: dict[Action, tuple[str, ...]] = {
    Action.PUBLISH_AUDIO: ("microphone",),
    Action.PUBLISH_VIDEO: ("camera",),
    Action.PUBLISH_SCREEN: ("screen_share", "screen_share_audio"),
}


def compute_grants(decisions: Iterable[Decision]) -> Grants:
    """Grants for the allowed actions only; callers must have checked that join is allowed."""
    allowed = {d.action for d in decisions if d.allowed}
    sources: list[str] = []
    for action, action_sources in SOURCES_BY_ACTION.items():
        if action in allowed:
            sources.extend(action_sources)
    return Grants(
        can_publish_sources=tuple(sources),
        can_publish_data=Action.PUBLISH_DATA in allowed,
        can_subscribe=Action.SUBSCRIBE in allowed,
    )
