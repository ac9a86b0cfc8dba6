"""Liveness, readiness and Prometheus metrics (public: on the allow-list)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from control_plane.deps import State
from control_plane.health.service import check_metrics_access, readiness
from control_plane.openapi import error_responses

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


@router.get(
    "/metrics",
    summary="Prometheus metrics (public only where configured; else the metrics token)",
    response_class=Response,
    responses=error_responses(401, 404),
)
async def metrics(state: State, authorization: Annotated[str | None, Header()] = None) -> Response:
    check_metrics_access(state, authorization)
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
