"""Export and import between stores: every record moves with every field, the hash chain is
checked line by line, and a bad file or a non-empty target changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from sqm.domain.commands import RecordMeasurement, RegisterSupplier
from sqm.domain.documents import NewDocument
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.bootstrap import DurableStore
from sqm.server.storage.dump import DumpCounts, DumpInvalid
from sqm.server.storage.memory import MemoryEventStore
from sqm.server.storage.sqlite import SqliteEventStore
from sqm.server.storage.transfer import ExportFailed, TargetNotEmpty, export_store, import_dump
from tests.fakes import SIGNED_AT, T0, FakePolicy, passing_evidence, sign
from tests.policy_fixtures import pack_files
from tests.postgres import ThrowawayPostgresStore

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
SUPPLIERS = ("acme", "globex", "initech")
VERSION = "f" * 64

StoreFactory = Callable[[Path], DurableStore]
KINDS: dict[str, StoreFactory] = {
    "sqlite": lambda tmp: SqliteEventStore(tmp / f"{len(list(tmp.iterdir()))}.sqlite3"),
    "postgresql": lambda _tmp: ThrowawayPostgresStore(),
}


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Callable[[str], DurableStore]]:
    """Open stores of a kind by name; all are closed afterwards."""
    stores: list[DurableStore] = []

    def open_(kind: str) -> DurableStore:
        stores.append(KINDS[kind](tmp_path))
        return stores[-1]

    yield open_
    for store in stores:
        store.close()


def fill(store: DurableStore | MemoryEventStore) -> None:
    """Suppliers through real commands (one with measurements), a document, a policy."""
    store.save_version(VERSION, "telecom-default", pack_files(), T0)
    store.record_activation(VERSION, "alice", "activate-1", T0)
    service = SupplierService(store, FakePolicy)
    for supplier in SUPPLIERS:
        commands = [
            attrs.evolve(passing_evidence(), supplier_id=supplier),
            attrs.evolve(sign(), supplier_id=supplier),
            *(
                RecordMeasurement(supplier, "availability", value, "percent", at - 30 * DAY, at, at)
                for value, at in ((99.99, SIGNED_AT + DAY), (96.0, SIGNED_AT + 2 * DAY))
            ),
        ]
        service.execute(_register(supplier), RequestContext(f"{supplier}:0", "procurement"))
        for number, command in enumerate(commands, start=1):
            service.execute(command, RequestContext(f"{supplier}:{number}", "noc"))
    store.archive_document(
        NewDocument("acme", "contract.pdf", "application/pdf", b"%PDF-1.7\x00\xff", "bob", "d-1")
    )


def _register(supplier: str) -> RegisterSupplier:
    return RegisterSupplier(supplier, f"{supplier.upper()} 华为", "software", T0)


def import_file(store: DurableStore, path: Path, name: str) -> DumpCounts:
    """Import the export at ``path`` (called ``name`` in messages) into ``store``."""
    with path.open(encoding="utf-8") as lines:
        return import_dump(store, lines, name)


def everything(store: DurableStore) -> dict[str, Any]:
    """What a store serves, read through its protocols."""
    events = store.read_all()
    return {
        "events": events,
        "requests": {e.request_id: store.find_request(e.request_id) for e in events},
        "snapshots": store.list_snapshots(),
        "documents": [
            store.get_document(d.document_id) for s in SUPPLIERS for d in store.list_documents(s)
        ],
        "versions": store.list_versions(),
        "files": store.load_version(VERSION),
        "activations": store.activations(),
        "active": store.active_version(),
    }


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_an_export_imports_into_another_kind_of_store_unchanged(
    opened: Callable[[str], DurableStore], tmp_path: Path, source: str, target: str
) -> None:
    """Every event, request, snapshot, document and policy record arrives exactly as kept."""
    original = opened(source)
    fill(original)
    dump = tmp_path / "sqm.jsonl"

    exported = export_store(original, dump, T0)
    copy = opened(target)
    imported = import_file(copy, dump, str(dump))

    assert imported == exported
    assert (exported.events, exported.snapshots, exported.documents) == (
        len(original.read_all()), 3, 1,
    )  # fmt: skip
    assert everything(copy) == everything(original)
    assert copy.verify_chain() == original.verify_chain()
    assert copy.identity() != original.identity()  # old resume tokens are refused, not reread


def test_an_imported_store_carries_on_from_the_last_event(
    opened: Callable[[str], DurableStore], tmp_path: Path
) -> None:
    """After an import, new commands append after the imported head and chain to it."""
    original = opened("sqlite")
    fill(original)
    dump = tmp_path / "sqm.jsonl"
    export_store(original, dump, T0)
    copy = opened("postgresql")
    import_file(copy, dump, str(dump))

    service = SupplierService(copy, FakePolicy)
    at = SIGNED_AT + 3 * DAY
    later = RecordMeasurement("acme", "availability", 99.99, "percent", at - 30 * DAY, at, at)
    result = service.execute(later, RequestContext("later", "noc"))

    assert result.events[0].global_seq == len(original.read_all()) + 1
    assert result.events[0].prev_hash == original.read_all()[-1].hash
    assert copy.verify_chain().intact
    replay = service.execute(later, RequestContext("later", "noc"))
    assert replay.replayed


def _edit(kind: str, field: str, value: Any, which: int = 0) -> Callable[[list[str]], int]:
    """A change to the ``which``-th line of ``kind``; returns that line's number."""

    def edit(lines: list[str]) -> int:
        index = [i for i, line in enumerate(lines) if json.loads(line)["kind"] == kind][which]
        record = json.loads(lines[index])
        record[field] = value
        lines[index] = json.dumps(record) + "\n"
        return index + 1

    return edit


def _drop(kind: str, which: int = 0) -> Callable[[list[str]], int]:
    def drop(lines: list[str]) -> int:
        index = [i for i, line in enumerate(lines) if json.loads(line)["kind"] == kind][which]
        del lines[index]
        return index + 1  # the line that now stands where it was, or one past the end

    return drop


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_edit("event", "payload", {"tampered": True}, which=4), "breaks the hash chain"),
        (_edit("event", "actor", "mallory", which=2), "breaks the hash chain"),
        (_drop("event", which=3), "sequence gap"),
        (_edit("request", "last_seq", 999), "does not match its events"),
        (_edit("snapshot", "version", 999), "its events end at"),
        (_edit("snapshot", "version", 2), "its state is at version 1"),
        (_edit("document", "content", "JVBERi0xLjc="), "corrupted"),
        (_edit("activation", "version", "e" * 64), "not in the file"),
        (_drop("end"), "cut short"),
        (_drop("header"), "does not start with an sqm export header"),
    ],
    ids=[
        "payload-edited",
        "actor-edited",
        "event-removed",
        "request-altered",
        "snapshot-ahead",
        "snapshot-mislabelled",
        "document-altered",
        "unknown-policy",
        "truncated",
        "no-header",
    ],
)
def test_a_damaged_file_is_refused_at_its_line_and_nothing_is_written(
    opened: Callable[[str], DurableStore],
    tmp_path: Path,
    damage: Callable[[list[str]], int],
    problem: str,
) -> None:
    """The first bad line is named; the target stays empty (one transaction)."""
    original = opened("sqlite")
    fill(original)
    dump = tmp_path / "sqm.jsonl"
    export_store(original, dump, T0)
    lines = dump.read_text(encoding="utf-8").splitlines(keepends=True)
    line = damage(lines)
    dump.write_text("".join(lines), encoding="utf-8")
    target = opened("postgresql")

    with pytest.raises(DumpInvalid, match=problem) as raised:
        import_file(target, dump, "sqm.jsonl")

    assert str(raised.value).startswith(f"sqm.jsonl:{line}: ")
    assert target.read_all() == []
    assert target.list_versions() == []
    assert target.list_snapshots() == []


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_target_that_holds_records_is_refused(
    opened: Callable[[str], DurableStore], tmp_path: Path, kind: str
) -> None:
    """Import never merges: a database that holds anything is left alone."""
    original = opened("sqlite")
    fill(original)
    dump = tmp_path / "sqm.jsonl"
    export_store(original, dump, T0)
    target = opened(kind)
    target.save_version(VERSION, "telecom-default", pack_files(), T0)

    with pytest.raises(TargetNotEmpty, match="policy_versions"):
        import_file(target, dump, str(dump))

    assert target.read_all() == []


class _AppendingDuringExport(MemoryEventStore):
    """A store someone writes to while it is exported."""

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[Any]:
        page = super().read_all(after_seq, limit)
        if after_seq == 0:
            fill_one_more(self)
        return page


def fill_one_more(store: MemoryEventStore) -> None:
    """One more supplier, registered by someone else."""
    SupplierService(store, FakePolicy).execute(
        _register("late"), RequestContext("late", "procurement")
    )


def test_an_export_of_a_database_being_written_fails_and_leaves_no_file(tmp_path: Path) -> None:
    """A file must be one consistent moment; appends during the export make it fail."""
    store = _AppendingDuringExport()
    fill(store)
    dump = tmp_path / "sqm.jsonl"

    with pytest.raises(ExportFailed, match="stop the servers"):
        export_store(store, dump, T0)

    assert list(tmp_path.iterdir()) == []
