"""SIGHUP reloads the policy set (audited), like the CLI and the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.authz.admin import reload_policies
from control_plane.authz.engine import PolicyStore
from control_plane.authz.errors import PolicySetInvalid
from control_plane.clock import Clock
from control_plane.logs import get_logger
from control_plane.store.uow import unit_of_work

_log = get_logger("control_plane.authz")


class SighupReloader:
    """Owned by the lifespan; installs and removes the SIGHUP handler."""

    def __init__(self, *, store: PolicyStore, engine: AsyncEngine, clock: Clock) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._installed = False

    def install(self) -> None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_signal)
        except (NotImplementedError, RuntimeError, ValueError):
            return  # not the main thread (embedded in a test server): API and CLI remain
        self._installed = True

    def remove(self) -> None:
        if self._installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._installed = False

    def _on_signal(self) -> None:
        task = asyncio.create_task(self.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self) -> None:
        """One audited reload; an invalid set is logged and the old set kept."""
        with contextlib.suppress(PolicySetInvalid):
            async with unit_of_work(self._engine) as tx:
                snapshot = await reload_policies(
                    tx, store=self._store, actor=None, request_id=None, now=self._clock()
                )
            _log.info("policy.reloaded", policy_version=snapshot.version, reason="SIGHUP")
            return
        _log.error("policy.reload_failed", reason="SIGHUP: invalid set, previous set kept")
