"""Supplier states reused between commands are never stale: a write by another process is seen."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from sqm.domain.errors import InvalidCommand
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.state_cache import StateCache
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.sqlite import SqliteEventStore
from tests.fakes import FakePolicy
from tests.integration.test_group_commit import T0, _contracted, _measurement

pytestmark = pytest.mark.integration


def test_a_write_through_another_connection_is_seen_by_a_service_that_kept_the_state(
    tmp_path: Path,
) -> None:
    """The kept state is used only while the snapshot's version is the one it was built at."""
    path = tmp_path / "shared.sqlite3"
    with SqliteEventStore(path) as first_store, SqliteEventStore(path) as second_store:
        first = SupplierService(first_store, FakePolicy)
        second = SupplierService(second_store, FakePolicy)
        _contracted(first, "acme")
        kept = first.get("acme")

        second.execute(_measurement("acme", 1), RequestContext("other-process", "test"))

        seen = first.get("acme")
        assert seen.version > kept.version
        assert len(seen.measurements) == 1


def test_the_cache_keeps_the_most_recently_used_states_up_to_its_size() -> None:
    """The least recently used state goes first; a state at another version is not returned."""
    cache = StateCache(size=2)
    states = {name: object() for name in ("a", "b", "c")}
    cache.put("a", 1, states["a"])  # type: ignore[arg-type]
    cache.put("b", 1, states["b"])  # type: ignore[arg-type]
    assert cache.get("a", 1) is states["a"]
    cache.put("c", 1, states["c"])  # type: ignore[arg-type]
    assert cache.get("b", 1) is None
    assert cache.get("a", 2) is None
    assert cache.get("c", 1) is states["c"]


def test_times_stay_in_order_after_a_cached_state_is_reused(tmp_path: Path) -> None:
    """A command earlier than the kept state's last event is refused as without the cache."""
    with SqliteEventStore(tmp_path / "order.sqlite3") as store:
        service = SupplierService(store, FakePolicy)
        _contracted(service, "acme")
        service.execute(_measurement("acme", 5), RequestContext("late", "test"))
        with pytest.raises(InvalidCommand, match="earlier than"):
            service.execute(_measurement("acme", 2), RequestContext("early", "test"))
        assert service.get("acme").updated_at == T0 + timedelta(days=5)


def test_a_late_read_does_not_replace_a_later_state_in_the_cache() -> None:
    """A read that finishes after a write moved the stream on leaves the later state kept."""
    cache: StateCache[object] = StateCache(size=2)
    later, earlier = object(), object()
    cache.put("a", 5, later)
    cache.put("a", 4, earlier)
    assert cache.latest("a") is later
    assert cache.get("a", 4) is None


def test_reads_on_their_own_connection_see_every_commit_and_never_wait_for_a_write(
    tmp_path: Path,
) -> None:
    """``read`` answers from the read connection while a writer holds the file's write
    lock, with what was committed before, and sees the commit once it is made.
    """
    path = tmp_path / "reads.sqlite3"
    with (
        SqliteEventStore(path) as store,
        store.reader() as reads,
        SqliteEventStore(path) as other_store,
    ):
        service = SupplierService(store, FakePolicy, reads=reads)
        other = SupplierService(other_store, FakePolicy)
        assert service.reads_apart
        _contracted(service, "acme")
        before = service.read("acme")
        assert before == service.get("acme")
        with other_store.transaction():  # another process's write, not yet committed
            other.execute(_measurement("acme", 1), RequestContext("in-flight", "test"))
            started = time.monotonic()
            assert service.read("acme") == before
            assert time.monotonic() - started < 1  # a WAL read does not wait for the writer
        after = service.read("acme")
        assert after.version > before.version
        assert len(after.measurements) == 1
        assert after == service.get("acme")
