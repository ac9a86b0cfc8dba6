"""Each pipeline builds from configuration alone, with explicit turn detection; constructing
plugins makes no network call (running them would need keys and the network)."""

from __future__ import annotations

import pytest
from livekit.agents import AgentSession

from control_plane.agents.worker.config import WorkerConfig, load_config
from control_plane.agents.worker.offline import ScriptedLLM, ToneTTS
from control_plane.agents.worker.pipeline import build_session, load_vad, pipeline_spec


def make_config(**overrides: str) -> WorkerConfig:
    env = {
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "LIVEKIT_API_KEY": "cp-agent",
        "LIVEKIT_API_SECRET": "secret-secret-secret-secret-secret",
        "CP_INTERNAL_URL": "http://127.0.0.1:8787",
        "CP_WORKER_ID": "w",
        "CP_WORKER_CREDENTIAL_FILE": "/nonexistent",
    }
    env.update(overrides)
    return load_config(env)


@pytest.mark.asyncio
async def test_offline_pipeline_is_local_and_text_only() -> None:
    config = make_config()
    session: AgentSession[None] = build_session(config)
    assert isinstance(session.llm, ScriptedLLM)
    assert isinstance(session.tts, ToneTTS)
    assert session.stt is None
    assert session.vad is None
    assert session.turn_detection == "manual"
    assert pipeline_spec(config.pipeline).audio_input is False


@pytest.mark.asyncio
async def test_chained_pipeline_builds_from_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.setenv(name, "test-key-not-used")
    config = make_config(
        CP_AGENT_PIPELINE="chained", CP_AGENT_VAD="none", CP_AGENT_LLM_MODEL="gpt-4o-mini"
    )
    session: AgentSession[None] = build_session(config)
    assert session.stt is not None
    assert session.stt.provider == "Deepgram"
    assert session.llm is not None
    assert session.llm.model == "gpt-4o-mini"
    assert session.tts is not None
    assert session.tts.provider == "Cartesia"
    assert session.turn_detection == "stt"
    assert pipeline_spec(config.pipeline).audio_input is True


@pytest.mark.asyncio
async def test_chained_pipeline_uses_the_bundled_vad(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.setenv(name, "test-key-not-used")
    config = make_config(CP_AGENT_PIPELINE="chained")
    vad = load_vad(config.models)
    assert vad is not None
    session: AgentSession[None] = build_session(config, preloaded_vad=vad)
    assert session.vad is vad
    assert session.turn_detection == "vad"


@pytest.mark.asyncio
async def test_realtime_pipeline_builds_from_the_openai_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-used")
    session: AgentSession[None] = build_session(make_config(CP_AGENT_PIPELINE="realtime"))
    assert session.llm is not None
    assert session.llm.model == "gpt-realtime"
    assert session.turn_detection == "realtime_llm"
