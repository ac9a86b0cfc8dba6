"""Per-session metric summaries: nearest-rank percentiles, missing stages, tool calls."""

from __future__ import annotations

import pytest

from control_plane.agents.metrics import percentile, summarize, turn_row_id
from control_plane.agents.types import ToolTiming, TurnReport


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 95, 7.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([float(v) for v in range(1, 101)], 95, 95.0),
        ([float(v) for v in range(1, 101)], 50, 50.0),
        ([1.0, 2.0], 95, 2.0),
    ],
)
def test_nearest_rank_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_summary_skips_missing_stages_and_counts_tool_calls() -> None:
    turns = [
        TurnReport("a", e2e_response_ms=100.0, tool_calls=(ToolTiming("t", 5.0),)),
        TurnReport("b", e2e_response_ms=300.0, eou_delay_ms=40.0, interrupted=True),
        TurnReport("c", e2e_response_ms=200.0, reconnects=2),
    ]
    summary = summarize("ses_1", turns)
    assert (summary.turns, summary.interrupted, summary.reconnects, summary.tool_calls) == (
        3,
        1,
        2,
        1,
    )
    e2e = summary.latencies["e2e_response_ms"]
    assert (e2e.count, e2e.p50, e2e.p95, e2e.max) == (3, 200.0, 300.0, 300.0)
    assert summary.latencies["eou_delay_ms"].count == 1
    assert summary.latencies["llm_ttft_ms"].p50 is None
    assert summary.latencies["tool_call_ms"].p95 == 5.0


def test_turn_rows_are_keyed_by_session_and_turn() -> None:
    assert turn_row_id("s", "t") == turn_row_id("s", "t")
    assert turn_row_id("s", "t") != turn_row_id("s2", "t")
    assert turn_row_id("s\x00", "t") != turn_row_id("s", "\x00t")
