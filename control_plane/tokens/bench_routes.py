"""A bare, unauthenticated mint for benchmarks only (the baseline of bench_mint).

Mounted only when ``server.benchmark_routes`` is on, which the production validator
refuses. It signs the same claims the real mint signs, with none of the checks: the
difference in throughput is the price of authentication, policy, limits and records.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from control_plane.deps import State
from control_plane.livekit.errors import LiveKitUnavailable
from control_plane.tokens.claims import join_claims, sign_join_token
from control_plane.tokens.service import new_token_id
from control_plane.tokens.types import Grants, RoomName

router = APIRouter(prefix="/bench", tags=["benchmark"], include_in_schema=False)

_GRANTS = Grants(can_publish_sources=("microphone",), can_publish_data=True, can_subscribe=True)


@router.post("/bare-mint")
async def bare_mint(state: State) -> dict[str, str]:
    now = state.clock().replace(microsecond=0)
    claims = join_claims(
        api_key=state.settings.livekit.api_key,
        identity="bench",
        room=RoomName("bench-room"),
        token_id=new_token_id(),
        grants=_GRANTS,
        issued_at=now,
        expires_at=now + timedelta(seconds=120),
    )
    if state.token_key is None:
        raise LiveKitUnavailable("LiveKit is not configured")
    return {"token": sign_join_token(claims, key=state.token_key)}
