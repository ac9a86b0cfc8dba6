"""One job = one voice session: accept it, pin it to its user, run the agent, report.

``request_job`` runs in the worker process and answers LiveKit's availability request;
``prewarm`` and ``entrypoint`` run in a job process (both must stay importable module-level
functions: the process pool pickles them by reference).

Isolation rules (threat: another participant in the room steering or eavesdropping on the
agent, or the agent leaking the user's words to the whole room):
- the dispatch metadata names the user; RoomIO is pinned to that identity, never to "the
  first participant", and only that user's microphone is ever subscribed;
- LiveKit's room-wide ``lk.transcription`` output is off unless configured; the reply text
  goes to the pinned user only;
- text turns are bounded in size and must come from the pinned identity.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Final

from livekit import rtc
from livekit.agents import AutoSubscribe, JobContext, JobProcess, JobRequest, llm
from livekit.agents.voice.events import (
    CloseEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
)
from livekit.agents.voice.room_io import RoomOptions, TextInputEvent, TextInputOptions
from livekit.agents.voice.room_io.types import TextInputCallback

from control_plane.agents.worker import persona
from control_plane.agents.worker.config import (
    Pipeline,
    TranscriptionOutput,
    WorkerConfig,
    load_config,
)
from control_plane.agents.worker.metadata import (
    DispatchMetadata,
    InvalidDispatchMetadata,
    parse_dispatch_metadata,
)
from control_plane.agents.worker.outbox import SessionOutbox
from control_plane.agents.worker.pipeline import (
    GREETING_INSTRUCTIONS,
    BigMamaAgent,
    build_session,
    load_vad,
    pipeline_spec,
)
from control_plane.agents.worker.reporting import (
    ControlPlaneClient,
    StaticCredential,
    quiet_http_logs,
)
from control_plane.agents.worker.turns import TurnTracker
from control_plane.logs import configure_logging, get_logger

log = get_logger(__name__)

MAX_TEXT_TURN_CHARS: Final = 2000
OUTBOX_FLUSH_SECONDS: Final = 5.0
TOPIC_TRANSCRIPTION: Final = "lk.transcription"
_VAD_KEY: Final = "vad"


async def request_job(req: JobRequest, *, active_jobs: int, max_jobs: int) -> None:
    """Accept a dispatch only if its metadata parses and this worker has room for it.

    Invalid metadata is refused for good (``terminate=True``): no other worker should run
    it either. A full worker declines so LiveKit can offer the job elsewhere.
    """
    try:
        metadata = parse_dispatch_metadata(req.job.metadata)
    except InvalidDispatchMetadata as exc:
        log.warning("agent.job_rejected", reason=exc.message, event_id=req.id)
        await req.reject(terminate=True)
        return
    if active_jobs >= max_jobs:
        log.info("agent.job_declined", reason="worker_full", event_id=req.id, count=active_jobs)
        await req.reject(terminate=False)
        return
    log.info("agent.job_accepted", event_id=req.id, session=metadata.session_id)
    await req.accept(name=persona.DISPLAY_NAME)


def prewarm(proc: JobProcess) -> None:
    """Per job process: scrubbed JSON logging, and the VAD model for the chained pipeline."""
    config = load_config(os.environ)
    configure_logging(config.log_level)
    quiet_http_logs()
    if config.pipeline is Pipeline.CHAINED:
        proc.userdata[_VAD_KEY] = load_vad(config.models)


async def entrypoint(ctx: JobContext) -> None:
    """Run one session; a job without valid metadata leaves without joining."""
    config = load_config(os.environ)
    try:
        metadata = parse_dispatch_metadata(ctx.job.metadata)
    except InvalidDispatchMetadata as exc:
        log.warning("agent.job_rejected", reason=exc.message, event_id=ctx.job.id)
        ctx.shutdown(reason="invalid dispatch metadata")
        return
    await _SessionRun(ctx, config, metadata).start()


class _SessionRun:
    """The state of one job: turn tracking, the report outbox, pending room sends."""

    def __init__(self, ctx: JobContext, config: WorkerConfig, metadata: DispatchMetadata) -> None:
        self._ctx = ctx
        self._config = config
        self._metadata = metadata
        self._started_at = time.time()
        self._tracker = TurnTracker(session_started_at=self._started_at)
        self._client = ControlPlaneClient(config.internal_url)
        self._outbox = SessionOutbox(
            self._client,
            session_id=metadata.session_id,
            credential=StaticCredential(metadata.credential),
            on_revoked=self._on_revoked,
        )
        self._sends: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        ctx, metadata = self._ctx, self._metadata
        ctx.add_shutdown_callback(self._finish)
        self._outbox.start()
        spec = pipeline_spec(self._config.pipeline)
        preloaded = ctx.proc.userdata.get(_VAD_KEY)
        session = build_session(self._config, preloaded_vad=preloaded)

        # Subscribe to nothing by default; only the pinned user's audio, and only if used.
        await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
        if spec.audio_input:
            _pin_audio_subscription(ctx.room, metadata.participant_identity)
        try:
            await asyncio.wait_for(
                ctx.wait_for_participant(identity=metadata.participant_identity),
                self._config.participant_timeout_seconds,
            )
        except TimeoutError:
            log.warning("agent.participant_missing", session=metadata.session_id)
            ctx.shutdown(reason="participant did not join")
            return

        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)
        session.on("close", self._on_close)
        ctx.room.on("reconnected", self._tracker.on_reconnected)

        text_output = self._config.transcription is TranscriptionOutput.ROOM
        options = RoomOptions(
            participant_identity=metadata.participant_identity,
            text_input=TextInputOptions(text_input_cb=self._text_input_cb()),
            audio_input=spec.audio_input,
            audio_output=True,
            text_output=text_output,
            close_on_disconnect=True,
        )
        agent = BigMamaAgent(session_ref=metadata.session_id)
        await session.start(agent, room=ctx.room, room_options=options)
        log.info("agent.session_started", session=metadata.session_id)
        if self._config.greeting:
            session.generate_reply(instructions=GREETING_INSTRUCTIONS)

    def _text_input_cb(self) -> TextInputCallback:
        pinned = self._metadata.participant_identity
        forward = TextInputOptions().text_input_cb  # the framework's default handling

        async def on_text(session: Any, event: TextInputEvent) -> None:
            # Any: the callback receives the AgentSession, generic over unused userdata.
            sender = event.participant.identity if event.participant else None
            text = event.text.strip()
            if sender != pinned:
                log.warning("agent.text_input_rejected", reason="not_pinned")
                return
            if not text or len(text) > MAX_TEXT_TURN_CHARS:
                log.info("agent.text_input_rejected", reason="length", text_length=len(text))
                return
            result = forward(
                session, TextInputEvent(text=text, info=event.info, participant=event.participant)
            )
            if result is not None:
                await result

        return on_text

    def _on_item(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        if not isinstance(item, llm.ChatMessage):
            return
        if item.role == "user":
            if (segment := self._tracker.on_user_message(item)) is not None:
                self._outbox.put(segment)
        elif item.role == "assistant":
            segment, turn = self._tracker.on_agent_message(item)
            if segment is not None:
                self._outbox.put(segment)
                if self._config.transcription is TranscriptionOutput.PRIVATE:
                    self._send_private(segment.text, segment_id=item.id)
            if turn is not None:
                self._outbox.put(turn)
                log.info(
                    "agent.turn_completed",
                    session=self._metadata.session_id,
                    duration_ms=turn.e2e_response_ms,
                )

    def _on_tools(self, event: FunctionToolsExecutedEvent) -> None:
        self._tracker.on_tools_executed(event.zipped())

    def _on_close(self, event: CloseEvent) -> None:
        log.info(
            "agent.session_closed", reason=str(event.reason), session=self._metadata.session_id
        )
        self._ctx.shutdown(reason="session closed")

    def _on_revoked(self, status: int) -> None:
        log.warning("agent.session_revoked", status_code=status, session=self._metadata.session_id)
        self._ctx.shutdown(reason="session credential rejected")

    def _send_private(self, text: str, *, segment_id: str) -> None:
        """The final reply text, to the pinned user only (not the room-wide stream)."""
        room = self._ctx.room
        if not room.isconnected():
            return
        task = asyncio.create_task(
            room.local_participant.send_text(
                text,
                topic=TOPIC_TRANSCRIPTION,
                destination_identities=[self._metadata.participant_identity],
                attributes={"lk.transcription_final": "true", "lk.segment_id": segment_id},
            ),
            name="agent.private_reply",
        )
        self._sends.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[Any]) -> None:
        self._sends.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("agent.private_reply_failed", reason=type(task.exception()).__name__)

    async def _finish(self) -> None:
        await self._outbox.aclose(OUTBOX_FLUSH_SECONDS)
        await self._client.aclose()
        log.info(
            "agent.session_finished",
            session=self._metadata.session_id,
            count=self._outbox.delivered_segments,
        )


def _pin_audio_subscription(room: rtc.Room, identity: str) -> None:
    """Subscribe to the pinned participant's microphone only; everyone else stays unheard."""

    def maybe_subscribe(
        publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if (
            participant.identity == identity
            and publication.source == rtc.TrackSource.SOURCE_MICROPHONE
        ):
            publication.set_subscribed(True)

    room.on("track_published", maybe_subscribe)
    for participant in room.remote_participants.values():
        for publication in participant.track_publications.values():
            maybe_subscribe(publication, participant)
