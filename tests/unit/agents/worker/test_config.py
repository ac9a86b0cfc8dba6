"""Worker configuration comes from the environment only, and unsafe values stop it."""

from __future__ import annotations

import math

import pytest

from control_plane.agents.worker.config import (
    Pipeline,
    TranscriptionOutput,
    load_config,
)
from control_plane.errors import ConfigError

SECRET = "agent-secret-0123456789abcdef0123456789"


def make_env(**overrides: str) -> dict[str, str]:
    env = {
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "LIVEKIT_API_KEY": "cp-agent",
        "LIVEKIT_API_SECRET": SECRET,
        "CP_INTERNAL_URL": "http://127.0.0.1:8787/",
        "CP_WORKER_ID": "worker-1",
        "CP_WORKER_CREDENTIAL_FILE": "/run/cp/worker-credential",
    }
    env.update(overrides)
    return env


def test_defaults_are_offline_private_and_explicitly_named() -> None:
    config = load_config(make_env())
    assert config.agent_name == "big-mama"
    assert config.pipeline is Pipeline.OFFLINE
    assert config.transcription is TranscriptionOutput.PRIVATE
    assert config.internal_url == "http://127.0.0.1:8787"
    assert config.heartbeat_interval_seconds == 5.0
    assert config.livekit_api_secret.get_secret_value() == SECRET


def test_secret_is_not_in_repr() -> None:
    assert SECRET not in repr(load_config(make_env()))


@pytest.mark.parametrize(
    "name",
    [
        "LIVEKIT_URL",
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
        "CP_INTERNAL_URL",
        "CP_WORKER_ID",
        "CP_WORKER_CREDENTIAL_FILE",
    ],
)
def test_each_required_variable_is_required(name: str) -> None:
    env = make_env()
    del env[name]
    with pytest.raises(ConfigError, match=name):
        load_config(env)


def test_empty_agent_name_falls_back_to_the_default_never_to_automatic_dispatch() -> None:
    assert load_config(make_env(CP_AGENT_NAME="")).agent_name == "big-mama"


@pytest.mark.parametrize("name", ["Big Mama", "big_mama", "-x", "a" * 64])
def test_invalid_agent_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="CP_AGENT_NAME"):
        load_config(make_env(CP_AGENT_NAME=name))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://cp.internal",
        "http://user:pw@cp.internal",
        "http://cp.internal/?token=x",
        "http://cp.internal/#frag",
        "cp.internal:8787",
    ],
)
def test_unsafe_internal_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="CP_INTERNAL_URL"):
        load_config(make_env(CP_INTERNAL_URL=url))


def test_pipeline_and_transcription_choices() -> None:
    config = load_config(make_env(CP_AGENT_PIPELINE="Chained", CP_AGENT_TRANSCRIPTION="room"))
    assert config.pipeline is Pipeline.CHAINED
    assert config.transcription is TranscriptionOutput.ROOM
    with pytest.raises(ConfigError, match="CP_AGENT_PIPELINE"):
        load_config(make_env(CP_AGENT_PIPELINE="cloud"))


def test_model_settings_come_from_the_environment() -> None:
    config = load_config(
        make_env(CP_AGENT_LLM_MODEL="gpt-4o", CP_AGENT_TTS_VOICE="v1", CP_AGENT_VAD="none")
    )
    assert config.models.llm_model == "gpt-4o"
    assert config.models.tts_voice == "v1"
    assert config.models.vad == "none"


def test_numbers_are_bounded() -> None:
    assert math.isinf(load_config(make_env(CP_AGENT_LOAD_THRESHOLD="inf")).load_threshold)
    for name, value in [
        ("CP_AGENT_MAX_JOBS", "0"),
        ("CP_AGENT_HEARTBEAT_INTERVAL", "nan"),
        ("CP_AGENT_DRAIN_TIMEOUT", "x"),
        ("CP_AGENT_HTTP_PORT", "70000"),
    ]:
        with pytest.raises(ConfigError, match=name):
            load_config(make_env(**{name: value}))


def test_booleans_and_log_levels() -> None:
    assert load_config(make_env(CP_AGENT_GREETING="off")).greeting is False
    with pytest.raises(ConfigError, match="CP_AGENT_GREETING"):
        load_config(make_env(CP_AGENT_GREETING="maybe"))
    with pytest.raises(ConfigError, match="CP_AGENT_LOG_LEVEL"):
        load_config(make_env(CP_AGENT_LOG_LEVEL="TRACE"))
