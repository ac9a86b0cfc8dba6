"""The join token's video grant: exactly the media grants Cedar allowed, never an
admin-level one (``FORBIDDEN_VIDEO_GRANTS``, checked by ``join_claims``; livekit.md §1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from control_plane.tokens.claims import (
    FORBIDDEN_VIDEO_GRANTS,
    ForbiddenGrant,
    check_video_grants,
    join_claims,
)
from control_plane.tokens.types import Grants, RoomName, TokenId

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)


def _claims(grants: Grants) -> dict[str, object]:
    return join_claims(
        api_key="key",
        identity="sub_" + "0" * 32,
        room=RoomName("room-1"),
        token_id=TokenId("tok_1"),
        grants=grants,
        issued_at=ISSUED,
        expires_at=ISSUED + timedelta(minutes=10),
    )


@pytest.mark.parametrize(
    "grants",
    [
        Grants(can_publish_sources=(), can_publish_data=False, can_subscribe=False),
        Grants(
            can_publish_sources=("microphone", "camera"), can_publish_data=True, can_subscribe=True
        ),
    ],
)
def test_join_claims_never_carry_a_forbidden_grant(grants: Grants) -> None:
    video = _claims(grants)["video"]
    assert isinstance(video, dict)
    assert not any(video.get(name, False) for name in FORBIDDEN_VIDEO_GRANTS)
    assert video["canPublish"] is bool(grants.can_publish_sources)
    assert video["canSubscribe"] is grants.can_subscribe
    assert video["canPublishData"] is grants.can_publish_data
    check_video_grants(video)  # the guard join_claims ran accepts its own output


@pytest.mark.parametrize("name", sorted(FORBIDDEN_VIDEO_GRANTS))
@pytest.mark.parametrize("value", [True, 1, "true", None])
def test_the_guard_refuses_every_forbidden_grant_set_to_anything_but_false(
    name: str, value: object
) -> None:
    with pytest.raises(ForbiddenGrant, match=name):
        check_video_grants({"roomJoin": True, "room": "room-1", name: value})


@pytest.mark.parametrize("name", sorted(FORBIDDEN_VIDEO_GRANTS))
def test_a_forbidden_grant_that_is_false_or_absent_passes(name: str) -> None:
    check_video_grants({"roomJoin": True, name: False})
    check_video_grants({"roomJoin": True})


def test_the_guard_names_every_forbidden_grant_at_once() -> None:
    with pytest.raises(ForbiddenGrant) as info:
        check_video_grants({"roomAdmin": True, "agent": True, "canPublish": True})
    assert str(info.value) == "join token would grant agent, roomAdmin"


def test_the_forbidden_set_covers_livekits_admin_grants() -> None:
    assert {
        "roomAdmin",
        "roomCreate",
        "roomList",
        "roomRecord",
        "agent",
        "hidden",
        "recorder",
        "canUpdateOwnMetadata",
        "ingressAdmin",
    } <= FORBIDDEN_VIDEO_GRANTS
    assert not {"roomJoin", "canPublish", "canSubscribe", "canPublishData"} & FORBIDDEN_VIDEO_GRANTS
