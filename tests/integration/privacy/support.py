"""Helpers for the privacy tests: users, sessions, worker credentials, canaries, DB scans."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from sqlalchemy import update
from sqlmodel import col

from control_plane.agents.session_credentials import issue_session_credential
from control_plane.sessions.tables import VoiceSession
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv
from tests.support.idp import TEST_OTP, complete_login, get_access_token

# Seeded PII: none of these may ever show up in a log, an error body or the database.
CANARY_NAME = "Zebulon Quarterfield"
CANARY_PHONE = "415-555-0199"
CANARY_EMAIL = "zebulon.quarterfield@example.org"
CANARY_CARD = "4111 1111 1111 1111"
CANARIES = (CANARY_NAME, "Quarterfield", CANARY_PHONE, "5550199", CANARY_EMAIL, CANARY_CARD)
CANARY_SEGMENTS = [
    {
        "role": "user",
        "text": f"Hi, this is {CANARY_NAME}.",
        "start_ms": 0,
        "end_ms": 900,
        "final": True,
    },
    {
        "role": "agent",
        "text": "Hello! How can I help?",
        "start_ms": 1000,
        "end_ms": 1800,
        "final": True,
    },
    {
        "role": "user",
        "text": f"Call me at {CANARY_PHONE} or mail {CANARY_EMAIL}.",
        "start_ms": 2000,
        "end_ms": 4000,
        "final": True,
    },
    {
        "role": "user",
        "text": f"My card is {CANARY_CARD}, and again I am {CANARY_NAME}.",
        "start_ms": 4100,
        "end_ms": 6000,
        "final": True,
    },
]


def bearer(env: HarnessEnv, user: str, *, otp: bool = False) -> dict[str, str]:
    token = get_access_token(env, user, f"{user}-password", otp=TEST_OTP if otp else None)
    return {"Authorization": f"Bearer {token.access_token}"}


@asynccontextmanager
async def browser_user(
    app: RunningApp, env: HarnessEnv, user: str, *, otp: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A console (browser-session) client for ``user`` and its CSRF header.

    The harness IdP puts ``amr`` (pwd, otp) in ID tokens only, not in access tokens, so a
    step-up (MFA) principal is a browser principal here.
    """
    transport = httpx.ASGITransport(app=app.app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        start = await client.get("/auth/login")
        assert start.status_code == 302
        redirect = complete_login(
            env,
            start.headers["location"],
            username=user,
            password=f"{user}-password",
            otp=TEST_OTP if otp else None,
        )
        parts = urlsplit(redirect)
        assert (await client.get(f"{parts.path}?{parts.query}")).status_code == 302
        me = await client.get("/auth/session")
        assert me.status_code == 200
        yield client, {"X-CSRF-Token": me.json()["csrf_token"]}


@asynccontextmanager
async def privacy_app(
    tmp: Path, database_url: str, env: HarnessEnv, clock: FrozenClock, **sections: dict[str, Any]
) -> AsyncIterator[RunningApp]:
    """The real app with the privacy jobs off (tests drive finalisation and retention)."""
    # Any: setting overrides as plain dicts, like environment variables.
    privacy = {"jobs_enabled": False, **sections.pop("privacy", {})}
    settings = make_settings(tmp, database_url=database_url, env=env, privacy=privacy, **sections)
    async with running_app(settings, clock=clock) as app:
        yield app


async def create_session(app: RunningApp, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await app.client.post("/v1/sessions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def worker_credential(
    app: RunningApp, session_id: str, *, ttl: timedelta = timedelta(minutes=15)
) -> str:
    async with unit_of_work(app.state.engine) as tx:
        return await issue_session_credential(
            tx,
            keys=app.state.keys,
            session_id=session_id,
            dispatch_id=f"AD_{session_id[-8:]}",
            ttl=ttl,
            now=app.state.clock(),
        )


async def set_retention_class(app: RunningApp, session_id: str, value: str) -> None:
    async with unit_of_work(app.state.engine) as tx:
        await tx.exec(
            update(VoiceSession)
            .where(col(VoiceSession.id) == session_id)
            .values(retention_class=value)
        )


async def post_transcript(
    app: RunningApp, session_id: str, credential: str, segments: list[dict[str, Any]]
) -> Any:
    # Any: an httpx response.
    # ensure_ascii: a lone surrogate travels as a JSON \ud800 escape, as a hostile worker would.
    return await app.client.post(
        f"/internal/v1/sessions/{session_id}/transcript",
        content=json.dumps({"segments": segments}).encode(),
        headers={"Authorization": f"Bearer {credential}", "content-type": "application/json"},
    )


def _needles(canaries: tuple[str, ...]) -> list[bytes]:
    out: list[bytes] = []
    for canary in canaries:
        raw = canary.encode()
        out += [raw, raw.hex().encode(), canary.lower().encode()]
    return out


def scan_database(database_url: str, canaries: tuple[str, ...] = CANARIES) -> list[str]:
    """Every place a canary appears in plaintext: raw SQLite bytes (with -wal, -shm), or
    every PostgreSQL row rendered as JSON (bytea shows as hex, which is checked too)."""
    needles = _needles(canaries)
    hits: list[str] = []
    if database_url.startswith("sqlite"):
        path = Path(database_url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm", "-journal"):
            file = Path(f"{path}{suffix}")
            if file.exists():
                data = file.read_bytes()
                hits += [f"{file.name}:{n[:12]!r}" for n in needles if n in data]
        return hits
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        for table in tables:
            for (row,) in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t'):  # noqa: S608
                data = str(row).lower().encode()
                hits += [f"{table}:{n[:12]!r}" for n in needles if n.lower() in data]
    return hits
