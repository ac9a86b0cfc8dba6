"""Transcript segments and per-turn metrics, computed from the session's chat messages.

Definitions (all durations in milliseconds; ``None`` when the pipeline has no such stage):

- ``eou_delay_ms``: end of the user's speech -> the turn detector commits the turn
  (``end_of_turn_delay`` on the user message). ``None`` for text turns: nothing to detect.
- ``llm_ttft_ms``: the LLM request -> its first token (``llm_node_ttft``).
- ``tts_ttfb_ms``: the first text sent to TTS -> its first audio chunk (``tts_node_ttfb``).
- ``time_to_first_audio_ms``: the turn committed (speech end + EOU delay, or the moment a
  text turn arrived) -> the agent's first audio frame published (``started_speaking_at``).
- ``e2e_response_ms``: the user stopped speaking (or the text turn arrived) -> the agent's
  first audio frame: what the user waits. Equals ``eou_delay_ms + time_to_first_audio_ms``.
- ``tool_calls``: each tool executed for this turn, call -> output.
- ``interrupted``: the user cut the reply off.
- ``reconnects``: room reconnections since the previous reported turn.

A turn is an agent reply to a user message; a reply nobody asked for (the greeting) gets a
transcript segment but no metrics. Segment times are offsets from the session start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from livekit.agents import llm

Role = Literal["user", "agent"]


@dataclass(frozen=True)
class TranscriptSegment:
    role: Role
    text: str = field(repr=False)
    start_ms: int
    end_ms: int

    def to_json(self) -> dict[str, object]:
        return {
            "role": self.role,
            "text": self.text,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "final": True,
        }


@dataclass(frozen=True)
class ToolCallTiming:
    name: str
    duration_ms: float


@dataclass(frozen=True)
class TurnMetrics:
    turn_id: str
    eou_delay_ms: float | None
    llm_ttft_ms: float | None
    tts_ttfb_ms: float | None
    time_to_first_audio_ms: float | None
    e2e_response_ms: float | None
    tool_calls: tuple[ToolCallTiming, ...] = ()
    interrupted: bool = False
    reconnects: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "turn_id": self.turn_id,
            "eou_delay_ms": self.eou_delay_ms,
            "llm_ttft_ms": self.llm_ttft_ms,
            "tts_ttfb_ms": self.tts_ttfb_ms,
            "time_to_first_audio_ms": self.time_to_first_audio_ms,
            "e2e_response_ms": self.e2e_response_ms,
            "tool_calls": [
                {"name": call.name, "duration_ms": call.duration_ms} for call in self.tool_calls
            ],
            "interrupted": self.interrupted,
            "reconnects": self.reconnects,
        }


@dataclass
class TurnTracker:
    """Pairs user and agent messages into turns. Owned by one job; not thread-safe."""

    session_started_at: float
    _pending_user: llm.ChatMessage | None = None
    _tool_calls: list[ToolCallTiming] = field(default_factory=list)
    _reconnects: int = 0

    def on_user_message(self, message: llm.ChatMessage) -> TranscriptSegment | None:
        """Record a final user message; return its transcript segment."""
        self._pending_user = message
        self._tool_calls = []
        metrics = message.metrics
        start = metrics.get("started_speaking_at", message.created_at)
        end = metrics.get("stopped_speaking_at", message.created_at)
        return self._segment("user", message, start, end)

    def on_agent_message(
        self, message: llm.ChatMessage
    ) -> tuple[TranscriptSegment | None, TurnMetrics | None]:
        """Record an agent message; return its segment and, if it answers the user, the turn."""
        metrics = message.metrics
        start = metrics.get("started_speaking_at", message.created_at)
        end = metrics.get("stopped_speaking_at", start)
        segment = self._segment("agent", message, start, end)
        user = self._pending_user
        if user is None:
            return segment, None
        self._pending_user = None
        turn = compute_turn_metrics(
            user,
            message,
            tool_calls=tuple(self._tool_calls),
            reconnects=self._reconnects,
        )
        self._tool_calls = []
        self._reconnects = 0
        return segment, turn

    def on_tools_executed(
        self, calls: list[tuple[llm.FunctionCall, llm.FunctionCallOutput]]
    ) -> None:
        for call, output in calls:
            duration = max(0.0, (output.created_at - call.created_at) * 1000.0)
            self._tool_calls.append(ToolCallTiming(name=call.name, duration_ms=round(duration, 3)))

    def on_reconnected(self) -> None:
        self._reconnects += 1

    def _segment(
        self, role: Role, message: llm.ChatMessage, start: float, end: float
    ) -> TranscriptSegment | None:
        text = (message.text_content or "").strip()
        if not text:
            return None
        start_ms = self._offset_ms(start)
        return TranscriptSegment(
            role=role, text=text, start_ms=start_ms, end_ms=max(start_ms, self._offset_ms(end))
        )

    def _offset_ms(self, at: float) -> int:
        return max(0, round((at - self.session_started_at) * 1000.0))


def compute_turn_metrics(
    user: llm.ChatMessage,
    agent: llm.ChatMessage,
    *,
    tool_calls: tuple[ToolCallTiming, ...] = (),
    reconnects: int = 0,
) -> TurnMetrics:
    """The metrics of one turn from the framework's per-message reports (see module doc)."""
    user_metrics = user.metrics
    agent_metrics = agent.metrics
    eou = user_metrics.get("end_of_turn_delay")
    user_end = user_metrics.get("stopped_speaking_at", user.created_at)
    committed = user_end + (eou or 0.0)
    started = agent_metrics.get("started_speaking_at")
    e2e = agent_metrics.get("e2e_latency")
    if e2e is None and started is not None:
        e2e = started - user_end
    return TurnMetrics(
        turn_id=agent.id,
        eou_delay_ms=_ms(eou),
        llm_ttft_ms=_ms(agent_metrics.get("llm_node_ttft")),
        tts_ttfb_ms=_ms(agent_metrics.get("tts_node_ttfb")),
        time_to_first_audio_ms=_ms(None if started is None else max(0.0, started - committed)),
        e2e_response_ms=_ms(None if e2e is None else max(0.0, e2e)),
        tool_calls=tool_calls,
        interrupted=agent.interrupted,
        reconnects=reconnects,
    )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)
