"""Minting: a ledger row, an audit record and the signed token, in one transaction.

If the ledger row or the audit record cannot be written the caller's transaction fails and
no token leaves the service (fail closed; Vault's "no response without an audit record").
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.recording import decision_details
from control_plane.authz.types import Decision
from control_plane.tokens.claims import join_claims, sign_join_token
from control_plane.tokens.grants import compute_grants
from control_plane.tokens.tables import MintLedger
from control_plane.tokens.types import MintedToken, RoomName, TokenId

_INSERT_LEDGER = insert(MintLedger.__table__)  # type: ignore[attr-defined]


def new_token_id() -> TokenId:
    return TokenId(f"tid_{secrets.token_hex(12)}")


async def mint_join_token(
    tx: AsyncSession,
    *,
    subject_id: str,
    session_id: str,
    room: RoomName,
    decisions: Sequence[Decision],
    ttl: timedelta,
    now: datetime,
    api_key: str,
    api_secret: str,
    client_address: str,
    request_id: str | None,
) -> MintedToken:
    """Sign a join token whose grants are exactly the allowed decisions; record it first."""
    grants = compute_grants(decisions)
    token_id = new_token_id()
    issued_at = now.replace(microsecond=0)
    expires_at = issued_at + ttl
    join = next(d for d in decisions if d.action.value == "join")
    # Core insert (hot path): the ORM unit of work would cost more than the insert.
    connection = await tx.connection()
    await connection.execute(
        _INSERT_LEDGER,
        [
            {
                "id": token_id,
                "subject_id": subject_id,
                "session_id": session_id,
                "room_name": room,
                "identity": subject_id,
                "grants": grants.as_dict(),
                "issued_at": issued_at,
                "expires_at": expires_at,
                "decision_id": join.id,
                "policy_version": join.policy_version,
                "client_address": client_address[:64],
            }
        ],
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.TOKEN_MINTED,
            outcome=Outcome.SUCCESS,
            actor=subject_id,
            target=session_id,
            reason="join allowed",
            decision_id=join.id,
            policy_version=join.policy_version,
            request_id=request_id,
            # The mint record carries the whole decision batch (ids, outcomes, determining
            # policies, masked input): one record explains both the decision and the token.
            details={
                "token_id": token_id,
                "grants": grants.as_dict(),
                "expires_at": expires_at.isoformat(),
                "ttl_s": int(ttl.total_seconds()),
                **decision_details(decisions),
            },
        ),
        now=now,
    )
    claims = join_claims(
        api_key=api_key,
        identity=subject_id,
        room=room,
        token_id=token_id,
        grants=grants,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    return MintedToken(
        token=sign_join_token(claims, api_secret=api_secret),
        token_id=token_id,
        identity=subject_id,
        room=room,
        grants=grants,
        issued_at=issued_at,
        expires_at=expires_at,
    )


async def list_ledger_for_identity(
    tx: AsyncSession, *, identity: str, room: str
) -> Sequence[MintLedger]:
    """Every token minted for this identity in this room, newest first."""
    return (
        await tx.exec(
            select(MintLedger)
            .where(MintLedger.identity == identity)
            .where(MintLedger.room_name == room)
            .order_by(col(MintLedger.issued_at).desc())
        )
    ).all()
