"""What only the SQLite store promises: durability settings, the file, triggers, backups."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqm.domain.errors import ConcurrencyConflict
from sqm.domain.ports import AppendResult, CommandMeta, NewEvent
from sqm.server.storage.sqlite import SCHEMA_VERSION, SqliteEventStore, UnsupportedSchemaVersion

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the store's file lives."""
    return tmp_path / "sqm.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteEventStore]:
    """An open store on a fresh file."""
    with SqliteEventStore(path) as opened:
        yield opened


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the file, as someone with shell access would open it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def append(store: SqliteEventStore, stream: str, expected: int, count: int = 1) -> AppendResult:
    """Append ``count`` numbered events under a request id unique to stream and version."""
    events = [
        NewEvent("Measured", {"n": expected + i, "备注": "可用性"}, START + timedelta(hours=i))
        for i in range(1, count + 1)
    ]
    rid = f"{stream}@{expected}"
    return store.append(
        stream, expected, events, CommandMeta(rid, "ops", "v1", rid), {"v": expected + count}
    )


def fill(store: SqliteEventStore, events: int = 5) -> None:
    """Append ``events`` single events, alternating between two streams."""
    for i in range(events):
        append(store, ("a", "b")[i % 2], i // 2)


def drop_triggers(conn: sqlite3.Connection) -> None:
    """Remove the append-only triggers, as a tamperer with the file would."""
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in names:
        conn.execute(f'DROP TRIGGER "{name}"')


def test_store_runs_in_wal_mode_with_full_synchronous(store: SqliteEventStore) -> None:
    """The connection is WAL, synchronous FULL, foreign keys on, with a busy timeout."""
    settings = store.durability()

    assert settings["journal_mode"] == "wal"
    assert settings["synchronous"] == 2  # FULL
    assert settings["foreign_keys"] == 1
    assert settings["busy_timeout"] > 0


def test_schema_version_is_recorded_in_the_file(store: SqliteEventStore, path: Path) -> None:
    """A new file is stamped with the schema version the code knows."""
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_events_survive_closing_and_reopening_the_file(path: Path) -> None:
    """Reopening the file gives back events, snapshots and requests, and the chain goes on."""
    with SqliteEventStore(path) as first:
        fill(first)
        before = first.read_all()

    with SqliteEventStore(path) as reopened:
        assert reopened.read_all() == before
        assert reopened.find_request("a@0") is not None
        assert reopened.load_snapshot("a") is not None
        append(reopened, "a", 3)
        assert reopened.read_all()[-1].prev_hash == before[-1].hash
        assert reopened.verify_chain().events_checked == 6


def test_tampered_payload_is_detected_at_its_global_seq(
    store: SqliteEventStore, path: Path
) -> None:
    """An edited payload breaks the chain exactly at the edited event."""
    fill(store)
    with raw(path) as conn:
        drop_triggers(conn)
        conn.execute("UPDATE events SET payload = ? WHERE global_seq = 3", ('{"n":999}',))

    verdict = store.verify_chain()

    assert (verdict.first_broken_seq, verdict.events_checked) == (3, 2)
    assert "hash" in verdict.problem


def test_undecodable_row_is_reported_as_broken_not_raised(
    store: SqliteEventStore, path: Path
) -> None:
    """A payload that is no longer JSON is a broken link in the report, not a crash."""
    fill(store)
    with raw(path) as conn:
        drop_triggers(conn)
        conn.execute("UPDATE events SET payload = 'garbage' WHERE global_seq = 4")

    verdict = store.verify_chain()

    assert (verdict.first_broken_seq, verdict.events_checked) == (4, 3)
    assert "decoded" in verdict.problem


def test_deleted_event_is_detected_as_a_sequence_gap(store: SqliteEventStore, path: Path) -> None:
    """Removing an event from the middle of the log is caught at the next sequence."""
    fill(store)
    with raw(path) as conn:
        drop_triggers(conn)
        conn.execute("DELETE FROM events WHERE global_seq = 2")

    verdict = store.verify_chain()

    assert verdict.first_broken_seq == 3
    assert "gap" in verdict.problem


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET payload = '{}' WHERE global_seq = 1",
        "DELETE FROM events WHERE global_seq = 1",
        "UPDATE requests SET fingerprint = 'x'",
        "DELETE FROM requests",
    ],
)
def test_events_and_requests_refuse_update_and_delete(
    store: SqliteEventStore, path: Path, statement: str
) -> None:
    """The triggers keep the audit record append-only, even for a raw connection."""
    fill(store, events=2)

    with raw(path) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)

    assert store.verify_chain().events_checked == 2


def test_failure_after_events_are_inserted_rolls_everything_back(
    store: SqliteEventStore, path: Path
) -> None:
    """If the request row cannot be written, the events inserted before it vanish too."""
    fill(store, events=1)
    with raw(path) as conn:
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON requests WHEN NEW.request_id = 'a@1'"
            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )

    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        append(store, "a", 1, count=3)

    assert len(store.read_all()) == 1
    snapshot = store.load_snapshot("a")
    assert snapshot is not None
    assert snapshot.version == 1
    assert append(store, "b", 0) == AppendResult("b", 1, 1, 2, 2)


def race_once(writers: list[tuple[SqliteEventStore, str]], version: int) -> list[object]:
    """Start one append per writer at the same moment, all decided on ``version``.

    Returns each writer's outcome: its name if it won, the ConcurrencyConflict if it lost.
    """
    barrier = threading.Barrier(len(writers))
    outcomes: list[object] = []

    def attempt(writer: SqliteEventStore, name: str) -> None:
        meta = CommandMeta(f"{name}-{version}", name, "v1", name)
        barrier.wait()
        try:
            writer.append("s", version, [NewEvent("E", {"by": name}, START)], meta, {})
            outcomes.append(name)
        except ConcurrencyConflict as conflict:
            outcomes.append(conflict)

    threads = [threading.Thread(target=attempt, args=writer) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("connections", ["one-shared-store", "two-stores-one-file"])
def test_racing_appends_to_one_stream_have_exactly_one_winner(path: Path, connections: str) -> None:
    """Two writers decided on the same version: one wins, the other conflicts, nothing is lost."""
    rounds = 25
    with contextlib.ExitStack() as stack:
        left = stack.enter_context(SqliteEventStore(path))
        right = (
            left
            if connections == "one-shared-store"
            else stack.enter_context(SqliteEventStore(path))
        )
        outcomes = [race_once([(left, "left"), (right, "right")], v) for v in range(rounds)]

        winners = [o for pair in outcomes for o in pair if isinstance(o, str)]
        losers = [o for pair in outcomes for o in pair if isinstance(o, ConcurrencyConflict)]
        events = left.read_stream("s")
        assert len(winners) == len(losers) == rounds
        assert all(loser.actual == loser.expected + 1 for loser in losers)
        assert [e.version for e in events] == list(range(1, rounds + 1))
        assert [e.payload["by"] for e in events] == winners
        assert left.verify_chain().events_checked == rounds


def test_file_with_newer_schema_version_is_refused(path: Path) -> None:
    """A file written by a newer SQM is not opened, and is left as it was."""
    SqliteEventStore(path).close()
    with raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(UnsupportedSchemaVersion, match="upgrade SQM") as raised:
        SqliteEventStore(path)

    assert raised.value.found == SCHEMA_VERSION + 1
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_online_backup_has_an_intact_chain_and_the_same_snapshots(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    """A backup taken while open is a store of its own with the same events and snapshots."""
    fill(store, events=9)
    target = tmp_path / "backup.sqlite3"

    store.backup(target)
    events, snapshots = store.read_all(), store.list_snapshots()
    append(store, "a", 5)  # after the backup: not in it

    with SqliteEventStore(target) as copy:
        verdict = copy.verify_chain()
        assert (verdict.intact, verdict.events_checked) == (True, 9)
        assert copy.read_all() == events
        assert copy.list_snapshots() == snapshots
