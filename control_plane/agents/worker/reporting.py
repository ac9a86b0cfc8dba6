"""Client side of the control plane's internal API: transcripts, turn metrics, heartbeats.

One ``httpx.AsyncClient`` per process with explicit timeouts. Transport errors and 5xx are
retried with bounded exponential backoff; a 4xx is final (retrying cannot fix it, and a
401 means the credential was revoked). Logs carry the endpoint kind, status and attempt,
never a body, a transcript or a credential.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import quote

import httpx

from control_plane.agents.credentials import MAX_CREDENTIAL_BYTES
from control_plane.agents.worker.turns import TranscriptSegment, TurnMetrics
from control_plane.logs import get_logger

log = get_logger(__name__)

DEFAULT_TIMEOUT: Final = httpx.Timeout(5.0, connect=2.0)
# Bounded batch sizes: a session's backlog is split rather than sent as one huge body.
MAX_SEGMENTS_PER_POST: Final = 50
MAX_TURNS_PER_POST: Final = 50


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO; this client logs its own outcomes instead."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


class ReportError(Exception):
    """A report could not be delivered; ``status`` is the final HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ReportRejected(ReportError):
    """The control plane answered 4xx: final, not retried."""


class CredentialUnavailable(ReportError):
    """The credential file is missing, empty or oversized."""


class CredentialSource(Protocol):
    def read(self) -> str: ...


@dataclass(frozen=True)
class StaticCredential:
    """The session-bound credential from the dispatch metadata."""

    value: str

    def __repr__(self) -> str:
        return "StaticCredential(<redacted>)"

    def read(self) -> str:
        return self.value


@dataclass(frozen=True)
class FileCredential:
    """The worker credential the supervisor rewrites; read afresh on every use."""

    path: Path

    def read(self) -> str:
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(MAX_CREDENTIAL_BYTES + 1)
        except OSError as exc:
            raise CredentialUnavailable("worker credential file unreadable") from exc
        if len(raw) > MAX_CREDENTIAL_BYTES:
            raise CredentialUnavailable("worker credential file oversized")
        value = raw.decode("utf-8", errors="replace").strip()
        if not value or any(ch.isspace() for ch in value):
            raise CredentialUnavailable("worker credential file empty or malformed")
        return value


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0

    def delay(self, attempt: int) -> float:
        """Backoff before retry ``attempt`` (1-based): exponential with jitter, capped."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        jitter: float = random.SystemRandom().uniform(0, ceiling / 2)
        return ceiling / 2 + jitter


Sleep = Callable[[float], Awaitable[None]]


class ControlPlaneClient:
    """Posts to ``{internal_url}/internal/v1/...``; owns its ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"user-agent": "control-plane-agent-worker"},
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post_transcript(
        self, session_id: str, credential: CredentialSource, segments: Sequence[TranscriptSegment]
    ) -> None:
        """Deliver final transcript segments for one session, in order, in bounded batches."""
        path = f"/internal/v1/sessions/{quote(session_id, safe='')}/transcript"
        for start in range(0, len(segments), MAX_SEGMENTS_PER_POST):
            batch = segments[start : start + MAX_SEGMENTS_PER_POST]
            await self._post(
                "transcript", path, credential, {"segments": [s.to_json() for s in batch]}
            )

    async def post_metrics(
        self, session_id: str, credential: CredentialSource, turns: Sequence[TurnMetrics]
    ) -> None:
        """Deliver per-turn metrics for one session, in bounded batches."""
        path = f"/internal/v1/sessions/{quote(session_id, safe='')}/metrics"
        for start in range(0, len(turns), MAX_TURNS_PER_POST):
            batch = turns[start : start + MAX_TURNS_PER_POST]
            await self._post("metrics", path, credential, {"turns": [t.to_json() for t in batch]})

    async def post_heartbeat(
        self, credential: CredentialSource, *, worker_id: str, active_jobs: int, agent_name: str
    ) -> None:
        """Tell the supervisor this worker is alive and how busy it is."""
        body = {"worker_id": worker_id, "active_jobs": active_jobs, "agent_name": agent_name}
        await self._post("heartbeat", "/internal/v1/workers/heartbeat", credential, body)

    async def _post(
        self, kind: str, path: str, credential: CredentialSource, body: dict[str, object]
    ) -> None:
        attempts = max(1, self._retry.attempts)
        for attempt in range(1, attempts + 1):
            # Re-read on every attempt: the supervisor may have rotated the file meanwhile.
            headers = {"authorization": f"Bearer {credential.read()}"}
            try:
                response = await self._client.post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                failure = f"transport error {type(exc).__name__}"
                status: int | None = None
            else:
                status = response.status_code
                if status < 300:
                    return
                if status < 500:
                    log.warning("agent.report_rejected", kind=kind, status_code=status)
                    raise ReportRejected(f"{kind} report rejected", status=status)
                failure = f"server error {status}"
            if attempt == attempts:
                log.warning("agent.report_failed", kind=kind, status_code=status, count=attempt)
                raise ReportError(
                    f"{kind} report failed after {attempt} attempts: {failure}", status=status
                )
            log.info("agent.report_retry", kind=kind, status_code=status, count=attempt)
            await self._sleep(self._retry.delay(attempt))
