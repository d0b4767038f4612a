"""Watch resume tokens: where a watch starts, and which tokens are refused and how."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from sqm.domain.errors import InvalidCommand
from sqm.domain.ports import CommandMeta, NewEvent, RecordedEvent
from sqm.server.api import watch
from sqm.server.storage.memory import MemoryEventStore

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def filled(events: int) -> MemoryEventStore:
    """A memory store holding ``events`` events, one stream each."""
    store = MemoryEventStore()
    for i in range(events):
        meta = CommandMeta(f"req-{i}", "alice", "v1", f"fp-{i}")
        store.append(f"s{i}", 0, [NewEvent("SupplierRegistered", {"i": i}, NOW)], meta, {})
    return store


def test_token_round_trips_sequence_and_identity() -> None:
    """A token decodes to the sequence and database identity it was made from."""
    assert watch.decode_token(watch.encode_token(42, "db-1")) == (42, "db-1")


@pytest.mark.parametrize("token", ["not a token", "e30", watch.encode_token(-1, "db")])
def test_malformed_token_is_invalid_argument(token: str) -> None:
    """Garbage, an empty object or a negative sequence is refused as an invalid resume_token."""
    with pytest.raises(InvalidCommand) as raised:
        watch.decode_token(token)
    assert [v.field for v in raised.value.violations] == ["resume_token"]


def test_empty_token_starts_at_the_beginning_and_start_from_now_at_the_head() -> None:
    """No token streams from the first event; start_from_now after the newest one."""
    head = watch.StoreHead(filled(3))

    assert watch.start_after("", False, head) == 0
    assert watch.start_after("", True, head) == 3


def test_token_of_this_database_resumes_after_its_sequence() -> None:
    """A token issued here resumes right after the event it names."""
    store = filled(3)
    head = watch.StoreHead(store)

    assert watch.start_after(watch.encode_token(2, store.identity()), False, head) == 2


def test_token_from_another_database_is_expired() -> None:
    """A token naming another database's identity is refused as expired."""
    token = watch.encode_token(1, filled(1).identity())

    with pytest.raises(watch.ResumeTokenExpired):
        watch.start_after(token, False, watch.StoreHead(filled(3)))


def test_token_past_the_end_of_the_log_is_expired() -> None:
    """A token beyond the newest event cannot be honoured without a gap: expired."""
    store = filled(2)

    with pytest.raises(watch.ResumeTokenExpired) as raised:
        watch.start_after(watch.encode_token(5, store.identity()), False, watch.StoreHead(store))
    assert raised.value.reason == "RESUME_TOKEN_EXPIRED"


def test_token_and_start_from_now_together_are_refused() -> None:
    """Asking to resume and to start from now at once is an invalid request."""
    store = filled(1)

    with pytest.raises(InvalidCommand):
        watch.start_after(watch.encode_token(1, store.identity()), True, watch.StoreHead(store))


def test_follow_pages_through_the_log_then_waits_for_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Follow yields every event in order across pages, then sees events appended later."""
    monkeypatch.setattr(watch, "PAGE", 2)
    monkeypatch.setattr(watch, "POLL_SECONDS", 0.01)
    store = filled(5)

    async def read(after: int, limit: int) -> list[RecordedEvent]:
        return store.read_all(after, limit)

    async def collect() -> list[int]:
        seen: list[int] = []
        events = watch.follow(read, 1, watch.StoreHead(store))
        async for event in events:
            seen.append(event.global_seq)
            if event.global_seq == 5:
                meta = CommandMeta("late", "alice", "v1", "fp-late")
                store.append("late", 0, [NewEvent("SupplierRegistered", {}, NOW)], meta, {})
            if event.global_seq == 6:
                await events.aclose()
                break
        return seen

    assert asyncio.run(collect()) == [2, 3, 4, 5, 6]
