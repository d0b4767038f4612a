"""The notification outbox contract: every store (memory, SQLite, PostgreSQL) passes this suite.

Notifications are written with the append that carries them, in its transaction; delivery
state (claims, attempts, delivered, undeliverable) then changes as a worker goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqm.domain.notifications import ESCALATION, NOTICE, Notification
from sqm.domain.ports import CommandMeta, NewEvent, OutboxCounts, PendingAppend, Store
from sqm.server.storage.memory import MemoryEventStore
from sqm.server.storage.sqlite import SqliteEventStore
from tests.postgres import ThrowawayPostgresStore

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
StoreFactory = Callable[[Path], Store]

# One line per store.
STORES: dict[str, StoreFactory] = {
    "memory": lambda _tmp_path: MemoryEventStore(clock=lambda: START),
    "sqlite": lambda tmp_path: SqliteEventStore(tmp_path / "outbox.sqlite3", clock=lambda: START),
    "postgresql": lambda _tmp_path: ThrowawayPostgresStore(clock=lambda: START),
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each kind."""
    opened = STORES[request.param](tmp_path)
    yield opened
    opened.close()


def later(seconds: float) -> datetime:
    """``seconds`` after the time the stores record events at."""
    return START + timedelta(seconds=seconds)


def pending(stream: str, expected: int, notifications: int, request_id: str = "") -> PendingAppend:
    """Two events on ``stream``; the second carries ``notifications`` notifications."""
    events = [NewEvent("Something", {"n": i}, START) for i in (1, 2)]
    meta = CommandMeta(request_id or f"{stream}@{expected}", "rules", "v1", "fp")
    drafts = [
        Notification(1, i, ESCALATION, "quality_manager", stream, f"title {i}", "message")
        for i in range(notifications)
    ]
    return PendingAppend(stream, expected, events, meta, {"v": expected + 2}, drafts)


def test_an_appends_notifications_are_in_the_outbox_with_ids_from_their_event(
    store: Store,
) -> None:
    """Each notification gets the id stream/version/index and a body naming its event."""
    store.append_batch([pending("sup-1", 0, 2)])
    claimed = store.claim_notifications(later(0), 30, 10)
    assert [e.notification_id for e in claimed] == ["sup-1/2/0", "sup-1/2/1"]
    first = claimed[0]
    assert (first.kind, first.recipient, first.supplier_id, first.attempts) == (
        ESCALATION,
        "quality_manager",
        "sup-1",
        0,
    )
    body = json.loads(first.body)
    assert body["id"] == "sup-1/2/0"
    assert body["event"] == {"sequence": 2, "stream_id": "sup-1", "version": 2, "type": "Something"}
    assert first.global_seq == 2


def test_a_replayed_or_refused_append_adds_no_notification(store: Store) -> None:
    """A retried request id writes nothing, and a conflict writes nothing: no duplicates."""
    store.append_batch([pending("sup-1", 0, 1)])
    store.append_batch([pending("sup-1", 0, 1)])  # the same request again: replayed
    store.append_batch([pending("sup-1", 0, 1, request_id="other")])  # stale: a conflict
    assert store.outbox_counts() == OutboxCounts(pending=1, delivered=0, undeliverable=0)


def test_a_claim_hides_rows_from_other_claims_until_its_lease_runs_out(store: Store) -> None:
    """Two workers never hold the same row at once; a dead worker's rows come back."""
    store.append_batch([pending("sup-1", 0, 3)])
    first = store.claim_notifications(later(0), 30, 2)
    second = store.claim_notifications(later(1), 30, 10)
    assert [e.notification_id for e in first] == ["sup-1/2/0", "sup-1/2/1"]
    assert [e.notification_id for e in second] == ["sup-1/2/2"]
    assert store.claim_notifications(later(29), 30, 10) == []
    back = store.claim_notifications(later(31), 30, 10)
    assert [e.notification_id for e in back] == ["sup-1/2/0", "sup-1/2/1", "sup-1/2/2"]


def test_a_delivered_notification_is_never_claimed_again(store: Store) -> None:
    """Marking delivered ends the notification's delivery."""
    store.append_batch([pending("sup-1", 0, 1)])
    (entry,) = store.claim_notifications(later(0), 30, 10)
    store.mark_delivered(entry.notification_id, later(1))
    assert store.claim_notifications(later(100), 30, 10) == []
    assert store.outbox_counts() == OutboxCounts(pending=0, delivered=1, undeliverable=0)


def test_a_failed_attempt_waits_for_its_retry_time_and_counts(store: Store) -> None:
    """A failure is due again at the time given, with the attempt and the reason kept."""
    store.append_batch([pending("sup-1", 0, 1)])
    (entry,) = store.claim_notifications(later(0), 30, 10)
    store.record_failed_attempt(entry.notification_id, "503 from\nreceiver", later(5))
    assert store.claim_notifications(later(4), 30, 10) == []
    (again,) = store.claim_notifications(later(5), 30, 10)
    assert (again.attempts, again.last_error, again.next_attempt_at) == (
        1,
        "503 from receiver",
        later(5),
    )


def test_attempts_run_out_into_undeliverable_and_a_retry_makes_them_pending(
    store: Store,
) -> None:
    """Undeliverable notifications are listed, not claimed, until retried."""
    store.append_batch([pending("sup-1", 0, 2), pending("sup-2", 0, 1)])
    for entry in store.claim_notifications(later(0), 30, 10):
        store.record_failed_attempt(entry.notification_id, "refused", None)
    assert store.claim_notifications(later(100), 30, 10) == []
    listed = store.list_notifications(undeliverable=True)
    assert [e.notification_id for e in listed] == ["sup-1/2/0", "sup-1/2/1", "sup-2/2/0"]
    assert [e.notification_id for e in store.list_notifications(
        undeliverable=True, after_seq=listed[0].seq, limit=1
    )] == ["sup-1/2/1"]  # fmt: skip
    assert store.outbox_counts() == OutboxCounts(pending=0, delivered=0, undeliverable=3)

    assert store.retry_notifications(["sup-2/2/0"], later(200)) == 1
    assert [e.notification_id for e in store.list_notifications(undeliverable=False)] == [
        "sup-2/2/0"
    ]
    assert store.retry_notifications([], later(200)) == 2
    retried = store.claim_notifications(later(200), 30, 10)
    assert [(e.notification_id, e.attempts) for e in retried] == [
        ("sup-1/2/0", 0),
        ("sup-1/2/1", 0),
        ("sup-2/2/0", 0),
    ]


def test_notice_kinds_and_recipients_are_kept_as_given(store: Store) -> None:
    """Kind and recipient are stored as the domain decided them (filters rely on them)."""
    events = [NewEvent("ReviewOpened", {"n": 1}, START)]
    meta = CommandMeta("r1", "rules", "v1", "fp")
    notice = Notification(0, 0, NOTICE, "supplier:sup-9", "sup-9", "Review opened", "why")
    store.append_batch([PendingAppend("sup-9", 0, events, meta, {"v": 1}, [notice])])
    (entry,) = store.list_notifications(undeliverable=False)
    assert (entry.kind, entry.recipient, entry.notification_id) == (
        NOTICE,
        "supplier:sup-9",
        "sup-9/1/0",
    )


def test_an_events_notifications_are_found_by_its_sequence(store: Store) -> None:
    """Watch's filters look notifications up by the events' global sequences."""
    store.append_batch([pending("sup-1", 0, 2), pending("sup-2", 0, 1)])
    found = store.event_notifications(3, 4)
    assert [e.notification_id for e in found] == ["sup-2/2/0"]
    assert [e.global_seq for e in store.event_notifications(1, 2)] == [2, 2]
