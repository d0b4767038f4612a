"""The SQLite store's transaction, which makes an upload's rows durable together."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqm.domain.errors import ConcurrencyConflict
from sqm.domain.ports import AppendResult, CommandMeta, NewEvent
from sqm.server.storage.sqlite import SqliteEventStore

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(database: Path) -> Iterator[SqliteEventStore]:
    """An open store on a fresh file."""
    with SqliteEventStore(database) as opened:
        yield opened


def _append(store: SqliteEventStore, stream: str, expected: int, rid: str = "") -> AppendResult:
    rid = rid or f"{stream}@{expected}"
    event = NewEvent("Measured", {"n": expected + 1}, START)
    return store.append(stream, expected, [event], CommandMeta(rid, "ops", "v1", rid), {})


def test_appends_in_a_transaction_land_together(database: Path, store: SqliteEventStore) -> None:
    """Nothing is visible to another connection until the block ends, then everything is."""
    with store.transaction():
        _append(store, "a", 0)
        _append(store, "b", 0)
        with SqliteEventStore(database, read_only=True) as other:
            assert other.read_all() == []
    with SqliteEventStore(database, read_only=True) as other:
        assert [e.stream_id for e in other.read_all()] == ["a", "b"]
    assert store.verify_chain().intact


def test_an_error_in_the_block_leaves_none_of_its_appends(store: SqliteEventStore) -> None:
    """A failure after some appends undoes all of them, as a crash would."""

    def two_appends_then_a_failure() -> None:
        with store.transaction():
            _append(store, "a", 0)
            _append(store, "a", 1)
            raise RuntimeError("the process dies here")

    with pytest.raises(RuntimeError):
        two_appends_then_a_failure()
    assert store.read_all() == []
    assert store.find_request("a@0") is None


def test_a_refused_append_inside_is_undone_alone(store: SqliteEventStore) -> None:
    """A conflict inside the block undoes that append only; the others still commit."""
    with store.transaction():
        _append(store, "a", 0)
        with pytest.raises(ConcurrencyConflict):
            _append(store, "a", 0, "late")  # stale: "a" is at version 1 now
        _append(store, "a", 1)
    assert [e.version for e in store.read_stream("a")] == [1, 2]
    assert store.find_request("late") is None
    assert store.verify_chain().intact
