"""Group commit: commands decided in order and appended with one commit record what
running them one by one records, and each answer waits for that commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sqm.domain import commands as cmd
from sqm.domain.errors import ConcurrencyConflict, IllegalTransition, InvalidCommand
from sqm.domain.model import Certificate, Comparator, SlaObjective
from sqm.domain.ports import CommandMeta, NewEvent, PendingAppend
from sqm.server.app.group_commit import GroupCommit
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import CommandResult, SupplierService
from sqm.server.storage.sqlite import SqliteEventStore
from tests.fakes import FakePolicy

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OBJECTIVE = SlaObjective(
    "availability", "availability", Comparator.AT_LEAST, 99.9, 99.95, 0.01, 7, 30
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    """A fresh SQLite store."""
    with SqliteEventStore(tmp_path / "group.sqlite3") as opened:
        yield opened


def _contracted(service: SupplierService, *suppliers: str) -> None:
    licence = Certificate(
        "business_licence",
        "BL-1",
        "SAMR",
        T0 - timedelta(days=1),
        T0 + timedelta(days=400),
    )
    for supplier in suppliers:
        for number, command in enumerate(
            [
                cmd.RegisterSupplier(supplier, supplier.upper(), "software", T0),
                cmd.SubmitQualificationEvidence(supplier, T0, {"capability": 90.0}, (licence,)),
                cmd.SignContract(supplier, "C-1", T0, objectives=(OBJECTIVE,)),
            ]
        ):
            service.execute(command, RequestContext(f"setup-{supplier}-{number}", "test"))


def _measurement(supplier: str, day: int, value: float = 99.97) -> cmd.RecordMeasurement:
    end = T0 + timedelta(days=day)
    return cmd.RecordMeasurement(
        supplier, "availability", value, "percent", end - timedelta(days=30), end, end
    )


def _jobs(*commands: cmd.Command) -> list[tuple[cmd.Command, RequestContext]]:
    return [(c, RequestContext(f"job-{n}", "test")) for n, c in enumerate(commands)]


def _history(store: SqliteEventStore, supplier: str) -> list[tuple[str, Any]]:
    return [(e.event_type, dict(e.payload)) for e in store.read_stream(supplier)]


def test_a_batch_records_what_running_the_commands_one_by_one_records(tmp_path: Path) -> None:
    """Same events, same states, whether the commands were batched or run one by one."""
    commands = [
        _measurement("acme", 1), _measurement("beta", 1, 95.0), _measurement("acme", 2, 90.0),
        cmd.OpenReview("beta", "a look", T0 + timedelta(days=3)), _measurement("acme", 3),
    ]  # fmt: skip
    histories = []
    for name, batched in (("alone", False), ("batched", True)):
        with SqliteEventStore(tmp_path / f"{name}.sqlite3") as store:
            service = SupplierService(store, FakePolicy)
            _contracted(service, "acme", "beta")
            if batched:
                outcomes = service.execute_batch(_jobs(*commands))
            else:
                outcomes = [service.execute(c, ctx) for c, ctx in _jobs(*commands)]
            assert all(isinstance(o, CommandResult) for o in outcomes)
            histories.append(
                (_history(store, "acme"), _history(store, "beta"), service.get("acme"))
            )
            assert store.verify_chain().intact
    assert histories[0] == histories[1]


def test_a_refused_command_gets_its_error_and_the_others_are_stored(
    store: SqliteEventStore,
) -> None:
    """A command the domain refuses changes nothing; the batch's other commands land."""
    service = SupplierService(store, FakePolicy)
    _contracted(service, "acme")
    bad_unit = cmd.RecordMeasurement(
        "acme", "availability", 99.9, "hours", T0, T0 + timedelta(days=1), T0 + timedelta(days=1)
    )
    not_in_remediation = cmd.VerifyRemediation("acme", T0 + timedelta(days=2))
    outcomes = service.execute_batch(
        _jobs(_measurement("acme", 1), bad_unit, not_in_remediation, _measurement("acme", 3))
    )
    assert isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[1], InvalidCommand)
    assert isinstance(outcomes[2], IllegalTransition)
    assert isinstance(outcomes[3], CommandResult)
    assert len(service.get("acme").measurements) == 2


def test_a_request_id_repeated_in_a_batch_or_already_recorded_is_answered_from_the_record(
    store: SqliteEventStore,
) -> None:
    """Retries replay the first answer, inside a batch as across batches; nothing twice."""
    service = SupplierService(store, FakePolicy)
    _contracted(service, "acme")
    first = _measurement("acme", 1)
    context = RequestContext("same-id", "test")
    outcomes = service.execute_batch([(first, context), (first, context)])
    again = service.execute_batch([(first, context)])
    assert isinstance(outcomes[0], CommandResult)
    assert not outcomes[0].replayed
    assert [o.replayed for o in (outcomes[1], again[0])] == [True, True]  # type: ignore[union-attr]
    assert len(service.get("acme").measurements) == 1


def test_a_stale_etag_in_a_batch_is_refused_as_alone(store: SqliteEventStore) -> None:
    """A command pinned to another version gets ABORTED's error and records nothing."""
    service = SupplierService(store, FakePolicy)
    _contracted(service, "acme")
    version = service.get("acme").version
    outcomes = service.execute_batch(
        [(_measurement("acme", 1), RequestContext("pinned", "test", expected_version=version - 1))]
    )
    assert isinstance(outcomes[0], ConcurrencyConflict)
    assert service.get("acme").version == version


def _append(stream: str, version: int, request_id: str, snapshot: Any = None) -> PendingAppend:
    event = NewEvent("Noted", {"n": request_id}, T0)
    return PendingAppend(
        stream, version, [event], CommandMeta(request_id, "t", "v", request_id), snapshot
    )


def test_append_batch_writes_in_order_in_one_transaction_and_returns_refusals(
    store: SqliteEventStore,
) -> None:
    """A stale append is returned in its place; the others are chained and stored."""
    results = store.append_batch(
        [_append("s1", 0, "r1"), _append("s1", 0, "r2"), _append("s1", 1, "r3", {"v": 2})]
    )
    assert isinstance(results[1], ConcurrencyConflict)
    assert [e.request_id for e in store.read_stream("s1")] == ["r1", "r3"]
    assert store.snapshot_version("s1") == 2
    assert store.verify_chain().intact


def test_append_batch_all_or_none_writes_nothing_when_one_is_refused(
    store: SqliteEventStore,
) -> None:
    """With all_or_none the refusal is raised and the batch rolled back."""
    with pytest.raises(ConcurrencyConflict):
        store.append_batch([_append("s1", 0, "r1", {}), _append("s1", 5, "r2")], all_or_none=True)
    assert store.read_stream("s1") == []
    assert store.snapshot_version("s1") is None


class _CountingStore(SqliteEventStore):
    batches: list[int]

    def append_batch(self, appends: Sequence[PendingAppend], *, all_or_none: bool = False) -> Any:
        self.batches.append(len(appends))
        return super().append_batch(appends, all_or_none=all_or_none)


def test_concurrent_calls_share_one_commit_and_each_is_answered(tmp_path: Path) -> None:
    """Calls queued while the worker is busy are decided in order and committed together."""
    store = _CountingStore(tmp_path / "count.sqlite3")
    store.batches = []
    service = SupplierService(store, FakePolicy)
    _contracted(service, "acme", "beta")
    store.batches.clear()  # each setup command was a batch of one
    executor = ThreadPoolExecutor(max_workers=1)
    commits = GroupCommit(service, executor)

    async def calls() -> list[CommandResult]:
        gate = asyncio.Event()
        loop = asyncio.get_running_loop()
        blocker = loop.run_in_executor(
            executor, lambda: asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()
        )
        jobs = _jobs(*[_measurement(s, d) for d in (1, 2, 3) for s in ("acme", "beta")])
        answers = [asyncio.ensure_future(commits.execute(c, ctx)) for c, ctx in jobs]
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        return list(await asyncio.gather(*answers))

    try:
        results = asyncio.run(calls())
    finally:
        executor.shutdown()
        store.close()
    assert [len(r.events) >= 1 for r in results] == [True] * 6
    assert store.batches == [6]


def test_find_requests_looks_many_request_ids_up_at_once(store: SqliteEventStore) -> None:
    """Recorded ids come back with their fingerprint and result; unknown ids are left out."""
    store.append_batch([_append("s1", 0, "r1", {}), _append("s2", 0, "r2", {})])
    found = store.find_requests(["r2", "nope", "r1", "r2"])
    assert sorted(found) == ["r1", "r2"]
    assert found["r1"] == store.find_request("r1")


def test_a_call_after_the_worker_has_shut_down_is_refused_not_left_waiting(
    store: SqliteEventStore,
) -> None:
    """With no worker to run it, the caller hears why at once."""
    service = SupplierService(store, FakePolicy)
    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()
    commits = GroupCommit(service, executor)
    command, context = _jobs(_measurement("acme", 1))[0]

    async def call() -> CommandResult:
        return await asyncio.wait_for(commits.execute(command, context), timeout=5)

    with pytest.raises(RuntimeError, match="shutdown"):
        asyncio.run(call())
