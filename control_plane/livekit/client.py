"""The LiveKit server API (rooms, participants, agent dispatch) behind one Protocol.

livekit-api errors are translated here (``raise ... from``, ``livekit_error``): a server
error that says "not found" (a room, participant or dispatch) becomes ``LiveKitNotFound``;
any other server error, and every transport failure or timeout, ``LiveKitUnavailable``.
Without an API key ``UnconfiguredLiveKit`` refuses every call. There is no fake: tests
run against the real livekit-server, or pass ``UnconfiguredLiveKit`` to ``create_app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import aiohttp
from livekit import api

from control_plane.config import LiveKitSettings
from control_plane.livekit.errors import LiveKitNotFound, LiveKitUnavailable
from control_plane.livekit.types import (
    DispatchView,
    ParticipantPermissionView,
    ParticipantView,
)

T = TypeVar("T")

_SOURCE_NAMES = {
    0: "unknown",
    1: "camera",
    2: "microphone",
    3: "screen_share",
    4: "screen_share_audio",
}
_KIND_NAMES = {0: "STANDARD", 1: "INGRESS", 2: "EGRESS", 3: "SIP", 4: "AGENT"}


class LiveKitRooms(Protocol):
    async def create_room(
        self, *, name: str, empty_timeout: int, departure_timeout: int, max_participants: int
    ) -> None: ...
    async def delete_room(self, *, room: str) -> None: ...
    async def list_rooms(self) -> list[str]: ...
    async def list_participants(self, *, room: str) -> list[ParticipantView]: ...
    async def get_participant(self, *, room: str, identity: str) -> ParticipantView: ...
    async def remove_participant(self, *, room: str, identity: str) -> None: ...
    async def revoke_permissions(self, *, room: str, identity: str) -> None: ...
    async def create_dispatch(self, *, room: str, agent_name: str, metadata: str) -> str: ...
    async def delete_dispatch(self, *, room: str, dispatch_id: str) -> None: ...
    async def list_dispatches(self, *, room: str) -> list[DispatchView]: ...
    async def aclose(self) -> None: ...


def participant_view(info: api.ParticipantInfo) -> ParticipantView:
    """Pure conversion from the protobuf ParticipantInfo."""
    perm = info.permission if info.HasField("permission") else None
    return ParticipantView(
        sid=info.sid,
        identity=info.identity,
        kind=_KIND_NAMES.get(int(info.kind), str(int(info.kind))),
        joined_at=int(info.joined_at),
        attributes=dict(info.attributes),
        permission=(
            ParticipantPermissionView(
                can_subscribe=perm.can_subscribe,
                can_publish=perm.can_publish,
                can_publish_data=perm.can_publish_data,
                can_publish_sources=tuple(
                    _SOURCE_NAMES.get(int(s), str(int(s))) for s in perm.can_publish_sources
                ),
                hidden=perm.hidden,
                can_update_metadata=perm.can_update_metadata,
                agent=perm.agent,
                recorder=perm.recorder,
                can_subscribe_metrics=perm.can_subscribe_metrics,
                can_manage_agent_session=perm.can_manage_agent_session,
            )
            if perm is not None
            else None
        ),
        track_sources=tuple(_SOURCE_NAMES.get(int(t.source), "unknown") for t in info.tracks),
    )


def _job_identity(job: api.Job) -> str:
    return job.state.participant_identity or f"agent-{job.id}"


def _epoch_seconds(value: int) -> int:
    """Unix seconds from a ``JobState`` time: livekit-server v1.13.5 writes them as
    ``time.Now().UnixNano()`` (pkg/agent/worker.go, where a job ends)."""
    return value // 1_000_000_000


LIVEKIT_ERRORS: tuple[type[BaseException], ...] = (
    api.TwirpError,  # livekit-api's ServerError (SipCallError is one)
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)
"""What a livekit-api call may raise: all translated (a completeness test checks it)."""


def livekit_error(exc: BaseException) -> LiveKitNotFound | LiveKitUnavailable:
    """Our error for a livekit-api failure (pure; never quotes the server's message)."""
    if isinstance(exc, api.TwirpError) and (exc.status == 404 or exc.code == "not_found"):
        return LiveKitNotFound()
    return LiveKitUnavailable()


class LiveKitClient:
    """livekit-api's LiveKitAPI with explicit timeouts and error translation."""

    def __init__(self, settings: LiveKitSettings) -> None:
        self._api = api.LiveKitAPI(
            url=settings.url,
            api_key=settings.api_key,
            api_secret=settings.api_secret.get_secret_value(),
            timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds),
            failover=False,
        )

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        try:
            return await make()
        except LIVEKIT_ERRORS as exc:
            raise livekit_error(exc) from exc

    async def create_room(
        self, *, name: str, empty_timeout: int, departure_timeout: int, max_participants: int
    ) -> None:
        request = api.CreateRoomRequest(
            name=name,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            max_participants=max_participants,
        )
        await self._call(lambda: self._api.room.create_room(request))

    async def delete_room(self, *, room: str) -> None:
        await self._call(lambda: self._api.room.delete_room(api.DeleteRoomRequest(room=room)))

    async def list_rooms(self) -> list[str]:
        response = await self._call(lambda: self._api.room.list_rooms(api.ListRoomsRequest()))
        return [r.name for r in response.rooms]

    async def list_participants(self, *, room: str) -> list[ParticipantView]:
        response = await self._call(
            lambda: self._api.room.list_participants(api.ListParticipantsRequest(room=room))
        )
        return [participant_view(p) for p in response.participants]

    async def get_participant(self, *, room: str, identity: str) -> ParticipantView:
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        return participant_view(await self._call(lambda: self._api.room.get_participant(request)))

    async def remove_participant(self, *, room: str, identity: str) -> None:
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        await self._call(lambda: self._api.room.remove_participant(request))

    async def revoke_permissions(self, *, room: str, identity: str) -> None:
        """Cut every permission (the whole permission is replaced; unset means false)."""
        request = api.UpdateParticipantRequest(
            room=room,
            identity=identity,
            permission=api.ParticipantPermission(
                can_subscribe=False, can_publish=False, can_publish_data=False
            ),
        )
        await self._call(lambda: self._api.room.update_participant(request))

    async def create_dispatch(self, *, room: str, agent_name: str, metadata: str) -> str:
        request = api.CreateAgentDispatchRequest(
            room=room, agent_name=agent_name, metadata=metadata
        )
        dispatch = await self._call(lambda: self._api.agent_dispatch.create_dispatch(request))
        return str(dispatch.id)

    async def delete_dispatch(self, *, room: str, dispatch_id: str) -> None:
        await self._call(lambda: self._api.agent_dispatch.delete_dispatch(dispatch_id, room))

    async def list_dispatches(self, *, room: str) -> list[DispatchView]:
        dispatches = await self._call(lambda: self._api.agent_dispatch.list_dispatch(room))
        return [
            DispatchView(
                id=d.id,
                room=d.room,
                agent_name=d.agent_name,
                metadata=d.metadata,
                # A job's participant identity is recorded only after the agent joined,
                # so a listing taken right at the join misses it; until then the agent
                # joins under LiveKit's default identity for the job ("agent-<job id>").
                job_participant_identities=tuple(_job_identity(j) for j in d.state.jobs),
                ended_jobs=tuple(
                    (_job_identity(j), _epoch_seconds(int(j.state.ended_at)))
                    for j in d.state.jobs
                    if j.state.ended_at
                ),
            )
            for d in dispatches
        ]

    async def aclose(self) -> None:
        await self._api.aclose()


class UnconfiguredLiveKit:
    """Stands in when no LiveKit API key is configured: every call fails closed (503)."""

    async def _refuse(self) -> None:
        raise LiveKitUnavailable("media server not configured (livekit.api_key)")

    async def create_room(
        self, *, name: str, empty_timeout: int, departure_timeout: int, max_participants: int
    ) -> None:
        await self._refuse()

    async def delete_room(self, *, room: str) -> None:
        await self._refuse()

    async def list_rooms(self) -> list[str]:
        await self._refuse()
        return []

    async def list_participants(self, *, room: str) -> list[ParticipantView]:
        await self._refuse()
        return []

    async def get_participant(self, *, room: str, identity: str) -> ParticipantView:
        await self._refuse()
        raise LiveKitUnavailable()

    async def remove_participant(self, *, room: str, identity: str) -> None:
        await self._refuse()

    async def revoke_permissions(self, *, room: str, identity: str) -> None:
        await self._refuse()

    async def create_dispatch(self, *, room: str, agent_name: str, metadata: str) -> str:
        await self._refuse()
        return ""

    async def delete_dispatch(self, *, room: str, dispatch_id: str) -> None:
        await self._refuse()

    async def list_dispatches(self, *, room: str) -> list[DispatchView]:
        await self._refuse()
        return []

    async def aclose(self) -> None:
        return None


def make_livekit_client(settings: LiveKitSettings) -> LiveKitRooms:
    """The real client when keys are configured; otherwise one that refuses every call."""
    if settings.is_configured:
        return LiveKitClient(settings)
    return UnconfiguredLiveKit()
