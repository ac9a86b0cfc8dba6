"""The real app (``running_app``) driven from synchronous code, e.g. a Hypothesis test.

Hypothesis runs its examples synchronously; the app and its lifespan (engine, clients,
jobs) live on an event loop of their own in a background thread, and each request is
handed to that loop. Nothing is faked: it is the same in-process ASGI app every
integration test uses.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import httpx

from control_plane.config import Settings
from control_plane.state import AppState
from tests.support.app import RunningApp, running_app

_START_TIMEOUT_SECONDS = 120.0


class BlockingApp:
    """A running app whose requests block the caller until the app has answered."""

    def __init__(self, running: RunningApp, loop: asyncio.AbstractEventLoop) -> None:
        self._running = running
        self._loop = loop

    @property
    def state(self) -> AppState:
        return self._running.state

    def openapi(self) -> dict[str, Any]:
        # Any: the OpenAPI document is free-form JSON.
        document: dict[str, Any] = self._running.app.openapi()
        return document

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request through the app (kwargs as for ``httpx.AsyncClient.request``)."""
        # Any: passed through to httpx unchanged.
        call = self._running.client.request(method, url, **kwargs)
        return asyncio.run_coroutine_threadsafe(call, self._loop).result()


@contextmanager
def blocking_app(settings: Settings) -> Iterator[BlockingApp]:
    """Start the app on its own loop thread; stop it (lifespan shutdown) on exit.

    An error while starting is raised here at once; one while stopping, after the join.
    """
    loop = asyncio.new_event_loop()
    started: Future[BlockingApp] = Future()
    stopped: Future[None] = Future()
    stop = asyncio.Event()

    async def _serve() -> None:
        async with running_app(settings) as running:
            started.set_result(BlockingApp(running, loop))
            await stop.wait()

    def _thread() -> None:
        try:
            loop.run_until_complete(_serve())
            stopped.set_result(None)
        except BaseException as exc:  # handed to the caller, never lost in the thread
            (stopped if started.done() else started).set_exception(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=_thread, name="blocking-app", daemon=True)
    thread.start()
    app = started.result(timeout=_START_TIMEOUT_SECONDS)
    try:
        yield app
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
    stopped.result()
