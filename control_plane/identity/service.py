"""Subjects: created on first sight, their status read on every decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    csrf_token_for,
    list_browser_sessions,
    revoke_browser_session,
    revoke_session_by_cookie,
)
from control_plane.identity.client import OidcClient
from control_plane.identity.errors import (
    IdentityProviderUnavailable,
    LoginFailed,
    ReturnToRefused,
)
from control_plane.identity.login import StartedLogin, complete_login, logout_url, start_login
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.identity.suppression import (
    LOCKED_BEFORE_ERASURE,
    find_suppression,
    suppressed_among,
)
from control_plane.identity.tables import BrowserSession, Subject
from control_plane.identity.types import AuthMethod, Principal, SubjectId
from control_plane.store.engine import insert_new

if TYPE_CHECKING:
    from control_plane.state import AppState

LAST_SEEN_GRANULARITY = timedelta(minutes=5)
SUBJECT_ID_MAX_LENGTH = 64
_SUBJECTS = Subject.__table__  # type: ignore[attr-defined]


async def ensure_subject(tx: AsyncSession, *, principal: Principal, now: datetime) -> Subject:
    """The principal's subject row, created if new (locked if its lock outlived an erasure);
    last-seen updated at most every 5 min.

    Race-safe: a new user's first requests arrive together (on several replicas too), so
    the row is inserted with ``ON CONFLICT DO NOTHING`` and then read. The loser of the
    race waits on the winner's insert and reads its row, instead of failing on the primary
    key (that was a 503 for all but one of the first concurrent requests).
    """
    subject = await tx.get(Subject, principal.subject_id)
    if subject is None:
        suppressed = await find_suppression(tx, principal.subject_id) is not None
        row = {
            "id": principal.subject_id,
            "tenant": principal.tenant,
            "created_at": now,
            "last_seen_at": now,
            "status": "locked" if suppressed else "active",
            "status_reason": LOCKED_BEFORE_ERASURE if suppressed else "",
            "status_changed_at": now if suppressed else None,
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
    unseen = [subject_id for subject_id in wanted if subject_id not in statuses]
    suppressed = await suppressed_among(tx, unseen)  # a lock that outlived an erasure
    new = [
        {
            "id": subject_id,
            "tenant": wanted[subject_id].tenant,
            "created_at": now,
            "last_seen_at": now,
            "status": "locked" if subject_id in suppressed else "active",
            "status_reason": LOCKED_BEFORE_ERASURE if subject_id in suppressed else "",
            "status_changed_at": now if subject_id in suppressed else None,
            "legal_hold": False,
        }
        for subject_id in unseen
    ]
    # A row another replica inserted first is just as new, and got the same status.
    await insert_new(connection, _SUBJECTS, new, key="id")
    statuses.update((str(row["id"]), str(row["status"])) for row in new)
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


@dataclass(frozen=True)
class FinishedLogin:
    """A new browser session and where the browser goes next (a same-origin path)."""

    session: NewBrowserSession
    return_to: str


async def _audit_failed_login(
    tx: AsyncSession,
    *,
    state: AppState,
    reason: str,
    address: str,
    request_id: str,
    now: datetime,
    actor: str | None = None,
    outcome: Outcome = Outcome.FAILURE,
    counted: bool = True,
) -> None:
    """Audit a refused login with its exact reason and count it for the client address
    (the auth-failure detector); both survive the rollback of the failed request."""
    address_key = pseudonymize_address(state.keys.pseudonym_key, address)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.LOGIN_FAILED,
            outcome=outcome,
            actor=actor,
            reason=reason,
            request_id=request_id,
            details={"address": address_key},
        ),
        now=now,
    )
    if counted:
        await state.risk.observe_auth_failure(
            tx, address_key=address_key, request_id=request_id, now=now
        )


async def begin_login(
    tx: AsyncSession, *, state: AppState, return_to: str | None, address: str, request_id: str
) -> StartedLogin:
    """The IdP authorization URL for a fresh login and the binding for its pre-login
    cookie; a ``return_to`` that is not a same-origin path is refused, audited, counted."""
    now = state.clock()
    try:
        return await start_login(
            tx, oidc=_oidc(state), settings=state.settings.browser, return_to=return_to, now=now
        )
    except ReturnToRefused:
        await _audit_failed_login(
            tx,
            state=state,
            reason="return_to refused (not a same-origin relative path)",
            outcome=Outcome.DENIED,
            address=address,
            request_id=request_id,
            now=now,
        )
        raise


async def finish_login(
    tx: AsyncSession,
    *,
    state: AppState,
    query: Sequence[tuple[str, str]],
    binding: str | None,
    address: str,
    request_id: str,
) -> FinishedLogin:
    """Complete the login begun in this browser (``binding``: its pre-login cookie),
    create the subject if new and a new browser session.

    Every refusal (IdP error, missing or foreign login cookie, unknown or replayed state,
    refused code exchange, bad ID token, locked subject) is audited with its reason and
    counted against the client address; an unreachable IdP is audited but not counted
    (not the client's doing).
    """
    now = state.clock()
    try:
        completed = await complete_login(
            tx,
            oidc=_oidc(state),
            query=query,
            binding=binding,
            pseudonym_key=state.keys.pseudonym_key,
            now=now,
        )
    except LoginFailed as exc:
        await _audit_failed_login(
            tx, state=state, reason=exc.reason, address=address, request_id=request_id, now=now
        )
        raise
    except IdentityProviderUnavailable:
        await _audit_failed_login(
            tx,
            state=state,
            reason="identity provider unavailable",
            counted=False,
            address=address,
            request_id=request_id,
            now=now,
        )
        raise
    principal = completed.principal
    set_audit_tenant(tx, principal.tenant)
    subject = await ensure_subject(tx, principal=principal, now=now)
    if subject.status != "active":
        reason = f"subject is {subject.status}"
        await _audit_failed_login(
            tx,
            state=state,
            reason=reason,
            actor=principal.subject_id,
            outcome=Outcome.DENIED,
            address=address,
            request_id=request_id,
            now=now,
        )
        raise LoginFailed(reason)
    session = await create_browser_session(
        tx,
        principal=principal,
        settings=state.settings.browser,
        session_secret=state.keys.session_secret,
        now=now,
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
    return FinishedLogin(session=session, return_to=completed.return_to)


def issue_csrf(state: AppState, *, principal: Principal, cookie_value: str | None) -> str | None:
    """The browser session's CSRF token (stable for the session, so every tab shares it);
    None for bearer callers."""
    if principal.method is not AuthMethod.BROWSER or not cookie_value:
        return None
    return csrf_token_for(state.keys.session_secret, cookie_value)


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
