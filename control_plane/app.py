"""FastAPI app factory: routers, middleware and lifespan. The only wiring place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

from control_plane import __version__
from control_plane.agents.routes import internal_router as agents_internal_router
from control_plane.agents.routes import router as agents_router
from control_plane.agents.runtime import AgentRuntime
from control_plane.agents.supervisor import Supervisor
from control_plane.agents.telemetry import AgentTelemetry
from control_plane.audit.jobs import audit_jobs
from control_plane.audit.routes import router as audit_router
from control_plane.authz.engine import PolicyStore
from control_plane.authz.routes import router as policies_router
from control_plane.authz.signals import SighupReloader
from control_plane.clock import Clock, utc_now
from control_plane.config import Settings
from control_plane.crypto.hs256 import Hs256Key
from control_plane.crypto.keyring import load_key_ring
from control_plane.errors import ControlPlaneError, RateLimited
from control_plane.health.routes import router as health_router
from control_plane.identity.client import OidcClient
from control_plane.identity.routes import router as identity_router
from control_plane.jobs import JobRunner
from control_plane.livekit.client import LiveKitRooms, make_livekit_client
from control_plane.livekit.jobs import LiveKitWork
from control_plane.livekit.routes import webhook_route
from control_plane.livekit.service import WebhookReceiver
from control_plane.logs import get_logger
from control_plane.middleware import (
    HttpMetrics,
    RequestContextMiddleware,
    RequestGuardMiddleware,
    SecurityHeadersMiddleware,
)
from control_plane.openapi import install_openapi
from control_plane.privacy.jobs import privacy_jobs
from control_plane.privacy.redactor import TranscriptRedactor
from control_plane.privacy.routes import internal_router as privacy_internal_router
from control_plane.privacy.routes import router as privacy_router
from control_plane.risk.address import parse_networks
from control_plane.risk.jobs import risk_jobs
from control_plane.risk.limiter import RateLimiter
from control_plane.risk.monitor import DetectionRules, RiskMonitor
from control_plane.risk.routes import router as anomalies_router
from control_plane.sessions.jobs import session_jobs
from control_plane.sessions.joins import join_minter
from control_plane.sessions.revocation import evict_subject_everywhere
from control_plane.sessions.routes import router as sessions_router
from control_plane.sessions.routes import subjects_router
from control_plane.state import AppState
from control_plane.store.checkpoint import start_checkpointer
from control_plane.store.engine import create_engine
from control_plane.store.migrate import upgrade_database
from control_plane.tokens.bench_routes import router as bench_router

_log = get_logger("control_plane.app")

PUBLIC_ROUTES = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/auth/login",
        "/auth/callback",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        # Authenticated by a session-bound worker credential (privacy/deps.py), not a user.
        "/internal/v1/sessions/{session_id}/transcript",
        "/internal/v1/sessions/{session_id}/metrics",
        # Authenticated by a worker process credential (agents/deps.py).
        "/internal/v1/workers/heartbeat",
        "/webhooks/livekit",  # authenticated by the webhook signature over the body
    }
)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _error_body(request: Request, code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail, "request_id": _request_id(request)}


def install_error_handlers(app: FastAPI) -> None:
    """One rendering for every error: stable code, safe message, request id, nothing else."""

    @app.exception_handler(ControlPlaneError)
    async def _domain(request: Request, exc: ControlPlaneError) -> JSONResponse:
        headers: dict[str, str] = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="control-plane"'
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        body = _error_body(request, exc.instance_code, exc.message)
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input: it may carry tokens or PII.
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        detail = f"{where}: {first.get('msg', 'invalid')}"[:200]
        return JSONResponse(_error_body(request, "invalid", detail), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        code = codes.get(exc.status_code, "http_error")
        detail = code.replace("_", " ")
        return JSONResponse(
            _error_body(request, code, detail), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # The client went away mid-body (or its body was refused, see the body limit):
        # nobody to answer and nothing wrong here, so no 500 and no traceback (T-DOS-4).
        _log.info("http.client_disconnected", request_id=_request_id(request))
        body = _error_body(request, "client_disconnected", "request body incomplete")
        return JSONResponse(body, status_code=400)

    @app.exception_handler(SQLAlchemyError)
    async def _store(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Fail closed: a store that cannot record the decision means no token (503).
        _log.error("store.error", error_code=type(exc).__name__, request_id=_request_id(request))
        body = _error_body(request, "store_unavailable", "storage unavailable")
        return JSONResponse(body, status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error(
            "http.unhandled_error", error_code=type(exc).__name__, request_id=_request_id(request)
        )
        return JSONResponse(
            _error_body(request, "internal_error", "internal error"), status_code=500
        )


def create_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    livekit: LiveKitRooms | None = None,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the app; every dependency is created in the lifespan from ``settings``.

    ``livekit`` is the one injectable seam (unit tests pass a fake implementing
    ``LiveKitRooms``); everything else is real. ``on_started`` runs once the lifespan has
    built everything, just before serving (``serve`` settles the heap there).
    """
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry)
    telemetry = AgentTelemetry(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database_url = settings.database_url
        if settings.is_development:
            await upgrade_database(database_url)
        engine = create_engine(
            database_url, echo=settings.database.echo, background_checkpoints=True
        )
        configure_mappers()  # now, not on the first request (measured: a 200 ms pause)
        keys = load_key_ring(
            settings.keys, settings.key_dir, is_development=settings.is_development
        )
        policies = PolicyStore.open(settings.policies.dir)
        limiter = RateLimiter(settings.risk.storage_url)

        async def evict(tx: AsyncSession, *, subject_id: str, reason: str, now: datetime) -> None:
            # A lock from anomaly detection removes the subject from LiveKit too.
            await evict_subject_everywhere(
                tx,
                subject_id=subject_id,
                reason=reason,
                now=now,
                rekick=timedelta(seconds=settings.webhooks.rekick_seconds),
                wake=lambda name: runner.wake(name),
            )

        risk = RiskMonitor(limiter, DetectionRules.from_settings(settings.risk), evict=evict)
        livekit_client = livekit or make_livekit_client(settings.livekit)
        # Jobs wake each other after commits; the runner is bound late (it needs the jobs).
        work = LiveKitWork(
            engine=engine,
            livekit=livekit_client,
            settings=settings,
            clock=clock,
            wake=lambda name: runner.wake(name),
        )
        redactor = TranscriptRedactor(workers=settings.privacy.redaction_workers)
        runner = JobRunner(
            [
                *privacy_jobs(
                    engine=engine, keys=keys, redactor=redactor, settings=settings, clock=clock
                ),
                *work.jobs(),
                *audit_jobs(
                    engine,
                    key=keys.audit_signing_key,
                    settings=settings.audit,
                    clock=clock,
                    pace=work.intake.give_way,  # the checkpoint walk waits for a gap
                    witness_file=settings.witness_file,
                ),
                *risk_jobs(engine, http=lambda: http, settings=settings, clock=clock),
                *session_jobs(
                    engine,
                    clock=clock,
                    wake=lambda name: runner.wake(name),
                    interval_seconds=settings.webhooks.deadline_interval_seconds,
                ),
            ]
        )
        supervisor = (
            Supervisor(
                engine=engine,
                credential_key=keys.worker_credential_key,
                settings=settings,
                clock=clock,
            )
            if settings.agents.workers
            else None
        )
        trusted_proxies = parse_networks(settings.server.trusted_proxies)
        webhooks = WebhookReceiver(
            policy=work.policy,
            intake=work.intake,
            engine=engine,
            limiter=limiter,
            rejection_audit_limit=settings.webhooks.rejection_audit_limit,
            clock=clock,
            pseudonym_key=keys.pseudonym_key,
            trusted_proxies=trusted_proxies,
        )
        minter = join_minter(engine)
        timeout = httpx.Timeout(settings.livekit.timeout_seconds, connect=2.0)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            app.state.cp = AppState(
                settings=settings,
                engine=engine,
                keys=keys,
                http=http,
                registry=registry,
                clock=clock,
                policies=policies,
                oidc=OidcClient(settings.oidc, http) if settings.oidc.is_configured else None,
                livekit=livekit_client,
                limiter=limiter,
                trusted_proxies=trusted_proxies,
                redactor=redactor,
                jobs=runner,
                livekit_work=work,
                webhooks=webhooks,
                agents=AgentRuntime(telemetry=telemetry, supervisor=supervisor),
                risk=risk,
                minter=minter,
                token_key=(
                    Hs256Key(settings.livekit.api_secret.get_secret_value())
                    if settings.livekit.is_configured
                    else None
                ),
            )
            # Checkpoints wait (boundedly) while webhook deliveries stream in.
            checkpoints = start_checkpointer(database_url, defer=lambda: work.intake.is_busy)
            work.intake.start()
            minter.start()
            runner.start()
            _log.info(
                "app.started",
                service="control-plane",
                state=settings.env.value,
                reason="embedded defaults" if not settings.database.url else "configured",
            )
            reloader = SighupReloader(store=policies, engine=engine, clock=clock)
            reloader.install()
            try:
                if supervisor is not None:
                    await supervisor.start()
                if on_started is not None:
                    on_started()
                yield
            finally:
                if supervisor is not None:
                    await supervisor.stop()  # drain workers while the store is still open
                await work.intake.stop()  # store what was acknowledged-in-flight first
                await minter.stop()
                await runner.stop()
                reloader.remove()
                await limiter.aclose()
                await livekit_client.aclose()
                await redactor.aclose()
                await engine.dispose()
                if checkpoints is not None:
                    await asyncio.to_thread(checkpoints.stop)

    app = FastAPI(
        title="Voice session control plane",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs" if settings.is_development else None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # Routes match in order: the hot paths (webhook intake, token mint) come first.
    app.router.routes.append(webhook_route)
    app.include_router(sessions_router)
    if settings.server.benchmark_routes and settings.is_development:
        app.include_router(bench_router)  # next to the mint it is compared with
    app.include_router(health_router)
    app.include_router(identity_router)
    app.include_router(privacy_router)
    app.include_router(privacy_internal_router)
    app.include_router(subjects_router)
    app.include_router(policies_router)
    app.include_router(agents_router)
    app.include_router(agents_internal_router)
    app.include_router(audit_router)
    app.include_router(anomalies_router)
    install_openapi(app)
    # Innermost first: the body limit, CORS, the security headers (on every answer,
    # 413s and preflights included), the request context outermost.
    app.add_middleware(
        RequestGuardMiddleware,
        max_bytes=settings.server.max_body_bytes,
        raw_body_paths=frozenset({webhook_route.path}),
    )
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.server.cors_origins),
            allow_credentials=settings.server.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["authorization", "content-type", "x-csrf-token", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"],
            max_age=600,
        )
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts=settings.server.public_base_url.startswith("https://"),
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
