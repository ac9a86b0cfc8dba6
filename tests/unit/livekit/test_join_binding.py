"""What binds a join to the one mint (or dispatch job) that explains it: the exact minted
identity, the minted attributes, one live connection per mint, the refresh that keeps the
mint, and agent jobs that have not ended (T-JOIN-4 .. T-JOIN-7)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from control_plane.livekit.correlation import (
    REFRESH_VALIDITY,
    AnomalyRule,
    JoinReason,
    Remedy,
    explain_join,
)
from control_plane.livekit.facts import ConnectionFact, JoinFacts
from control_plane.livekit.reconcile import live_rivals
from tests.unit.livekit.test_correlation import (
    AGENT,
    AGENT_FACTS,
    DISPATCH,
    FACTS,
    LEDGER,
    NOW,
    PARTICIPANT,
    SUBJECT,
    T0,
)

EXPIRED_AT = LEDGER.expires_at + timedelta(minutes=2)  # past the mint and its leeway


def _as(identity: str) -> JoinFacts:
    """The real participant's cp.tid copied onto another identity."""
    return replace(FACTS, participant=replace(PARTICIPANT, identity=identity))


NOT_MINTED = [
    ("derived #suffix", f"{SUBJECT}#x"),
    ("derived #suffix, empty", f"{SUBJECT}#"),
    ("v0 publish suffix", f"{SUBJECT}#pub"),
    ("upper case", SUBJECT.upper()),
    ("one letter upper", "S" + SUBJECT[1:]),
    ("cyrillic look-alike a", SUBJECT.replace("a", "\u0430", 1)),
    ("fullwidth digit", SUBJECT[:-1] + "\uff41"),
    ("trailing space", SUBJECT + " "),
    ("leading space", " " + SUBJECT),
    ("trailing tab", SUBJECT + "\t"),
    ("zero-width space", SUBJECT + "\u200b"),
    ("NUL", SUBJECT + "\x00"),
    ("prefix only", SUBJECT[:-1]),
    ("another subject", "sub_" + "b" * 32),
    ("empty", ""),
]


@pytest.mark.parametrize(("case", "identity"), NOT_MINTED, ids=[c[0] for c in NOT_MINTED])
def test_an_identity_not_exactly_minted_is_unexplained(case: str, identity: str) -> None:
    verdict = explain_join(_as(identity), now=NOW)
    assert not verdict.explained, case
    assert JoinReason.IDENTITY_NOT_MINTED in verdict.reasons
    # The copied cp.tid lends nothing: no token, no subject, nothing granted.
    assert (verdict.token_id, verdict.subject_id, verdict.granted_sources) == (None, None, ())
    assert verdict.remedy is Remedy.EVICT
    assert verdict.anomaly is not None
    assert verdict.anomaly.rule is AnomalyRule.UNEXPLAINED_JOIN


def test_a_copied_cp_tid_of_another_room_is_unexplained() -> None:
    verdict = explain_join(replace(FACTS, room="cp-other-room"), now=NOW)
    assert JoinReason.TOKEN_OTHER_ROOM in verdict.reasons
    assert verdict.anomaly is not None


ATTRIBUTES = [
    ("STANDARD claiming an agent name", {"cp.tid": "tid_1", "lk.agent_name": "big-mama"}),
    ("STANDARD claiming agent state", {"cp.tid": "tid_1", "lk.agent.state": "speaking"}),
    ("any extra attribute", {"cp.tid": "tid_1", "role": "admin"}),
]


@pytest.mark.parametrize(("case", "attributes"), ATTRIBUTES, ids=[c[0] for c in ATTRIBUTES])
def test_attributes_must_be_exactly_the_minted_ones(case: str, attributes: dict[str, str]) -> None:
    facts = replace(FACTS, participant=replace(PARTICIPANT, attributes=attributes))
    verdict = explain_join(facts, now=NOW)
    assert not verdict.explained, case
    assert JoinReason.ATTRIBUTES_NOT_MINTED in verdict.reasons


def _open(sid: str = "PA_0", identity: str = SUBJECT) -> ConnectionFact:
    return ConnectionFact(sid=sid, identity=identity, left_at=None)


def test_a_second_live_connection_on_one_mint_is_unexplained() -> None:
    # alice is connected on tid_1; a connection as "<alice>#x" arrives with the same mint.
    facts = replace(_as(f"{SUBJECT}#x"), mint_connections=(_open(),))
    verdict = explain_join(facts, now=NOW)
    assert {JoinReason.MINT_IN_USE, JoinReason.IDENTITY_NOT_MINTED} <= set(verdict.reasons)


def test_a_mint_listed_twice_by_livekit_explains_only_the_first_connection() -> None:
    verdict = explain_join(replace(FACTS, live_rivals=("PA_0",)), now=NOW)
    assert verdict.reasons == (JoinReason.MINT_IN_USE,)
    assert verdict.anomaly is not None
    first = replace(PARTICIPANT, sid="PA_0", joined_at=PARTICIPANT.joined_at - 5)
    assert live_rivals(PARTICIPANT, [first, PARTICIPANT]) == ("PA_0",)
    assert live_rivals(first, [first, PARTICIPANT]) == ()
    other_mint = replace(first, attributes={"cp.tid": "tid_2"})
    assert live_rivals(PARTICIPANT, [other_mint, PARTICIPANT]) == ()


def test_a_reconnect_of_the_same_identity_replaces_its_connection() -> None:
    # LiveKit keeps one connection per identity and room: the open one was just closed
    # by this join (its left event may still be queued, livekit#2399).
    verdict = explain_join(replace(FACTS, mint_connections=(_open(),)), now=NOW)
    assert verdict.explained, verdict.reasons


def test_a_closed_connection_of_another_identity_does_not_hold_the_mint() -> None:
    closed = ConnectionFact(sid="PA_0", identity=f"{SUBJECT}#x", left_at=T0)
    verdict = explain_join(replace(FACTS, mint_connections=(closed,)), now=NOW)
    assert verdict.explained, verdict.reasons


REFRESH = [
    ("no earlier connection", (), False),
    ("earlier connection still open", (_open(),), True),
    (
        "earlier connection left within the refresh validity",
        (ConnectionFact("PA_0", SUBJECT, EXPIRED_AT - REFRESH_VALIDITY),),
        True,
    ),
    (
        "earlier connection left longer ago than a refreshed token lives",
        (ConnectionFact("PA_0", SUBJECT, EXPIRED_AT - REFRESH_VALIDITY - timedelta(minutes=2)),),
        False,
    ),
    ("earlier connection of another identity", (_open(identity=f"{SUBJECT}#x"),), False),
]


@pytest.mark.parametrize(("case", "connections", "explained"), REFRESH, ids=[c[0] for c in REFRESH])
def test_a_refreshed_token_keeps_its_mint(
    case: str, connections: tuple[ConnectionFact, ...], explained: bool
) -> None:
    """A full reconnect after the mint expired uses the token LiveKit refreshed for the
    connected participant (same cp.tid): explained while it continues a connection."""
    facts = replace(FACTS, joined_at=EXPIRED_AT, mint_connections=connections)
    verdict = explain_join(facts, now=EXPIRED_AT)
    assert verdict.explained is explained, (case, verdict.reasons)
    if not explained:
        assert JoinReason.AFTER_EXPIRY in verdict.reasons or (
            JoinReason.MINT_IN_USE in verdict.reasons
        )


AGENT_JOBS = [
    ("live job", DISPATCH, "agent-AJ_1", True, None),
    (
        "job ended before the join",
        replace(DISPATCH, ended_jobs=(("agent-AJ_1", T0 - timedelta(seconds=5)),)),
        "agent-AJ_1",
        False,
        JoinReason.AGENT_JOB_ENDED,
    ),
    (
        "job ended after the join",
        replace(DISPATCH, ended_jobs=(("agent-AJ_1", T0 + timedelta(seconds=30)),)),
        "agent-AJ_1",
        True,
        None,
    ),
    (
        "identity reused: one job ended, another live",
        replace(
            DISPATCH,
            job_identities=("agent-AJ_1", "agent-AJ_1"),
            ended_jobs=(("agent-AJ_1", T0 - timedelta(seconds=5)),),
        ),
        "agent-AJ_1",
        True,
        None,
    ),
    ("case variant of a job identity", DISPATCH, "Agent-AJ_1", False, JoinReason.AGENT_JOB_UNKNOWN),
    ("derived from a job identity", DISPATCH, "agent-AJ_1#x", False, JoinReason.AGENT_JOB_UNKNOWN),
]


@pytest.mark.parametrize(
    ("case", "dispatch", "identity", "explained", "reason"),
    AGENT_JOBS,
    ids=[c[0] for c in AGENT_JOBS],
)
def test_an_agent_identity_must_be_a_live_job_of_a_recorded_dispatch(
    case: str,
    dispatch: object,
    identity: str,
    explained: bool,
    reason: JoinReason | None,
) -> None:
    facts = replace(
        AGENT_FACTS,
        joined_at=T0,
        participant=replace(AGENT, identity=identity),
        dispatches=(dispatch,),  # type: ignore[arg-type]
    )
    verdict = explain_join(facts, now=NOW)
    assert verdict.explained is explained, (case, verdict.reasons)
    if reason is not None:
        assert reason in verdict.reasons
