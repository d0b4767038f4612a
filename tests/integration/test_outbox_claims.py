"""Several workers on one database claim from one outbox: never the same notification at once.

Two stores opened on one database stand for two server processes (``--workers 2``, or two
instances on PostgreSQL); each claims from a thread of its own at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqm.domain.notifications import NOTICE, Notification
from sqm.domain.ports import CommandMeta, NewEvent, OutboxEntry, PendingAppend, Store
from sqm.server.storage.postgres import PostgresEventStore
from sqm.server.storage.sqlite import SqliteEventStore
from tests.postgres import ThrowawayPostgresStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SUPPLIERS = 40
CLAIMERS = 4


def _fill(store: Store) -> None:
    appends = []
    for n in range(SUPPLIERS):
        sid = f"sup-{n}"
        events = [NewEvent("ReviewOpened", {"n": n}, NOW)]
        notice = Notification(0, 0, NOTICE, f"supplier:{sid}", sid, "Review opened", "why")
        appends.append(PendingAppend(sid, 0, events, CommandMeta(sid, "a", "v", "f"), {}, [notice]))
    store.append_batch(appends)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Store]]:
    """One filled store, and more opened on the same database."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = tmp_path / "outbox.sqlite3"
        opened = [SqliteEventStore(path, clock=lambda: NOW) for _ in range(CLAIMERS)]
    else:
        first = ThrowawayPostgresStore(clock=lambda: NOW)
        opened = [first] + [PostgresEventStore(first.url, lambda: NOW) for _ in range(CLAIMERS - 1)]
    try:
        _fill(opened[0])
        yield opened
    finally:
        for store in reversed(opened):
            store.close()


def test_workers_claiming_at_once_share_the_outbox_without_overlap(stores: list[Store]) -> None:
    """Every notification is claimed by exactly one worker, however the claims interleave."""
    claimed: list[list[OutboxEntry]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def claimer(index: int) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            while batch := stores[index].claim_notifications(NOW, 30, 3):
                claimed[index].extend(batch)

        return run

    threads = [threading.Thread(target=claimer(i)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [entry.notification_id for batch in claimed for entry in batch]
    assert len(ids) == len(set(ids)) == SUPPLIERS
