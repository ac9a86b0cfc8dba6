"""Where the secure mint's time goes: each step it adds to the bare mint, alone, in-process.

bench_mint compares whole requests over HTTP; this times the steps with the real parts
(the harness IdP's JWKS, the limits engine in memory, Cedar on ``policies/``, the audit
chain's hash, the HS256 key, a migrated SQLite store), so the budget a ratio target
leaves per request can be set against what each step costs. Microseconds per call, the
median of several rounds.

    uv run python -m tests.benchmarks.bench_mint_steps [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt

from control_plane.audit.chain import GENESIS_HASH, record_hash
from control_plane.authz.engine import load_snapshot
from control_plane.authz.principals import cedar_principal
from control_plane.authz.service import decide_many
from control_plane.authz.types import (
    JOIN_ACTIONS,
    AuthzRequest,
    RequestContext,
    SessionId,
    SessionResource,
    TenantId,
)
from control_plane.crypto.hs256 import Hs256Key
from control_plane.identity.claims import principal_from_claims
from control_plane.identity.client import OidcClient
from control_plane.identity.tables import Subject
from control_plane.identity.types import AuthMethod, Principal, SubjectId
from control_plane.identity.verify import verify_access_token
from control_plane.livekit.client import LiveKitClient
from control_plane.risk.limiter import RateLimiter
from control_plane.sessions.joins import JoinRequest, mint_joins
from control_plane.sessions.tables import SessionMember, VoiceSession
from control_plane.sessions.types import Caller, JoinServices
from control_plane.store.engine import create_engine
from control_plane.store.migrate import upgrade_database
from control_plane.store.uow import unit_of_work
from control_plane.tokens.claims import join_claims
from control_plane.tokens.service import plan_join_token
from control_plane.tokens.types import RoomName
from tests.benchmarks.common import print_table
from tests.support.app import REPO, make_settings
from tests.support.harness import ensure_services
from tests.support.idp import get_access_token

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CALLS = 2_000
Step = Callable[[int], Awaitable[object]]


async def _time(step: Step, *, calls: int, rounds: int) -> float:
    """Median over rounds of the mean microseconds per call."""
    await step(0)  # warm caches (JWKS, memo, compiled statements)
    per_call = []
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(calls):
            await step(i)
        per_call.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(per_call)


def _requests(principal: Principal, resource: SessionResource, ttl: int) -> list[AuthzRequest]:
    ref = cedar_principal(principal, subject_status="active")
    context = RequestContext(requested_ttl_s=ttl)
    return [AuthzRequest(ref, action, resource, context) for action in JOIN_ACTIONS]


async def _store_rows(url: str, principal: Principal, resource: SessionResource) -> None:
    await upgrade_database(url)
    engine = create_engine(url)
    try:
        async with unit_of_work(engine) as tx:
            tx.add(
                Subject(
                    id=principal.subject_id,
                    tenant=principal.tenant,
                    created_at=NOW,
                    last_seen_at=NOW,
                )
            )
            tx.add(
                VoiceSession(
                    id=resource.session_id,
                    room_name="cp-bench-room",
                    tenant=resource.tenant,
                    owner_subject_id=principal.subject_id,
                    created_at=NOW,
                    expires_at=NOW + timedelta(hours=1),
                )
            )
            await tx.flush()
            tx.add(
                SessionMember(
                    session_id=resource.session_id,
                    subject_id=principal.subject_id,
                    role="owner",
                    added_at=NOW,
                )
            )
    finally:
        await engine.dispose()


async def _measure(rounds: int) -> list[list[str]]:
    env = ensure_services(["idp"])
    access = get_access_token(env, "alice", "alice-password").access_token
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), env=env)
        async with httpx.AsyncClient(timeout=5) as http:
            oidc = OidcClient(settings.oidc, http)
            pseudonym_key = b"k" * 32
            now = datetime.now(UTC)

            async def bearer(_: int) -> object:
                verified = await verify_access_token(oidc, access, now=now)
                return principal_from_claims(
                    verified,
                    settings=oidc.settings,
                    pseudonym_key=pseudonym_key,
                    method=AuthMethod.BEARER,
                )

            principal = await bearer(0)
            assert isinstance(principal, Principal)
            limiter = RateLimiter("memory://")

            async def limits(_: int) -> object:
                await limiter.hit("10000000/minute", "mint-subject", principal.subject_id)
                return await limiter.hit("10000000/minute", "mint-address", "addr")

            resource = SessionResource(
                session_id=SessionId("ses_bench"),
                tenant=TenantId(principal.tenant),
                owner=SubjectId(principal.subject_id),
                participants=frozenset({SubjectId(principal.subject_id)}),
            )
            snapshot = load_snapshot(REPO / "policies")

            async def cedar_hit(_: int) -> object:
                return decide_many(snapshot, _requests(principal, resource, 120))

            async def cedar_miss(i: int) -> object:  # a new requested TTL: a new memo key
                return decide_many(snapshot, _requests(principal, resource, 100_000 + i))

            decisions = decide_many(snapshot, _requests(principal, resource, 120))
            mint = plan_join_token(
                subject_id=principal.subject_id,
                session_id=resource.session_id,
                room=RoomName("cp-bench-room"),
                decisions=decisions,
                ttl=timedelta(seconds=120),
                now=now,
                client_address="127.0.0.1",
                request_id="r" * 32,
            )
            event = mint.audit_event(principal.tenant)

            async def chain_hash(i: int) -> object:
                return record_hash(
                    {
                        "seq": i + 1,
                        "id": "a" * 32,
                        "ts": now,
                        "event_type": event.type.value,
                        "outcome": event.outcome.value,
                        "actor": event.actor,
                        "target": event.target,
                        "reason": event.reason,
                        "decision_id": event.decision_id,
                        "policy_version": event.policy_version,
                        "request_id": event.request_id,
                        "details": dict(event.details),
                        "tenant": event.tenant,
                        "prev_hash": GENESIS_HASH,
                    }
                )

            secret = "s" * 64
            key = Hs256Key(secret)
            claims = join_claims(
                api_key="bench",
                identity=principal.subject_id,
                room=mint.room,
                token_id=mint.token_id,
                grants=mint.grants,
                issued_at=mint.issued_at,
                expires_at=mint.expires_at,
            )

            async def sign(_: int) -> object:
                return key.sign(claims)

            async def pyjwt_sign(_: int) -> object:
                return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})

            for name, step in (
                ("bearer verification (cached) + principal", bearer),
                ("rate limits: subject + address (memory)", limits),
                ("Cedar: the 6 join actions, memo hit", cedar_hit),
                ("Cedar: the 6 join actions, evaluated", cedar_miss),
                ("audit chain hash of the mint record", chain_hash),
                ("HS256 signature, key checked once", sign),
                ("HS256 signature, PyJWT encode (for comparison)", pyjwt_sign),
            ):
                rows.append([name, f"{await _time(step, calls=CALLS, rounds=rounds):,.1f}"])

            url = f"sqlite+aiosqlite:///{Path(tmp) / 'steps.db'}"
            await _store_rows(url, principal, resource)
            engine = create_engine(url)
            livekit = LiveKitClient(settings.livekit)
            try:
                services = JoinServices(
                    policies=snapshot,
                    livekit=livekit,
                    livekit_settings=settings.livekit,
                    token_key=key,
                    token_settings=settings.tokens,
                    high_risk_score=settings.risk.high_risk_score,
                )
                caller = Caller(principal=principal, address="127.0.0.1", request_id="r" * 32)
                for size in (1, 10, 50):
                    jobs = [
                        JoinRequest(
                            caller=caller,
                            session_id=resource.session_id,
                            ttl=timedelta(seconds=120),
                            services=services,
                            now=now,
                        )
                    ] * size

                    async def batch(_: int, jobs: list[JoinRequest] = jobs) -> object:
                        async with unit_of_work(engine) as tx:
                            return await mint_joins(tx, jobs)

                    per_batch = await _time(batch, calls=max(20, 400 // size), rounds=rounds)
                    rows.append(
                        [
                            f"store: read, decide, record, sign, commit ({size}/batch), per mint",
                            f"{per_batch / size:,.1f}",
                        ]
                    )
            finally:
                await livekit.aclose()
                await engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rows = asyncio.run(_measure(args.rounds))
    print_table("Secure mint steps, in-process (median of rounds)", ["step", "µs per call"], rows)
    print(
        "\nbench_mint's bare request is the budget's unit: for a ratio of 0.8 the secure "
        "request may cost 1.25x the bare one, i.e. the steps above together may add a "
        "quarter of one bare request."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
