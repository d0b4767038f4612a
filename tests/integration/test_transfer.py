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
from sqm.domain.ports import OutboxCounts
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
LATER = T0 + 36500 * DAY  # after every notification's first attempt is due (the store's clock)
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


def deliver_some(store: DurableStore | MemoryEventStore) -> None:
    """Put the outbox in every state: delivered, pending after a failed attempt, undeliverable,
    and claimed by a worker that has not answered yet.
    """
    fill_notification(store, "initech:late")
    acme, globex, initech, late = store.claim_notifications(LATER, 60, 10)
    store.mark_delivered(acme.notification_id, LATER)
    store.record_failed_attempt(globex.notification_id, "HTTP 503", LATER + DAY)
    store.record_failed_attempt(initech.notification_id, "HTTP 410 gone", None)
    assert late.notification_id == "initech/15/0"  # still claimed


def fill_notification(store: DurableStore | MemoryEventStore, request_id: str) -> None:
    """One more penalty for initech, so one more notification."""
    at = SIGNED_AT + 4 * DAY
    miss = RecordMeasurement("initech", "availability", 96.0, "percent", at - 30 * DAY, at, at)
    SupplierService(store, FakePolicy).execute(miss, RequestContext(request_id, "noc"))


def outbox(store: DurableStore) -> dict[str, Any]:
    """The outbox as a store lists it, every entry and state."""
    return {
        "all": store.event_notifications(1, store.last_sequence()),
        "pending": store.list_notifications(undeliverable=False),
        "undeliverable": store.list_notifications(undeliverable=True),
        "counts": store.outbox_counts(),
    }


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
        "outbox": outbox(store),
    }


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_an_export_imports_into_another_kind_of_store_unchanged(
    opened: Callable[[str], DurableStore], tmp_path: Path, source: str, target: str
) -> None:
    """Every event, request, snapshot, document and policy record arrives exactly as kept."""
    original = opened(source)
    fill(original)
    deliver_some(original)
    dump = tmp_path / "sqm.jsonl"

    exported = export_store(original, dump, T0)
    copy = opened(target)
    imported = import_file(copy, dump, str(dump))

    assert imported == exported
    assert (exported.events, exported.snapshots, exported.documents) == (
        len(original.read_all()), 3, 1,
    )  # fmt: skip
    assert exported.notifications == 4
    assert original.outbox_counts() == OutboxCounts(pending=2, delivered=1, undeliverable=1)
    assert everything(copy) == everything(original)
    assert copy.verify_chain() == original.verify_chain()
    assert copy.identity() != original.identity()  # old resume tokens are refused, not reread


def test_an_imported_store_carries_on_from_the_last_event(
    opened: Callable[[str], DurableStore], tmp_path: Path
) -> None:
    """After an import, new commands append after the imported head and chain to it."""
    dump, original = exported_sqlite(opened, tmp_path)
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


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_an_imported_outbox_delivers_and_retries_as_the_original_would(
    opened: Callable[[str], DurableStore], tmp_path: Path, source: str, target: str
) -> None:
    """Pending notifications are claimed when due, undeliverable ones are listed and retried,
    and a new notification comes after the imported ones.
    """
    original = opened(source)
    fill(original)
    deliver_some(original)
    dump = tmp_path / "sqm.jsonl"
    export_store(original, dump, T0)
    copy = opened(target)
    import_file(copy, dump, str(dump))
    (failed,) = copy.list_notifications(undeliverable=True)
    pending = copy.list_notifications(undeliverable=False)

    # The one claimed in the old database is due at once (its lease stayed there); the
    # one that failed once is due at its retry time, with its attempt and error kept.
    (late,) = copy.claim_notifications(LATER, 60, 10)
    assert late.notification_id == "initech/15/0"
    copy.mark_delivered(late.notification_id, LATER)
    assert copy.claim_notifications(LATER + DAY, 60, 10) == [pending[0]]
    assert (pending[0].attempts, pending[0].last_error) == (1, "HTTP 503")
    copy.mark_delivered(pending[0].notification_id, LATER + DAY)
    assert copy.list_notifications(undeliverable=False) == []

    assert (failed.notification_id, failed.last_error) == ("initech/11/0", "HTTP 410 gone")
    assert copy.retry_notifications([], LATER + 2 * DAY) == 1
    (retried,) = copy.claim_notifications(LATER + 2 * DAY, 60, 10)
    assert (retried.notification_id, retried.attempts) == (failed.notification_id, 0)

    fill_notification(copy, "initech:later")
    newest = copy.event_notifications(copy.last_sequence(), copy.last_sequence())
    assert [entry.seq for entry in newest] == [failed.seq + 2]
    assert copy.outbox_counts() == OutboxCounts(pending=2, delivered=3, undeliverable=0)


def _old_format(lines: list[str]) -> list[str]:
    """An export as version 1 wrote it: no notification lines, none counted."""
    records = [json.loads(line) for line in lines]
    records = [record for record in records if record["kind"] != "notification"]
    records[0]["format_version"] = 1
    del records[-1]["counts"]["notifications"]
    return [json.dumps(record) + "\n" for record in records]


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_export_of_the_previous_format_imports_without_an_outbox(
    opened: Callable[[str], DurableStore], tmp_path: Path, kind: str
) -> None:
    """A version 1 file (written before exports carried the outbox) imports as it did."""
    original = opened("sqlite")
    fill(original)
    dump = tmp_path / "sqm.jsonl"
    exported = export_store(original, dump, T0)
    lines = dump.read_text(encoding="utf-8").splitlines(keepends=True)
    dump.write_text("".join(_old_format(lines)), encoding="utf-8")
    copy = opened(kind)

    imported = import_file(copy, dump, str(dump))

    assert imported == attrs.evolve(exported, notifications=0)
    assert copy.read_all() == original.read_all()
    assert copy.outbox_counts() == OutboxCounts(0, 0, 0)


def test_a_previous_format_file_with_notifications_is_refused(
    opened: Callable[[str], DurableStore], tmp_path: Path
) -> None:
    """Version 1 had no outbox: a notification line there is a damaged file."""
    dump, _ = exported_sqlite(opened, tmp_path)
    lines = dump.read_text(encoding="utf-8").splitlines(keepends=True)
    header = json.loads(lines[0])
    header["format_version"] = 1
    lines[0] = json.dumps(header) + "\n"
    dump.write_text("".join(lines), encoding="utf-8")
    first = next(i for i, line in enumerate(lines) if '"notification"' in line) + 1

    with pytest.raises(DumpInvalid, match=f"sqm.jsonl:{first}: a version 1 file holds no"):
        import_file(opened("sqlite"), dump, "sqm.jsonl")


def exported_sqlite(
    opened: Callable[[str], DurableStore], tmp_path: Path
) -> tuple[Path, DurableStore]:
    """A filled SQLite store exported to ``tmp_path``/sqm.jsonl: the file and the store."""
    original = opened("sqlite")
    fill(original)
    dump = tmp_path / "sqm.jsonl"
    export_store(original, dump, T0)
    return dump, original


def _edit(kind: str, field: str, value: Any, which: int = 0) -> Callable[[list[str]], int]:
    """A change to the ``which``-th line of ``kind``; returns that line's number."""

    def edit(lines: list[str]) -> int:
        index = [i for i, line in enumerate(lines) if json.loads(line)["kind"] == kind][which]
        record = json.loads(lines[index])
        record[field] = value
        lines[index] = json.dumps(record) + "\n"
        return index + 1

    return edit


def _mislabel_snapshot(lines: list[str]) -> int:
    """The first snapshot's version changed to another of its stream's, its state left."""
    index = next(i for i, line in enumerate(lines) if json.loads(line)["kind"] == "snapshot")
    record = json.loads(lines[index])
    stated = record["state"]["version"]
    record["version"] = stated - 1 if stated > 1 else stated + 1
    lines[index] = json.dumps(record) + "\n"
    return index + 1


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
        (_mislabel_snapshot, "its state is at version"),
        (_edit("document", "content", "JVBERi0xLjc="), "corrupted"),
        (_edit("activation", "version", "e" * 64), "not in the file"),
        (_drop("end"), "cut short"),
        (_drop("header"), "does not start with an sqm export header"),
        (_edit("notification", "global_seq", 999), "names event 999, not in the file"),
        (_edit("notification", "stream_id", "globex"), "its event 11 is on 'acme'"),
        (_edit("notification", "notification_id", "acme/11/0", which=1), "appears twice"),
        (_edit("notification", "seq", 1, which=2), "outbox seq 1 appears twice"),
        (_edit("notification", "undeliverable", "no"), "undeliverable must be true or false"),
        (_edit("notification", "attempts", -1), "attempts must be a whole number"),
        (
            _edit("notification", "next_attempt_at", None),
            "next_attempt_at must be a non-empty string",
        ),
        (_edit("notification", "delivered_at", "yesterday"), "delivered_at must be an RFC"),
        (_edit("notification", "body", "not json"), "is not JSON text"),
        (_drop("notification", which=2), "the closing line counts"),
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
        "notification-of-no-event",
        "notification-on-another-stream",
        "notification-twice",
        "outbox-seq-twice",
        "notification-status-unknown",
        "notification-attempts-negative",
        "notification-due-missing",
        "notification-delivered-garbled",
        "notification-body-garbled",
        "notification-removed",
    ],
)
def test_a_damaged_file_is_refused_at_its_line_and_nothing_is_written(
    opened: Callable[[str], DurableStore],
    tmp_path: Path,
    damage: Callable[[list[str]], int],
    problem: str,
) -> None:
    """The first bad line is named; the target stays empty (one transaction)."""
    dump, _ = exported_sqlite(opened, tmp_path)
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
    assert target.outbox_counts() == OutboxCounts(0, 0, 0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_target_that_holds_records_is_refused(
    opened: Callable[[str], DurableStore], tmp_path: Path, kind: str
) -> None:
    """Import never merges: a database that holds anything is left alone."""
    dump, _ = exported_sqlite(opened, tmp_path)
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
