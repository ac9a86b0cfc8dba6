"""Pure construction and signing of LiveKit join tokens.

Every grant is explicit (the SDK and server default publish/subscribe/data to true when
unset), identity is the caller's pseudonym, ``kind`` is ``standard``, and nothing
admin-level is ever set: no roomAdmin, roomCreate, roomList, roomRecord, agent, hidden,
recorder or canUpdateOwnMetadata (livekit.md §1 "Never mint ..."). ``cp.tid`` in the
attributes survives the server's token refresh and shows up in webhooks, which is how a
join is traced back to this mint.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from control_plane.crypto.hs256 import Hs256Key
from control_plane.tokens.types import Grants, RoomName, TokenId

TOKEN_ID_ATTRIBUTE = "cp.tid"  # noqa: S105 - an attribute name
FORBIDDEN_VIDEO_GRANTS = frozenset(
    {
        "roomAdmin",
        "roomCreate",
        "roomList",
        "roomRecord",
        "agent",
        "hidden",
        "recorder",
        "canUpdateOwnMetadata",
        "ingressAdmin",
        "canSubscribeMetrics",
        "canManageAgentSession",
    }
)


class ForbiddenGrant(Exception):
    """A join token would carry an admin-level grant: a bug, never a client's doing. Not a
    ControlPlaneError on purpose: it is never caught, the mint's transaction rolls back
    and no token leaves (fail closed)."""


def check_video_grants(video: Mapping[str, object]) -> None:
    """Refuse a video grant that sets any of ``FORBIDDEN_VIDEO_GRANTS`` (pure). An absent
    one is false: LiveKit defaults only publish, subscribe and data to true."""
    granted = sorted(name for name in FORBIDDEN_VIDEO_GRANTS if video.get(name, False) is not False)
    if granted:
        raise ForbiddenGrant(f"join token would grant {', '.join(granted)}")


def join_claims(
    *,
    api_key: str,
    identity: str,
    room: RoomName,
    token_id: TokenId,
    grants: Grants,
    issued_at: datetime,
    expires_at: datetime,
) -> dict[str, object]:
    """The JWT claims of a join token for exactly one room; ForbiddenGrant if the video
    grant would carry an admin-level grant (``check_video_grants``)."""
    video: dict[str, object] = {
        "roomJoin": True,
        "room": room,
        "canPublish": grants.can_publish,
        "canPublishSources": list(grants.can_publish_sources),
        "canPublishData": grants.can_publish_data,
        "canSubscribe": grants.can_subscribe,
        "canUpdateOwnMetadata": False,
        "hidden": False,
        "recorder": False,
        "agent": False,
        "roomAdmin": False,
        "roomCreate": False,
        "roomList": False,
        "roomRecord": False,
    }
    check_video_grants(video)
    return {
        "iss": api_key,
        "sub": identity,
        "jti": token_id,
        "iat": int(issued_at.timestamp()),
        "nbf": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "kind": "standard",
        "name": identity,
        "attributes": {TOKEN_ID_ATTRIBUTE: token_id},
        "video": video,
    }


def sign_join_token(claims: dict[str, object], *, key: Hs256Key) -> str:
    """HS256 over the claims with the control plane's own LiveKit API secret."""
    return key.sign(claims)
