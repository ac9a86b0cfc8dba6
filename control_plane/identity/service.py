"""Subjects: created on first sight, their status read on every decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit, set_audit_tenant
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.errors import NotFound
from control_plane.identity.browser import (
    NewBrowserSession,
    create_browser_session,
    list_browser_sessions,
    revoke_browser_session,
    revoke_session_by_cookie,
    rotate_csrf_token,
)
from control_plane.identity.client import OidcClient
from control_plane.identity.errors import IdentityProviderUnavailable, LoginFailed
from control_plane.identity.login import complete_login, logout_url, start_login
from control_plane.identity.tables import BrowserSession, Subject
from control_plane.identity.types import AuthMethod, Principal, SubjectId
from control_plane.store.engine import insert_new

if TYPE_CHECKING:
    from control_plane.state import AppState

LAST_SEEN_GRANULARITY = timedelta(minutes=5)
SUBJECT_ID_MAX_LENGTH = 64
_SUBJECTS = Subject.__table__  # type: ignore[attr-defined]


async def ensure_subject(tx: AsyncSession, *, principal: Principal, now: datetime) -> Subject:
    """The principal's subject row, created if new; last-seen updated at most every 5 min.

    Race-safe: a new user's first requests arrive together (on several replicas too), so
    the row is inserted with ``ON CONFLICT DO NOTHING`` and then read. The loser of the
    race waits on the winner's insert and reads its row, instead of failing on the primary
    key (that was a 503 for all but one of the first concurrent requests).
    """
    subject = await tx.get(Subject, principal.subject_id)
    if subject is None:
        row = {
            "id": principal.subject_id,
            "tenant": principal.tenant,
            "created_at": now,
            "last_seen_at": now,
            "status": "active",
            "status_reason": "",
            "legal_hold": False,
        }
        await insert_new(await tx.connection(), _SUBJECTS, [row], key="id")
        subject = await tx.get(Subject, principal.subject_id)
        if subject is None:  # erased between the insert and the read
            raise NotFound("subject not found")
        return subject
    last_seen = subject.last_seen_at
    if last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=now.tzinfo)
    if now - last_seen > LAST_SEEN_GRANULARITY:
        subject.last_seen_at = now
        tx.add(subject)
    return subject


# Built once (compiled forms are cached): these run for every batch of mints.
_SELECT_SUBJECTS = sa_select(_SUBJECTS.c.id, _SUBJECTS.c.status, _SUBJECTS.c.last_seen_at).where(
    _SUBJECTS.c.id.in_(bindparam("ids", expanding=True))
)
_TOUCH_SUBJECT = (
    sa_update(_SUBJECTS)
    .where(_SUBJECTS.c.id == bindparam("subject_id"))
    .values(last_seen_at=bindparam("seen_at"))
)


async def ensure_subjects(
    tx: AsyncSession, *, principals: Sequence[Principal], now: datetime
) -> dict[str, str]:
    """``ensure_subject`` for several principals at once (one read, at most one insert and
    one update): the status of each subject, keyed by subject id."""
    wanted = {principal.subject_id: principal for principal in principals}
    if not wanted:
        return {}
    connection = await tx.connection()
    rows = (await connection.execute(_SELECT_SUBJECTS, {"ids": list(wanted)})).all()
    statuses: dict[str, str] = {}
    stale: list[dict[str, object]] = []
    for subject_id, status, last_seen in rows:
        statuses[subject_id] = status
        seen = last_seen if last_seen.tzinfo is not None else last_seen.replace(tzinfo=now.tzinfo)
        if now - seen > LAST_SEEN_GRANULARITY:
            stale.append({"subject_id": subject_id, "seen_at": now})
    new = [
        {
            "id": subject_id,
            "tenant": principal.tenant,
            "created_at": now,
            "last_seen_at": now,
            "status": "active",
            "status_reason": "",
            "legal_hold": False,
        }
        for subject_id, principal in wanted.items()
        if subject_id not in statuses
    ]
    # A row another replica inserted first is just as new: active either way.
    await insert_new(connection, _SUBJECTS, new, key="id")
    statuses.update((str(row["id"]), "active") for row in new)
    if stale:
        await connection.execute(_TOUCH_SUBJECT, stale)
    return statuses


_SUBJECT_STATUS = sa_select(_SUBJECTS.c.status).where(_SUBJECTS.c.id == bindparam("id"))


async def subject_status(tx: AsyncSession, subject_id: str) -> str | None:
    """The subject's status (active, locked, erasing), or None if never seen (one Core
    read: join auditing asks for every join)."""
    if len(subject_id) > SUBJECT_ID_MAX_LENGTH:
        return None
    connection = await tx.connection()
    status = (await connection.execute(_SUBJECT_STATUS, {"id": subject_id})).scalar()
    return str(status) if status is not None else None


async def find_subject(tx: AsyncSession, subject_id: SubjectId | str) -> Subject | None:
    """The subject row, or None if never seen (or erased)."""
    return await tx.get(Subject, subject_id)


def _oidc(state: AppState) -> OidcClient:
    if state.oidc is None:
        raise IdentityProviderUnavailable("login is not configured (oidc.issuer)")
    return state.oidc


async def begin_login(tx: AsyncSession, *, state: AppState) -> str:
    """The IdP authorization URL for a fresh login."""
    return await start_login(
        tx, oidc=_oidc(state), settings=state.settings.browser, now=state.clock()
    )


async def finish_login(
    tx: AsyncSession, *, state: AppState, query: Mapping[str, str], request_id: str
) -> NewBrowserSession:
    """Complete the login, create the subject if new and a new browser session; audited."""
    now = state.clock()
    try:
        completed = await complete_login(
            tx, oidc=_oidc(state), query=query, pseudonym_key=state.keys.pseudonym_key, now=now
        )
    except LoginFailed as exc:
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.LOGIN_FAILED,
                outcome=Outcome.FAILURE,
                reason=exc.reason,
                request_id=request_id,
            ),
            now=now,
        )
        raise
    principal = completed.principal
    set_audit_tenant(tx, principal.tenant)
    subject = await ensure_subject(tx, principal=principal, now=now)
    if subject.status != "active":
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.LOGIN_FAILED,
                outcome=Outcome.DENIED,
                actor=principal.subject_id,
                reason=f"subject is {subject.status}",
                request_id=request_id,
            ),
            now=now,
        )
        raise LoginFailed(f"subject is {subject.status}")
    session = await create_browser_session(
        tx, principal=principal, settings=state.settings.browser, now=now
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.LOGIN,
            outcome=Outcome.SUCCESS,
            actor=principal.subject_id,
            reason="oidc login",
            request_id=request_id,
            details={"session": session.row.handle, "amr": list(principal.amr)},
        ),
        now=now,
    )
    return session


async def issue_csrf(
    tx: AsyncSession, *, principal: Principal, cookie_value: str | None
) -> str | None:
    """A fresh CSRF token for browser principals; None for bearer callers."""
    if principal.method is not AuthMethod.BROWSER or not cookie_value:
        return None
    return await rotate_csrf_token(tx, cookie_value=cookie_value)


async def logout(
    tx: AsyncSession,
    *,
    state: AppState,
    principal: Principal,
    cookie_value: str | None,
    request_id: str,
) -> str | None:
    """End the browser session here; return the IdP's logout URL (RP-initiated logout)."""
    now = state.clock()
    if cookie_value:
        await revoke_session_by_cookie(tx, cookie_value=cookie_value, now=now)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.LOGOUT,
            outcome=Outcome.SUCCESS,
            actor=principal.subject_id,
            reason="user logout",
            request_id=request_id,
        ),
        now=now,
    )
    return await logout_url(state.oidc) if state.oidc is not None else None


async def list_own_sessions(
    tx: AsyncSession, *, principal: Principal, now: datetime
) -> Sequence[BrowserSession]:
    """The caller's own live browser sessions."""
    return await list_browser_sessions(tx, subject_id=principal.subject_id, now=now)


async def revoke_own_session(
    tx: AsyncSession, *, principal: Principal, handle: str, now: datetime, request_id: str
) -> None:
    """Revoke one of the caller's sessions (ASVS 7.5.2); audited."""
    if len(handle) > 32:
        raise NotFound("session not found")
    await revoke_browser_session(tx, subject_id=principal.subject_id, handle=handle, now=now)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.BROWSER_SESSION_REVOKED,
            outcome=Outcome.SUCCESS,
            actor=principal.subject_id,
            target=handle,
            reason="revoked by its owner",
            request_id=request_id,
        ),
        now=now,
    )
