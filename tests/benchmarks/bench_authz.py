"""Authz benchmark: single vs batched decisions for the media actions of a join.

Run: `.venv/bin/python -m tests.benchmarks.bench_authz [iterations]`. Uses the real
`policies/` directory and the real Cedar engine; prints one table to stdout.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import cedarpy

from control_plane.authz.engine import PolicySnapshot, load_snapshot
from control_plane.authz.entities import build_cedar_request, build_entities
from control_plane.authz.service import decide, decide_many
from control_plane.authz.types import (
    JOIN_ACTIONS,
    AuthzRequest,
    PrincipalRef,
    RequestContext,
    SessionId,
    SessionResource,
    TenantId,
)
from control_plane.identity.types import SubjectId

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
DEFAULT_ITERATIONS = 2000


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    decisions_per_call: int
    samples_ns: tuple[int, ...]

    def render(self) -> str:
        ordered = sorted(self.samples_ns)
        p50 = statistics.median(ordered) / 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
        total_s = sum(ordered) / 1e9
        rate = self.decisions_per_call * len(ordered) / total_s
        return f"| {self.name:<44} | {rate:>12,.0f} | {p50:>9.1f} | {p99:>9.1f} |"


def _join_requests() -> list[AuthzRequest]:
    principal = PrincipalRef(
        subject_id=SubjectId("bench-user"),
        tenant=TenantId("acme"),
        groups=frozenset({"member"}),
        email_verified=True,
        amr=frozenset({"pwd"}),
    )
    session = SessionResource(
        session_id=SessionId("bench-room"),
        tenant=TenantId("acme"),
        owner=SubjectId("bench-user"),
        participants=frozenset(SubjectId(f"guest-{i}") for i in range(4)),
        allow_video=True,
    )
    context = RequestContext(risk_score=12, requested_ttl_s=300)
    return [AuthzRequest(principal, action, session, context) for action in JOIN_ACTIONS]


def _measure(name: str, per_call: int, fn: Callable[[], object], iterations: int) -> Row:
    for _ in range(min(200, iterations)):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return Row(name, per_call, tuple(samples))


def _rows(snapshot: PolicySnapshot, iterations: int) -> list[Row]:
    requests = _join_requests()
    n = len(requests)
    entities = build_entities(requests[0].principal, requests[0].resource)
    cedar_requests = [build_cedar_request(r) for r in requests]
    policy_text = "\n".join(text for _, text in snapshot.files)

    def single() -> None:
        for request in requests:
            decide(snapshot, request)

    def raw_text() -> None:
        cedarpy.is_authorized_batch(
            cedar_requests, policy_text, entities, schema=snapshot.schema_text
        )

    def raw_handles() -> None:
        cedarpy.is_authorized_batch(cedar_requests, snapshot.policy_set, entities, snapshot.schema)

    return [
        _measure(f"decide x{n} (one Cedar call each)", n, single, iterations),
        _measure(
            f"decide_many of {n} (one batched call)",
            n,
            lambda: decide_many(snapshot, requests),
            iterations,
        ),
        _measure(
            "decide, 1 action (join only)", 1, lambda: decide(snapshot, requests[0]), iterations
        ),
        _measure(
            f"raw cedarpy batch of {n}, text re-parsed", n, raw_text, max(200, iterations // 10)
        ),
        _measure(f"raw cedarpy batch of {n}, pre-parsed handles", n, raw_handles, iterations),
    ]


def main(argv: list[str] | None = None) -> None:
    """Print decisions/s and per-call p50/p99 latency for single vs batched join decisions."""
    args = sys.argv[1:] if argv is None else argv
    iterations = int(args[0]) if args else DEFAULT_ITERATIONS
    snapshot = load_snapshot(POLICY_DIR)
    out = sys.stdout
    out.write(f"policy set {snapshot.version[:19]}..., {len(snapshot.policies)} policies, ")
    out.write(f"cedarpy {version('cedarpy')}, {iterations} iterations\n\n")
    out.write(f"| {'case':<44} | {'decisions/s':>12} | {'p50 µs':>9} | {'p99 µs':>9} |\n")
    out.write(f"|{'-' * 46}|{'-' * 14}|{'-' * 11}|{'-' * 11}|\n")
    for row in _rows(snapshot, iterations):
        out.write(row.render() + "\n")
    out.write("\np50/p99 are per call (a call decides `decisions/call` actions).\n")


if __name__ == "__main__":
    main()
