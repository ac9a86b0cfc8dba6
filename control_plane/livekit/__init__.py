"""livekit domain."""
