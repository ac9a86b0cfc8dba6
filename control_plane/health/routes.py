"""Liveness, readiness and Prometheus metrics (public: on the allow-list)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from control_plane.deps import State
from control_plane.health.service import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database, policy set and LiveKit reachable",
    responses={503: {"description": "a dependency is down; the body names it"}},
)
async def readyz(state: State) -> JSONResponse:
    report = await readiness(state)
    checks = {c.name: {"ok": c.ok, "detail": c.detail} for c in report}
    failing = [c.name for c in report if not c.ok]
    if failing:
        return JSONResponse(
            {
                "error": "unavailable",
                "detail": f"not ready: {', '.join(failing)}",
                "checks": checks,
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
