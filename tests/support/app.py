"""Build real apps for tests: real settings, real store, real policies; clock injectable."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.config import Settings
from control_plane.livekit.client import LiveKitRooms
from control_plane.state import AppState
from control_plane.store.migrate import upgrade_database_sync
from tests.support.harness import HarnessEnv

REPO = Path(__file__).resolve().parents[2]


def _template_name() -> str:
    """The migrated template's name, by the migrations' content: checkouts with different
    migrations sharing one PostgreSQL never clone each other's schema (nor drop a template
    another is cloning)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "control_plane" / "store").rglob("*.py")):
        digest.update(path.read_bytes())
    return f"cp_test_template_{digest.hexdigest()[:12]}"


TEMPLATE_DB = _template_name()


class FrozenClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _admin_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def ensure_pg_template(env: HarnessEnv) -> None:
    """A migrated template database that per-test databases are cloned from."""
    admin = _with_database(_admin_dsn(env.test_pg_url), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    upgrade_database_sync(_with_database(env.test_pg_url, TEMPLATE_DB))


def create_pg_database(env: HarnessEnv) -> str:
    """A fresh database cloned from the migrated template; returns its async URL."""
    name = f"cp_t_{uuid.uuid4().hex[:12]}"
    admin = _with_database(_admin_dsn(env.test_pg_url), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    return _with_database(env.test_pg_url, name)


def drop_pg_database(env: HarnessEnv, url: str) -> None:
    name = url.rpartition("/")[2]
    admin = _with_database(_admin_dsn(env.test_pg_url), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def make_settings(
    tmp: Path,
    *,
    database_url: str = "",
    env: HarnessEnv | None = None,
    **sections: dict[str, Any],
) -> Settings:
    """Development settings rooted in ``tmp``; wired to the harness services when given."""
    # Any: nested setting overrides as plain dicts, like environment variables would be.
    base: dict[str, dict[str, Any]] = {
        "server": {"var_dir": tmp / "var", "public_base_url": "http://testserver"},
        "database": {"url": database_url},
        "policies": {"dir": REPO / "policies"},
        "keys": {"dir": tmp / "keys"},
    }
    if env is not None:
        base["livekit"] = {
            "url": env.livekit_url,
            "api_key": env.livekit_api_key,
            "api_secret": env.livekit_api_secret,
            "webhook_api_key": env.livekit_webhook_key,
            "webhook_api_secret": env.livekit_webhook_secret,
        }
        base["oidc"] = {
            "issuer": env.idp_issuer,
            "client_id": env.idp_web_client_id,
            "client_secret": env.idp_web_client_secret,
            "audience": env.idp_audience,
            "redirect_uri": "http://testserver/auth/callback",
            "post_logout_redirect_uri": "http://testserver/",
        }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return Settings.model_validate(base)


@dataclass
class RunningApp:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.cp
        return state


@asynccontextmanager
async def running_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    livekit: LiveKitRooms | None = None,
) -> AsyncIterator[RunningApp]:
    """The real app with its lifespan running, reached in-process over ASGI."""
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    app = create_app(settings, livekit=livekit, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield RunningApp(app=app, client=client)
