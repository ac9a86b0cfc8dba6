"""Server-side browser sessions: opaque 256-bit ids, idle and absolute timeouts, CSRF.

The cookie carries only the opaque id; the table stores its SHA-256, so a database
read does not yield usable session ids (ASVS 7.2.3). A new id is issued at every login
(ASVS 7.2.4). State-changing cookie requests need the per-session CSRF token.

The CSRF token is derived from the session id under the session secret (HMAC), so it is
the same for every tab of a browser session and for every ``GET /auth/session``, and a
new one comes only with a new session (login, step-up login); the table keeps its hash.
Knowing it reveals nothing about the cookie, and without the cookie it cannot be derived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.clock import as_utc
from control_plane.config import BrowserSessionSettings
from control_plane.crypto.digest import secret_digest
from control_plane.errors import NotFound
from control_plane.identity.errors import AuthenticationFailed, CsrfRejected
from control_plane.identity.tables import BrowserSession
from control_plane.identity.types import AuthMethod, Principal, SubjectId

TOUCH_GRANULARITY = timedelta(seconds=60)
MAX_COOKIE_CHARS = 128


@dataclass(frozen=True)
class NewBrowserSession:
    cookie_value: str
    csrf_token: str
    row: BrowserSession


def csrf_token_for(session_secret: bytes, cookie_value: str) -> str:
    """The session's CSRF token: HMAC-SHA256(session secret, "csrf" NUL session id)."""
    mac = hmac.new(session_secret, f"csrf\x00{cookie_value}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


async def create_browser_session(
    tx: AsyncSession,
    *,
    principal: Principal,
    settings: BrowserSessionSettings,
    session_secret: bytes,
    now: datetime,
) -> NewBrowserSession:
    """A fresh session id and CSRF token for a principal who just logged in."""
    cookie_value = secrets.token_urlsafe(32)
    csrf_token = csrf_token_for(session_secret, cookie_value)
    row = BrowserSession(
        id_hash=secret_digest(cookie_value),
        handle=secrets.token_hex(8),
        subject_id=principal.subject_id,
        tenant=principal.tenant,
        groups=sorted(principal.groups),
        email_verified=principal.email_verified,
        amr=list(principal.amr),
        acr=principal.acr,
        auth_time=principal.auth_time,
        csrf_token_hash=secret_digest(csrf_token),
        created_at=now,
        last_seen_at=now,
        absolute_expires_at=now + timedelta(seconds=settings.absolute_timeout_seconds),
    )
    tx.add(row)
    await tx.flush()
    return NewBrowserSession(cookie_value=cookie_value, csrf_token=csrf_token, row=row)


async def resolve_browser_session(
    tx: AsyncSession, cookie_value: str, *, settings: BrowserSessionSettings, now: datetime
) -> Principal:
    """The principal behind a session cookie; expired, idle or revoked sessions fail."""
    if not cookie_value or len(cookie_value) > MAX_COOKIE_CHARS:
        raise AuthenticationFailed("session cookie malformed")
    row = await tx.get(BrowserSession, secret_digest(cookie_value))
    if row is None:
        raise AuthenticationFailed("session unknown")
    if row.revoked_at is not None:
        raise AuthenticationFailed("session revoked")
    if as_utc(row.absolute_expires_at) <= now:
        raise AuthenticationFailed("session expired (absolute)")
    idle_deadline = as_utc(row.last_seen_at) + timedelta(seconds=settings.idle_timeout_seconds)
    if idle_deadline <= now:
        raise AuthenticationFailed("session expired (idle)")
    if now - as_utc(row.last_seen_at) > TOUCH_GRANULARITY:
        row.last_seen_at = now
        tx.add(row)
    return Principal(
        subject_id=SubjectId(row.subject_id),
        tenant=row.tenant,
        groups=frozenset(row.groups),
        email_verified=row.email_verified,
        amr=tuple(row.amr),
        acr=row.acr,
        auth_time=row.auth_time,
        method=AuthMethod.BROWSER,
        browser_session=row.handle,
    )


async def check_csrf(tx: AsyncSession, *, cookie_value: str, csrf_token: str | None) -> None:
    """The request's CSRF header matches the session's token (constant-time compare)."""
    row = await tx.get(BrowserSession, secret_digest(cookie_value))
    if row is None or not csrf_token or len(csrf_token) > MAX_COOKIE_CHARS:
        raise CsrfRejected()
    if not hmac.compare_digest(row.csrf_token_hash, secret_digest(csrf_token)):
        raise CsrfRejected()


async def list_browser_sessions(
    tx: AsyncSession, *, subject_id: SubjectId, now: datetime
) -> Sequence[BrowserSession]:
    """The subject's live sessions, newest first."""
    rows = (
        await tx.exec(
            select(BrowserSession)
            .where(BrowserSession.subject_id == subject_id)
            .where(col(BrowserSession.revoked_at).is_(None))
            .order_by(col(BrowserSession.created_at).desc())
        )
    ).all()
    return [r for r in rows if as_utc(r.absolute_expires_at) > now]


async def revoke_browser_session(
    tx: AsyncSession, *, subject_id: SubjectId, handle: str, now: datetime
) -> BrowserSession:
    """Revoke one of the subject's own sessions; another subject's handle is NotFound."""
    row = (
        await tx.exec(
            select(BrowserSession)
            .where(BrowserSession.handle == handle)
            .where(BrowserSession.subject_id == subject_id)
        )
    ).first()
    if row is None:
        raise NotFound("session not found")
    if row.revoked_at is None:
        row.revoked_at = now
        tx.add(row)
    return row


async def revoke_session_by_cookie(tx: AsyncSession, *, cookie_value: str, now: datetime) -> None:
    """Logout: revoke the session behind this cookie if it exists."""
    row = await tx.get(BrowserSession, secret_digest(cookie_value))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        tx.add(row)


async def revoke_all_browser_sessions(
    tx: AsyncSession, *, subject_id: SubjectId, now: datetime
) -> int:
    """Revoke every session of a subject (lock, erasure); returns how many."""
    rows = (
        await tx.exec(
            select(BrowserSession)
            .where(BrowserSession.subject_id == subject_id)
            .where(col(BrowserSession.revoked_at).is_(None))
        )
    ).all()
    for row in rows:
        row.revoked_at = now
        tx.add(row)
    return len(rows)
