"""The voice agent worker: a livekit-agents worker running the "Big Mama" persona.

Launched by the supervisor as ``python -m control_plane.agents.worker``; configured from the
environment only (``config.py``); dispatched explicitly by agent name with metadata naming
the session and the one participant it serves (``metadata.py``); reports transcripts,
per-turn metrics and heartbeats to the control plane's internal API (``reporting.py``).
"""
