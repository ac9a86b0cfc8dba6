"""Turns pair a user message with the agent's reply; metrics follow the documented definitions."""

from __future__ import annotations

import pytest
from livekit.agents import llm

from control_plane.agents.worker.turns import (
    ToolCallTiming,
    TurnTracker,
    compute_turn_metrics,
)

T0 = 1_700_000_000.0


def user_text_turn(text: str, at: float) -> llm.ChatMessage:
    return llm.ChatMessage(role="user", content=[text], created_at=at)


def user_voice_turn(text: str, *, started: float, stopped: float, eou: float) -> llm.ChatMessage:
    return llm.ChatMessage(
        role="user",
        content=[text],
        created_at=stopped + eou,
        metrics={
            "started_speaking_at": started,
            "stopped_speaking_at": stopped,
            "end_of_turn_delay": eou,
        },
    )


def agent_reply(
    text: str, *, started: float, stopped: float, interrupted: bool = False, **extra: float
) -> llm.ChatMessage:
    metrics: llm.MetricsReport = {
        "started_speaking_at": started,
        "stopped_speaking_at": stopped,
        "llm_node_ttft": 0.2,
        "tts_node_ttfb": 0.1,
    }
    metrics.update(extra)  # type: ignore[typeddict-item]
    return llm.ChatMessage(
        role="assistant",
        content=[text],
        created_at=started,
        interrupted=interrupted,
        metrics=metrics,
    )


def test_a_text_turn_has_no_eou_delay_and_measures_from_arrival() -> None:
    tracker = TurnTracker(session_started_at=T0)
    user_segment = tracker.on_user_message(user_text_turn("hi", T0 + 1.0))
    agent_segment, turn = tracker.on_agent_message(
        agent_reply("hey baby", started=T0 + 1.5, stopped=T0 + 3.0)
    )
    assert user_segment is not None
    assert user_segment.to_json() == {
        "role": "user",
        "text": "hi",
        "start_ms": 1000,
        "end_ms": 1000,
        "final": True,
    }
    assert agent_segment is not None
    assert agent_segment.to_json() == {
        "role": "agent",
        "text": "hey baby",
        "start_ms": 1500,
        "end_ms": 3000,
        "final": True,
    }
    assert turn is not None
    payload = turn.to_json()
    assert payload["eou_delay_ms"] is None
    assert payload["llm_ttft_ms"] == 200.0
    assert payload["tts_ttfb_ms"] == 100.0
    assert payload["time_to_first_audio_ms"] == 500.0
    assert payload["e2e_response_ms"] == 500.0
    assert payload["tool_calls"] == []
    assert payload["interrupted"] is False
    assert payload["reconnects"] == 0


def test_a_voice_turn_splits_e2e_into_eou_delay_and_time_to_first_audio() -> None:
    user = user_voice_turn("hello", started=T0 + 1.0, stopped=T0 + 2.0, eou=0.3)
    agent = agent_reply("hi", started=T0 + 3.0, stopped=T0 + 4.0, e2e_latency=1.0)
    turn = compute_turn_metrics(user, agent)
    assert turn.eou_delay_ms == 300.0
    assert turn.time_to_first_audio_ms == 700.0
    assert turn.e2e_response_ms == 1000.0
    assert turn.turn_id == agent.id


def test_a_reply_that_never_played_has_no_audio_timings() -> None:
    user = user_text_turn("hi", T0)
    agent = llm.ChatMessage(role="assistant", content=["hi"], created_at=T0 + 1, interrupted=True)
    turn = compute_turn_metrics(user, agent)
    assert turn.time_to_first_audio_ms is None
    assert turn.e2e_response_ms is None
    assert turn.llm_ttft_ms is None
    assert turn.interrupted is True


def test_the_greeting_is_transcribed_but_not_a_turn() -> None:
    tracker = TurnTracker(session_started_at=T0)
    segment, turn = tracker.on_agent_message(agent_reply("welcome", started=T0, stopped=T0 + 1))
    assert segment is not None
    assert turn is None


def test_each_user_message_is_answered_once() -> None:
    tracker = TurnTracker(session_started_at=T0)
    tracker.on_user_message(user_text_turn("hi", T0 + 1))
    _, first = tracker.on_agent_message(agent_reply("a", started=T0 + 2, stopped=T0 + 3))
    _, second = tracker.on_agent_message(agent_reply("b", started=T0 + 4, stopped=T0 + 5))
    assert first is not None
    assert second is None


def test_tool_calls_and_reconnects_belong_to_the_turn_they_happened_in() -> None:
    tracker = TurnTracker(session_started_at=T0)
    tracker.on_reconnected()
    tracker.on_user_message(user_text_turn("help", T0 + 1))
    call = llm.FunctionCall(
        call_id="c1", name="report_safety_concern", arguments="{}", created_at=T0 + 1.2
    )
    output = llm.FunctionCallOutput(
        call_id="c1",
        name="report_safety_concern",
        output="ok",
        is_error=False,
        created_at=T0 + 1.25,
    )
    tracker.on_tools_executed([(call, output)])
    tracker.on_reconnected()
    _, turn = tracker.on_agent_message(agent_reply("ok", started=T0 + 2, stopped=T0 + 3))
    assert turn is not None
    assert turn.tool_calls == (ToolCallTiming(name="report_safety_concern", duration_ms=50.0),)
    assert turn.reconnects == 2

    tracker.on_user_message(user_text_turn("again", T0 + 4))
    _, next_turn = tracker.on_agent_message(agent_reply("ok", started=T0 + 5, stopped=T0 + 6))
    assert next_turn is not None
    assert next_turn.tool_calls == ()
    assert next_turn.reconnects == 0


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_messages_make_no_segment(text: str) -> None:
    tracker = TurnTracker(session_started_at=T0)
    assert tracker.on_user_message(user_text_turn(text, T0)) is None


def test_segment_text_is_not_in_repr() -> None:
    tracker = TurnTracker(session_started_at=T0)
    segment = tracker.on_user_message(user_text_turn("my secret plans", T0 + 1))
    assert segment is not None
    assert "secret" not in repr(segment)


def test_times_before_the_session_start_clamp_to_zero() -> None:
    tracker = TurnTracker(session_started_at=T0)
    segment = tracker.on_user_message(user_text_turn("early", T0 - 5))
    assert segment is not None
    assert (segment.start_ms, segment.end_ms) == (0, 0)
