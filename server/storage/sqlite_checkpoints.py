"""A SQLite WAL's checkpoints run on a thread of their own instead of inside a commit.

With SQLite's automatic checkpoint, the commit that takes the WAL past 1,000 pages also
copies those pages into the database file and syncs it before it returns. Under unary load
that was one commit in about 150, and the calls waiting on it took 10-20 ms: the server's
p99 at half load (docs/performance.md, sixth round). A server turns the automatic
checkpoint off on its writing connection and runs a PASSIVE checkpoint here, on a
connection of its own, a moment after something was committed (SQLite's documentation on
WAL suggests this for applications that cannot take the pause in a commit).

Nothing about durability changes: every commit is still synced to the WAL before it
answers; a checkpoint only moves committed pages into the main file. A PASSIVE checkpoint
never waits for a reader or a writer, and the ``sqlite3`` module releases the GIL while it
runs, so the writer goes on committing meanwhile. The last connection to close checkpoints
what is left, as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqm.server.storage.sqlite_schema import configure

CHECKPOINT_DELAY_SECONDS = 0.25
"""How long after a commit the checkpoint runs: commits in between are copied together."""

RESTART_FRAMES = 4000
"""WAL frames (pages: 16 MB) past which a checkpoint also restarts the WAL.

The WAL is written from its start again only by a commit that finds every frame copied, and
under steady load a commit always comes while a PASSIVE checkpoint runs: with PASSIVE alone
the file grew by megabytes a second. Past this size the PASSIVE pass, which copied nearly
everything, is followed by a RESTART one: it waits for the writer between two commits,
copies what came meanwhile (a few pages) and syncs, and the next commit starts the WAL
over. The writer waits for that short pass only, once every few thousand pages.
"""

_CHECKPOINT_SQL = {mode: f"PRAGMA wal_checkpoint({mode})" for mode in ("PASSIVE", "RESTART")}

log = logging.getLogger(__name__)


class BackgroundCheckpoints:
    """PASSIVE checkpoints of the WAL of ``path``, on a daemon thread, after commits."""

    def __init__(
        self,
        path: str,
        delay: float = CHECKPOINT_DELAY_SECONDS,
        busy_timeout_ms: int = 5000,
        restart_frames: int = RESTART_FRAMES,
    ) -> None:
        self._delay = delay
        self._restart_frames = restart_frames
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        configure(self._conn, path, busy_timeout_ms)
        self._committed = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqm-checkpoints", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Note a commit: a checkpoint follows within the delay."""
        self._committed.set()

    def _run(self) -> None:
        while True:
            self._committed.wait()
            if self._closing.wait(self._delay):  # gather the commits of the delay
                return
            self._committed.clear()
            self.checkpoint()

    def checkpoint(self) -> tuple[int, int, int]:
        """Run a PASSIVE checkpoint now, and a RESTART one when the WAL has grown past the
        restart size: (busy, frames in the WAL, frames checkpointed) of the last one run.
        """
        done = self._run_checkpoint("PASSIVE")
        if done[1] >= self._restart_frames:
            done = self._run_checkpoint("RESTART")
        return done

    def _run_checkpoint(self, mode: str) -> tuple[int, int, int]:
        try:
            row = self._conn.execute(_CHECKPOINT_SQL[mode]).fetchone()
        except sqlite3.Error as error:  # the next commit tries again; the WAL keeps all
            log.warning("WAL checkpoint (%s) failed: %s", mode, error)
            return (1, -1, -1)
        busy, frames, copied = (int(value) for value in row)
        return (busy, frames, copied)

    def close(self) -> None:
        """Stop the thread (a checkpoint under way finishes first) and close its connection."""
        self._closing.set()
        self._committed.set()
        self._thread.join()
        self._conn.close()
