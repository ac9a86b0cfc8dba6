"""Prometheus instruments for agent turns, registered in the app's own registry.

Labels are closed sets (the latency stage); never a session, worker or tool name, which a
worker controls and which would let it grow the registry without bound.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from control_plane.agents.types import LATENCY_FIELDS, TurnReport

# Seconds: voice turn latencies live between ~50 ms and a few seconds.
BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
STAGES = {field: field.removesuffix("_ms") for field in LATENCY_FIELDS}


class AgentTelemetry:
    """Turn latency histograms per stage, tool-call durations, turn counters."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            "cp_agent_turn_latency_seconds",
            "Voice agent turn latency by stage, as reported by the workers",
            ["stage"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.tool_call = Histogram(
            "cp_agent_tool_call_seconds",
            "Duration of tool calls the voice agent ran during a turn",
            buckets=BUCKETS,
            registry=registry,
        )
        self.turns = Counter(
            "cp_agent_turns", "Agent turns reported", ["interrupted"], registry=registry
        )
        self.reconnects = Counter(
            "cp_agent_reconnects", "Room reconnections reported by agents", registry=registry
        )

    def observe(self, turns: Sequence[TurnReport]) -> None:
        """Record newly stored turns (a retried report is not counted twice)."""
        for turn in turns:
            for field, stage in STAGES.items():
                value: float | None = getattr(turn, field)
                if value is not None:
                    self.latency.labels(stage=stage).observe(value / 1000.0)
            for call in turn.tool_calls:
                self.tool_call.observe(call.duration_ms / 1000.0)
            self.turns.labels(interrupted=str(turn.interrupted).lower()).inc()
            if turn.reconnects:
                self.reconnects.inc(turn.reconnects)
