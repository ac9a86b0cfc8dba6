"""The agent (persona + tools) and the three pipelines it can run on.

- ``offline``: ``ScriptedLLM`` + ``ToneTTS``, text input only, no VAD/STT, no network.
- ``chained``: Deepgram STT -> OpenAI LLM -> Cartesia TTS, Silero VAD (model in the wheel).
- ``realtime``: an OpenAI realtime speech-to-speech model.

Turn detection is always explicit. Left unset, the framework picks LiveKit's end-of-turn
model, which outside LiveKit Cloud loads ~250 MB of local weights in every worker and,
in its cloud variant, would send conversation audio to LiveKit's inference gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from livekit.agents import Agent, AgentSession, RunContext, function_tool, vad
from livekit.agents.voice.turn import TurnHandlingOptions

from control_plane.agents.worker import persona
from control_plane.agents.worker.config import ModelSettings, Pipeline, WorkerConfig
from control_plane.agents.worker.offline import SAFETY_TOOL, ScriptedLLM, ToneTTS
from control_plane.logs import get_logger

log = get_logger(__name__)

SafetyCategory = Literal[
    "medical_emergency", "self_harm", "violence", "abuse", "child_safety", "other"
]

GREETING_INSTRUCTIONS = (
    "Greet the person warmly as Big Mama in one or two short sentences and ask how you can "
    "help with Black-owned businesses, culture, or growing a small business."
)


class BigMamaAgent(Agent):
    """The persona plus one tool: escalating a safety concern to a person."""

    def __init__(self, *, session_ref: str) -> None:
        super().__init__(instructions=persona.INSTRUCTIONS)
        self._session_ref = session_ref
        self.escalations: list[str] = []

    @function_tool(name=SAFETY_TOOL)
    async def report_safety_concern(
        self, context: RunContext[None], category: SafetyCategory
    ) -> str:
        """Alert a person on the team that the user may be in danger: a medical emergency,
        self-harm or suicide, violence, abuse, or a child in danger. Call it once per
        concern, with the closest category; do not include personal details.

        Args:
            category: medical_emergency, self_harm, violence, abuse, child_safety or other.
        """
        chosen = category if category in persona.SAFETY_CATEGORIES else "other"
        self.escalations.append(chosen)
        # The structured event is the alert: the supervisor forwards worker logs to the SIEM.
        log.warning("agent.safety_escalated", reason=chosen, session=self._session_ref)
        return (
            "Escalation recorded. Now tell the person, calmly and briefly, to call 911 for an "
            "emergency, or call or text 988 for thoughts of suicide or self-harm."
        )


@dataclass(frozen=True)
class PipelineSpec:
    """What the room wiring needs to know about a pipeline."""

    audio_input: bool


def pipeline_spec(pipeline: Pipeline) -> PipelineSpec:
    return PipelineSpec(audio_input=pipeline is not Pipeline.OFFLINE)


def load_vad(models: ModelSettings) -> vad.VAD | None:
    """Load the VAD once per job process (prewarm); ``None`` when disabled."""
    if models.vad != "silero":
        return None
    from livekit.plugins import silero

    loaded: vad.VAD = silero.VAD.load()
    return loaded


def preload_plugins(pipeline: Pipeline) -> None:
    """Import the pipeline's plugins on the main thread, as livekit-agents requires."""
    if pipeline is Pipeline.CHAINED:
        from livekit.plugins import cartesia, deepgram, openai, silero  # noqa: F401
    elif pipeline is Pipeline.REALTIME:
        from livekit.plugins import openai  # noqa: F401


def build_session(
    config: WorkerConfig, *, preloaded_vad: vad.VAD | None = None
) -> AgentSession[Any]:
    """An ``AgentSession`` for the configured pipeline (plugins are constructed, not called)."""
    # Any: AgentSession is generic over its userdata, which this worker does not use.
    models = config.models
    if config.pipeline is Pipeline.OFFLINE:
        return AgentSession(
            llm=ScriptedLLM(),
            tts=ToneTTS(),
            vad=None,
            turn_handling=TurnHandlingOptions(turn_detection="manual"),
            user_away_timeout=None,
        )
    if config.pipeline is Pipeline.CHAINED:
        from livekit.plugins import cartesia, deepgram, openai

        session_vad = preloaded_vad if preloaded_vad is not None else load_vad(models)
        tts_options: dict[str, Any] = {"model": models.tts_model}
        if models.tts_voice:
            tts_options["voice"] = models.tts_voice
        return AgentSession(
            stt=deepgram.STT(model=models.stt_model, language=models.stt_language),
            llm=openai.LLM(model=models.llm_model),
            tts=cartesia.TTS(**tts_options),
            vad=session_vad,
            turn_handling=TurnHandlingOptions(
                turn_detection="vad" if session_vad is not None else "stt"
            ),
        )
    from livekit.plugins import openai

    return AgentSession(
        llm=openai.realtime.RealtimeModel(model=models.realtime_model, voice=models.realtime_voice),
        vad=None,
        turn_handling=TurnHandlingOptions(turn_detection="realtime_llm"),
    )
