"""With the CPU gate off, the worker reports job occupancy, so livekit-server keeps
offering jobs until ``max_jobs`` (its target load 0.7 is reached exactly there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from control_plane.agents.worker.runner import SERVER_TARGET_LOAD, job_load


@dataclass
class _Server:
    active_jobs: list[object] = field(default_factory=list)


def test_job_load_reaches_the_server_target_exactly_at_max_jobs() -> None:
    load = job_load(4)
    server = _Server()
    reported = []
    for _ in range(5):
        reported.append(load(cast(Any, server)))
        server.active_jobs.append(object())
    assert reported[0] == 0.0
    assert all(r < SERVER_TARGET_LOAD for r in reported[:4])
    assert reported[4] == SERVER_TARGET_LOAD
