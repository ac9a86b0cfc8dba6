"""The webhook endpoint on both backends: forged and bad deliveries are refused with the
generic body and audited, replays and duplicates have no side effect, and processing
(participations, closing, tracks, anomalies, remediation tasks) runs from stored rows."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.config import Settings
from control_plane.identity.tables import Subject
from control_plane.livekit.tables import Participation, RemediationTask, WebhookEvent
from control_plane.risk.tables import Anomaly
from control_plane.sessions.tables import VoiceSession
from control_plane.store.uow import unit_of_work
from control_plane.tokens.tables import MintLedger
from tests.support.app import RunningApp, make_settings, running_app
from tests.support.webhooks import event_body, participant_json, webhook_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

KEY = "cp-webhook"
SECRET = "s" * 40
GENERIC = {"error": "webhook_rejected", "detail": "webhook rejected"}
SUBJECT = "sub_" + "c" * 32
ROOM = "cp-intake-room"


def _settings(tmp_path: Path, database_url: str, **sections: dict[str, object]) -> Settings:
    """Settings with this module's webhook key pair, plus ``sections``."""
    return make_settings(
        tmp_path,
        database_url=database_url,
        env=None,
        livekit={"webhook_api_key": KEY, "webhook_api_secret": SECRET},
        **sections,
    )


@pytest_asyncio.fixture
async def app(tmp_path: Path, database_url: str) -> AsyncIterator[RunningApp]:
    settings = _settings(
        tmp_path, database_url, webhooks={"unknown_rooms": "audit", "max_body_bytes": 8192}
    )
    async with running_app(settings) as running:
        yield running


def _signed(body: bytes, **kwargs: object) -> dict[str, str]:
    return {"Authorization": webhook_token(body, key=KEY, secret=SECRET, **kwargs)}  # type: ignore[arg-type]


async def _post(app: RunningApp, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await app.client.post("/webhooks/livekit", content=body, headers=headers)


async def _count(app: RunningApp, model: type, *where: object) -> int:
    async with unit_of_work(app.state.engine) as tx:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)  # type: ignore[arg-type]
        return int((await tx.exec(query)).one())


async def _audit(app: RunningApp, event_type: str) -> list[AuditRecord]:
    async with unit_of_work(app.state.engine) as tx:
        return list(
            (await tx.exec(select(AuditRecord).where(AuditRecord.event_type == event_type))).all()
        )


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _processed(app: RunningApp, *event_ids: str) -> None:
    async def done() -> bool:
        processed = await _count(
            app,
            WebhookEvent,
            col(WebhookEvent.id).in_(event_ids),
            col(WebhookEvent.processed_at).is_not(None),
        )
        return processed == len(event_ids)

    await _eventually(done)


def _joined(identity: str = "intruder", **kwargs: object) -> bytes:
    return event_body(
        "participant_joined",
        room=ROOM,
        participant=participant_json(identity=identity, permission={"canPublish": True}),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_forged_and_bad_deliveries_are_refused_audited_and_leave_nothing(
    app: RunningApp,
) -> None:
    body = _joined(event_id="EV_forged")
    stale = _joined(event_id="EV_stale", created_at=int(time.time()) - 3600)
    malformed = b'{"event": "participant_joined", "id": '
    oversized = b'{"event":"room_started","id":"EV_big","pad":"' + b"x" * 9000 + b'"}'
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        ("missing header", body, {}, 401, "missing_authorization"),
        ("garbage JWT", body, {"Authorization": "garbage"}, 401, "malformed_token"),
        (
            "wrong key",
            body,
            {"Authorization": webhook_token(body, key="cp-api", secret=SECRET)},
            401,
            "wrong_issuer",
        ),
        (
            "bad signature",
            body,
            {"Authorization": webhook_token(body, key=KEY, secret="x" * 40)},
            401,
            "bad_signature",
        ),
        (
            "tampered body",
            body.replace(b"intruder", b"intruded"),
            _signed(body),
            401,
            "body_hash_mismatch",
        ),
        ("token without exp", body, _signed(body, exp=False), 401, "missing_exp"),
        ("stale createdAt", stale, _signed(stale), 400, "stale"),
        ("malformed JSON", malformed, _signed(malformed), 400, "malformed_body"),
        ("oversized", oversized, _signed(oversized), 413, "too_large"),
    ]
    for case, payload, headers, status, _ in cases:
        response = await _post(app, payload, headers)
        assert response.status_code == status, (case, response.text)
        answer = response.json()
        if status == 413:
            assert answer["error"] == "payload_too_large", case
        else:
            assert {k: answer[k] for k in GENERIC} == GENERIC, case
        assert set(answer) == {"error", "detail", "request_id"}, case
    assert await _count(app, WebhookEvent) == 0
    assert await _count(app, Participation) == 0
    reasons = [r.reason for r in await _audit(app, "webhook.rejected")]
    assert reasons == [c[4] for c in cases]


async def test_replayed_id_is_acknowledged_without_side_effects(app: RunningApp) -> None:
    body = _joined(event_id="EV_once")
    first = await _post(app, body, _signed(body))
    assert first.status_code == 200
    assert first.json() == {"received": True, "duplicate": False}
    await _processed(app, "EV_once")
    records = await _count(app, AuditRecord)
    # The identical delivery again (a LiveKit retry or a captured replay) ...
    replay = await _post(app, body, _signed(body))
    assert replay.json() == {"received": True, "duplicate": True}
    # ... and another body under the same id: neither is stored nor processed again.
    other = _joined(identity="someone-else", event_id="EV_once")
    assert (await _post(app, other, _signed(other))).json()["duplicate"] is True
    await asyncio.sleep(1.5)
    assert await _count(app, AuditRecord) == records
    assert await _count(app, Participation) == 1
    async with unit_of_work(app.state.engine) as tx:
        stored = await tx.get(WebhookEvent, "EV_once")
    assert stored is not None
    assert "intruder" in stored.body
    assert "turn-secret" not in stored.body


async def test_a_signed_body_protobuf_refuses_is_stored_then_failed_and_audited(
    app: RunningApp,
) -> None:
    """Intake type-checks only the fields it stores; the full protobuf parse happens in
    processing, which ends such an event as failed ("unparseable"), with an audit record,
    and never acts on it."""
    document = json.loads(_joined(event_id="EV_odd"))
    document["participant"] = 5  # LiveKit would never send this; protobuf refuses it
    body = json.dumps(document).encode()
    response = await _post(app, body, _signed(body))
    assert response.status_code == 200
    await _processed(app, "EV_odd")
    async with unit_of_work(app.state.engine) as tx:
        stored = await tx.get(WebhookEvent, "EV_odd")
    assert stored is not None
    assert (stored.outcome, stored.last_error) == ("failed", "unparseable")
    failures = [r for r in await _audit(app, "webhook.event") if r.outcome == "failure"]
    assert [r.details["event_id"] for r in failures] == ["EV_odd"]
    assert await _count(app, Participation) == 0


async def test_the_plain_route_keeps_the_request_context_and_its_metrics_label(
    app: RunningApp,
) -> None:
    body = _joined(identity="labelled", event_id="EV_label")
    answer = await _post(
        app, body, {**_signed(body), "X-Request-Id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    refused = await _post(app, body, {"Authorization": "not-a-jwt"})
    assert refused.status_code == 401
    assert {k: v for k, v in refused.json().items() if k != "request_id"} == GENERIC
    exported = (await app.client.get("/metrics")).text
    labelled = [
        line
        for line in exported.splitlines()
        if line.startswith("cp_http_requests_total{") and 'route="/webhooks/livekit"' in line
    ]
    assert any('status="200"' in line for line in labelled), labelled
    assert any('status="401"' in line for line in labelled), labelled
    assert 'route="unmatched"' not in exported


async def test_a_thousand_duplicate_deliveries_make_one_record(app: RunningApp) -> None:
    body = _joined(identity="dup-intruder", event_id="EV_dup")
    headers = _signed(body)
    answers: list[httpx.Response] = []
    for _ in range(20):  # 1,000 deliveries, 50 in flight at a time
        answers += await asyncio.gather(*(_post(app, body, headers) for _ in range(50)))
    assert [r.status_code for r in answers] == [200] * 1000
    assert sum(1 for r in answers if not r.json()["duplicate"]) == 1
    await _processed(app, "EV_dup")
    await asyncio.sleep(1.0)
    assert await _count(app, WebhookEvent) == 1
    assert await _count(app, Participation, Participation.identity == "dup-intruder") == 1
    joins = await _audit(app, "join.unexplained")
    assert [j.details["event_id"] for j in joins] == ["EV_dup"]
    assert [j.tenant for j in joins] == [None]  # not a room we created: platform-wide


async def test_rejection_audits_are_bounded_per_sender(tmp_path: Path, database_url: str) -> None:
    settings = _settings(tmp_path, database_url, webhooks={"rejection_audit_limit": "5/hour"})
    async with running_app(settings) as app:
        for _ in range(20):
            response = await _post(app, b"{}", {"Authorization": "garbage"})
            assert response.status_code == 401
        # The limiter's window follows the wall clock: the burst may straddle one boundary.
        assert 5 <= len(await _audit(app, "webhook.rejected")) <= 10


async def test_rejections_are_still_audited_when_the_limiter_store_is_unreachable(
    tmp_path: Path, database_url: str
) -> None:
    # The budget only bounds audit volume; losing its store must not lose the record.
    settings = _settings(tmp_path, database_url, risk={"storage_url": "redis://127.0.0.1:9/0"})
    async with running_app(settings) as app:
        response = await _post(app, b"{}", {"Authorization": "garbage"})
        assert response.status_code == 401
        rejected = await _audit(app, "webhook.rejected")
    assert [r.reason for r in rejected] == ["malformed_token"]


async def test_left_before_joined_and_duplicate_identity(app: RunningApp) -> None:
    joined_at = datetime.now(UTC) - timedelta(seconds=30)
    participant = participant_json(
        sid="PA_dup", identity="kicked", joined_at=joined_at, disconnect_reason="DUPLICATE_IDENTITY"
    )
    left = event_body("participant_left", room=ROOM, event_id="EV_left", participant=participant)
    joined = event_body(
        "participant_joined", room=ROOM, event_id="EV_join", participant=participant
    )
    assert (await _post(app, left, _signed(left))).status_code == 200
    await _processed(app, "EV_left")
    assert (await _post(app, joined, _signed(joined))).status_code == 200
    await _processed(app, "EV_join")
    async with unit_of_work(app.state.engine) as tx:
        row = await tx.get(Participation, "PA_dup")
        rules = (await tx.exec(select(Anomaly.rule))).all()
    assert row is not None
    assert row.left_at is not None
    assert row.disconnect_reason == "DUPLICATE_IDENTITY"
    assert row.duration_ms is not None
    assert 25_000 <= row.duration_ms <= 40_000
    assert "duplicate_identity" in rules
    assert len(await _audit(app, "join.closed")) == 1
    assert len(await _audit(app, "join.unexplained")) == 1
    # The late join event is recorded, not audited twice.
    outcomes = [r.details.get("outcome") for r in await _audit(app, "webhook.event")]
    assert outcomes == ["already_audited"]


async def _seed_minted_join(app: RunningApp, *, sources: list[str]) -> None:
    """A subject, its live session and a ledger row, as the mint path leaves them."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with unit_of_work(app.state.engine) as tx:
        tx.add(Subject(id=SUBJECT, tenant="acme", created_at=now, last_seen_at=now))
        tx.add(
            VoiceSession(
                id="ses_intake",
                room_name=ROOM,
                tenant="acme",
                owner_subject_id=SUBJECT,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        tx.add(
            MintLedger(
                id="tid_intake",
                subject_id=SUBJECT,
                session_id="ses_intake",
                room_name=ROOM,
                identity=SUBJECT,
                grants={
                    "can_publish_sources": sources,
                    "can_publish_data": True,
                    "can_subscribe": True,
                },
                issued_at=now - timedelta(seconds=5),
                expires_at=now + timedelta(seconds=115),
                decision_id="d" * 32,
                policy_version="test",
            )
        )


async def test_minted_join_is_explained_and_an_ungranted_track_is_an_over_grant(
    app: RunningApp,
) -> None:
    await _seed_minted_join(app, sources=["microphone"])
    participant = participant_json(
        sid="PA_ok",
        identity=SUBJECT,
        attributes={"cp.tid": "tid_intake"},
        permission={
            "canPublish": True,
            "canPublishSources": ["MICROPHONE"],
            "canPublishData": True,
            "canSubscribe": True,
        },
    )
    joined = event_body("participant_joined", room=ROOM, event_id="EV_ok", participant=participant)
    mic = event_body(
        "track_published",
        room=ROOM,
        event_id="EV_mic",
        participant={"sid": "PA_ok", "identity": SUBJECT},
        track={"sid": "TR_mic", "type": "AUDIO", "source": "MICROPHONE"},
    )
    camera = event_body(
        "track_published",
        room=ROOM,
        event_id="EV_cam",
        participant={"sid": "PA_ok", "identity": SUBJECT},
        track={"sid": "TR_cam", "type": "VIDEO", "source": "CAMERA"},
    )
    for body in (joined, mic, camera):
        assert (await _post(app, body, _signed(body))).status_code == 200
    await _processed(app, "EV_ok", "EV_mic", "EV_cam")
    async with unit_of_work(app.state.engine) as tx:
        outcomes = dict((await tx.exec(select(WebhookEvent.id, WebhookEvent.outcome))).all())
        row = await tx.get(Participation, "PA_ok")
        anomalies = (await tx.exec(select(Anomaly))).all()
        tasks = (await tx.exec(select(RemediationTask))).all()
    assert outcomes == {"EV_ok": "explained", "EV_mic": "track_ok", "EV_cam": "track_not_granted"}
    assert row is not None
    assert row.verdict == "unexplained"
    assert row.token_id == "tid_intake"
    assert "track_source_not_granted" in row.reasons
    assert [(a.rule, a.severity, a.subject_id) for a in anomalies] == [
        ("over_grant", "critical", SUBJECT)
    ]
    # LiveKit is not configured here: the eviction stays pending and is retried.
    assert [(t.kind, t.identity, t.sid, t.status) for t in tasks] == [
        ("evict", SUBJECT, "PA_ok", "pending")
    ]
    assert len(await _audit(app, "join.track_unexplained")) == 1
    # What is recorded about an acme room is acme's auditors' to read.
    for event_type in ("join.explained", "join.track_unexplained", "webhook.event"):
        records = await _audit(app, event_type)
        assert records, event_type
        assert {r.tenant for r in records} == {"acme"}, event_type


async def test_track_before_its_join_waits_for_the_join(app: RunningApp) -> None:
    await _seed_minted_join(app, sources=["microphone"])
    participant = participant_json(
        sid="PA_late",
        identity=SUBJECT,
        attributes={"cp.tid": "tid_intake"},
        permission={"canPublish": True, "canPublishSources": ["MICROPHONE"]},
    )
    mic = event_body(
        "track_published",
        room=ROOM,
        event_id="EV_early_mic",
        participant={"sid": "PA_late", "identity": SUBJECT},
        track={"sid": "TR_1", "type": "AUDIO", "source": "MICROPHONE"},
    )
    joined = event_body(
        "participant_joined", room=ROOM, event_id="EV_late_join", participant=participant
    )
    assert (await _post(app, mic, _signed(mic))).status_code == 200
    await asyncio.sleep(0.3)
    assert (await _post(app, joined, _signed(joined))).status_code == 200
    await _processed(app, "EV_late_join", "EV_early_mic")
    async with unit_of_work(app.state.engine) as tx:
        stored = await tx.get(WebhookEvent, "EV_early_mic")
    assert stored is not None
    assert stored.outcome == "track_ok"
    assert stored.attempts >= 2


async def test_signed_bodies_json_or_the_store_cannot_take_are_4xx_or_unparseable(
    app: RunningApp,
) -> None:
    """A 5xx makes LiveKit retry forever. Nested past the parser, or NUL or a lone
    surrogate where the intake keys the event: 400, audited. In a client-chosen field (the
    participant's name): acknowledged, the field is never stored (T-PRIV-5), and the join
    is judged like any other: here unexplained, since no token of ours names it."""
    deep = json.dumps(json.loads(_joined(event_id="EV_deep"))).encode()[:-1]
    deep += b', "pad": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    for body in (
        deep,
        json.dumps({**json.loads(_joined()), "id": "EV_\u0000"}).encode(),
        json.dumps({**json.loads(_joined()), "id": "EV_\ud800"}).encode(),
    ):
        response = await _post(app, body, _signed(body))
        assert response.status_code == 400, response.text
        assert {k: response.json()[k] for k in GENERIC} == GENERIC
    assert [r.reason for r in await _audit(app, "webhook.rejected")] == ["malformed_body"] * 3
    accepted = []
    for event_id, name in (("EV_nul_name", "Mallory\u0000"), ("EV_surrogate", "Mal\ud800lory")):
        document = json.loads(_joined(event_id=event_id))
        document["participant"]["name"] = name
        body = json.dumps(document).encode()
        response = await _post(app, body, _signed(body))
        assert response.status_code == 200, response.text
        accepted.append(event_id)
    await _processed(app, *accepted)
    async with unit_of_work(app.state.engine) as tx:
        for event_id in accepted:
            stored = await tx.get(WebhookEvent, event_id)
            assert stored is not None
            assert (stored.outcome, stored.last_error) == ("unexplained", "")
            assert "Mal" not in stored.body


async def test_a_body_held_open_or_forged_does_not_hold_up_processing(app: RunningApp) -> None:
    """Processing gives way while a delivery is in flight; only a verified one counts, and
    only once its body is in (a body held open throttled all processing to ~5 events/s)."""
    intake = app.state.livekit_work.intake
    body = _joined(event_id="EV_held")
    release = asyncio.Event()
    first_chunk_sent = asyncio.Event()

    async def held_open() -> AsyncIterator[bytes]:
        yield body[:10]
        first_chunk_sent.set()
        await release.wait()
        yield body[10:]

    delivery = asyncio.create_task(
        app.client.post("/webhooks/livekit", content=held_open(), headers=_signed(body))
    )
    await first_chunk_sent.wait()
    for _ in range(20):
        await asyncio.sleep(0)  # let the route run as far as it can
    assert intake.deliveries_in_flight == 0
    release.set()
    response = await delivery
    assert response.status_code == 200, response.text
    assert intake.deliveries_in_flight == 0
    forged = await _post(app, body, {"Authorization": "garbage"})
    assert forged.status_code == 401
    assert intake.deliveries_in_flight == 0
