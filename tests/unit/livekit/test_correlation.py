"""The pure join-auditing decisions, case by case: what explains a participant, what does
not, which anomaly and which remedy follow."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from control_plane.livekit.correlation import (
    AnomalyRule,
    JoinReason,
    Remedy,
    base_identity,
    explain_join,
    is_duplicate_identity,
    permission_excess,
    track_allowed,
)
from control_plane.livekit.facts import (
    DispatchFact,
    JoinFacts,
    LedgerFact,
    RemovalFact,
    SessionFact,
)
from control_plane.livekit.types import ParticipantPermissionView, ParticipantView
from control_plane.risk.types import AnomalyResponse, Severity

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=10)
ROOM = "cp-room"
SUBJECT = "sub_" + "a" * 32

GRANTED = ParticipantPermissionView(
    can_subscribe=True,
    can_publish=True,
    can_publish_data=True,
    can_publish_sources=("microphone",),
    hidden=False,
    can_update_metadata=False,
    agent=False,
    recorder=False,
)
LEDGER = LedgerFact(
    token_id="tid_1",
    identity=SUBJECT,
    room=ROOM,
    subject_id=SUBJECT,
    session_id="ses_1",
    sources=("microphone",),
    can_publish_data=True,
    can_subscribe=True,
    issued_at=T0,
    expires_at=T0 + timedelta(seconds=120),
)
SESSION = SessionFact(
    session_id="ses_1", room=ROOM, is_active=True, expires_at=T0 + timedelta(hours=1), ended_at=None
)
PARTICIPANT = ParticipantView(
    sid="PA_1",
    identity=SUBJECT,
    kind="STANDARD",
    joined_at=int((T0 + timedelta(seconds=5)).timestamp()),
    attributes={"cp.tid": "tid_1"},
    permission=GRANTED,
)
FACTS = JoinFacts(
    room=ROOM,
    participant=PARTICIPANT,
    joined_at=T0 + timedelta(seconds=5),
    session=SESSION,
    ledger=(LEDGER,),
    subject_status="active",
)


def _with_participant(**changes: object) -> JoinFacts:
    return replace(FACTS, participant=replace(PARTICIPANT, **changes))  # type: ignore[arg-type]


def _with_permission(**changes: object) -> JoinFacts:
    return _with_participant(permission=replace(GRANTED, **changes))  # type: ignore[arg-type]


def _removal(room: str, created: datetime, ttl: timedelta = timedelta(minutes=15)) -> RemovalFact:
    return RemovalFact(room=room, created_at=created, expires_at=created + ttl)


# (case, facts, explained, reasons that must be present)
STANDARD_CASES: list[tuple[str, JoinFacts, bool, set[JoinReason]]] = [
    ("minted token, exact identity", FACTS, True, set()),
    (
        "derived #suffix identity",
        _with_participant(identity=f"{SUBJECT}#pub"),
        False,
        {JoinReason.IDENTITY_NOT_MINTED},
    ),
    ("no permission object at all", _with_participant(permission=None), True, set()),
    ("permissions reduced after a revoke", _with_permission(can_publish=False), True, set()),
    ("no cp.tid attribute", _with_participant(attributes={}), False, {JoinReason.NO_TOKEN_ID}),
    (
        "cp.tid of no ledger row",
        _with_participant(attributes={"cp.tid": "tid_forged"}),
        False,
        {JoinReason.UNKNOWN_TOKEN_ID},
    ),
    (
        "cp.tid of another (active) subject's token",
        _with_participant(identity="sub_" + "b" * 32),
        False,
        {JoinReason.IDENTITY_NOT_MINTED},
    ),
    (
        "cp.tid minted for another room",
        replace(FACTS, ledger=(replace(LEDGER, room="cp-other"),)),
        False,
        {JoinReason.TOKEN_OTHER_ROOM},
    ),
    (
        "joined within the 1 min leeway before nbf",
        replace(FACTS, joined_at=T0 - timedelta(seconds=59)),
        True,
        set(),
    ),
    (
        "joined before the token's validity",
        replace(FACTS, joined_at=T0 - timedelta(seconds=61)),
        False,
        {JoinReason.BEFORE_VALIDITY},
    ),
    (
        "joined within the 1 min leeway after exp",
        replace(FACTS, joined_at=T0 + timedelta(seconds=179)),
        True,
        set(),
    ),
    (
        "joined after the token expired (a refreshed token reused)",
        replace(FACTS, joined_at=T0 + timedelta(seconds=181)),
        False,
        {JoinReason.AFTER_EXPIRY},
    ),
    (
        "subject locked",
        replace(FACTS, subject_status="locked"),
        False,
        {JoinReason.SUBJECT_NOT_ACTIVE},
    ),
    (
        "subject being erased",
        replace(FACTS, subject_status="erasing"),
        False,
        {JoinReason.SUBJECT_NOT_ACTIVE},
    ),
    ("subject unknown", replace(FACTS, subject_status=None), False, {JoinReason.SUBJECT_UNKNOWN}),
    ("room of no session", replace(FACTS, session=None), False, {JoinReason.UNKNOWN_ROOM}),
    (
        "joined after the session ended",
        replace(
            FACTS,
            session=replace(SESSION, is_active=False, ended_at=T0 + timedelta(seconds=1)),
        ),
        False,
        {JoinReason.SESSION_ENDED},
    ),
    (
        "joined while live, session ended since",
        replace(
            FACTS,
            session=replace(SESSION, is_active=False, ended_at=T0 + timedelta(seconds=8)),
        ),
        False,
        {JoinReason.SESSION_OVER},
    ),
    (
        "joined after the maximum duration",
        replace(FACTS, session=replace(SESSION, expires_at=T0 + timedelta(seconds=2))),
        False,
        {JoinReason.SESSION_ENDED},
    ),
    (
        "publishes a source it was not granted",
        _with_permission(can_publish_sources=("microphone", "camera")),
        False,
        {JoinReason.OVER_GRANT_PUBLISH},
    ),
    (
        "canPublish with no source list (every source)",
        _with_permission(can_publish_sources=()),
        False,
        {JoinReason.OVER_GRANT_PUBLISH},
    ),
    (
        "publishes although nothing was granted",
        replace(FACTS, ledger=(replace(LEDGER, sources=()),)),
        False,
        {JoinReason.OVER_GRANT_PUBLISH},
    ),
    (
        "data not granted",
        replace(FACTS, ledger=(replace(LEDGER, can_publish_data=False),)),
        False,
        {JoinReason.OVER_GRANT_DATA},
    ),
    (
        "subscribe not granted",
        replace(FACTS, ledger=(replace(LEDGER, can_subscribe=False),)),
        False,
        {JoinReason.OVER_GRANT_SUBSCRIBE},
    ),
    ("hidden", _with_permission(hidden=True), False, {JoinReason.PRIVILEGED_FLAG}),
    ("recorder", _with_permission(recorder=True), False, {JoinReason.PRIVILEGED_FLAG}),
    ("agent flag", _with_permission(agent=True), False, {JoinReason.PRIVILEGED_FLAG}),
    (
        "can update own metadata",
        _with_permission(can_update_metadata=True),
        False,
        {JoinReason.PRIVILEGED_FLAG},
    ),
    (
        "subscribes to metrics",
        _with_permission(can_subscribe_metrics=True),
        False,
        {JoinReason.PRIVILEGED_FLAG},
    ),
    (
        "manages agent sessions",
        _with_permission(can_manage_agent_session=True),
        False,
        {JoinReason.PRIVILEGED_FLAG},
    ),
    (
        "privileged flag without any token",
        replace(_with_permission(hidden=True), ledger=()),
        False,
        {JoinReason.PRIVILEGED_FLAG, JoinReason.UNKNOWN_TOKEN_ID},
    ),
    ("kind SIP", _with_participant(kind="SIP"), False, {JoinReason.KIND_NOT_ALLOWED}),
    ("kind INGRESS", _with_participant(kind="INGRESS"), False, {JoinReason.KIND_NOT_ALLOWED}),
    ("kind EGRESS", _with_participant(kind="EGRESS"), False, {JoinReason.KIND_NOT_ALLOWED}),
    ("an unknown kind", _with_participant(kind="7"), False, {JoinReason.KIND_NOT_ALLOWED}),
    (
        "token minted before a removal from every room",
        replace(FACTS, removals=(_removal("*", T0 + timedelta(seconds=3)),)),
        False,
        {JoinReason.REMOVED_RECENTLY},
    ),
    (
        "token minted before a removal from this room",
        replace(FACTS, removals=(_removal(ROOM, T0 + timedelta(seconds=3)),)),
        False,
        {JoinReason.REMOVED_RECENTLY},
    ),
    (
        "removal from another room only",
        replace(FACTS, removals=(_removal("cp-other", T0 + timedelta(seconds=3)),)),
        True,
        set(),
    ),
    (
        "removal expired",
        replace(
            FACTS, removals=(_removal("*", T0 - timedelta(minutes=20), timedelta(minutes=15)),)
        ),
        True,
        set(),
    ),
    (
        "token minted after the removal",
        replace(FACTS, removals=(_removal("*", T0 - timedelta(seconds=30)),)),
        True,
        set(),
    ),
    (
        "token minted in the same second as the removal",
        replace(FACTS, removals=(_removal("*", T0 + timedelta(milliseconds=400)),)),
        True,
        set(),
    ),
]


@pytest.mark.parametrize(
    ("case", "facts", "explained", "reasons"), STANDARD_CASES, ids=[c[0] for c in STANDARD_CASES]
)
def test_standard_participant(
    case: str, facts: JoinFacts, explained: bool, reasons: set[JoinReason]
) -> None:
    verdict = explain_join(facts, now=NOW)
    assert verdict.explained is explained, (case, verdict.reasons)
    assert reasons <= set(verdict.reasons), (case, verdict.reasons)
    if explained:
        assert verdict.token_id == "tid_1"
        assert verdict.subject_id == SUBJECT
        assert verdict.granted_sources == ("microphone",)
        assert verdict.remedy is Remedy.NONE
        assert verdict.anomaly is None
    else:
        assert verdict.granted_sources == ()
        assert verdict.remedy is not Remedy.NONE


DISPATCH = DispatchFact(
    dispatch_id="AD_1", agent_name="big-mama", deleted_at=None, job_identities=("agent-AJ_1",)
)
AGENT = ParticipantView(
    sid="PA_agent",
    identity="agent-AJ_1",
    kind="AGENT",
    joined_at=0,
    attributes={"lk.agent_name": "big-mama"},
    permission=replace(GRANTED, agent=True, can_update_metadata=True),
)
AGENT_FACTS = replace(
    FACTS, participant=AGENT, ledger=(), subject_status=None, dispatches=(DISPATCH,)
)

AGENT_CASES: list[tuple[str, JoinFacts, bool, set[JoinReason]]] = [
    ("dispatched and listed as the job's participant", AGENT_FACTS, True, set()),
    (
        "no dispatch of ours",
        replace(AGENT_FACTS, dispatches=()),
        False,
        {JoinReason.AGENT_NOT_DISPATCHED},
    ),
    (
        "another agent name",
        replace(AGENT_FACTS, participant=replace(AGENT, attributes={"lk.agent_name": "other"})),
        False,
        {JoinReason.AGENT_NOT_DISPATCHED},
    ),
    (
        "no lk.agent_name attribute",
        replace(AGENT_FACTS, participant=replace(AGENT, attributes={})),
        False,
        {JoinReason.AGENT_NOT_DISPATCHED},
    ),
    (
        "identity not among the dispatch's jobs",
        replace(AGENT_FACTS, participant=replace(AGENT, identity="agent-AJ_forged")),
        False,
        {JoinReason.AGENT_JOB_UNKNOWN},
    ),
    (
        "dispatch deleted before the join",
        replace(AGENT_FACTS, dispatches=(replace(DISPATCH, deleted_at=T0),)),
        False,
        {JoinReason.AGENT_NOT_DISPATCHED},
    ),
    (
        "dispatch deleted after the join",
        replace(AGENT_FACTS, dispatches=(replace(DISPATCH, deleted_at=NOW),)),
        True,
        set(),
    ),
    (
        "hidden agent",
        replace(AGENT_FACTS, participant=replace(AGENT, permission=replace(GRANTED, hidden=True))),
        False,
        {JoinReason.PRIVILEGED_FLAG},
    ),
    (
        "agent in an ended session",
        replace(
            AGENT_FACTS,
            session=replace(SESSION, is_active=False, ended_at=T0 + timedelta(seconds=1)),
        ),
        False,
        {JoinReason.SESSION_ENDED},
    ),
    (
        "agent in a room of no session",
        replace(AGENT_FACTS, session=None),
        False,
        {JoinReason.UNKNOWN_ROOM},
    ),
]


@pytest.mark.parametrize(
    ("case", "facts", "explained", "reasons"), AGENT_CASES, ids=[c[0] for c in AGENT_CASES]
)
def test_agent_participant(
    case: str, facts: JoinFacts, explained: bool, reasons: set[JoinReason]
) -> None:
    verdict = explain_join(facts, now=NOW)
    assert verdict.explained is explained, (case, verdict.reasons)
    assert reasons <= set(verdict.reasons), (case, verdict.reasons)
    assert verdict.granted_sources == (("microphone",) if explained else ())


ANOMALY_CASES: list[tuple[str, JoinFacts, AnomalyRule | None, Remedy]] = [
    ("explained", FACTS, None, Remedy.NONE),
    ("forged token", _with_participant(attributes={}), AnomalyRule.UNEXPLAINED_JOIN, Remedy.EVICT),
    ("over-grant", _with_permission(hidden=True), AnomalyRule.OVER_GRANT, Remedy.EVICT),
    (
        "locked subject",
        replace(FACTS, subject_status="locked"),
        AnomalyRule.LOCKED_SUBJECT_JOIN,
        Remedy.EVICT,
    ),
    (
        "removed, locked and back: rejoin wins",
        replace(
            FACTS,
            subject_status="locked",
            removals=(_removal("*", T0 + timedelta(seconds=3)),),
        ),
        AnomalyRule.REJOIN_AFTER_REMOVAL,
        Remedy.EVICT,
    ),
    (
        "legitimate join, session ended since: removed, no anomaly",
        replace(
            FACTS, session=replace(SESSION, is_active=False, ended_at=T0 + timedelta(seconds=8))
        ),
        None,
        Remedy.REMOVE,
    ),
    (
        "locked subject also over-granted: locked wins",
        replace(_with_permission(recorder=True), subject_status="locked"),
        AnomalyRule.LOCKED_SUBJECT_JOIN,
        Remedy.EVICT,
    ),
]


@pytest.mark.parametrize(
    ("case", "facts", "rule", "remedy"), ANOMALY_CASES, ids=[c[0] for c in ANOMALY_CASES]
)
def test_anomaly_and_remedy(
    case: str, facts: JoinFacts, rule: AnomalyRule | None, remedy: Remedy
) -> None:
    verdict = explain_join(facts, now=NOW)
    plan = verdict.anomaly
    assert (plan.rule if plan else None) is rule, case
    assert verdict.remedy is remedy, case


def test_severities_and_responses_are_deliberate() -> None:
    forged = explain_join(_with_participant(attributes={}), now=NOW).anomaly
    over = explain_join(_with_permission(hidden=True), now=NOW).anomaly
    assert forged is not None
    assert (forged.severity, forged.response) == (Severity.HIGH, AnomalyResponse.ALERT)
    assert over is not None
    assert (over.severity, over.response) == (Severity.CRITICAL, AnomalyResponse.ALERT)


@pytest.mark.parametrize(
    ("source", "granted", "allowed"),
    [
        ("microphone", ("microphone",), True),
        ("camera", ("microphone",), False),
        ("screen_share", ("microphone", "camera"), False),
        ("screen_share_audio", ("screen_share", "screen_share_audio"), True),
        ("unknown", ("microphone",), False),
        ("microphone", (), False),
    ],
)
def test_track_must_use_a_granted_source(
    source: str, granted: tuple[str, ...], allowed: bool
) -> None:
    assert track_allowed(source, granted) is allowed


@pytest.mark.parametrize(
    ("reason", "duplicate"),
    [
        ("DUPLICATE_IDENTITY", True),
        ("CLIENT_INITIATED", False),
        ("PARTICIPANT_REMOVED", False),
        ("ROOM_DELETED", False),
        ("", False),
    ],
)
def test_duplicate_identity_is_recognised(reason: str, duplicate: bool) -> None:
    assert is_duplicate_identity(reason) is duplicate


@pytest.mark.parametrize(
    ("identity", "base"),
    [("sub_a", "sub_a"), ("sub_a#pub", "sub_a"), ("sub_a#x#y", "sub_a"), ("#x", "")],
)
def test_base_identity(identity: str, base: str) -> None:
    assert base_identity(identity) == base


def test_permission_excess_lists_every_excess() -> None:
    everything = replace(
        GRANTED, can_publish_sources=("camera",), hidden=True, recorder=True, agent=True
    )
    assert set(
        permission_excess(everything, sources=(), can_publish_data=False, can_subscribe=False)
    ) == {
        JoinReason.OVER_GRANT_PUBLISH,
        JoinReason.OVER_GRANT_DATA,
        JoinReason.OVER_GRANT_SUBSCRIBE,
        JoinReason.PRIVILEGED_FLAG,
    }
