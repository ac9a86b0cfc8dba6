"""Write-ahead-log checkpoints for the embedded SQLite database, off the event loop.

SQLite's automatic checkpoint runs inside whichever commit crosses the threshold (1,000
pages): it copies the log into the database file and fsyncs, and with the in-loop driver
(``sqlite_inline``) that commit is on the event loop. Measured on the webhook intake at
1,500 deliveries/s: 100-500 ms stalls every few thousand events, p99 150 ms. The server
therefore turns the automatic checkpoint off on its own connection and runs ``PASSIVE``
checkpoints from this thread on a connection of its own: a passive checkpoint never
blocks readers or the writer, and the sqlite3 module releases the GIL while it copies and
syncs, so the loop keeps serving.

Crash safety is unchanged: every committed transaction is in the log, and the log is
replayed on the next open whether or not it was checkpointed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from control_plane.logs import get_logger
from control_plane.store.engine import sqlite_file

_log = get_logger("control_plane.store.checkpoint")
DEFAULT_INTERVAL_SECONDS = 1.0
BUSY_TIMEOUT_MS = 1000
# While the server is under a burst (``defer`` says so) checkpoints wait, at most this
# long. Each pass fsyncs, and the log's appends wait behind that fsync on ext4: measured
# at 1,500 webhook deliveries/s, a 25-60 ms pass every second stalled acknowledgements
# once a second (p99 25-35 ms). Deferred, the log grows instead (~18 MB/s at that rate)
# and is copied in the first quiet second.
MAX_DEFER_SECONDS = 30.0


@dataclass(frozen=True)
class CheckpointResult:
    """``PRAGMA wal_checkpoint``'s answer: frames in the log and frames copied."""

    busy: bool
    log_frames: int
    checkpointed_frames: int


class WalCheckpointer:
    """Owned by the lifespan: ``start()`` with the server, ``stop()`` after the store.

    Each pass is a ``PASSIVE`` checkpoint (copy what no reader still needs); ``stop``
    ends with a ``TRUNCATE`` attempt so a cleanly stopped server leaves a small log.
    """

    def __init__(
        self,
        path: str,
        *,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        defer: Callable[[], bool] = lambda: False,
        max_defer_seconds: float = MAX_DEFER_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._interval = interval_seconds
        self._defer = defer
        self._max_defer = max_defer_seconds
        self._monotonic = monotonic
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._run, name="sqlite-wal-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and make a last checkpoint."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def checkpoint(self, mode: str = "PASSIVE") -> CheckpointResult:
        """One checkpoint on a connection opened for it (tests; the thread keeps one)."""
        connection = self._connect()
        try:
            return _checkpoint(connection, mode)
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000)

    def is_due(self, last_pass: float) -> bool:
        """A pass is due unless ``defer`` asks to wait and the last one is recent."""
        if self._monotonic() - last_pass >= self._max_defer:
            return True
        try:
            return not self._defer()
        except Exception:  # a broken hint must not stop checkpoints
            return True

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        last_pass = self._monotonic()
        try:
            while not self._stopping.wait(self._interval):
                if self.is_due(last_pass):
                    connection = self._safely(connection, "PASSIVE")
                    last_pass = self._monotonic()
            connection = self._safely(connection, "TRUNCATE")
        finally:
            if connection is not None:
                connection.close()

    def _safely(
        self, connection: sqlite3.Connection | None, mode: str
    ) -> sqlite3.Connection | None:
        """One pass on the thread's connection; after an error, a new one next pass."""
        try:
            connection = connection or self._connect()
            _checkpoint(connection, mode)
            return connection
        except sqlite3.Error as exc:  # a busy or vanished file: the next pass retries
            _log.warning("store.checkpoint_failed", error_code=type(exc).__name__, mode=mode)
            if connection is not None:
                connection.close()
            return None


def _checkpoint(connection: sqlite3.Connection, mode: str) -> CheckpointResult:
    if mode not in ("PASSIVE", "TRUNCATE"):
        raise ValueError(f"unsupported checkpoint mode {mode!r}")
    row = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    return CheckpointResult(
        busy=bool(row[0]), log_frames=int(row[1]), checkpointed_frames=int(row[2])
    )


def start_checkpointer(
    database_url: str, *, defer: Callable[[], bool] = lambda: False
) -> WalCheckpointer | None:
    """A running checkpointer for a SQLite file (None for PostgreSQL or in-memory);
    ``defer`` is read from the checkpoint thread (a hint: it must be cheap and safe)."""
    path = sqlite_file(database_url)
    if path is None:
        return None
    checkpointer = WalCheckpointer(path, defer=defer)
    checkpointer.start()
    return checkpointer
