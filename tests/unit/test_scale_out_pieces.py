"""The store-agnostic pieces of running several instances: database settings, the
scheduler's turn-taking and watchers woken by a store's append signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import grpc
import pytest

from sqm.domain.ports import CommandMeta, NewEvent, RecordedEvent
from sqm.server.api import watch
from sqm.server.api.errors import abort
from sqm.server.app.scheduler import DeadlineScheduler
from sqm.server.app.suppliers import AdvanceSummary
from sqm.server.config import DEFAULT_DATABASE, PostgresUrl, settings_from
from sqm.server.storage.errors import StoreUnavailable
from sqm.server.storage.memory import MemoryEventStore

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
URL = "postgresql://sqm:s3cret@db.example:5432/sqm"


def test_a_postgresql_url_selects_postgresql_and_anything_else_a_sqlite_file() -> None:
    """--database and SQM_DATABASE take either; a URL's password stays out of its text."""
    from_flag = settings_from({"database": URL}, {}).database
    from_env = settings_from({}, {"SQM_DATABASE": "postgres://db/sqm"}).database

    assert from_flag == PostgresUrl(URL)
    assert str(from_flag) == "postgresql://sqm:***@db.example:5432/sqm"
    assert "s3cret" not in repr(from_flag)
    assert from_env == PostgresUrl("postgres://db/sqm")
    assert settings_from({"database": "var/x.sqlite3"}, {}).database == Path("var/x.sqlite3")
    assert settings_from({}, {}).database == DEFAULT_DATABASE


def test_a_url_of_another_database_is_refused() -> None:
    """mysql://... is neither a file path nor PostgreSQL: refused, not taken as a file name."""
    with pytest.raises(ValueError, match=r"SQLite file path or a postgresql:// URL"):
        settings_from({"database": "mysql://db/sqm"}, {})


@pytest.mark.parametrize(
    ("flag", "environ", "expected"),
    [
        (None, {}, False),
        (True, {}, True),
        (None, {"SQM_MIGRATE": "yes"}, True),
        (None, {"SQM_MIGRATE": "0"}, False),
    ],
)
def test_migrate_comes_from_the_flag_or_the_environment(
    flag: bool | None, environ: dict[str, str], expected: bool
) -> None:
    """--migrate, else SQM_MIGRATE (true/false, yes/no, 1/0), else off."""
    assert settings_from({"migrate": flag}, environ).migrate is expected


def test_a_migrate_setting_that_is_not_a_yes_or_no_is_refused() -> None:
    """SQM_MIGRATE=maybe is a mistake to report, not a guess."""
    with pytest.raises(ValueError, match="SQM_MIGRATE"):
        settings_from({}, {"SQM_MIGRATE": "maybe"})


class _CountingService:
    """Stands in for the application: counts the times time was advanced."""

    def __init__(self) -> None:
        self.calls = 0

    def advance_time(self, now: datetime, actor: str) -> AdvanceSummary:
        self.calls += 1
        return AdvanceSummary(1, 0, ())


def _lock(held: bool) -> Callable[[], contextlib.AbstractContextManager[bool]]:
    @contextlib.contextmanager
    def lock() -> Iterator[bool]:
        yield held

    return lock


@pytest.mark.parametrize(("held", "calls"), [(True, 2), (False, 1)])
def test_scheduled_ticks_wait_their_turn_and_asked_ticks_do_not(held: bool, calls: int) -> None:
    """A scheduled tick runs only with the tick lock; AdvanceTime's tick always runs."""
    service = _CountingService()
    with ThreadPoolExecutor(1) as executor:
        scheduler = DeadlineScheduler(
            service,  # type: ignore[arg-type]
            executor,
            lambda: NOW,
            1.0,
            _lock(held),
        )

        async def both() -> tuple[AdvanceSummary, AdvanceSummary]:
            return await scheduler.tick(take_turns=True), await scheduler.tick()

        scheduled, asked = asyncio.run(both())

    assert service.calls == calls
    assert scheduled.suppliers_checked == (1 if held else 0)
    assert asked.suppliers_checked == 1


def _append_from_a_thread(store: MemoryEventStore, stream: str) -> None:
    meta = CommandMeta(stream, "alice", "v1", stream)
    append = partial(store.append, stream, 0, [NewEvent("SupplierRegistered", {}, NOW)], meta, {})
    threading.Thread(target=append).start()


def test_a_signalled_append_wakes_the_watcher_before_the_poll_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback poll is slow, yet an append (from another thread) arrives at once."""
    monkeypatch.setattr(watch, "POLL_SECONDS", 30.0)
    store = MemoryEventStore()
    meta = CommandMeta("first", "alice", "v1", "first")
    store.append("first", 0, [NewEvent("SupplierRegistered", {}, NOW)], meta, {})

    async def read(after: int, limit: int) -> list[RecordedEvent]:
        return store.read_all(after, limit)

    async def second_event() -> RecordedEvent:
        events = watch.follow(read, 0, watch.StoreHead(store))
        async with contextlib.aclosing(events):
            await anext(events)
            asyncio.get_running_loop().call_later(0.05, _append_from_a_thread, store, "second")
            return await asyncio.wait_for(anext(events), timeout=5)

    assert asyncio.run(second_event()).stream_id == "second"


class _Context:
    """Records how a call was ended."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None

    async def abort(self, code: grpc.StatusCode, message: str, **_: object) -> None:
        self.code = code
        raise grpc.aio.AbortError


def test_a_lost_database_is_unavailable_so_clients_retry() -> None:
    """The store going away is UNAVAILABLE (the clients retry it with the same request id)."""
    context = _Context()

    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(abort(context, StoreUnavailable("PostgreSQL at db failed")))  # type: ignore[arg-type]

    assert context.code == grpc.StatusCode.UNAVAILABLE
