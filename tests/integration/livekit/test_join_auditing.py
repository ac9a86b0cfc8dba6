"""Join auditing, remediation and revocation against the real livekit-server: its own
signed webhooks reach the control plane served by a real uvicorn on 127.0.0.1:8787,
real rtc clients (libwebrtc over loopback ICE) join, and removals go through the real
server API. Both database backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
import pytest_asyncio
from livekit import api, rtc
from sqlalchemy import update
from sqlmodel import select

from control_plane.audit.tables import AuditRecord
from control_plane.config import Settings
from control_plane.livekit.tables import Participation, RemediationTask
from control_plane.risk.tables import Anomaly
from control_plane.sessions.tables import VoiceSession
from control_plane.store.uow import unit_of_work
from control_plane.tokens.tables import MintLedger
from tests.support.app import make_settings, running_app
from tests.support.harness import HarnessEnv, ensure_services
from tests.support.idp import TEST_OTP, complete_login, get_access_token
from tests.support.webhooks import WEBHOOK_URL, ServedApp, serve_app

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CONNECT_TIMEOUT = 15.0


@pytest.fixture(scope="module", autouse=True)
def livekit_webhooks_to_8787(harness_env: HarnessEnv) -> None:
    """livekit-server sends its webhooks to the app this module serves on 8787."""
    ensure_services(["livekit"], webhook_url=WEBHOOK_URL)


def _settings(tmp_path: Path, database_url: str, env: HarnessEnv, **webhooks: object) -> Settings:
    # Rooms of other suites on the shared livekit-server are audited, never touched.
    return make_settings(
        tmp_path,
        database_url=database_url,
        env=env,
        webhooks={"unknown_rooms": "audit", **webhooks},
    )


@pytest_asyncio.fixture
async def served(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv
) -> AsyncIterator[ServedApp]:
    async with serve_app(_settings(tmp_path, database_url, harness_env)) as app:
        yield app


async def _bearer(env: HarnessEnv, user: str, *, otp: str | None = None) -> dict[str, str]:
    tokens = await asyncio.to_thread(get_access_token, env, user, f"{user}-password", otp=otp)
    return {"Authorization": f"Bearer {tokens.access_token}"}


@asynccontextmanager
async def _admin(base_url: str, env: HarnessEnv) -> AsyncIterator[httpx.AsyncClient]:
    """adam's browser session with a multi-factor login (the amr claim lock_subject needs
    arrives in the ID token only), sending its CSRF token on every request."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        login = await client.get("/auth/login")
        redirect = await asyncio.to_thread(
            complete_login,
            env,
            login.headers["location"],
            username="adam",
            password="adam-password",
            otp=TEST_OTP,
        )
        parts = urlsplit(redirect)
        assert (await client.get(f"{parts.path}?{parts.query}")).status_code == 302
        me = await client.get("/auth/session")
        client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
        yield client


async def _create_session(base_url: str, headers: dict[str, str]) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post("/v1/sessions", json={}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


async def _post(
    base_url: str, path: str, headers: dict[str, str], json: object = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return await client.post(path, json=json or {}, headers=headers)


def _forged_token(env: HarnessEnv, *, room: str, identity: str) -> str:
    """Signed directly with the control plane's LiveKit secret: no ledger row, no cp.tid."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=["microphone"],
    )
    return (
        api.AccessToken(env.livekit_api_key, env.livekit_api_secret)
        .with_identity(identity)
        .with_kind("standard")
        .with_ttl(timedelta(minutes=5))
        .with_grants(grants)
        .to_jwt()
    )


class Client:
    """A real rtc participant and the moment it was disconnected."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.gone = asyncio.Event()
        self.gone_at = 0.0
        self.room.on("disconnected", self._on_disconnected)

    def _on_disconnected(self, *_: object) -> None:
        self.gone_at = time.monotonic()
        self.gone.set()

    async def connect(self, env: HarnessEnv, token: str) -> float:
        await asyncio.wait_for(self.room.connect(env.livekit_ws_url, token), CONNECT_TIMEOUT)
        return time.monotonic()

    async def wait_gone(self, within: float) -> bool:
        try:
            await asyncio.wait_for(self.gone.wait(), within)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        await self.room.disconnect()


@pytest_asyncio.fixture
async def clients() -> AsyncIterator[Callable[[], Client]]:
    made: list[Client] = []

    def factory() -> Client:
        client = Client()
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.close()


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def _participations(served: ServedApp, room: str) -> list[Participation]:
    async with unit_of_work(served.state.engine) as tx:
        rows = (await tx.exec(select(Participation).where(Participation.room_name == room))).all()
    return list(rows)


async def _anomaly_rules(served: ServedApp) -> list[str]:
    async with unit_of_work(served.state.engine) as tx:
        return list((await tx.exec(select(Anomaly.rule))).all())


async def test_forged_join_is_removed_within_two_seconds_and_a_minted_join_stays(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    session = await _create_session(served.base_url, await _bearer(harness_env, "alice"))
    room = session["room"]
    owner = clients()
    await owner.connect(harness_env, session["token"])

    intruder = clients()
    joined = await intruder.connect(
        harness_env, _forged_token(harness_env, room=room, identity="intruder-1")
    )
    assert await intruder.wait_gone(2.0), "forged participant still connected after 2 s"
    assert intruder.gone_at - joined < 2.0

    async def audited() -> bool:
        rows = {p.identity: p for p in await _participations(served, room)}
        return "intruder-1" in rows and session["identity"] in rows

    await _eventually(audited)
    rows = {p.identity: p for p in await _participations(served, room)}
    assert rows["intruder-1"].verdict == "unexplained"
    assert "no_token_id" in rows["intruder-1"].reasons
    assert rows[session["identity"]].verdict == "explained"
    assert rows[session["identity"]].token_id == session["token_id"]
    assert "unexplained_join" in await _anomaly_rules(served)
    # The legitimate owner was never touched.
    await asyncio.sleep(1.0)
    assert not owner.gone.is_set()
    async with unit_of_work(served.state.engine) as tx:
        task = (
            await tx.exec(select(RemediationTask).where(RemediationTask.identity == "intruder-1"))
        ).one()
        steps = (
            await tx.exec(
                select(AuditRecord.details, AuditRecord.tenant).where(
                    AuditRecord.event_type == "remediation.action"
                )
            )
        ).all()
        unexplained = (
            await tx.exec(
                select(AuditRecord.tenant).where(AuditRecord.event_type == "join.unexplained")
            )
        ).all()
    assert task.kind == "evict"
    assert task.status == "done"
    assert [s["step"] for s, _ in steps if s["task_id"] == task.id] == [
        "revoke_permissions",
        "remove_participant",
    ]
    # Records about alice's room are her tenant's auditors' to read.
    assert {tenant for s, tenant in steps if s["task_id"] == task.id} == {"acme"}
    assert set(unexplained) == {"acme"}


async def test_lock_removes_live_participant_within_one_second_and_rejoin_is_removed_again(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    alice_headers = await _bearer(harness_env, "alice")
    session = await _create_session(served.base_url, alice_headers)
    alice = clients()
    await alice.connect(harness_env, session["token"])

    async def explained() -> bool:
        return any(p.verdict == "explained" for p in await _participations(served, session["room"]))

    await _eventually(explained)
    # Minted times are whole seconds: lock in a later second than the mint, so the token
    # is unambiguously older than the lock (the re-kick list compares at that grain).
    await asyncio.sleep(1.05 - time.time() % 1)

    async with _admin(served.base_url, harness_env) as admin:
        started = time.monotonic()
        locked = await admin.post(
            f"/v1/subjects/{session['identity']}/lock", json={"reason": "other"}
        )
        await _after_lock(
            served, harness_env, clients, session, alice_headers, alice, admin, started, locked
        )


async def _after_lock(
    served: ServedApp,
    harness_env: HarnessEnv,
    clients: Callable[[], Client],
    session: dict[str, str],
    alice_headers: dict[str, str],
    alice: Client,
    admin: httpx.AsyncClient,
    started: float,
    locked: httpx.Response,
) -> None:
    assert locked.status_code == 200, locked.text
    assert locked.json()["status"] == "locked"
    assert await alice.wait_gone(1.0), "locked subject still connected 1 s after the lock"
    assert alice.gone_at - started < 1.0

    # No new token for a locked subject.
    refused = await _post(
        served.base_url, f"/v1/sessions/{session['session_id']}/token", alice_headers
    )
    assert refused.status_code == 403

    # The same (still unexpired) token gets in again and is removed again on sight.
    again = clients()
    rejoined = await again.connect(harness_env, session["token"])
    assert await again.wait_gone(2.0), "rejoin with the old token was not removed"
    assert again.gone_at - rejoined < 2.0
    assert "rejoin_after_removal" in await _anomaly_rules(served)

    # After an unlock the pre-lock token stays refused (re-kick list) ...
    unlocked = await admin.post(f"/v1/subjects/{session['identity']}/unlock", json={})
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["status"] == "active"
    old_token = clients()
    await old_token.connect(harness_env, session["token"])
    assert await old_token.wait_gone(2.0), "a pre-lock token was honoured after the unlock"
    # ... while a token minted after the unlock is honoured.
    fresh = await _post(
        served.base_url, f"/v1/sessions/{session['session_id']}/token", alice_headers
    )
    assert fresh.status_code == 200, fresh.text
    back = clients()
    await back.connect(harness_env, fresh.json()["token"])
    assert not await back.wait_gone(2.0), "a token minted after the unlock was removed"


async def test_member_cannot_lock_and_unknown_subject_is_404(
    served: ServedApp, harness_env: HarnessEnv
) -> None:
    alice = await _bearer(harness_env, "alice")
    session = await _create_session(served.base_url, alice)
    carol = await _bearer(harness_env, "carol")
    denied = await _post(served.base_url, f"/v1/subjects/{session['identity']}/lock", carol)
    assert denied.status_code == 403
    # An admin bearer token carries no amr: lock_subject needs a multi-factor login.
    no_mfa = await _post(
        served.base_url,
        f"/v1/subjects/{session['identity']}/lock",
        await _bearer(harness_env, "adam"),
    )
    assert no_mfa.status_code == 403
    async with _admin(served.base_url, harness_env) as admin:
        missing = await admin.post("/v1/subjects/sub_" + "0" * 32 + "/lock", json={})
        assert missing.status_code == 404
        malformed = await admin.post("/v1/subjects/not-a-pseudonym/lock", json={})
        assert malformed.status_code == 404


async def test_revocation_and_hold_routes_refuse_others_and_unknown_ids(
    served: ServedApp, harness_env: HarnessEnv
) -> None:
    base = served.base_url
    alice = await _bearer(harness_env, "alice")
    carol = await _bearer(harness_env, "carol")
    session = await _create_session(base, alice)
    sid, subject = session["session_id"], session["identity"]
    unknown_subject, unknown_session = "sub_" + "0" * 32, "ses_" + "0" * 32
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for name, method, path, headers in (
            ("end other's session", "POST", f"/v1/sessions/{sid}/end", carol),
            ("end unknown session", "POST", f"/v1/sessions/{unknown_session}/end", alice),
            ("end other's sessions", "POST", f"/v1/subjects/{subject}/sessions/end", carol),
            (
                "end unknown's sessions",
                "POST",
                f"/v1/subjects/{unknown_subject}/sessions/end",
                carol,
            ),
            ("unlock as member", "POST", f"/v1/subjects/{subject}/unlock", carol),
            ("hold session as member", "PUT", f"/v1/sessions/{sid}/legal-hold", carol),
            ("release session as member", "DELETE", f"/v1/sessions/{sid}/legal-hold", carol),
            ("release subject as member", "DELETE", f"/v1/subjects/{subject}/legal-hold", carol),
            ("anomalies, bad limit", "GET", "/v1/anomalies?limit=-1", alice),
            ("anomalies, bad since", "GET", "/v1/anomalies?since=yesterday", alice),
        ):
            response = await client.request(
                method, path, headers=headers, json={} if method == "POST" else None
            )
            statuses[name] = response.status_code
    async with _admin(base, harness_env) as admin:
        statuses["admin unlocks unknown"] = (
            await admin.post(f"/v1/subjects/{unknown_subject}/unlock", json={})
        ).status_code
        statuses["admin holds unknown session"] = (
            await admin.put(f"/v1/sessions/{unknown_session}/legal-hold")
        ).status_code
        statuses["admin releases unknown session"] = (
            await admin.delete(f"/v1/sessions/{unknown_session}/legal-hold")
        ).status_code
        statuses["revoke a made-up browser session"] = (
            await admin.delete("/v1/me/sessions/" + "x" * 43)
        ).status_code
        statuses["anomalies, bad before"] = (
            await admin.get("/v1/anomalies?before=not-a-time")
        ).status_code
    assert statuses == {
        "end other's session": 403,
        "end unknown session": 404,
        "end other's sessions": 403,
        "end unknown's sessions": 404,
        "unlock as member": 403,
        "hold session as member": 403,
        "release session as member": 403,
        "release subject as member": 403,
        "anomalies, bad limit": 422,
        "anomalies, bad since": 422,
        "admin unlocks unknown": 404,
        "admin holds unknown session": 404,
        "admin releases unknown session": 404,
        "revoke a made-up browser session": 404,
        "anomalies, bad before": 422,
    }
    # Nothing the refused requests asked for happened: the session is live for its owner.
    still = await _post(base, f"/v1/sessions/{sid}/token", alice)
    assert still.status_code == 200, still.text


async def test_end_session_removes_participants_and_deletes_the_room(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    alice = await _bearer(harness_env, "alice")
    session = await _create_session(served.base_url, alice)
    member = clients()
    await member.connect(harness_env, session["token"])
    ended = await _post(served.base_url, f"/v1/sessions/{session['session_id']}/end", alice)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended"
    assert await member.wait_gone(2.0)
    async with api.LiveKitAPI(
        harness_env.livekit_url, harness_env.livekit_api_key, harness_env.livekit_api_secret
    ) as lk:

        async def room_gone() -> bool:
            rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[session["room"]]))
            return not rooms.rooms

        await _eventually(room_gone, within=5)
    again = await _post(served.base_url, f"/v1/sessions/{session['session_id']}/end", alice)
    assert again.status_code == 200  # idempotent
    mint = await _post(served.base_url, f"/v1/sessions/{session['session_id']}/token", alice)
    assert mint.status_code == 409


async def test_end_all_sessions_of_a_subject(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    alice = await _bearer(harness_env, "alice")
    first = await _create_session(served.base_url, alice)
    second = await _create_session(served.base_url, alice)
    one, two = clients(), clients()
    await one.connect(harness_env, first["token"])
    await two.connect(harness_env, second["token"])
    response = await _post(served.base_url, f"/v1/subjects/{first['identity']}/sessions/end", alice)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["ended"]) == sorted([first["session_id"], second["session_id"]])
    assert await one.wait_gone(2.0)
    assert await two.wait_gone(2.0)


async def test_maximum_session_duration_removes_participants_at_the_deadline(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    session = await _create_session(served.base_url, await _bearer(harness_env, "alice"))
    member = clients()
    await member.connect(harness_env, session["token"])
    deadline = time.monotonic() + 1.5
    async with unit_of_work(served.state.engine) as tx:
        await tx.exec(
            update(VoiceSession)
            .where(VoiceSession.id == session["session_id"])  # type: ignore[arg-type]
            .values(expires_at=served.state.clock() + timedelta(seconds=1.5))
        )
    assert await member.wait_gone(5.0)
    assert member.gone_at >= deadline - 0.1
    assert member.gone_at - deadline < 2.0
    async with unit_of_work(served.state.engine) as tx:
        row = await tx.get(VoiceSession, session["session_id"])
        assert row is not None
        assert row.status == "ended"
        assert row.end_reason == "maximum session duration reached"


async def test_reconciler_catches_a_forged_join_when_webhooks_are_lost(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    # Served in-process without a port: livekit-server's webhooks never reach this app.
    settings = _settings(tmp_path, database_url, harness_env, reconcile_interval_seconds=0.5)
    async with running_app(settings) as app:
        response = await app.client.post(
            "/v1/sessions", json={}, headers=await _bearer(harness_env, "alice")
        )
        assert response.status_code == 201, response.text
        room = response.json()["room"]
        intruder = clients()
        await intruder.connect(harness_env, _forged_token(harness_env, room=room, identity="ghost"))
        assert await intruder.wait_gone(3.0), "the reconciler did not remove the forged join"
        async with unit_of_work(app.state.engine) as tx:
            row = (
                await tx.exec(select(Participation).where(Participation.identity == "ghost"))
            ).one()
        assert row.source == "reconciler"
        assert row.verdict == "unexplained"


def _agents_key_token(
    env: HarnessEnv, *, room: str, identity: str, attributes: dict[str, str]
) -> str:
    """What a holder of the agents' key pair (every worker's environment) can sign: any
    identity, a cp.tid copied from a real participant's attributes (visible to everyone in
    the room), the minted grants and more (roomAdmin is invisible in webhooks)."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        room_admin=True,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=["microphone"],
    )
    return (
        api.AccessToken(env.livekit_agent_key, env.livekit_agent_secret)
        .with_identity(identity)
        .with_name(identity)
        .with_kind("standard")
        .with_attributes(attributes)
        .with_ttl(timedelta(minutes=5))
        .with_grants(grants)
        .to_jwt()
    )


async def _participation(served: ServedApp, room: str, identity: str) -> Participation:
    async def audited() -> bool:
        return any(p.identity == identity for p in await _participations(served, room))

    await _eventually(audited)
    return next(p for p in await _participations(served, room) if p.identity == identity)


async def test_a_suffixed_copy_of_a_real_identity_with_its_cp_tid_is_removed(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    alice = await _bearer(harness_env, "alice")
    session = await _create_session(served.base_url, alice)
    room, identity = session["room"], session["identity"]
    owner = clients()
    await owner.connect(harness_env, session["token"])
    await _participation(served, room, identity)

    copy = f"{identity}#listen"
    intruder = clients()
    await intruder.connect(
        harness_env,
        _agents_key_token(
            harness_env, room=room, identity=copy, attributes={"cp.tid": session["token_id"]}
        ),
    )
    assert await intruder.wait_gone(10.0), "the #suffix copy is still connected"
    row = await _participation(served, room, copy)
    assert row.verdict == "unexplained"
    assert {"identity_not_minted", "mint_in_use"} <= set(row.reasons)
    assert row.subject_id is None  # the copied cp.tid lends alice nothing to blame
    async with unit_of_work(served.state.engine) as tx:
        anomalies = (await tx.exec(select(Anomaly))).all()
    flagged = [a for a in anomalies if a.evidence.get("identity") == copy]
    assert [a.rule for a in flagged] == ["unexplained_join"]
    assert not owner.gone.is_set(), "the real participant was touched"
    # Only the copy went on the re-kick list: alice's own token still gets her back in.
    await owner.close()
    again = clients()
    await again.connect(harness_env, session["token"])

    async def rejoined() -> bool:
        rows = [p for p in await _participations(served, room) if p.identity == identity]
        return len(rows) == 2 and all(p.verdict == "explained" for p in rows)

    await _eventually(rejoined)
    assert not again.gone.is_set()


async def test_a_second_simultaneous_connection_on_one_mint_is_removed(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    """The attack report's "one ledger row explained three simultaneous connections"."""
    session = await _create_session(served.base_url, await _bearer(harness_env, "alice"))
    room, identity = session["room"], session["identity"]
    owner = clients()
    await owner.connect(harness_env, session["token"])
    await _participation(served, room, identity)
    minted = {"cp.tid": session["token_id"]}
    copies = [f"{identity}#2", identity.upper(), f"{identity} "]
    intruders = []
    for copy in copies:
        intruder = clients()
        await intruder.connect(
            harness_env,
            _agents_key_token(harness_env, room=room, identity=copy, attributes=minted),
        )
        intruders.append(intruder)
    for intruder in intruders:
        assert await intruder.wait_gone(10.0), "a second connection on one mint stayed"
    for copy in copies:
        row = await _participation(served, room, copy)
        assert row.verdict == "unexplained"
        assert "mint_in_use" in row.reasons
    rows = [p for p in await _participations(served, room) if p.verdict == "explained"]
    assert [p.identity for p in rows] == [identity]
    assert not owner.gone.is_set()


async def test_a_token_refreshed_by_livekit_keeps_its_mint_after_the_mint_expired(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    session = await _create_session(served.base_url, await _bearer(harness_env, "alice"))
    room, identity = session["room"], session["identity"]
    first = clients()
    refreshed = asyncio.Event()
    first.room.on("token_refreshed", lambda *_: refreshed.set())
    await first.connect(harness_env, session["token"])
    await asyncio.wait_for(refreshed.wait(), 30)  # pushed once at session start
    # The rtc SDK keeps the last token the server pushed (no public accessor).
    token = first.room._token
    assert token is not None
    assert token != session["token"]
    # Signed by whichever key LiveKit picks (livekit.md §1): read here, not verified.
    assert jwt.decode(token, options={"verify_signature": False})["attributes"] == {
        "cp.tid": session["token_id"]
    }
    await _participation(served, room, identity)
    # The mint has long expired while the participant stayed connected.
    past = served.state.clock() - timedelta(hours=1)
    async with unit_of_work(served.state.engine) as tx:
        await tx.exec(
            update(MintLedger)
            .where(MintLedger.id == session["token_id"])  # type: ignore[arg-type]
            .values(issued_at=past, expires_at=past + timedelta(minutes=5))
        )
    # A full reconnect (new sid) with the refreshed token: LiveKit replaces the first
    # connection, and the new one is explained by the same mint.
    second = clients()
    await second.connect(harness_env, token)
    assert await first.wait_gone(10.0)

    async def both_audited() -> bool:
        rows = [p for p in await _participations(served, room) if p.identity == identity]
        return len(rows) == 2

    await _eventually(both_audited)
    rows = [p for p in await _participations(served, room) if p.identity == identity]
    assert [p.verdict for p in rows] == ["explained", "explained"]
    assert {p.token_id for p in rows} == {session["token_id"]}
    assert not second.gone.is_set()


async def test_an_identity_no_database_can_store_is_still_removed(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    """livekit-server accepts any string as an identity, a NUL included, which PostgreSQL
    text cannot hold: the copy must still be recorded, removed and raise an anomaly."""
    session = await _create_session(served.base_url, await _bearer(harness_env, "alice"))
    room, identity = session["room"], session["identity"]
    owner = clients()
    await owner.connect(harness_env, session["token"])
    await _participation(served, room, identity)
    intruder = clients()
    await intruder.connect(
        harness_env,
        _agents_key_token(
            harness_env,
            room=room,
            identity=f"{identity}\x00",
            attributes={"cp.tid": session["token_id"] + "\x00"},
        ),
    )
    assert await intruder.wait_gone(10.0), "the NUL identity is still connected"
    row = await _participation(served, room, f"{identity}\ufffd")
    assert row.verdict == "unexplained"
    assert "unexplained_join" in await _anomaly_rules(served)
    assert not owner.gone.is_set()


async def test_the_agents_key_cannot_pass_a_join_off_as_an_agent_or_a_user_as_one(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    """An AGENT participant the agents' key signed itself (no dispatch of ours lists it)
    and a STANDARD one with the real mint claiming lk.agent_name are both removed."""
    session = await _create_session(served.base_url, await _bearer(harness_env, "alice"))
    room, identity = session["room"], session["identity"]
    agent_name = served.state.settings.agents.agent_name
    grants = api.VideoGrants(room_join=True, room=room, agent=True, can_subscribe=True)
    fake_agent = (
        api.AccessToken(harness_env.livekit_agent_key, harness_env.livekit_agent_secret)
        .with_identity("agent-AJ_forged")
        .with_kind("agent")
        .with_attributes({"lk.agent_name": agent_name})
        .with_ttl(timedelta(minutes=5))
        .with_grants(grants)
        .to_jwt()
    )
    posing = _agents_key_token(
        harness_env,
        room=room,
        identity=identity,
        attributes={"cp.tid": session["token_id"], "lk.agent_name": agent_name},
    )
    agent, user = clients(), clients()
    await agent.connect(harness_env, fake_agent)
    await user.connect(harness_env, posing)
    assert await agent.wait_gone(10.0), "an undispatched agent is still connected"
    assert await user.wait_gone(10.0), "a user claiming an agent name is still connected"
    agent_row = await _participation(served, room, "agent-AJ_forged")
    assert agent_row.kind == "AGENT"
    assert "agent_not_dispatched" in agent_row.reasons
    user_row = await _participation(served, room, identity)
    assert "attributes_not_minted" in user_row.reasons


async def test_a_cp_tid_copied_into_another_room_is_removed(
    served: ServedApp, harness_env: HarnessEnv, clients: Callable[[], Client]
) -> None:
    """alice's exact identity and a mint of hers, in another session's room of hers."""
    alice = await _bearer(harness_env, "alice")
    first = await _create_session(served.base_url, alice)
    second = await _create_session(served.base_url, alice)
    intruder = clients()
    await intruder.connect(
        harness_env,
        _agents_key_token(
            harness_env,
            room=second["room"],
            identity=first["identity"],
            attributes={"cp.tid": first["token_id"]},
        ),
    )
    assert await intruder.wait_gone(10.0), "a mint of another room explained the join"
    row = await _participation(served, second["room"], first["identity"])
    assert row.verdict == "unexplained"
    assert "token_of_another_room" in row.reasons
