"""Dependencies shared by every domain: the app state and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.state import AppState
from control_plane.store.uow import unit_of_work


def state_of(request: Request) -> AppState:
    """The lifespan-built application state (for dependencies that resolve their parts
    themselves, see ``sessions.deps.get_refresh``)."""
    state: AppState = request.app.state.cp
    return state


async def get_state(request: Request) -> AppState:
    """The lifespan-built application state. (Dependencies are ``async def`` on purpose:
    FastAPI runs plain ``def`` dependencies in a worker thread, a hand-off per call.)"""
    return state_of(request)


State = Annotated[AppState, Depends(get_state)]


async def get_tx(state: State) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed before the response is sent, rolled back on
    any error, so a 2xx always means the writes are durable."""
    async with unit_of_work(state.engine) as session:
        yield session


Tx = Annotated[AsyncSession, Depends(get_tx, scope="function")]


def request_id_of(request: Request) -> str:
    """The request id assigned by the middleware (for plain routes outside FastAPI's DI)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


async def get_request_id(request: Request) -> str:
    """The request id assigned by the middleware."""
    return request_id_of(request)


RequestId = Annotated[str, Depends(get_request_id)]
