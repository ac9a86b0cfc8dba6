"""Minting: plan a token from its decisions, record it (ledger row and audit record), sign.

The ledger rows and the mint records are written in the caller's transaction, before the
signed token can leave it: if they cannot be written the transaction fails and no token
leaves the service (fail closed; Vault's "no response without an audit record").
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import RowMapping, bindparam, insert
from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.recording import decision_details
from control_plane.authz.types import Action, Decision
from control_plane.crypto.hs256 import Hs256Key
from control_plane.tokens.claims import join_claims, sign_join_token
from control_plane.tokens.grants import compute_grants
from control_plane.tokens.tables import MintLedger
from control_plane.tokens.types import Grants, MintedToken, RoomName, TokenId

_INSERT_LEDGER = insert(MintLedger.__table__)  # type: ignore[attr-defined]


def new_token_id() -> TokenId:
    return TokenId(f"tid_{secrets.token_hex(12)}")


@dataclass(frozen=True, slots=True)
class PlannedMint:
    """A join token decided but not yet recorded or signed."""

    token_id: TokenId
    subject_id: str
    session_id: str
    room: RoomName
    grants: Grants
    issued_at: datetime
    expires_at: datetime
    decisions: tuple[Decision, ...]
    client_address: str
    request_id: str | None

    @property
    def join(self) -> Decision:
        return next(d for d in self.decisions if d.action is Action.JOIN)

    def ledger_row(self) -> dict[str, object]:
        join = self.join
        return {
            "id": self.token_id,
            "subject_id": self.subject_id,
            "session_id": self.session_id,
            "room_name": self.room,
            "identity": self.subject_id,
            "grants": self.grants.as_dict(),
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "decision_id": join.id,
            "policy_version": join.policy_version,
            "client_address": self.client_address[:64],
        }

    def audit_event(self, tenant: str | None) -> AuditEvent:
        join = self.join
        return AuditEvent(
            type=AuditEventType.TOKEN_MINTED,
            outcome=Outcome.SUCCESS,
            actor=self.subject_id,
            target=self.session_id,
            reason="join allowed",
            decision_id=join.id,
            policy_version=join.policy_version,
            request_id=self.request_id,
            # The mint record carries the whole decision batch (ids, outcomes, determining
            # policies, masked input): one record explains both the decision and the token.
            details={
                "token_id": self.token_id,
                "grants": self.grants.as_dict(),
                "expires_at": self.expires_at.isoformat(),
                "ttl_s": int((self.expires_at - self.issued_at).total_seconds()),
                **decision_details(self.decisions),
            },
            tenant=tenant,
        )


def plan_join_token(
    *,
    subject_id: str,
    session_id: str,
    room: RoomName,
    decisions: Sequence[Decision],
    ttl: timedelta,
    now: datetime,
    client_address: str,
    request_id: str | None,
) -> PlannedMint:
    """A token whose grants are exactly the allowed decisions (join must be allowed)."""
    issued_at = now.replace(microsecond=0)
    return PlannedMint(
        token_id=new_token_id(),
        subject_id=subject_id,
        session_id=session_id,
        room=room,
        grants=compute_grants(decisions),
        issued_at=issued_at,
        expires_at=issued_at + ttl,
        decisions=tuple(decisions),
        client_address=client_address,
        request_id=request_id,
    )


async def record_ledger(tx: AsyncSession, mints: Sequence[PlannedMint]) -> None:
    """The ledger rows of these mints, in one statement (a Core insert: on the mint path
    the ORM unit of work would cost more than the insert)."""
    if mints:
        connection = await tx.connection()
        await connection.execute(_INSERT_LEDGER, [mint.ledger_row() for mint in mints])


def sign_mint(mint: PlannedMint, *, api_key: str, key: Hs256Key) -> MintedToken:
    """The signed token of a recorded mint."""
    claims = join_claims(
        api_key=api_key,
        identity=mint.subject_id,
        room=mint.room,
        token_id=mint.token_id,
        grants=mint.grants,
        issued_at=mint.issued_at,
        expires_at=mint.expires_at,
    )
    return MintedToken(
        token=sign_join_token(claims, key=key),
        token_id=mint.token_id,
        identity=mint.subject_id,
        room=mint.room,
        grants=mint.grants,
        issued_at=mint.issued_at,
        expires_at=mint.expires_at,
    )


_LEDGER = MintLedger.__table__  # type: ignore[attr-defined]
# Built once (compiled forms are cached): join auditing reads it for every join.
_LEDGER_ROW = sa_select(_LEDGER).where(_LEDGER.c.id == bindparam("id"))
MAX_TOKEN_ID_LENGTH = 40  # MintLedger.id


async def find_ledger_row(tx: AsyncSession, *, token_id: str) -> RowMapping | None:
    """The ledger row of this token id (a ``cp.tid`` attribute as LiveKit reports it), or
    None. A value no mint could have produced (too long, not printable ASCII) is looked up
    nowhere: it comes from outside, and PostgreSQL refuses a NUL in text."""
    if len(token_id) > MAX_TOKEN_ID_LENGTH or not token_id.isascii() or not token_id.isprintable():
        return None
    connection = await tx.connection()
    result = await connection.execute(_LEDGER_ROW, {"id": token_id})
    return result.mappings().first()
