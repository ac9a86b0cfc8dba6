"""The outbox delivers a session's reports in order, in batches, and stops on revocation."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from control_plane.agents.worker.outbox import SessionOutbox
from control_plane.agents.worker.reporting import ControlPlaneClient, RetryPolicy, StaticCredential
from control_plane.agents.worker.turns import TranscriptSegment, TurnMetrics


def seg(text: str) -> TranscriptSegment:
    return TranscriptSegment(role="user", text=text, start_ms=0, end_ms=0)


def turn(turn_id: str) -> TurnMetrics:
    return TurnMetrics(turn_id, None, 1.0, 1.0, 1.0, 1.0)


class Server:
    """Answers ``statuses`` in turn, then ``status`` for every later request."""

    def __init__(self, status: int = 202, statuses: tuple[int, ...] = ()) -> None:
        self.status = status
        self.statuses = list(statuses)
        self.received: list[tuple[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append((request.url.path.rsplit("/", 1)[-1], json.loads(request.content)))
        status = self.statuses.pop(0) if self.statuses else self.status
        return httpx.Response(status, json={})


async def no_sleep(_: float) -> None:
    return None


def make_outbox(
    server: Server, revoked: list[int], told: asyncio.Event | None = None
) -> tuple[SessionOutbox, ControlPlaneClient]:
    def on_revoked(status: int) -> None:
        revoked.append(status)
        if told is not None:
            told.set()

    client = ControlPlaneClient(
        "http://cp.internal",
        transport=httpx.MockTransport(server),
        retry=RetryPolicy(attempts=2),
        sleep=no_sleep,
    )
    outbox = SessionOutbox(
        client,
        session_id="sess-1",
        credential=StaticCredential("c.r.d"),
        on_revoked=on_revoked,
    )
    return outbox, client


@pytest.mark.asyncio
async def test_reports_are_delivered_in_order_with_consecutive_kinds_batched() -> None:
    server, revoked = Server(), list[int]()
    outbox, client = make_outbox(server, revoked)
    for report in (seg("a"), seg("b"), turn("t1"), seg("c")):
        outbox.put(report)
    outbox.start()
    await outbox.aclose(grace_seconds=5)
    await client.aclose()
    assert server.received == [
        ("transcript", {"segments": [seg("a").to_json(), seg("b").to_json()]}),
        ("metrics", {"turns": [turn("t1").to_json()]}),
        ("transcript", {"segments": [seg("c").to_json()]}),
    ]
    assert (outbox.delivered_segments, outbox.delivered_turns) == (3, 1)
    assert revoked == []


@pytest.mark.asyncio
async def test_a_revoked_credential_stops_reporting_and_ends_the_session() -> None:
    server, revoked = Server(status=401), list[int]()
    told = asyncio.Event()
    outbox, client = make_outbox(server, revoked, told)
    outbox.start()
    outbox.put(seg("a"))
    await told.wait()  # the first delivery was refused: the session is over
    outbox.put(seg("b"))  # dropped, never sent
    await outbox.aclose(grace_seconds=5)
    await client.aclose()
    assert revoked == [401]
    assert server.received == [("transcript", {"segments": [seg("a").to_json()]})]
    assert (outbox.delivered_segments, outbox.delivered_turns) == (0, 0)


@pytest.mark.asyncio
async def test_server_failures_lose_the_batch_but_not_the_session() -> None:
    server, revoked = Server(statuses=(503, 503)), list[int]()  # down for one batch
    outbox, client = make_outbox(server, revoked)
    outbox.put(seg("a"))
    outbox.put(turn("t1"))
    outbox.start()
    await outbox.aclose(grace_seconds=5)
    await client.aclose()
    lost = ("transcript", {"segments": [seg("a").to_json()]})
    assert server.received == [lost, lost, ("metrics", {"turns": [turn("t1").to_json()]})]
    assert (outbox.delivered_segments, outbox.delivered_turns) == (0, 1)  # the session went on
    assert revoked == []


@pytest.mark.asyncio
async def test_close_is_bounded_when_delivery_hangs() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hang(_: httpx.Request) -> httpx.Response:
        started.set()
        try:
            await asyncio.Event().wait()  # never answers
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return httpx.Response(202)

    client = ControlPlaneClient("http://cp.internal", transport=httpx.MockTransport(hang))
    outbox = SessionOutbox(
        client, session_id="s", credential=StaticCredential("c"), on_revoked=lambda _: None
    )
    outbox.start()
    outbox.put(seg("a"))
    await started.wait()
    # The outer bound only keeps a regression from hanging the suite; the close itself
    # waits the 0.1 s grace and cancels the stuck delivery.
    await asyncio.wait_for(outbox.aclose(grace_seconds=0.1), 20)
    await client.aclose()
    assert cancelled.is_set()  # the hung request was abandoned, not left running
    assert outbox.delivered_segments == 0
