"""An agent we dispatched is not judged while LiveKit does not list its job yet (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from control_plane.livekit.facts import DispatchFact, JoinFacts
from control_plane.livekit.participation import AGENT_JOB_GRACE, is_agent_job_pending
from tests.unit.livekit.test_correlation import AGENT_FACTS, NOW

LAGGING = DispatchFact(
    dispatch_id="AD_1", agent_name="big-mama", deleted_at=None, job_identities=()
)


def _facts(**changes: object) -> JoinFacts:
    base = replace(AGENT_FACTS, dispatches=(LAGGING,), joined_at=NOW - timedelta(seconds=1))
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "facts", "pending"),
    [
        ("our dispatch, no job listed yet, just joined", _facts(), True),
        (
            "job listed",
            _facts(dispatches=(replace(LAGGING, job_identities=("agent-AJ_1",)),)),
            False,
        ),
        ("grace over", _facts(joined_at=NOW - AGENT_JOB_GRACE), False),
        ("another agent name", _facts(dispatches=(replace(LAGGING, agent_name="other"),)), False),
        ("dispatch deleted", _facts(dispatches=(replace(LAGGING, deleted_at=NOW),)), False),
        ("no dispatch of ours", _facts(dispatches=()), False),
        (
            "not an agent",
            _facts(participant=replace(AGENT_FACTS.participant, kind="STANDARD")),
            False,
        ),
        (
            "no agent name attribute",
            _facts(participant=replace(AGENT_FACTS.participant, attributes={})),
            False,
        ),
    ],
)
def test_agent_job_pending(case: str, facts: JoinFacts, pending: bool) -> None:
    assert is_agent_job_pending(facts, now=NOW) is pending, case
