"""The event store contract: every store (memory, SQLite, PostgreSQL) passes this suite."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from sqm.domain.audit import GENESIS_HASH
from sqm.domain.errors import ConcurrencyConflict, RequestIdReused
from sqm.domain.ports import (
    AppendResult,
    ChainVerification,
    CommandMeta,
    EventStore,
    NewEvent,
    PendingAppend,
)
from sqm.server.storage.memory import MemoryEventStore
from sqm.server.storage.sqlite import SqliteEventStore
from tests.postgres import ThrowawayPostgresStore

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class TickingClock:
    """A clock that moves one second each time it is read, so recorded_at is predictable."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> datetime:
        """The next second."""
        self.reads += 1
        return START + timedelta(seconds=self.reads)


StoreFactory = Callable[[Path, TickingClock], EventStore]

# One line per store.
STORES: dict[str, StoreFactory] = {
    "memory": lambda _tmp_path, clock: MemoryEventStore(clock=clock),
    "sqlite": lambda tmp_path, clock: SqliteEventStore(tmp_path / "events.sqlite3", clock=clock),
    "postgresql": lambda _tmp_path, clock: ThrowawayPostgresStore(clock=clock),
}


@pytest.fixture
def clock() -> TickingClock:
    """The clock the store stamps recorded_at with."""
    return TickingClock()


@pytest.fixture(params=list(STORES))
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: TickingClock
) -> Iterator[EventStore]:
    """A fresh, empty store of each kind."""
    opened = STORES[request.param](tmp_path, clock)
    yield opened
    opened.close()


def event(n: int = 1, **payload: Any) -> NewEvent:
    """A new event whose domain time is ``n`` minutes after START."""
    return NewEvent("SomethingHappened", payload or {"n": n}, START + timedelta(minutes=n))


def meta(request_id: str, fingerprint: str = "", actor: str = "procurement") -> CommandMeta:
    """Command metadata; the fingerprint defaults to one derived from the request id."""
    return CommandMeta(request_id, actor, "policy-v1", fingerprint or f"fp-{request_id}")


def append(
    store: EventStore, stream: str, expected: int, count: int = 1, request_id: str = ""
) -> AppendResult:
    """Append ``count`` events to ``stream`` with a snapshot recording the new version."""
    events = [event(expected + i) for i in range(1, count + 1)]
    rid = request_id or f"{stream}@{expected}"
    return store.append(stream, expected, events, meta(rid), {"version": expected + count})


def test_appended_events_read_back_with_every_field(store: EventStore) -> None:
    """What was appended reads back field by field, payload (Chinese included) intact."""
    payload = {
        "name": "华为技术有限公司",
        "scores": {"price": 87.5},
        "tags": ["ISO 9001"],
        "ok": True,
    }
    beijing = timezone(timedelta(hours=8))
    occurred = datetime(2025, 3, 1, 16, 30, 0, 123456, tzinfo=beijing)
    new = [NewEvent("SupplierRegistered", payload, occurred), event(2)]
    result = store.append("sup-1", 0, new, meta("r1", actor="采购系统"), {"state": "candidate"})

    assert result == AppendResult("sup-1", 1, 2, 1, 2, replayed=False)
    first, second = store.read_stream("sup-1")
    assert (first.global_seq, first.version, second.global_seq, second.version) == (1, 1, 2, 2)
    assert first.event_type == "SupplierRegistered"
    assert first.payload == payload
    assert first.occurred_at == occurred
    assert first.occurred_at.tzinfo == UTC
    assert first.recorded_at == second.recorded_at == START + timedelta(seconds=1)
    assert (first.actor, first.request_id, first.policy_version) == ("采购系统", "r1", "policy-v1")
    assert first.stream_id == "sup-1"


def test_versions_continue_per_stream_while_global_seq_spans_streams(store: EventStore) -> None:
    """Each stream counts its own versions; the global sequence counts every event."""
    append(store, "a", 0, count=2)
    result = append(store, "b", 0)
    again = append(store, "a", 2)

    assert result == AppendResult("b", 1, 1, 3, 3)
    assert again == AppendResult("a", 3, 3, 4, 4)
    assert [(e.stream_id, e.version) for e in store.read_all()] == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("a", 3),
    ]


def test_read_stream_pages_by_version(store: EventStore) -> None:
    """read_stream returns versions after ``after_version``, at most ``limit`` of them."""
    append(store, "a", 0, count=5)
    append(store, "b", 0, count=2)

    assert [e.version for e in store.read_stream("a", after_version=2, limit=2)] == [3, 4]
    assert [e.version for e in store.read_stream("a", after_version=4)] == [5]
    assert store.read_stream("a", after_version=5) == []
    assert store.read_stream("a", limit=0) == []
    assert store.read_stream("unknown") == []


def test_negative_limit_is_refused(store: EventStore) -> None:
    """A negative page size is a caller's mistake, not 'everything'."""
    with pytest.raises(ValueError, match="limit"):
        store.read_all(limit=-1)


def test_stale_expected_version_raises_conflict_and_writes_nothing(store: EventStore) -> None:
    """An append decided on an old version is refused with both versions named."""
    append(store, "a", 0, count=2)

    with pytest.raises(ConcurrencyConflict) as raised:
        store.append("a", 1, [event(9)], meta("late"), {"version": 99})

    assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == ("a", 1, 2)
    assert len(store.read_all()) == 2
    assert store.find_request("late") is None
    snapshot = store.load_snapshot("a")
    assert snapshot is not None
    assert snapshot.state == {"version": 2}


def test_new_stream_must_be_appended_at_expected_version_zero(store: EventStore) -> None:
    """A stream that does not exist is at version 0; any other expectation conflicts."""
    with pytest.raises(ConcurrencyConflict) as raised:
        store.append("new", 1, [event()], meta("r"), {})

    assert raised.value.actual == 0
    assert store.read_all() == []
    assert store.load_snapshot("new") is None


def test_retry_with_same_request_id_returns_first_result_and_writes_nothing(
    store: EventStore,
) -> None:
    """A retried request is answered with the first result, marked replayed, and not re-applied."""
    first = append(store, "a", 0, count=2, request_id="once")
    append(store, "a", 2)

    # The retry was decided on the old version; that must not matter.
    retried = store.append("a", 0, [event(), event(2)], meta("once"), {"version": "retry"})

    assert retried == AppendResult("a", 1, 2, 1, 2, replayed=True)
    assert first.replayed is False
    assert len(store.read_all()) == 3
    snapshot = store.load_snapshot("a")
    assert snapshot is not None
    assert snapshot.state == {"version": 3}


def test_request_id_reused_for_a_different_request_is_refused(store: EventStore) -> None:
    """The same request id with another fingerprint raises RequestIdReused and writes nothing."""
    append(store, "a", 0, request_id="rid")

    with pytest.raises(RequestIdReused) as raised:
        store.append("a", 1, [event(2)], meta("rid", fingerprint="other"), {})

    assert raised.value.request_id == "rid"
    assert len(store.read_all()) == 1


def test_request_id_reused_on_another_stream_is_refused(store: EventStore) -> None:
    """A request id already recorded for one stream cannot be answered for another."""
    append(store, "a", 0, request_id="rid")

    with pytest.raises(RequestIdReused):
        store.append("b", 0, [event()], meta("rid"), {})

    assert store.read_stream("b") == []


def test_find_request_returns_fingerprint_and_first_result(store: EventStore) -> None:
    """A recorded request can be looked up by id; an unknown one is None."""
    append(store, "a", 0, count=3, request_id="rid")

    assert store.find_request("rid") == ("fp-rid", AppendResult("a", 1, 3, 1, 3))
    assert store.find_request("nope") is None


def test_snapshot_is_stored_with_the_append_at_the_new_version(store: EventStore) -> None:
    """Each append replaces the stream's snapshot with the state it was given."""
    store.append("a", 0, [event()], meta("r1"), {"state": "candidate", "名称": "中兴"})
    store.append("a", 1, [event(2), event(3)], meta("r2"), {"state": "qualified"})

    snapshot = store.load_snapshot("a")

    assert snapshot is not None
    assert (snapshot.stream_id, snapshot.version) == ("a", 3)
    assert snapshot.state == {"state": "qualified"}
    assert store.load_snapshot("unknown") is None


def test_snapshots_list_in_stream_id_order_with_pagination(store: EventStore) -> None:
    """Snapshots page by stream id in code point order (upper case before lower, CJK last)."""
    ids = ["供应商-2", "b", "B", "a-10", "a-2", "供应商-1"]
    for stream in ids:
        append(store, stream, 0)

    pages: list[list[str]] = []
    after = ""
    while page := store.list_snapshots(after_stream_id=after, limit=4):
        pages.append([s.stream_id for s in page])
        after = page[-1].stream_id

    assert pages == [["B", "a-10", "a-2", "b"], ["供应商-1", "供应商-2"]]
    assert all(s.version == 1 for s in store.list_snapshots())
    assert store.list_stream_ids("a-2", limit=3) == ["b", "供应商-1", "供应商-2"]
    assert store.list_stream_ids(limit=100) == [s.stream_id for s in store.list_snapshots()]


def test_read_all_pages_by_global_sequence(store: EventStore) -> None:
    """read_all returns events after ``after_seq`` in sequence order, a page at a time."""
    for i in range(7):
        append(store, f"s{i % 3}", i // 3)

    seqs: list[list[int]] = []
    after = 0
    while page := store.read_all(after_seq=after, limit=3):
        seqs.append([e.global_seq for e in page])
        after = page[-1].global_seq

    assert seqs == [[1, 2, 3], [4, 5, 6], [7]]


def test_hash_chain_links_events_in_global_order_across_streams(store: EventStore) -> None:
    """Each event's prev_hash is the previous event's hash, whatever its stream."""
    for round_ in range(10):
        for stream in ("a", "b", "c", "d"):
            append(store, stream, round_ * 2, count=2)

    events = store.read_all()

    assert len(events) == 80
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    assert len({e.hash for e in events}) == 80
    verdict = store.verify_chain()
    assert verdict.intact
    assert verdict.events_checked == 80


def test_empty_store_verifies_intact(store: EventStore) -> None:
    """A store with no events has nothing broken."""
    verdict = store.verify_chain()

    assert (verdict.intact, verdict.events_checked) == (True, 0)


@pytest.mark.parametrize(
    "bad_events",
    [
        pytest.param([event(1), event(2, score=float("nan"))], id="payload-not-json"),
        pytest.param([event(1), NewEvent("X", {}, datetime(2025, 1, 1))], id="naive-time"),
        pytest.param([], id="no-events"),
    ],
)
def test_failed_append_leaves_no_partial_rows(
    store: EventStore, bad_events: list[NewEvent]
) -> None:
    """A failed append writes no event, request or snapshot, and the stream carries on."""
    append(store, "a", 0)

    with pytest.raises(ValueError):  # noqa: PT011 - the three causes have different messages
        store.append("a", 1, bad_events, meta("bad"), {"version": "bad"})

    assert len(store.read_all()) == 1
    assert store.find_request("bad") is None
    snapshot = store.load_snapshot("a")
    assert snapshot is not None
    assert snapshot.version == 1
    assert append(store, "a", 1) == AppendResult("a", 2, 2, 2, 2)
    assert store.verify_chain().intact


def test_changing_a_payload_after_append_or_read_changes_nothing_stored(store: EventStore) -> None:
    """The store keeps its own copy: mutating what went in or came out does not alter the record."""
    payload: dict[str, Any] = {"items": [1, 2]}
    store.append("a", 0, [NewEvent("X", payload, START)], meta("r"), {"s": [1]})
    payload["items"].append(3)
    store.read_all()[0].payload["items"].append(4)

    assert store.read_all()[0].payload == {"items": [1, 2]}
    assert store.verify_chain().intact


def test_concurrent_appends_to_different_streams_keep_a_gapless_chain(store: EventStore) -> None:
    """Threads appending to their own streams lose nothing and leave one unbroken chain."""

    def writer(stream: str) -> None:
        for version in range(20):
            append(store, stream, version)

    threads = [threading.Thread(target=writer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [e.global_seq for e in store.read_all()] == list(range(1, 81))
    assert store.verify_chain() == ChainVerification(80)


def pending(
    stream: str, expected: int, request_id: str, *, count: int = 1, snapshot: bool = True
) -> PendingAppend:
    """One append of a batch; ``snapshot`` False leaves the stream's state to a later one."""
    events = [event(expected + i) for i in range(1, count + 1)]
    state = {"version": expected + count} if snapshot else None
    return PendingAppend(stream, expected, events, meta(request_id), state)


def test_a_batch_returns_the_records_it_sealed_as_they_read_back(store: EventStore) -> None:
    """Each result of append_batch carries its records, equal to what read_stream returns."""
    results = store.append_batch(
        [pending("a", 0, "r1", count=2), pending("b", 0, "r2"), pending("a", 2, "r3")]
    )

    assert all(isinstance(r, AppendResult) for r in results)
    sealed = [e for r in results if isinstance(r, AppendResult) for e in r.events]
    assert [(e.stream_id, e.version, e.global_seq) for e in sealed] == [
        ("a", 1, 1), ("a", 2, 2), ("b", 1, 3), ("a", 3, 4),
    ]  # fmt: skip
    assert sealed == store.read_all()
    assert [e for e in sealed if e.stream_id == "a"] == store.read_stream("a")
    assert store.verify_chain().intact


def test_a_batch_returns_refusals_in_place_and_writes_the_rest(store: EventStore) -> None:
    """A stale version or a reused request id is returned in its place; the others land."""
    append(store, "a", 0, request_id="old")
    results = store.append_batch(
        [
            pending("a", 0, "stale"),
            pending("b", 0, "new"),
            PendingAppend("c", 0, [event()], meta("old", "another"), {}),
            pending("a", 1, "next"),
        ]
    )

    assert isinstance(results[0], ConcurrencyConflict)
    assert isinstance(results[2], RequestIdReused)
    assert [r.stream_id for r in results if isinstance(r, AppendResult)] == ["b", "a"]
    assert [(e.stream_id, e.request_id) for e in store.read_all()] == [
        ("a", "old"), ("b", "new"), ("a", "next"),
    ]  # fmt: skip
    assert store.find_request("stale") is None


def test_an_all_or_none_batch_writes_nothing_when_any_append_is_refused(
    store: EventStore,
) -> None:
    """With all_or_none the refusal is raised and none of the batch is stored."""
    append(store, "a", 0)
    batch = [pending("b", 0, "b1"), pending("a", 1, "a2"), pending("a", 1, "a2-again")]

    with pytest.raises(ConcurrencyConflict):
        store.append_batch(batch, all_or_none=True)

    assert [e.stream_id for e in store.read_all()] == ["a"]
    assert store.find_requests(["b1", "a2", "a2-again"]) == {}
    assert store.load_snapshot("b") is None
    assert store.last_sequence() == 1
    assert store.verify_chain().intact


def test_a_request_repeated_in_a_batch_or_across_batches_is_replayed(store: EventStore) -> None:
    """A request id seen earlier (in the batch or before) writes nothing the second time."""
    first = append(store, "a", 0, request_id="r1")
    results = store.append_batch(
        [pending("a", 0, "r1"), pending("b", 0, "r2"), pending("b", 0, "r2")]
    )

    replay, written, again = results
    assert isinstance(replay, AppendResult)
    assert replay.replayed
    assert replay.events == ()
    assert replay == attrs.evolve(first, replayed=True)
    assert isinstance(written, AppendResult)
    assert not written.replayed
    assert isinstance(again, AppendResult)
    assert again.replayed
    assert again == attrs.evolve(written, replayed=True)
    assert store.last_sequence() == 2


def test_a_snapshot_is_written_only_where_the_batch_gives_one(store: EventStore) -> None:
    """An append whose snapshot is None leaves the state to a later append of its stream."""
    store.append_batch([pending("a", 0, "r1", snapshot=False), pending("a", 1, "r2")])
    store.append_batch([pending("b", 0, "r3", snapshot=False)])

    kept = store.load_snapshot("a")
    assert kept is not None
    assert (kept.version, kept.state) == (2, {"version": 2})
    assert store.snapshot_version("a") == 2
    assert store.load_snapshot("b") is None
    assert store.snapshot_version("b") is None
    assert len(store.read_stream("b")) == 1
    assert store.snapshot_versions(["a", "b", "a", "nobody"]) == {"a": 2}


def test_the_heads_of_many_streams_are_looked_up_at_once(store: EventStore) -> None:
    """A batch with snapshots every N versions asks its streams' heads in one look-up: a
    stream's last version whatever its snapshot, none for a stream with no events.
    """
    store.append_batch([pending("a", 0, "r1", snapshot=False), pending("a", 1, "r2")])
    store.append_batch([pending("b", 0, "r3", snapshot=False)])
    store.append_batch([pending("a", 2, "r4", snapshot=False)])

    assert store.stream_versions(["a", "b", "a", "nobody"]) == {"a": 3, "b": 1}
    assert store.stream_versions([]) == {}


def test_append_is_a_batch_of_one_that_raises_its_refusal(store: EventStore) -> None:
    """Append returns the sealed records too, and raises what a batch would return."""
    result = append(store, "a", 0, count=2)

    assert result.events == tuple(store.read_stream("a"))
    with pytest.raises(ConcurrencyConflict):
        append(store, "a", 0, request_id="late")


def test_many_requests_are_found_at_once(store: EventStore) -> None:
    """find_requests answers the recorded ids among many, each as find_request would."""
    store.append_batch([pending(f"s{n}", 0, f"r{n}") for n in range(600)])

    wanted = [f"r{n}" for n in range(0, 700, 7)]
    found = store.find_requests(wanted)

    assert sorted(found) == sorted(r for r in wanted if int(r[1:]) < 600)
    assert all(found[r] == store.find_request(r) for r in found)
    assert found["r7"][1] == AppendResult("s7", 1, 1, 8, 8)


def test_the_identity_is_stable_and_the_head_follows_appends(store: EventStore) -> None:
    """identity() does not change; last_sequence() is the newest event's sequence."""
    before = store.identity()
    assert store.last_sequence() == 0
    append(store, "a", 0, count=3)

    assert before
    assert store.identity() == before
    assert store.last_sequence() == 3


def test_subscribers_are_told_of_an_append_after_it_commits(store: EventStore) -> None:
    """subscribe_appends calls back with the new head once the events can be read."""
    seen: list[int] = []
    readable = threading.Event()

    def on_append(sequence: int) -> None:
        if sequence and store.read_all(sequence - 1):
            seen.append(sequence)
            readable.set()

    unsubscribe = store.subscribe_appends(on_append)
    try:
        append(store, "a", 0, count=2)
        assert readable.wait(timeout=10)
    finally:
        unsubscribe()
    assert seen[0] == 2
