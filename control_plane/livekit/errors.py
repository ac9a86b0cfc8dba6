"""LiveKit errors, translated from livekit-api at the client boundary."""

from __future__ import annotations

from control_plane.errors import NotFound, Unavailable


class LiveKitUnavailable(Unavailable):
    code = "livekit_unavailable"
    default_message = "media server unavailable"


class LiveKitNotFound(NotFound):
    code = "livekit_not_found"
    default_message = "room or participant not found"
