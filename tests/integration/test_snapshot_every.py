"""Snapshots every N versions: a supplier is written to its snapshot only when its version
reaches a multiple of N, and reading it folds at most N events past that snapshot, to the
same state as a snapshot on every command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqm.domain import commands as cmd
from sqm.domain.model import Certificate, Comparator, SlaObjective
from sqm.domain.ports import RecordedEvent
from sqm.server.app.pipeline import DEFAULT_SNAPSHOT_EVERY, RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.config import settings_from
from sqm.server.storage.sqlite import SqliteEventStore
from tests.fakes import FakePolicy

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OBJECTIVE = SlaObjective(
    "availability", "availability", Comparator.AT_LEAST, 99.9, 99.95, 0.01, 7, 30
)
EVERY = 10


class CountingStore(SqliteEventStore):
    """A SQLite store that remembers how many events each read of a stream returned."""

    reads: list[int]

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The events, as the SQLite store reads them; their count is kept."""
        events = super().read_stream(stream_id, after_version, limit)
        self.reads.append(len(events))
        return events


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[CountingStore, SqliteEventStore]]:
    """A store written with snapshots every N versions, and one written every version."""
    with (
        CountingStore(tmp_path / "every-n.sqlite3") as lagging,
        SqliteEventStore(tmp_path / "every-1.sqlite3") as eager,
    ):
        lagging.reads = []
        yield lagging, eager


def _commands(supplier: str, measurements: int) -> Sequence[cmd.Command]:
    licence = Certificate(
        "business_licence", "BL-1", "SAMR", T0 - timedelta(days=1),
        T0 + timedelta(days=4000),
    )  # fmt: skip
    setup: list[cmd.Command] = [
        cmd.RegisterSupplier(supplier, supplier.upper(), "software", T0),
        cmd.SubmitQualificationEvidence(supplier, T0, {"capability": 90.0}, (licence,)),
        cmd.SignContract(supplier, "C-1", T0, objectives=(OBJECTIVE,)),
    ]
    for day in range(1, measurements + 1):
        end = T0 + timedelta(days=day)
        value = 99.0 if day % 7 == 0 else 99.97  # a breach now and then
        setup.append(
            cmd.RecordMeasurement(
                supplier, "availability", value, "percent", end - timedelta(days=30), end, end
            )
        )
    return setup


def _run(service: SupplierService, commands: Sequence[cmd.Command], start: int = 0) -> None:
    for number, command in enumerate(commands, start=start):
        service.execute(command, RequestContext(f"r-{command.supplier_id}-{number}", "test"))


def test_snapshots_every_n_versions_read_back_the_same_supplier(
    stores: tuple[CountingStore, SqliteEventStore],
) -> None:
    """With N = 10 the snapshot trails the head by under N events, and a fresh reader (no
    kept states) folds only those to the state a snapshot on every command gives.
    """
    lagging, eager = stores
    commands = _commands("acme", 40)
    _run(SupplierService(lagging, FakePolicy, snapshot_every=EVERY), commands)
    _run(SupplierService(eager, FakePolicy, snapshot_every=1), commands)

    head = eager.snapshot_version("acme")
    snapshot = lagging.snapshot_version("acme")
    assert head is not None
    assert snapshot is not None
    assert head - EVERY < snapshot <= head
    assert snapshot < head, "the example should leave the snapshot behind the head"

    lagging.reads.clear()
    fresh = SupplierService(lagging, FakePolicy, snapshot_every=EVERY)
    expected = SupplierService(eager, FakePolicy, snapshot_every=1).get("acme")
    assert fresh.get("acme") == expected
    assert fresh.list_suppliers("", 10) == [expected]
    assert lagging.reads
    assert max(lagging.reads) < EVERY


def test_a_reader_with_a_kept_state_sees_what_another_process_wrote(
    stores: tuple[CountingStore, SqliteEventStore],
) -> None:
    """A kept state is brought to the head: a write by another service on the same store,
    which moves no snapshot, is not missed.
    """
    lagging, eager = stores
    commands = _commands("acme", 12)
    first = SupplierService(lagging, FakePolicy, snapshot_every=EVERY)
    other = SupplierService(lagging, FakePolicy, snapshot_every=EVERY)
    _run(first, commands[:-1])
    kept = first.get("acme")
    _run(other, commands[-1:], start=len(commands) - 1)
    _run(SupplierService(eager, FakePolicy, snapshot_every=1), commands)

    assert first.get("acme") == eager_state(eager) != kept


def test_a_batch_looks_its_streams_heads_up_at_once_and_reads_only_what_it_missed(
    stores: tuple[CountingStore, SqliteEventStore],
) -> None:
    """A batch asks the heads of all its streams in one look-up: a kept state at its head
    reads no events; one another service moved on reads only the events it missed.
    """
    lagging, _ = stores
    acme, beta = _commands("acme", 7), _commands("beta", 6)
    first = SupplierService(lagging, FakePolicy, snapshot_every=EVERY)
    _run(first, [*acme[:-3], *beta[:-2]])

    lagging.reads.clear()
    first.execute_batch([(acme[-3], context("a-1")), (beta[-2], context("b-1"))])
    assert lagging.reads == []

    SupplierService(lagging, FakePolicy, snapshot_every=EVERY).execute(acme[-2], context("a-2"))
    lagging.reads.clear()
    first.execute_batch([(beta[-1], context("b-2")), (acme[-1], context("a-3"))])
    assert lagging.reads == [1]  # the one event the other service wrote, read once


def test_a_batch_that_crosses_a_boundary_with_an_early_job_writes_the_snapshot(
    stores: tuple[CountingStore, SqliteEventStore],
) -> None:
    """An upload with several rows of one supplier: the snapshot is written when any of
    them took the supplier past a boundary, so reading never folds N events or more.
    """
    lagging, _ = stores
    commands = _commands("acme", 4 * EVERY)
    service = SupplierService(lagging, FakePolicy, snapshot_every=EVERY)
    _run(service, commands[:3])
    measurements = commands[3:]
    for start in range(0, len(measurements), 5):  # 5 rows of one supplier a batch
        service.execute_batch(
            [(c, context(f"m-{start + n}")) for n, c in enumerate(measurements[start : start + 5])]
        )
        head, snapshot = service.get("acme").version, lagging.snapshot_version("acme")
        assert snapshot is not None
        assert head - snapshot < EVERY


def test_suppliers_that_move_in_step_write_their_snapshots_at_different_versions(
    stores: tuple[CountingStore, SqliteEventStore],
) -> None:
    """Suppliers onboarded alike and sent one row each in turn do not all write their
    snapshot in the same batch: each stream's boundaries start at an offset of its own.
    """
    lagging, _ = stores
    service = SupplierService(lagging, FakePolicy, snapshot_every=EVERY)
    names = [f"s{n:02d}" for n in range(20)]
    for name in names:
        _run(service, _commands(name, 2 * EVERY))

    versions = {lagging.snapshot_version(name) for name in names}
    assert len(versions) > 1
    assert all(v is not None and v > 1 for v in versions)


def context(request_id: str) -> RequestContext:
    """A request by the test's actor."""
    return RequestContext(request_id, "test")


def eager_state(store: SqliteEventStore) -> object:
    """The supplier as a service writing every snapshot reads it."""
    return SupplierService(store, FakePolicy, snapshot_every=1).get("acme")


def test_snapshot_every_comes_from_the_flag_or_the_environment_and_is_at_least_one() -> None:
    """``--snapshot-every`` over ``SQM_SNAPSHOT_EVERY``, default 32; 0 is refused."""
    assert settings_from({}, {}).snapshot_every == DEFAULT_SNAPSHOT_EVERY == 32
    assert settings_from({}, {"SQM_SNAPSHOT_EVERY": "50"}).snapshot_every == 50
    assert (
        settings_from({"snapshot_every": "20"}, {"SQM_SNAPSHOT_EVERY": "50"}).snapshot_every == 20
    )
    with pytest.raises(ValueError, match="snapshot_every"):
        settings_from({"snapshot_every": "0"}, {})
