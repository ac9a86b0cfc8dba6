"""Value types for agent workers and their credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CredentialKind(StrEnum):
    WORKER = "worker"  # issued by the supervisor to a worker process; no session
    SESSION = "session"  # issued at dispatch, bound to one session; travels in job metadata


@dataclass(frozen=True)
class WorkerClaims:
    """A verified internal-API credential."""

    jti: str
    kind: CredentialKind
    worker_id: str
    session_id: str | None
    issued_at: datetime
    expires_at: datetime


LATENCY_FIELDS: tuple[str, ...] = (
    "eou_delay_ms",
    "llm_ttft_ms",
    "tts_ttfb_ms",
    "time_to_first_audio_ms",
    "e2e_response_ms",
)
"""The per-turn latencies a worker reports (see agents/worker/turns.py for definitions)."""


@dataclass(frozen=True)
class ToolTiming:
    name: str
    duration_ms: float


@dataclass(frozen=True)
class TurnReport:
    """One turn's latencies as a worker reported them (already validated)."""

    turn_id: str
    eou_delay_ms: float | None = None
    llm_ttft_ms: float | None = None
    tts_ttfb_ms: float | None = None
    time_to_first_audio_ms: float | None = None
    e2e_response_ms: float | None = None
    tool_calls: tuple[ToolTiming, ...] = ()
    interrupted: bool = False
    reconnects: int = 0


@dataclass(frozen=True)
class MetricsAccepted:
    session_id: str
    received: int
    stored: int


@dataclass(frozen=True)
class Distribution:
    """Nearest-rank percentiles of one latency over a session's turns (ms)."""

    count: int
    p50: float | None
    p95: float | None
    max: float | None


@dataclass(frozen=True)
class SessionMetrics:
    session_id: str
    turns: int
    interrupted: int
    reconnects: int
    tool_calls: int
    latencies: dict[str, Distribution]
    items: tuple[TurnReport, ...]
