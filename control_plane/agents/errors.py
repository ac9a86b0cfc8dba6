"""Agent errors: safe messages only (never a credential, a metadata document or a pid)."""

from __future__ import annotations

from control_plane.errors import Conflict, Forbidden, Unavailable


class WorkerMismatch(Forbidden):
    """A worker credential used for another worker's slot (or a slot no longer supervised)."""

    code = "worker_mismatch"
    default_message = "the worker credential is bound to another worker"


class MetricsClosed(Conflict):
    code = "metrics_closed"
    default_message = "the session has ended; its metrics are closed"


class AgentDispatchFailed(Unavailable):
    """LiveKit refused or did not answer the dispatch; the session goes on without agent."""

    code = "agent_dispatch_failed"
    default_message = "the agent could not be dispatched"
