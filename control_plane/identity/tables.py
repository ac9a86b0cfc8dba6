"""Identity tables: subjects (pseudonymous), browser sessions and pending logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class Subject(SQLModel, table=True):
    """A person known only by pseudonym: HMAC(issuer, subject) under the pseudonym key."""

    __tablename__ = "subject"

    id: str = Field(primary_key=True, max_length=64)
    tenant: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(default="active", max_length=16)  # SubjectStatus (identity.subjects)
    status_reason: str = Field(default="", max_length=256)
    status_changed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    legal_hold: bool = Field(default=False)


class BrowserSession(SQLModel, table=True):
    """Server-side browser session; the cookie holds an opaque id, the table its SHA-256."""

    __tablename__ = "browser_session"
    __table_args__ = (
        Index("ix_browser_session_subject", "subject_id"),
        Index("ix_browser_session_expires", "absolute_expires_at"),  # retention
    )

    id_hash: str = Field(primary_key=True, max_length=64)
    handle: str = Field(max_length=32, unique=True)  # non-secret id to list/revoke
    subject_id: str = Field(max_length=64)
    tenant: str = Field(max_length=128)
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    email_verified: bool = Field(default=False)
    amr: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    acr: str | None = Field(default=None, max_length=128)
    auth_time: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    csrf_token_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    absolute_expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class PendingLogin(SQLModel, table=True):
    """State, nonce and PKCE verifier of a login in flight; consumed once at the callback.

    ``binding_hash`` is the SHA-256 of the pre-login cookie set on the browser that began
    the login: the callback must come from that browser (login CSRF, T-ID-7).
    """

    __tablename__ = "pending_login"
    __table_args__ = (Index("ix_pending_login_expires", "expires_at"),)  # retention

    state_hash: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(max_length=128)
    code_verifier: str = Field(max_length=128)
    binding_hash: str = Field(max_length=64)
    return_to: str = Field(max_length=512)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SubjectSuppression(SQLModel, table=True):
    """A lock that outlives the subject's erasure: an erased, locked subject who logs in
    again is locked again. Pseudonym, tenant and a reason code only; no personal data
    beyond the pseudonym. Deleted when the subject is unlocked."""

    __tablename__ = "subject_suppression"

    subject_id: str = Field(primary_key=True, max_length=64)
    tenant: str = Field(max_length=128)
    status: str = Field(default="locked", max_length=16)
    reason_code: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
