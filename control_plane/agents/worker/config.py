"""Worker configuration, read from the environment only.

The supervisor launches the worker with exactly these variables: the agents' own LiveKit
key pair (never the control plane's), the internal API base URL, the worker id and the
path of a credential file it rewrites. Plugin API keys for the chained and realtime
pipelines come from the plugins' standard variables (``OPENAI_API_KEY``, ...) and are not
read here. A missing or unsafe value stops the worker before it registers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from control_plane.errors import ConfigError

DEFAULT_AGENT_NAME: Final = "big-mama"
_LOG_LEVELS: Final = frozenset({"DEBUG", "INFO", "WARNING", "ERROR"})
# Never empty: an empty agent name means automatic dispatch into every new room.
_AGENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class Pipeline(StrEnum):
    OFFLINE = "offline"  # deterministic, local: scripted replies and generated audio
    CHAINED = "chained"  # STT -> LLM -> TTS plugins
    REALTIME = "realtime"  # a speech-to-speech realtime model


class TranscriptionOutput(StrEnum):
    """Where the agent's reply text goes in the room, besides the control plane."""

    PRIVATE = "private"  # final reply text to the pinned participant only
    ROOM = "room"  # LiveKit's lk.transcription streams to every subscriber (a PII leak)
    OFF = "off"


@dataclass(frozen=True)
class ModelSettings:
    """Plugin model choices; API keys stay in the plugins' own variables."""

    stt_model: str = "nova-3"
    stt_language: str = "en-US"
    llm_model: str = "gpt-4.1-mini"
    tts_model: str = "sonic-3"
    tts_voice: str | None = None
    realtime_model: str = "gpt-realtime"
    realtime_voice: str = "marin"
    vad: str = "silero"


@dataclass(frozen=True)
class WorkerConfig:
    livekit_url: str
    livekit_api_key: str
    livekit_api_secret: SecretStr = field(repr=False)
    internal_url: str
    worker_id: str
    credential_file: Path
    agent_name: str = DEFAULT_AGENT_NAME
    pipeline: Pipeline = Pipeline.OFFLINE
    transcription: TranscriptionOutput = TranscriptionOutput.PRIVATE
    greeting: bool = True
    max_jobs: int = 4
    load_threshold: float = 0.75
    idle_processes: int = 1
    drain_timeout_seconds: int = 60
    heartbeat_interval_seconds: float = 5.0
    participant_timeout_seconds: float = 60.0
    http_port: int = 0
    log_level: str = "INFO"
    models: ModelSettings = ModelSettings()


def load_config(env: Mapping[str, str]) -> WorkerConfig:
    """Build the worker configuration from environment variables; raise ConfigError if unsafe."""
    livekit_url = _required(env, "LIVEKIT_URL")
    if urlsplit(livekit_url).scheme not in {"ws", "wss", "http", "https"}:
        raise ConfigError("LIVEKIT_URL must be a ws://, wss://, http:// or https:// URL")
    internal_url = _required(env, "CP_INTERNAL_URL").rstrip("/")
    parts = urlsplit(internal_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError("CP_INTERNAL_URL must be an http:// or https:// URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("CP_INTERNAL_URL must not carry credentials, a query or a fragment")
    models = ModelSettings(
        stt_model=env.get("CP_AGENT_STT_MODEL") or ModelSettings.stt_model,
        stt_language=env.get("CP_AGENT_STT_LANGUAGE") or ModelSettings.stt_language,
        llm_model=env.get("CP_AGENT_LLM_MODEL") or ModelSettings.llm_model,
        tts_model=env.get("CP_AGENT_TTS_MODEL") or ModelSettings.tts_model,
        tts_voice=env.get("CP_AGENT_TTS_VOICE") or None,
        realtime_model=env.get("CP_AGENT_REALTIME_MODEL") or ModelSettings.realtime_model,
        realtime_voice=env.get("CP_AGENT_REALTIME_VOICE") or ModelSettings.realtime_voice,
        vad=_choice(env, "CP_AGENT_VAD", {"silero", "none"}, ModelSettings.vad),
    )
    agent_name = (env.get("CP_AGENT_NAME") or DEFAULT_AGENT_NAME).strip()
    if not _AGENT_NAME.fullmatch(agent_name):
        raise ConfigError("CP_AGENT_NAME must be 1-63 lowercase letters, digits or dashes")
    log_level = (env.get("CP_AGENT_LOG_LEVEL") or "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"CP_AGENT_LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))}")
    return WorkerConfig(
        livekit_url=livekit_url,
        livekit_api_key=_required(env, "LIVEKIT_API_KEY"),
        livekit_api_secret=SecretStr(_required(env, "LIVEKIT_API_SECRET")),
        internal_url=internal_url,
        worker_id=_required(env, "CP_WORKER_ID"),
        credential_file=Path(_required(env, "CP_WORKER_CREDENTIAL_FILE")),
        agent_name=agent_name,
        pipeline=Pipeline(_choice(env, "CP_AGENT_PIPELINE", set(Pipeline), Pipeline.OFFLINE)),
        transcription=TranscriptionOutput(
            _choice(env, "CP_AGENT_TRANSCRIPTION", set(TranscriptionOutput), "private")
        ),
        greeting=_bool(env, "CP_AGENT_GREETING", default=True),
        max_jobs=int(_number(env, "CP_AGENT_MAX_JOBS", 4, low=1, high=64)),
        load_threshold=_number(env, "CP_AGENT_LOAD_THRESHOLD", 0.75, low=0.05, high=math.inf),
        idle_processes=int(_number(env, "CP_AGENT_IDLE_PROCESSES", 1, low=0, high=16)),
        drain_timeout_seconds=int(_number(env, "CP_AGENT_DRAIN_TIMEOUT", 60, low=1, high=3600)),
        heartbeat_interval_seconds=_number(
            env, "CP_AGENT_HEARTBEAT_INTERVAL", 5.0, low=0.1, high=300
        ),
        participant_timeout_seconds=_number(
            env, "CP_AGENT_PARTICIPANT_TIMEOUT", 60.0, low=1, high=3600
        ),
        http_port=int(_number(env, "CP_AGENT_HTTP_PORT", 0, low=0, high=65535)),
        log_level=log_level,
        models=models,
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ConfigError(f"{name} is required")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: set[str], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(sorted(allowed))}")
    return value


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false)")


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number") from exc
    if math.isnan(value) or not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return value
