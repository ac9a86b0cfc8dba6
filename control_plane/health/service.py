"""Readiness of every dependency the app was built with."""

from __future__ import annotations

import asyncio

from control_plane.errors import ControlPlaneError
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
