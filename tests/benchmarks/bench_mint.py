"""The full secure mint against an unauthenticated bare mint, same server, same run.

Secure mint = bearer verification (JWKS-cached RS256) + per-subject and per-address rate
limits + one batched Cedar decision for every grant action + ledger row + audit record
(hash chain) + HS256 signing, durable before the response (concurrent refreshes share a
commit: see ``store.group_commit``). Bare mint = signing only, with the same key.
wrk drives each over loopback with 50 connections. Targets: ratio ≥ 0.8, p99 ≤ 50 ms.

    uv run python -m tests.benchmarks.bench_mint [--seconds 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx

from tests.benchmarks.common import control_plane_env, print_table, run_wrk, served
from tests.support.harness import ensure_services
from tests.support.idp import get_access_token

PORT = 18787


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args(argv)
    env = ensure_services(["livekit", "idp"])
    with tempfile.TemporaryDirectory() as tmp:
        environment = control_plane_env(
            env,
            Path(tmp),
            CONTROL_PLANE_SERVER__BENCHMARK_ROUTES="true",
            CONTROL_PLANE_RISK__MINT_LIMIT_PER_SUBJECT="10000000/minute",
            CONTROL_PLANE_RISK__MINT_LIMIT_PER_ADDRESS="10000000/minute",
            # One subject minting thousands of tokens a second IS a mint-rate anomaly: keep
            # the detectors running (their cost is measured) but only alert.
            CONTROL_PLANE_RISK__RESPONSES='{"mint_rate": "alert", "session_fanout": "alert"}',
        )
        with served(environment, port=PORT) as base:
            access = get_access_token(env, "alice", "alice-password").access_token
            bearer = {"Authorization": f"Bearer {access}"}
            created = httpx.post(f"{base}/v1/sessions", json={}, headers=bearer, timeout=10)
            created.raise_for_status()
            session = created.json()["session_id"]
            secure_url = f"{base}/v1/sessions/{session}/token"
            bare_url = f"{base}/bench/bare-mint"
            # Warm both paths, then measure bare, secure, bare, secure; keep the best of each.
            run_wrk(bare_url, duration_s=2, connections=args.connections)
            run_wrk(secure_url, headers=bearer, duration_s=2, connections=args.connections)
            bare = [
                run_wrk(bare_url, duration_s=args.seconds, connections=args.connections)
                for _ in range(2)
            ]
            secure = []
            for _ in range(2):
                secure.append(
                    run_wrk(
                        secure_url,
                        headers=bearer,
                        duration_s=args.seconds,
                        connections=args.connections,
                    )
                )
    best_bare = max(bare, key=lambda r: r.requests_per_second)
    best_secure = max(secure, key=lambda r: r.requests_per_second)
    ratio = best_secure.requests_per_second / best_bare.requests_per_second
    rows = [
        [
            name,
            f"{r.requests_per_second:,.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            str(r.non_2xx + r.errors),
        ]
        for name, r in (
            ("bare mint (sign only)", best_bare),
            ("secure mint (full path)", best_secure),
        )
    ]
    print_table(
        f"Mint benchmark: {args.connections} connections, {args.seconds}s runs, loopback, SQLite",
        ["endpoint", "req/s", "p50 ms", "p99 ms", "errors"],
        rows,
    )
    verdict_ratio = "meets" if ratio >= 0.8 else "MISSES"
    verdict_p99 = "meets" if best_secure.p99_ms <= 50 else "MISSES"
    sys.stdout.write(
        f"\nratio secure/bare = {ratio:.2f} ({verdict_ratio} target 0.8); "
        f"secure p99 = {best_secure.p99_ms:.1f} ms ({verdict_p99} target 50 ms)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
