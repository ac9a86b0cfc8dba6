"""`control-plane doctor`: every configured dependency, reachable or not, and why."""

from __future__ import annotations

import httpx

from control_plane.config import Settings
from control_plane.errors import ConfigError
from control_plane.health.checks import CheckResult, check_database, check_http
from control_plane.store.engine import create_engine


async def _check_redis(url: str) -> CheckResult:
    if url.startswith("memory"):
        return CheckResult("rate-limit store", True, "in-memory (embedded)")
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except RedisError as exc:
        return CheckResult("rate-limit store", False, f"redis unreachable ({type(exc).__name__})")
    finally:
        await client.aclose()
    return CheckResult("rate-limit store", True, "redis")


async def run_doctor(settings: Settings) -> list[CheckResult]:
    """Check database, policies, keys, LiveKit, the OIDC issuer and the rate-limit store."""
    results: list[CheckResult] = []
    try:
        engine = create_engine(settings.database_url)
    except ConfigError as exc:
        results.append(CheckResult("database", False, str(exc)))
    else:
        results.append(await check_database(engine))
        await engine.dispose()
    policy_dir = settings.policies.dir
    files = sorted(policy_dir.glob("*.cedar")) if policy_dir.is_dir() else []
    results.append(
        CheckResult("policies", bool(files), f"{len(files)} policy files in {policy_dir}")
    )
    async with httpx.AsyncClient(timeout=httpx.Timeout(3.0)) as http:
        results.append(await check_http("livekit", http, settings.livekit.url))
        issuer = settings.oidc.issuer
        discovery = f"{issuer.rstrip('/')}/.well-known/openid-configuration" if issuer else ""
        results.append(await check_http("oidc issuer", http, discovery))
    results.append(await _check_redis(settings.risk.storage_url))
    return results
