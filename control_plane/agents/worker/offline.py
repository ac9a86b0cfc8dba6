"""The offline pipeline: deterministic, local, no API key, no model.

``ScriptedLLM`` plugs the reply policy (``replies.reply_for``) into the framework as a real
``llm.LLM``, so the session runs its normal pipeline (chat context, tool calls, metrics).
``ToneTTS`` is a real ``tts.TTS`` that renders each sentence as generated PCM, one short
tone per word pitched by a stable hash of the word, so the agent audibly "speaks" on its
audio track.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Final, Never

import numpy as np
from livekit.agents import llm, tts, utils
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from control_plane.agents.worker import persona
from control_plane.agents.worker.replies import reply_for

SAMPLE_RATE: Final = 24_000
SAFETY_TOOL: Final = "report_safety_concern"


class ScriptedLLM(llm.LLM[Never]):
    """An ``llm.LLM`` whose completions come from :func:`reply_for`.

    On a safety turn it first asks for the ``report_safety_concern`` tool (when the agent
    offers it), then speaks the safety reply once the tool's output is in the context.
    """

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "control-plane-offline"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, object]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _ScriptedStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _ScriptedStream(llm.LLMStream):
    async def _run(self) -> None:
        request_id = utils.shortuuid("scripted_")
        items = self._chat_ctx.items
        last = items[-1] if items else None
        user_text = _last_user_text(self._chat_ctx)
        if user_text is None:
            self._send(request_id, persona.GREETING)
            return
        scripted = reply_for(user_text)
        tool_offered = any(tool.id == SAFETY_TOOL for tool in self._tools)
        if (
            scripted.safety_category is not None
            and tool_offered
            and not isinstance(last, llm.FunctionCallOutput)
        ):
            call = llm.FunctionToolCall(
                name=SAFETY_TOOL,
                arguments=json.dumps({"category": scripted.safety_category}),
                call_id=utils.shortuuid("call_"),
            )
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id, delta=llm.ChoiceDelta(role="assistant", tool_calls=[call])
                )
            )
            return
        self._send(request_id, scripted.text)

    def _send(self, request_id: str, text: str) -> None:
        # Word by word, as a streaming model would, so time-to-first-token is meaningful.
        for index, word in enumerate(text.split(" ")):
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(
                        role="assistant", content=word if index == 0 else " " + word
                    ),
                )
            )


def _last_user_text(chat_ctx: llm.ChatContext) -> str | None:
    for item in reversed(chat_ctx.items):
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            return item.text_content or ""
    return None


def synthesize_pcm(text: str, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Deterministic 16-bit mono PCM for a sentence: one enveloped tone per word.

    Each word lasts 60-120 ms (longer words last longer) with 20 ms of silence after it; the
    pitch comes from a stable hash of the word, between 180 and 360 Hz.
    """
    chunks: list[np.ndarray] = []
    gap = np.zeros(int(sample_rate * 0.02), dtype=np.float32)
    for word in re.findall(r"[\w']+", text.lower()):
        duration = min(0.06 + 0.008 * len(word), 0.12)
        n = int(sample_rate * duration)
        t = np.arange(n, dtype=np.float32) / sample_rate
        pitch = 180.0 + (zlib.crc32(word.encode("utf-8")) % 180)
        envelope = np.sin(np.pi * np.arange(n, dtype=np.float32) / n) ** 2
        chunks.append((0.25 * envelope * np.sin(2 * np.pi * pitch * t)).astype(np.float32))
        chunks.append(gap)
    if not chunks:
        chunks.append(gap)
    samples = np.concatenate(chunks)
    return (samples * 32767).astype(np.int16).tobytes()


class ToneTTS(tts.TTS[Never]):
    """A local ``tts.TTS`` that renders text with :func:`synthesize_pcm` (no network, no model)."""

    def __init__(self) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )

    @property
    def model(self) -> str:
        return "tone"

    @property
    def provider(self) -> str:
        return "control-plane-offline"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _ToneStream(tts=self, input_text=text, conn_options=conn_options)


class _ToneStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid("tone_"),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(synthesize_pcm(self.input_text))
        output_emitter.flush()
