"""Readiness checks: each dependency reachable or not, and why (shared by /readyz and doctor)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.store.engine import ping


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


async def check_database(engine: AsyncEngine, *, limit_seconds: float = 3.0) -> CheckResult:
    """The database answers a trivial query within the timeout."""
    try:
        await asyncio.wait_for(ping(engine), limit_seconds)
    except TimeoutError:
        return CheckResult("database", False, "timed out")
    except Exception as exc:
        return CheckResult("database", False, type(exc).__name__)
    return CheckResult("database", True, engine.dialect.name)


async def check_http(name: str, client: httpx.AsyncClient, url: str) -> CheckResult:
    """An HTTP dependency answers (any status below 500) within the client's timeout."""
    if not url:
        return CheckResult(name, False, "not configured")
    try:
        response = await client.get(url)
    except httpx.TimeoutException:
        return CheckResult(name, False, "timed out")
    except httpx.HTTPError as exc:
        return CheckResult(name, False, f"unreachable ({type(exc).__name__})")
    if response.status_code >= 500:
        return CheckResult(name, False, f"HTTP {response.status_code}")
    return CheckResult(name, True, f"HTTP {response.status_code}")
