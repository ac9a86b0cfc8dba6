"""The reporting client against an httpx MockTransport: the wire contract, retries, secrecy."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from control_plane.agents.worker.reporting import (
    MAX_SEGMENTS_PER_POST,
    ControlPlaneClient,
    CredentialUnavailable,
    FileCredential,
    ReportError,
    ReportRejected,
    RetryPolicy,
    StaticCredential,
)
from control_plane.agents.worker.turns import ToolCallTiming, TranscriptSegment, TurnMetrics
from control_plane.logs import configure_logging

BASE = "http://cp.internal:8787"
SESSION_CREDENTIAL = "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJzIn0.session-signature"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers each request with the next scripted response (or exception) and keeps it."""

    def __init__(self, *responses: int | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.responses.pop(0) if self.responses else 202
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, json={})

    def bodies(self) -> list[object]:
        return [json.loads(r.content) for r in self.requests]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(recorder: Recorder, sleeps: Sleeps | None = None) -> ControlPlaneClient:
    return ControlPlaneClient(
        BASE + "/",
        transport=httpx.MockTransport(recorder),
        retry=RetryPolicy(attempts=3, base_delay=0.1, max_delay=1.0),
        sleep=sleeps or Sleeps(),
    )


def segment(role: str = "user", text: str = "where is a salon") -> TranscriptSegment:
    return TranscriptSegment(role=role, text=text, start_ms=10, end_ms=20)  # type: ignore[arg-type]


TURN = TurnMetrics(
    turn_id="item_1",
    eou_delay_ms=None,
    llm_ttft_ms=12.5,
    tts_ttfb_ms=3.0,
    time_to_first_audio_ms=40.0,
    e2e_response_ms=40.0,
    tool_calls=(ToolCallTiming(name="report_safety_concern", duration_ms=1.5),),
    interrupted=False,
    reconnects=1,
)


@pytest.mark.asyncio
async def test_transcript_post_matches_the_contract() -> None:
    recorder = Recorder()
    client = make_client(recorder)
    await client.post_transcript(
        "sess-1", StaticCredential(SESSION_CREDENTIAL), [segment(), segment("agent", "hi baby")]
    )
    await client.aclose()
    [request] = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/internal/v1/sessions/sess-1/transcript"
    assert request.headers["authorization"] == f"Bearer {SESSION_CREDENTIAL}"
    assert json.loads(request.content) == {
        "segments": [
            {
                "role": "user",
                "text": "where is a salon",
                "start_ms": 10,
                "end_ms": 20,
                "final": True,
            },
            {"role": "agent", "text": "hi baby", "start_ms": 10, "end_ms": 20, "final": True},
        ]
    }


@pytest.mark.asyncio
async def test_metrics_post_matches_the_contract() -> None:
    recorder = Recorder()
    client = make_client(recorder)
    await client.post_metrics("sess-1", StaticCredential(SESSION_CREDENTIAL), [TURN])
    await client.aclose()
    [request] = recorder.requests
    assert request.url.path == "/internal/v1/sessions/sess-1/metrics"
    assert json.loads(request.content) == {
        "turns": [
            {
                "turn_id": "item_1",
                "eou_delay_ms": None,
                "llm_ttft_ms": 12.5,
                "tts_ttfb_ms": 3.0,
                "time_to_first_audio_ms": 40.0,
                "e2e_response_ms": 40.0,
                "tool_calls": [{"name": "report_safety_concern", "duration_ms": 1.5}],
                "interrupted": False,
                "reconnects": 1,
            }
        ]
    }


@pytest.mark.asyncio
async def test_session_ids_are_a_single_path_segment() -> None:
    recorder = Recorder()
    client = make_client(recorder)
    await client.post_metrics("a:b.c", StaticCredential(SESSION_CREDENTIAL), [TURN])
    await client.aclose()
    assert recorder.requests[0].url.raw_path == b"/internal/v1/sessions/a%3Ab.c/metrics"


@pytest.mark.asyncio
async def test_heartbeat_rereads_the_credential_file_on_every_use(tmp_path: Path) -> None:
    credential_file = tmp_path / "credential"
    credential_file.write_text("worker.cred.one\n", encoding="utf-8")
    recorder = Recorder()
    client = make_client(recorder)
    source = FileCredential(credential_file)
    await client.post_heartbeat(source, worker_id="w-1", active_jobs=2, agent_name="big-mama")
    credential_file.write_text("worker.cred.two", encoding="utf-8")  # the supervisor rotated it
    await client.post_heartbeat(source, worker_id="w-1", active_jobs=0, agent_name="big-mama")
    await client.aclose()
    assert [r.url.path for r in recorder.requests] == ["/internal/v1/workers/heartbeat"] * 2
    assert [r.headers["authorization"] for r in recorder.requests] == [
        "Bearer worker.cred.one",
        "Bearer worker.cred.two",
    ]
    assert recorder.bodies() == [
        {"worker_id": "w-1", "active_jobs": 2, "agent_name": "big-mama"},
        {"worker_id": "w-1", "active_jobs": 0, "agent_name": "big-mama"},
    ]


@pytest.mark.parametrize("content", [None, "", "  \n", "two words", "x" * 5000])
def test_unusable_credential_files_are_refused(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "credential"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CredentialUnavailable):
        FileCredential(path).read()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "failure",
    [503, 500, httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
)
async def test_server_and_transport_errors_are_retried_with_backoff(
    failure: int | Exception,
) -> None:
    recorder, sleeps = Recorder(failure, failure, 202), Sleeps()
    client = make_client(recorder, sleeps)
    await client.post_metrics("sess-1", StaticCredential(SESSION_CREDENTIAL), [TURN])
    await client.aclose()
    assert len(recorder.requests) == 3
    assert len(sleeps.delays) == 2
    assert 0.05 <= sleeps.delays[0] <= 0.1
    assert 0.1 <= sleeps.delays[1] <= 0.2


@pytest.mark.asyncio
async def test_retries_are_bounded() -> None:
    recorder = Recorder(503, 503, 503, 503)
    client = make_client(recorder)
    with pytest.raises(ReportError) as caught:
        await client.post_metrics("sess-1", StaticCredential(SESSION_CREDENTIAL), [TURN])
    await client.aclose()
    assert caught.value.status == 503
    assert len(recorder.requests) == 3


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429])
async def test_client_errors_are_never_retried(status: int) -> None:
    recorder, sleeps = Recorder(status), Sleeps()
    client = make_client(recorder, sleeps)
    with pytest.raises(ReportRejected) as caught:
        await client.post_transcript("sess-1", StaticCredential(SESSION_CREDENTIAL), [segment()])
    await client.aclose()
    assert caught.value.status == status
    assert len(recorder.requests) == 1
    assert sleeps.delays == []


@pytest.mark.asyncio
async def test_redirects_are_not_followed() -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": "http://elsewhere.example/steal"})

    client = ControlPlaneClient(BASE, transport=httpx.MockTransport(redirect))
    with pytest.raises(ReportRejected):
        await client.post_transcript("sess-1", StaticCredential(SESSION_CREDENTIAL), [segment()])
    await client.aclose()


@pytest.mark.asyncio
async def test_large_backlogs_are_sent_in_bounded_batches() -> None:
    recorder = Recorder()
    client = make_client(recorder)
    segments = [segment(text=f"line {i}") for i in range(MAX_SEGMENTS_PER_POST * 2 + 1)]
    await client.post_transcript("sess-1", StaticCredential(SESSION_CREDENTIAL), segments)
    await client.aclose()
    sizes = [len(body["segments"]) for body in recorder.bodies()]  # type: ignore[index]
    assert sizes == [MAX_SEGMENTS_PER_POST, MAX_SEGMENTS_PER_POST, 1]


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """Route the scrubbed JSON logs into a buffer, then restore the previous configuration."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("DEBUG", stream=buffer)
    yield buffer
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


@pytest.mark.asyncio
async def test_logs_never_carry_the_credential_or_the_text(log_buffer: io.StringIO) -> None:
    recorder = Recorder(503, 401)
    client = make_client(recorder)
    with pytest.raises(ReportRejected):
        await client.post_transcript(
            "sess-1", StaticCredential(SESSION_CREDENTIAL), [segment(text="my address is 12 Elm")]
        )
    await client.aclose()
    output = log_buffer.getvalue()
    assert "agent.report_retry" in output
    assert "agent.report_rejected" in output
    assert SESSION_CREDENTIAL not in output
    assert "session-signature" not in output
    assert "Elm" not in output


def test_static_credential_repr_hides_the_value() -> None:
    assert SESSION_CREDENTIAL not in repr(StaticCredential(SESSION_CREDENTIAL))
