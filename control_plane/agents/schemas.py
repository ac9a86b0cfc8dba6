"""Wire contract of the agent endpoints: worker intake (internal) and the fleet and
metrics views (users). Nothing here carries a credential, a transcript or an identity."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_TURNS_PER_POST = 100
MAX_TOOL_CALLS_PER_TURN = 32
# Milliseconds: non-negative, finite, at most a day (a turn longer than that is an error).
Millis = Annotated[float, Field(ge=0, le=86_400_000, allow_inf_nan=False, strict=True)]
Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCallIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    duration_ms: Millis


class TurnIn(_Strict):
    turn_id: Ident
    eou_delay_ms: Millis | None = None
    llm_ttft_ms: Millis | None = None
    tts_ttfb_ms: Millis | None = None
    time_to_first_audio_ms: Millis | None = None
    e2e_response_ms: Millis | None = None
    tool_calls: list[ToolCallIn] = Field(default_factory=list, max_length=MAX_TOOL_CALLS_PER_TURN)
    interrupted: bool = Field(default=False, strict=True)
    reconnects: int = Field(default=0, ge=0, le=10_000, strict=True)


class MetricsIn(_Strict):
    turns: list[TurnIn] = Field(min_length=1, max_length=MAX_TURNS_PER_POST)


class MetricsAcceptedOut(_Strict):
    session_id: str
    received: int
    stored: int


class HeartbeatIn(_Strict):
    worker_id: Ident
    active_jobs: int = Field(ge=0, le=10_000, strict=True)
    agent_name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9-]+$")]


class WorkerOut(_Strict):
    worker_id: str
    supervisor: str
    slot: int
    agent_name: str
    status: str
    pid: int | None
    process_alive: bool
    started_at: datetime | None
    last_heartbeat_at: datetime | None
    heartbeat_age_seconds: float | None
    restarts: int
    last_exit_code: int | None
    active_jobs: int
    credential_expires_at: datetime | None
    stopped_at: datetime | None


class FleetOut(_Strict):
    agent_name: str
    workers: list[WorkerOut]


class DistributionOut(_Strict):
    count: int
    p50: float | None
    p95: float | None
    max: float | None


class ToolCallOut(_Strict):
    name: str
    duration_ms: float


class TurnOut(_Strict):
    turn_id: str
    eou_delay_ms: float | None
    llm_ttft_ms: float | None
    tts_ttfb_ms: float | None
    time_to_first_audio_ms: float | None
    e2e_response_ms: float | None
    tool_calls: list[ToolCallOut]
    interrupted: bool
    reconnects: int


class SessionMetricsOut(_Strict):
    session_id: str
    turns: int
    interrupted: int
    reconnects: int
    tool_calls: int
    latencies: dict[str, DistributionOut]
    items: list[TurnOut]
