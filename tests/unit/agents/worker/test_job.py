"""Job admission in the worker process: invalid metadata is refused for good, a full worker
declines, a valid dispatch is accepted under the persona's display name."""

from __future__ import annotations

import json

import pytest
from livekit.agents import JobRequest
from livekit.agents.job import JobAcceptArguments
from livekit.protocol import agent, models

from control_plane.agents.worker.job import request_job

VALID = json.dumps(
    {
        "session_id": "sess-1",
        "decision_id": "dec-1",
        "participant_identity": "user-1",
        "retention_class": "standard",
        "credential": "a.b.c",
    }
)


class Answers:
    def __init__(self) -> None:
        self.rejected: list[bool] = []
        self.accepted: list[JobAcceptArguments] = []

    async def reject(self, terminate: bool) -> None:
        self.rejected.append(terminate)

    async def accept(self, arguments: JobAcceptArguments) -> None:
        self.accepted.append(arguments)


def make_request(metadata: str, answers: Answers) -> JobRequest:
    job = agent.Job(
        id="AJ_test", metadata=metadata, room=models.Room(name="room-1"), agent_name="big-mama"
    )
    return JobRequest(job=job, on_reject=answers.reject, on_accept=answers.accept)


@pytest.mark.asyncio
async def test_valid_dispatch_is_accepted_as_big_mama() -> None:
    answers = Answers()
    await request_job(make_request(VALID, answers), active_jobs=0, max_jobs=4)
    assert answers.rejected == []
    [accepted] = answers.accepted
    assert accepted.name == "Big Mama"
    assert accepted.identity == "agent-AJ_test"
    assert accepted.metadata == ""  # the credential never becomes participant metadata


@pytest.mark.asyncio
@pytest.mark.parametrize("metadata", ["", "{}", "[]", VALID.replace("a.b.c", "")])
async def test_invalid_metadata_is_refused_for_every_worker(metadata: str) -> None:
    answers = Answers()
    await request_job(make_request(metadata, answers), active_jobs=0, max_jobs=4)
    assert answers.rejected == [True]
    assert answers.accepted == []


@pytest.mark.asyncio
async def test_a_full_worker_lets_another_worker_take_the_job() -> None:
    answers = Answers()
    await request_job(make_request(VALID, answers), active_jobs=4, max_jobs=4)
    assert answers.rejected == [False]
    assert answers.accepted == []
