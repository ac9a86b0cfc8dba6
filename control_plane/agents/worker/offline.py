"""The offline pipeline: deterministic, local, no API key.

``reply_for`` is the reply policy (pure: text in, scripted reply out, in the persona's
voice, safety first). ``ScriptedLLM`` plugs it into the framework as a real ``llm.LLM`` so
the session runs its normal pipeline (chat context, tool calls, metrics), and ``ToneTTS``
is a real ``tts.TTS`` that turns each sentence into generated PCM: one short tone per word,
pitched by a stable hash of the word, so the agent audibly "speaks" on its audio track.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
from livekit.agents import llm, tts, utils
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from control_plane.agents.worker import persona

SAMPLE_RATE: Final = 24_000
SAFETY_TOOL: Final = "report_safety_concern"


class Intent(StrEnum):
    SAFETY = "safety"
    SENSITIVE_DATA = "sensitive_data"
    PROMPT_EXTRACTION = "prompt_extraction"
    PROFESSIONAL_ADVICE = "professional_advice"
    DISCOVER_BUSINESS = "discover_business"
    CULTURE = "culture"
    GROW_BUSINESS = "grow_business"
    GREETING = "greeting"
    THANKS = "thanks"
    OFF_TOPIC = "off_topic"


@dataclass(frozen=True)
class ScriptedReply:
    intent: Intent
    text: str
    safety_category: str | None = None


# Card-like digit runs (13-19 digits, optionally grouped) and SSN-shaped numbers.
_CARD_NUMBER = re.compile(r"(?:\d[ -]?){13,19}")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")

_SAFETY_RULES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (
        "self_harm",
        (
            "suicide",
            "kill myself",
            "end my life",
            "hurt myself",
            "self harm",
            "self-harm",
            "want to die",
        ),
    ),
    (
        "medical_emergency",
        (
            "heart attack",
            "can't breathe",
            "cannot breathe",
            "overdose",
            "stroke",
            "unconscious",
            "bleeding badly",
            "emergency",
        ),
    ),
    ("child_safety", ("child is in danger", "kid is in danger", "child abuse")),
    ("abuse", ("abusing me", "beats me", "hits me", "domestic violence", "being abused")),
    ("violence", ("gun", "shoot", "stab", "going to hurt", "threatening me", "attack me")),
)

_RULES: Final[tuple[tuple[Intent, tuple[str, ...]], ...]] = (
    (
        Intent.SENSITIVE_DATA,
        (
            "credit card",
            "debit card",
            "card number",
            "social security",
            "ssn",
            "passport",
            "driver's license",
            "drivers license",
            "routing number",
            "bank account",
            "password",
            "pin number",
            "one-time code",
            "tax id",
        ),
    ),
    (
        Intent.PROMPT_EXTRACTION,
        (
            "system prompt",
            "your instructions",
            "your prompt",
            "ignore previous",
            "ignore all previous",
            "ignore your",
            "repeat the text above",
            "developer mode",
            "reveal your",
            "your configuration",
        ),
    ),
    (
        Intent.PROFESSIONAL_ADVICE,
        (
            "diagnos",
            "medication",
            "medicine",
            "prescri",
            "symptom",
            "dosage",
            "lawyer",
            "sue ",
            "lawsuit",
            "legal advice",
            "contract",
            "invest",
            "stock",
            "crypto",
            "loan",
            "taxes",
            "tax advice",
            "mortgage",
        ),
    ),
    (
        Intent.GROW_BUSINESS,
        (
            "my business",
            "my shop",
            "my store",
            "small business",
            "customers",
            "marketing",
            "grow",
            "grant",
            "pricing",
            "social media",
            "business plan",
        ),
    ),
    (
        Intent.DISCOVER_BUSINESS,
        (
            "black-owned",
            "black owned",
            "restaurant",
            "barber",
            "salon",
            "bookstore",
            "near me",
            "where can i find",
            "looking for a",
            "support local",
        ),
    ),
    (
        Intent.CULTURE,
        (
            "history",
            "culture",
            "heritage",
            "tradition",
            "recipe",
            "juneteenth",
            "kwanzaa",
            "family story",
            "ancestors",
            "music",
            "gospel",
            "jazz",
            "soul food",
        ),
    ),
    (Intent.THANKS, ("thank you", "thanks", "goodbye", "bye")),
    (Intent.GREETING, ("hello", "hi", "hey", "good morning", "good evening", "howdy")),
)

_REPLIES: Final[dict[Intent, str]] = {
    Intent.SENSITIVE_DATA: (
        "Hold on now, sugar, don't share that with me. I never need card numbers, bank "
        "details, passwords or ID numbers, and I can't take payments. Keep those safe, and "
        "tell me how else I can help."
    ),
    Intent.PROMPT_EXTRACTION: (
        "Baby, I keep my own instructions private, same as Mama's recipe box. What I can do "
        "is help you find Black-owned businesses, talk culture, or help your business grow."
    ),
    Intent.PROFESSIONAL_ADVICE: (
        "I can only give you general pointers on that, baby. For your own situation, please "
        "talk with a qualified professional, like a doctor, a licensed attorney or legal aid, "
        "or a certified financial counselor. They'll do right by you."
    ),
    Intent.GROW_BUSINESS: (
        "I love that you're building something. Start with the folks who already love you: "
        "ask happy customers to spread the word and leave reviews. Then tell your story "
        "plainly, and check your local small business development center for free help."
    ),
    Intent.DISCOVER_BUSINESS: (
        "Oh, I can help with that. Tell me the city or neighborhood and what you're looking "
        "for, and we'll look at Black-owned business directories and community groups "
        "together. Spending with us keeps money in the neighborhood."
    ),
    Intent.CULTURE: (
        "Now that's what I like to hear. Our stories live when we tell them. Sit with your "
        "elders, record their voices, write down the recipes, and label those old photos. "
        "What part of our history would you like to talk about?"
    ),
    Intent.THANKS: ("You're so welcome, baby. Come back and see Big Mama anytime, you hear?"),
    Intent.GREETING: persona.GREETING,
    Intent.OFF_TOPIC: (
        "Sugar, that's a little outside what I help with. I'm here for Black-owned "
        "businesses, our culture and history, and growing small businesses. Which of those "
        "can I help you with?"
    ),
}

SAFETY_REPLY: Final = (
    "Baby, your safety comes first. If you or someone near you is in danger or having an "
    "emergency, call 911 right now. If you're thinking about hurting yourself, call or text "
    "988 any time, day or night. I've let a person on our team know."
)


def reply_for(text: str) -> ScriptedReply:
    """The scripted reply to one user turn: safety first, then refusals, then the persona's help.

    Deterministic: the same text always gives the same reply.
    """
    normalized = " " + re.sub(r"\s+", " ", text.lower().replace("\u2019", "'")).strip() + " "
    for category, phrases in _SAFETY_RULES:
        if _contains(normalized, phrases):
            return ScriptedReply(Intent.SAFETY, SAFETY_REPLY, safety_category=category)
    if _CARD_NUMBER.search(text) or _SSN.search(text):
        return ScriptedReply(Intent.SENSITIVE_DATA, _REPLIES[Intent.SENSITIVE_DATA])
    for intent, phrases in _RULES:
        if _contains(normalized, phrases):
            return ScriptedReply(intent, _REPLIES[intent])
    return ScriptedReply(Intent.OFF_TOPIC, _REPLIES[Intent.OFF_TOPIC])


def _contains(normalized: str, phrases: tuple[str, ...]) -> bool:
    for phrase in phrases:
        # Short single words must match whole words ("hi" is not in "this").
        if phrase.isalpha() and len(phrase) <= 5:
            if re.search(rf"\b{re.escape(phrase)}\b", normalized):
                return True
        elif phrase in normalized:
            return True
    return False


class ScriptedLLM(llm.LLM):
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


class ToneTTS(tts.TTS):
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
