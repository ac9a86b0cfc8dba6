"""The agents' share of the app state: turn telemetry and, when configured, the supervisor."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.agents.supervisor import Supervisor
from control_plane.agents.telemetry import AgentTelemetry


@dataclass(frozen=True)
class AgentRuntime:
    telemetry: AgentTelemetry
    supervisor: Supervisor | None
