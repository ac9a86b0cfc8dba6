"""WAL checkpoints wait while the server is under a burst, but never for long."""

from __future__ import annotations

from control_plane.store.checkpoint import WalCheckpointer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _checkpointer(clock: Clock, *, busy: list[bool]) -> WalCheckpointer:
    return WalCheckpointer(
        "unused.db", defer=lambda: busy[0], max_defer_seconds=30.0, monotonic=clock
    )


def test_a_pass_is_due_every_interval_when_the_server_is_not_busy() -> None:
    clock = Clock()
    assert _checkpointer(clock, busy=[False]).is_due(last_pass=clock.now)


def test_a_burst_defers_the_pass_but_at_most_max_defer_seconds() -> None:
    clock = Clock()
    busy = [True]
    checkpointer = _checkpointer(clock, busy=busy)
    last = clock.now
    clock.now += 29.0
    assert not checkpointer.is_due(last_pass=last)
    clock.now += 1.0  # the log has waited long enough: copy it even mid-burst
    assert checkpointer.is_due(last_pass=last)
    busy[0] = False
    assert checkpointer.is_due(last_pass=clock.now)  # the burst ended: at once


def test_a_failing_hint_does_not_stop_checkpoints() -> None:
    def broken() -> bool:
        raise RuntimeError("hint failed")

    clock = Clock()
    checkpointer = WalCheckpointer("unused.db", defer=broken, monotonic=clock)
    assert checkpointer.is_due(last_pass=clock.now)
