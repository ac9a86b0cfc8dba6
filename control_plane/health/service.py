"""Readiness of every dependency the app was built with."""

from __future__ import annotations

import asyncio
import hmac

from control_plane.errors import ControlPlaneError, NotFound, Unauthenticated
from control_plane.health.checks import CheckResult, check_database, check_http
from control_plane.state import AppState


async def _check_livekit(state: AppState) -> CheckResult:
    if not state.settings.livekit.is_configured:
        return CheckResult("livekit", False, "not configured (livekit.api_key)")
    return await check_http("livekit", state.http, state.settings.livekit.url)


async def readiness(state: AppState) -> list[CheckResult]:
    """One result per dependency; the app is ready only if all are ok."""
    results = await asyncio.gather(
        check_database(state.engine),
        _check_livekit(state),
    )
    try:
        snapshot = state.policies.current
        policy = CheckResult(
            "policies", True, f"{len(snapshot.policies)} policies {snapshot.version[:19]}"
        )
    except ControlPlaneError:
        policy = CheckResult("policies", False, "no valid policy set loaded")
    return [results[0], policy, results[1]]


def check_metrics_access(state: AppState, authorization: str | None) -> None:
    """Whether this caller may read /metrics: public only where configured (never by
    default in production), else the metrics bearer token; no token configured means the
    route is off (404). Metrics name routes, rates and failure counts: reconnaissance."""
    settings = state.settings
    if settings.metrics_public:
        return
    token = settings.server.metrics_token.get_secret_value()
    if not token:
        raise NotFound()
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        raise Unauthenticated()
