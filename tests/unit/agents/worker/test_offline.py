"""The offline pipeline's LLM and TTS are real framework plugins with deterministic output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from livekit.agents import llm

from control_plane.agents.worker import persona
from control_plane.agents.worker.offline import (
    SAFETY_TOOL,
    SAMPLE_RATE,
    ScriptedLLM,
    ToneTTS,
    synthesize_pcm,
)
from control_plane.agents.worker.pipeline import BigMamaAgent
from control_plane.agents.worker.replies import REPLIES, SAFETY_REPLY, Intent


def chat_with(*user_texts: str) -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=persona.INSTRUCTIONS)
    for text in user_texts:
        ctx.add_message(role="user", content=text)
    return ctx


async def collect(
    ctx: llm.ChatContext, tools: list[llm.Tool] | None = None
) -> llm.CollectedResponse:
    async with ScriptedLLM().chat(chat_ctx=ctx, tools=tools) as stream:
        return await stream.collect()


@pytest.mark.asyncio
async def test_without_a_user_turn_the_llm_greets() -> None:
    response = await collect(chat_with())
    assert response.text == persona.GREETING
    assert response.tool_calls == []


@pytest.mark.asyncio
async def test_the_llm_answers_the_latest_user_turn_word_by_word() -> None:
    ctx = chat_with("hello", "Where can I find a Black-owned salon?")
    chunks: list[str] = []
    async with ScriptedLLM().chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            assert chunk.delta is not None
            chunks.append(chunk.delta.content or "")
    assert "".join(chunks) == REPLIES[Intent.DISCOVER_BUSINESS]
    assert len(chunks) == len(REPLIES[Intent.DISCOVER_BUSINESS].split(" "))


@pytest.mark.asyncio
async def test_a_safety_turn_calls_the_safety_tool_then_speaks_the_safety_reply() -> None:
    tools = [t for t in BigMamaAgent(session_ref="sess-1").tools if isinstance(t, llm.Tool)]
    assert len(tools) == 1
    ctx = chat_with("I want to kill myself")
    first = await collect(ctx, tools)
    assert first.text == ""
    [call] = first.tool_calls
    assert call.name == SAFETY_TOOL
    assert json.loads(call.arguments) == {"category": "self_harm"}

    ctx.items.append(
        llm.FunctionCall(call_id=call.call_id, name=call.name, arguments=call.arguments)
    )
    ctx.items.append(
        llm.FunctionCallOutput(
            call_id=call.call_id, name=call.name, output="Escalation recorded.", is_error=False
        )
    )
    second = await collect(ctx, tools)
    assert second.text == SAFETY_REPLY
    assert second.tool_calls == []


@pytest.mark.asyncio
async def test_a_safety_turn_without_the_tool_speaks_directly() -> None:
    response = await collect(chat_with("I want to kill myself"))
    assert response.text == SAFETY_REPLY


def test_synthesized_speech_is_deterministic_and_audible() -> None:
    pcm = synthesize_pcm("Well hey there, baby!")
    assert pcm == synthesize_pcm("Well hey there, baby!")
    assert pcm != synthesize_pcm("Well hey there, sugar!")
    samples = np.frombuffer(pcm, dtype=np.int16)
    # 4 words: 60-120 ms of tone and 20 ms of silence each.
    assert 4 * 0.08 <= samples.size / SAMPLE_RATE <= 4 * 0.14
    assert np.abs(samples).max() > 5000


def test_text_without_words_gives_a_short_silence() -> None:
    samples = np.frombuffer(synthesize_pcm("..."), dtype=np.int16)
    assert samples.size > 0
    assert not samples.any()


@pytest.mark.asyncio
async def test_tone_tts_emits_frames_at_its_sample_rate() -> None:
    engine = ToneTTS()
    assert not engine.capabilities.streaming
    async with engine.synthesize("Come back and see Big Mama") as stream:
        frame = await stream.collect()
    assert frame.sample_rate == SAMPLE_RATE
    assert frame.num_channels == 1
    assert frame.duration == pytest.approx(
        len(synthesize_pcm("Come back and see Big Mama")) / 2 / SAMPLE_RATE, abs=0.05
    )
