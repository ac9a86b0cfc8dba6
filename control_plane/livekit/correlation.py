"""Join auditing decisions: facts in, verdict out. No I/O (thin callers gather the facts).

A LiveKit participant is *explained* only by something the control plane did:

- a STANDARD participant by a mint-ledger row: its ``cp.tid`` attribute names that row,
  the row was minted for exactly this identity (byte for byte: no ``#suffix`` derived
  identity, no case variant, look-alike or padding, T-JOIN-4) and this room, it joined
  within the token's validity (LiveKit's 1 min leeway either side) or continues a
  connection of the same mint (a LiveKit-refreshed token keeps its ``cp.tid``, T-JOIN-6),
  no other live connection holds the mint (T-JOIN-5), its attributes are exactly the
  minted ones, its permissions are a subset of the minted grants and carry no privileged
  flag, its subject is active and its session is live;
- an AGENT participant by a dispatch we created: the ``lk.agent_name`` attribute matches
  it, and LiveKit lists the participant's exact identity among that dispatch's jobs, a job
  that had not ended before the join (T-JOIN-7).

Anything else is unexplained and removed (threats T-JOIN-1 forged token, T-JOIN-3 over-grant,
T-JOIN-2 revoked user). ``roomAdmin`` (and ``roomCreate``, ``roomList``...) is not part of
``ParticipantPermission``, so no webhook or listing shows it: a forged token carrying it is
caught by the rules above, never by its grant (README "LiveKit keys").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from control_plane.identity.types import SubjectStatus
from control_plane.livekit.facts import (
    DispatchFact,
    JoinFacts,
    LedgerFact,
    RemovalFact,
    SessionFact,
)
from control_plane.livekit.types import ParticipantPermissionView
from control_plane.risk.types import AnomalyResponse, Severity

TOKEN_ID_ATTRIBUTE = "cp.tid"  # noqa: S105 - an attribute name (tokens/claims.py)
AGENT_NAME_ATTRIBUTE = "lk.agent_name"
LIVEKIT_LEEWAY = timedelta(minutes=1)  # golang-jwt leeway in LiveKit's verifier
# A connected participant gets a refreshed token every 5 min, valid max(10 min, what its
# token had left) (livekit.md §1 "Server refresh"): a reconnect with the last one can come
# up to this long after the connection it continues was last seen.
REFRESH_VALIDITY = timedelta(minutes=10)
AGENT_SOURCES: tuple[str, ...] = ("microphone",)


class JoinReason(StrEnum):
    UNKNOWN_ROOM = "unknown_room"
    SESSION_ENDED = "session_ended"  # joined after the session ended
    SESSION_OVER = "session_over"  # joined while live; the session has ended since
    KIND_NOT_ALLOWED = "kind_not_allowed"
    NO_TOKEN_ID = "no_token_id"  # noqa: S105 - a reason name
    UNKNOWN_TOKEN_ID = "unknown_token_id"  # noqa: S105 - a reason name
    TOKEN_OTHER_ROOM = "token_of_another_room"  # noqa: S105 - a reason name
    IDENTITY_NOT_MINTED = "identity_not_minted"  # derived, case variant, look-alike, copy
    ATTRIBUTES_NOT_MINTED = "attributes_not_minted"  # e.g. a STANDARD claiming lk.agent_name
    MINT_IN_USE = "mint_in_use"  # another live connection holds the same mint
    BEFORE_VALIDITY = "joined_before_token_validity"
    AFTER_EXPIRY = "joined_after_token_expiry"
    SUBJECT_UNKNOWN = "subject_unknown"
    SUBJECT_NOT_ACTIVE = "subject_not_active"
    REMOVED_RECENTLY = "removed_recently"
    OVER_GRANT_PUBLISH = "over_grant_publish"
    OVER_GRANT_DATA = "over_grant_data"
    OVER_GRANT_SUBSCRIBE = "over_grant_subscribe"
    PRIVILEGED_FLAG = "privileged_flag"
    AGENT_NOT_DISPATCHED = "agent_not_dispatched"
    AGENT_JOB_UNKNOWN = "agent_job_unknown"
    AGENT_JOB_ENDED = "agent_job_ended"


class AnomalyRule(StrEnum):
    UNEXPLAINED_JOIN = "unexplained_join"
    OVER_GRANT = "over_grant"
    DUPLICATE_IDENTITY = "duplicate_identity"
    REJOIN_AFTER_REMOVAL = "rejoin_after_removal"
    LOCKED_SUBJECT_JOIN = "locked_subject_join"


class Remedy(StrEnum):
    NONE = "none"
    REMOVE = "remove"  # the participant was legitimate; its session is over
    EVICT = "evict"  # cut every permission at once, then remove


@dataclass(frozen=True)
class AnomalyPlan:
    rule: AnomalyRule
    severity: Severity
    response: AnomalyResponse


# Severity and response per rule. A forged or over-granted token means a LiveKit API
# secret is out (only key holders can sign one): critical. A locked subject or a removed
# identity coming back is a deliberate attempt: high. A duplicate identity kicks the
# earlier connection (a stolen token, or the same user on a second device): medium, and
# step_up so the subject's next decisions see the raised risk.
ANOMALY_PLANS: dict[AnomalyRule, AnomalyPlan] = {
    AnomalyRule.UNEXPLAINED_JOIN: AnomalyPlan(
        AnomalyRule.UNEXPLAINED_JOIN, Severity.HIGH, AnomalyResponse.ALERT
    ),
    AnomalyRule.OVER_GRANT: AnomalyPlan(
        AnomalyRule.OVER_GRANT, Severity.CRITICAL, AnomalyResponse.ALERT
    ),
    AnomalyRule.DUPLICATE_IDENTITY: AnomalyPlan(
        AnomalyRule.DUPLICATE_IDENTITY, Severity.MEDIUM, AnomalyResponse.STEP_UP
    ),
    AnomalyRule.REJOIN_AFTER_REMOVAL: AnomalyPlan(
        AnomalyRule.REJOIN_AFTER_REMOVAL, Severity.HIGH, AnomalyResponse.ALERT
    ),
    AnomalyRule.LOCKED_SUBJECT_JOIN: AnomalyPlan(
        AnomalyRule.LOCKED_SUBJECT_JOIN, Severity.HIGH, AnomalyResponse.ALERT
    ),
}

_OVER_GRANT = frozenset(
    {
        JoinReason.OVER_GRANT_PUBLISH,
        JoinReason.OVER_GRANT_DATA,
        JoinReason.OVER_GRANT_SUBSCRIBE,
        JoinReason.PRIVILEGED_FLAG,
    }
)


@dataclass(frozen=True)
class JoinVerdict:
    explained: bool
    reasons: tuple[JoinReason, ...]
    token_id: str | None
    subject_id: str | None
    session_id: str | None
    granted_sources: tuple[str, ...]

    @property
    def remedy(self) -> Remedy:
        """What to do about the participant if it is still connected."""
        if self.explained:
            return Remedy.NONE
        if set(self.reasons) == {JoinReason.SESSION_OVER}:
            return Remedy.REMOVE
        return Remedy.EVICT

    @property
    def anomaly(self) -> AnomalyPlan | None:
        """The anomaly to raise, by precedence; None for an explained or merely late join."""
        reasons = set(self.reasons)
        if self.explained or reasons <= {JoinReason.SESSION_OVER}:
            return None
        if JoinReason.REMOVED_RECENTLY in reasons:
            return ANOMALY_PLANS[AnomalyRule.REJOIN_AFTER_REMOVAL]
        if JoinReason.SUBJECT_NOT_ACTIVE in reasons:
            return ANOMALY_PLANS[AnomalyRule.LOCKED_SUBJECT_JOIN]
        if reasons & _OVER_GRANT:
            return ANOMALY_PLANS[AnomalyRule.OVER_GRANT]
        return ANOMALY_PLANS[AnomalyRule.UNEXPLAINED_JOIN]


def base_identity(identity: str) -> str:
    """The identity a ``<identity>#<suffix>`` derived identity claims to come from.

    Never explains a join (T-JOIN-4): only used to remove everything that looks like a
    locked or erased subject."""
    return identity.split("#", 1)[0]


def session_reasons(session: SessionFact | None, joined_at: datetime) -> tuple[JoinReason, ...]:
    """Is the room a live session of ours, and was it live when the participant joined?"""
    if session is None:
        return (JoinReason.UNKNOWN_ROOM,)
    end = session.ended_at if session.ended_at is not None else session.expires_at
    if joined_at > min(end, session.expires_at):
        return (JoinReason.SESSION_ENDED,)
    if not session.is_active:
        return (JoinReason.SESSION_OVER,)
    return ()


def permission_excess(
    permission: ParticipantPermissionView | None,
    *,
    sources: tuple[str, ...],
    can_publish_data: bool,
    can_subscribe: bool,
) -> tuple[JoinReason, ...]:
    """Every way the participant's permissions exceed the minted grants."""
    if permission is None:  # protojson omits an all-false permission
        return ()
    found: list[JoinReason] = []
    if permission.can_publish:
        published = set(permission.can_publish_sources)
        # An empty source list with canPublish means *every* source (livekit.md §1).
        if not published or not published <= set(sources):
            found.append(JoinReason.OVER_GRANT_PUBLISH)
    if permission.can_publish_data and not can_publish_data:
        found.append(JoinReason.OVER_GRANT_DATA)
    if permission.can_subscribe and not can_subscribe:
        found.append(JoinReason.OVER_GRANT_SUBSCRIBE)
    if _has_privileged_flag(permission, allow_agent=False):
        found.append(JoinReason.PRIVILEGED_FLAG)
    return tuple(found)


def _has_privileged_flag(permission: ParticipantPermissionView, *, allow_agent: bool) -> bool:
    if permission.hidden or permission.recorder:
        return True
    if permission.can_subscribe_metrics or permission.can_manage_agent_session:
        return True
    if allow_agent:  # LiveKit mints agent tokens with agent=true and metadata updates
        return False
    return permission.agent or permission.can_update_metadata


def token_reasons(
    facts: JoinFacts, token_id: str | None
) -> tuple[tuple[JoinReason, ...], LedgerFact | None]:
    """Does ``cp.tid`` name a row minted for exactly this identity and room, valid at join
    time (or continued through LiveKit's refresh)? The row only when it is this
    participant's: a copied ``cp.tid`` never lends its subject to the intruder."""
    if not token_id:
        return (JoinReason.NO_TOKEN_ID,), None
    row = next((r for r in facts.ledger if r.token_id == token_id), None)
    if row is None:
        return (JoinReason.UNKNOWN_TOKEN_ID,), None
    found: list[JoinReason] = []
    if row.room != facts.room:
        found.append(JoinReason.TOKEN_OTHER_ROOM)
    if row.identity != facts.participant.identity:
        found.append(JoinReason.IDENTITY_NOT_MINTED)
    if found:
        return tuple(found), None
    if facts.joined_at < row.issued_at - LIVEKIT_LEEWAY:
        return (JoinReason.BEFORE_VALIDITY,), row
    if facts.joined_at > row.expires_at + LIVEKIT_LEEWAY and not continues_connection(facts):
        return (JoinReason.AFTER_EXPIRY,), row
    return (), row


def continues_connection(facts: JoinFacts) -> bool:
    """A new connection of the same identity on the same mint while an earlier one was
    live, or soon enough after it that the refreshed token it was given still works: a
    full reconnect (new sid) with LiveKit's refreshed token, which keeps ``cp.tid``."""
    participant = facts.participant
    return any(
        c.sid != participant.sid
        and c.identity == participant.identity
        and (c.left_at is None or facts.joined_at <= c.left_at + REFRESH_VALIDITY + LIVEKIT_LEEWAY)
        for c in facts.mint_connections
    )


def connection_reasons(facts: JoinFacts) -> tuple[JoinReason, ...]:
    """One mint explains one live connection at a time (by participant sid, T-JOIN-5).

    An open connection of the *same* identity is not a rival: LiveKit keeps one connection
    per identity in a room and has just closed it (a reconnect, or a DUPLICATE_IDENTITY
    takeover, which ``close_participation`` raises as its own anomaly)."""
    participant = facts.participant
    if facts.live_rivals:
        return (JoinReason.MINT_IN_USE,)
    for other in facts.mint_connections:
        if (
            other.sid != participant.sid
            and other.left_at is None
            and other.identity != participant.identity
        ):
            return (JoinReason.MINT_IN_USE,)
    return ()


def attribute_reasons(attributes: dict[str, str], token_id: str | None) -> tuple[JoinReason, ...]:
    """A minted STANDARD participant carries exactly the attributes we minted (``cp.tid``;
    it may not change them: no canUpdateOwnMetadata), so nothing claims ``lk.agent_name``
    or any other role."""
    if token_id and attributes != {TOKEN_ID_ATTRIBUTE: token_id}:
        return (JoinReason.ATTRIBUTES_NOT_MINTED,)
    return ()


def removal_applies(
    removals: tuple[RemovalFact, ...], *, room: str, issued_at: datetime | None, now: datetime
) -> bool:
    """A live re-kick entry covers this room and the token predates it (or is unknown)."""
    for removal in removals:
        if removal.expires_at <= now or removal.room not in ("*", room):
            continue
        # Minted times are whole seconds (tokens/service.py): compare at that grain, so a
        # token minted right after the removal is never taken for an older one.
        if issued_at is None or issued_at < removal.created_at.replace(microsecond=0):
            return True
    return False


def explain_join(facts: JoinFacts, *, now: datetime) -> JoinVerdict:
    """The verdict on one participant: explained, or every reason it is not."""
    participant = facts.participant
    if participant.kind == "AGENT":
        return _explain_agent(facts, now=now)
    reasons: list[JoinReason] = list(session_reasons(facts.session, facts.joined_at))
    session_id = facts.session.session_id if facts.session else None
    if participant.kind != "STANDARD":
        reasons.append(JoinReason.KIND_NOT_ALLOWED)
    token_id = participant.attributes.get(TOKEN_ID_ATTRIBUTE)
    found, row = token_reasons(facts, token_id)
    reasons.extend(found)
    reasons.extend(attribute_reasons(participant.attributes, token_id))
    if token_id:
        reasons.extend(connection_reasons(facts))
    if facts.subject_status is None:
        reasons.append(JoinReason.SUBJECT_UNKNOWN)
    elif facts.subject_status != SubjectStatus.ACTIVE:
        reasons.append(JoinReason.SUBJECT_NOT_ACTIVE)
    if row is not None:
        reasons.extend(
            permission_excess(
                participant.permission,
                sources=row.sources,
                can_publish_data=row.can_publish_data,
                can_subscribe=row.can_subscribe,
            )
        )
    elif participant.permission is not None and _has_privileged_flag(
        participant.permission, allow_agent=False
    ):
        reasons.append(JoinReason.PRIVILEGED_FLAG)
    issued_at = row.issued_at if row is not None else None
    if removal_applies(facts.removals, room=facts.room, issued_at=issued_at, now=now):
        reasons.append(JoinReason.REMOVED_RECENTLY)
    return JoinVerdict(
        explained=not reasons,
        reasons=tuple(dict.fromkeys(reasons)),
        token_id=row.token_id if row is not None else None,
        subject_id=row.subject_id if row is not None else None,
        session_id=session_id,
        granted_sources=row.sources if row is not None and not reasons else (),
    )


def _explain_agent(facts: JoinFacts, *, now: datetime) -> JoinVerdict:
    participant = facts.participant
    reasons: list[JoinReason] = list(session_reasons(facts.session, facts.joined_at))
    name = participant.attributes.get(AGENT_NAME_ATTRIBUTE, "")
    candidates = [
        d
        for d in facts.dispatches
        if name
        and d.agent_name == name
        and (d.deleted_at is None or d.deleted_at >= facts.joined_at)
    ]
    if not candidates:
        reasons.append(JoinReason.AGENT_NOT_DISPATCHED)
    elif not any(participant.identity in d.job_identities for d in candidates):
        reasons.append(JoinReason.AGENT_JOB_UNKNOWN)
    elif not any(_job_live_at(d, participant.identity, facts.joined_at) for d in candidates):
        reasons.append(JoinReason.AGENT_JOB_ENDED)
    if participant.permission is not None and _has_privileged_flag(
        participant.permission, allow_agent=True
    ):
        reasons.append(JoinReason.PRIVILEGED_FLAG)
    if removal_applies(facts.removals, room=facts.room, issued_at=None, now=now):
        reasons.append(JoinReason.REMOVED_RECENTLY)
    return JoinVerdict(
        explained=not reasons,
        reasons=tuple(dict.fromkeys(reasons)),
        token_id=None,
        subject_id=None,
        session_id=facts.session.session_id if facts.session else None,
        granted_sources=AGENT_SOURCES if not reasons else (),
    )


def _job_live_at(dispatch: DispatchFact, identity: str, joined_at: datetime) -> bool:
    """The job of this identity had not ended before the join (an ended job's identity,
    still listed, explains no later connection). Whole seconds on LiveKit's side."""
    ended_before = sum(
        1
        for job, at in dispatch.ended_jobs
        if job == identity and at + timedelta(seconds=1) <= joined_at
    )
    return dispatch.job_identities.count(identity) > ended_before


def track_allowed(source: str, granted_sources: tuple[str, ...]) -> bool:
    """A published track must use a source the join was granted (``track_published``)."""
    return source in granted_sources


def is_duplicate_identity(disconnect_reason: str) -> bool:
    """A connection kicked because another joined with the same identity (token theft)."""
    return disconnect_reason == "DUPLICATE_IDENTITY"
