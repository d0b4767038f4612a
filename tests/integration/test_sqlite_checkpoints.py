"""The WAL is checkpointed on a thread of its own: commits never do it, the WAL stays bounded
under steady writes, and everything committed is in the file afterwards.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from sqm.server.storage.sqlite import SqliteEventStore
from sqm.server.storage.sqlite_checkpoints import BackgroundCheckpoints
from sqm.server.storage.sqlite_schema import configure

pytestmark = pytest.mark.integration

PAGE = 4096


def _writer(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    configure(conn, str(path), 5000)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE IF NOT EXISTS rows (body BLOB)")
    return conn


def _wal_frames(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size // PAGE if wal.exists() else 0


def test_the_wal_stays_bounded_under_steady_commits(tmp_path: Path) -> None:
    """A PASSIVE pass alone would let the WAL grow while commits keep coming; past the
    restart size it is started over, so it ends near that size, not at the whole volume.
    """
    path = tmp_path / "steady.sqlite3"
    writer = _writer(path)
    checkpoints = BackgroundCheckpoints(str(path), delay=0.01, restart_frames=200)
    try:
        for _ in range(1500):  # about 3,000 pages written in all
            writer.execute("INSERT INTO rows VALUES (randomblob(6000))")
            checkpoints.committed()
            time.sleep(0.0005)
    finally:
        checkpoints.close()
    assert _wal_frames(path) < 1000
    (count,) = writer.execute("SELECT COUNT(*) FROM rows").fetchone()
    assert count == 1500
    writer.close()


def test_a_checkpoint_copies_what_was_committed_into_the_file(tmp_path: Path) -> None:
    """After a checkpoint every committed frame is in the database file, none left over."""
    path = tmp_path / "copied.sqlite3"
    writer = _writer(path)
    checkpoints = BackgroundCheckpoints(str(path), delay=60)  # only when asked below
    try:
        for _ in range(20):
            writer.execute("INSERT INTO rows VALUES (randomblob(3000))")
        busy, frames, copied = checkpoints.checkpoint()
        assert (busy, copied) == (0, frames)
        assert frames > 0
    finally:
        checkpoints.close()
        writer.close()


def test_a_server_store_commits_without_checkpointing_and_loses_nothing(tmp_path: Path) -> None:
    """The store's own connection stops checkpointing in its commits; what it committed is
    read back by a fresh connection after it closes.
    """
    path = tmp_path / "store.sqlite3"
    with SqliteEventStore(path) as store:
        store.checkpoint_in_background()
        (automatic,) = store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert automatic == 0
        with store.transaction():
            store._conn.execute(
                "INSERT INTO snapshots (stream_id, version, state) VALUES ('acme', 1, '{}')"
            )
    reopened = sqlite3.connect(path)
    assert reopened.execute("SELECT version FROM snapshots WHERE stream_id = 'acme'").fetchone()
    reopened.close()
