"""Moving a whole store between databases: ``sqm db export`` and ``sqm db import``.

An export is JSON lines, one record a line, in this order: a header, policy versions,
activations, events (by global sequence, every stored field: hashes, actor, request id,
policy version, times), request records, snapshots, documents (content in base64), the
notification outbox (every entry, pending, delivered or undeliverable, with its delivery so
far: attempts, next attempt, last error, delivered time), and a closing line with the
counts and the last hash, so a file cut short is refused.

Export reads any store through its protocols; import checks each line as it reads it
(every hash recomputed and linked, stream versions consecutive, request records and
snapshots matching their events, documents matching their SHA-256, notifications naming an
event of the file, each id once) and the target store writes everything in one
transaction: a file with any problem leaves the target as it was, and the error names the
line. The outbox arrives as it was (its order too): pending notifications are delivered by
the new database's workers, undeliverable ones are listed and retried there. A claim's
lease is not carried (it was a worker's of the old database): a notification claimed there
is simply due in the copy, and delivery stays at least once. The imported database gets
an identity of its own: a resume token issued by the old one is refused there, never
silently reinterpreted.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import attrs

from sqm.domain.documents import DocumentCorrupted, DocumentStore
from sqm.domain.policy_archive import PolicyActivation, PolicyArchive
from sqm.domain.ports import EventStore, NotificationOutbox, RecordedEvent, StreamSnapshot
from sqm.domain.serialization import canonical_json, format_time
from sqm.server.storage.dump import (
    FORMAT,
    FORMAT_VERSION,
    DocumentItem,
    DumpCheck,
    DumpCounts,
    DumpInvalid,
    DumpItem,
    NotificationItem,
    PolicyVersionItem,
    RequestItem,
    parse_item,
)
from sqm.server.storage.errors import StoreUnavailable
from sqm.server.storage.outbox_records import OUTBOX_RESTORE_COLUMNS, outbox_restore_row
from sqm.server.storage.policy_records import ACTIVATION_COLUMNS, activation_row, files_to_json
from sqm.server.storage.records import (
    DOCUMENT_COLUMNS,
    EVENT_COLUMNS,
    REQUEST_COLUMNS,
    TimeColumn,
    document_row,
    event_row,
    request_row,
    to_json,
)

__all__ = [
    "DocumentItem",
    "DumpCounts",
    "DumpInvalid",
    "DumpItem",
    "ExportFailed",
    "NotificationItem",
    "PolicyVersionItem",
    "RequestItem",
    "TargetNotEmpty",
    "export_store",
    "import_dump",
    "read_dump",
    "refuse_non_empty",
    "restore_batches",
]

_PAGE = 500


class ExportFailed(StoreUnavailable):
    """The database changed while it was exported; no file was written."""


class TargetNotEmpty(StoreUnavailable):
    """An import's target already holds records; nothing was written."""


class Exportable(EventStore, PolicyArchive, DocumentStore, NotificationOutbox, Protocol):
    """What export reads: events, snapshots, requests, documents, policy archive, the
    notification outbox, the head.
    """

    def identity(self) -> str:
        """The database's identity."""
        ...

    def last_sequence(self) -> int:
        """The global sequence of the newest event."""
        ...


# --- export ------------------------------------------------------------------------------


def export_store(store: Exportable, path: Path, now: datetime) -> DumpCounts:
    """Write every record of ``store`` to ``path`` (replaced only when the export is whole).

    Raises :class:`ExportFailed` when an event was appended meanwhile: stop the servers (or
    export when nothing writes) so the file is one consistent moment.
    """
    head = store.last_sequence()
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            counts = _write_all(store, out, head, now)
        if store.last_sequence() != head:
            raise ExportFailed(
                "events were appended while exporting; stop the servers and export again"
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return counts


def _write_all(store: Exportable, out: TextIO, head: int, now: datetime) -> DumpCounts:
    def line(kind: str, **fields: Any) -> None:
        out.write(canonical_json({"kind": kind, **fields}).decode("utf-8") + "\n")

    line(
        "header",
        format=FORMAT,
        format_version=FORMAT_VERSION,
        source_identity=store.identity(),
        exported_at=format_time(now),
    )
    versions = _write_policy(store, line)
    event_streams: list[str] = []
    events, requests, streams, last_hash = _write_events(store, line, head, event_streams)
    snapshots = _write_snapshots(store, line, streams)
    documents = _write_documents(store, line, streams)
    notifications = _write_notifications(store, line, event_streams)
    counts = DumpCounts(
        versions[0], versions[1], events, requests, snapshots, documents, notifications
    )
    line("end", counts=attrs.asdict(counts), last_hash=last_hash)
    return counts


Line = Callable[..., None]


def _write_policy(store: Exportable, line: Line) -> tuple[int, int]:
    versions = store.list_versions()
    for kept in versions:
        files = store.load_version(kept.version)
        line(
            "policy_version",
            version=kept.version,
            name=kept.name,
            files=files,
            saved_at=format_time(kept.saved_at),
        )
    activations = store.activations()
    for activation in activations:
        line("activation", **_fields(activation, ACTIVATION_COLUMNS))
    return len(versions), len(activations)


def _write_events(
    store: Exportable, line: Line, head: int, event_streams: list[str]
) -> tuple[int, int, dict[str, int], str]:
    """Write the events up to ``head``; ``event_streams`` gets each one's stream, in order."""
    request_ids: dict[str, None] = {}  # in first-seen order
    streams: dict[str, int] = {}
    count, last_hash, after = 0, "", 0
    while after < head and (page := store.read_all(after, _PAGE)):
        for event in page:
            if event.global_seq > head:
                break
            line("event", **_fields(event, EVENT_COLUMNS))
            request_ids.setdefault(event.request_id)
            streams[event.stream_id] = event.version
            event_streams.append(sys.intern(event.stream_id))
            count, last_hash = count + 1, event.hash
        after = page[-1].global_seq
    for request_id in request_ids:
        found = store.find_request(request_id)
        if found is None:
            raise ExportFailed(f"request {request_id!r} has events but no request record")
        fingerprint, result = found
        fields = _fields(result, REQUEST_COLUMNS.removeprefix("fingerprint, "))
        line("request", request_id=request_id, fingerprint=fingerprint, **fields)
    return count, len(request_ids), streams, last_hash


def _write_snapshots(store: Exportable, line: Line, streams: dict[str, int]) -> int:
    count, after = 0, ""
    while page := store.list_snapshots(after, _PAGE):
        for snapshot in page:
            if snapshot.version > streams.get(snapshot.stream_id, 0):
                raise ExportFailed(
                    f"supplier {snapshot.stream_id!r} changed while exporting;"
                    " stop the servers and export again"
                )
            line(
                "snapshot",
                stream_id=snapshot.stream_id,
                version=snapshot.version,
                state=snapshot.state,
            )
            count += 1
        after = page[-1].stream_id
    return count


def _write_documents(store: Exportable, line: Line, streams: dict[str, int]) -> int:
    count = 0
    for supplier_id in sorted(streams):
        after = ""
        while page := store.list_documents(supplier_id, after, _PAGE):
            for record in page:
                _, content = store.get_document(record.document_id)  # checked on read
                encoded = base64.b64encode(content).decode("ascii")
                line("document", **_fields(record, DOCUMENT_COLUMNS), content=encoded)
                count += 1
            after = page[-1].document_id
    return count


def _write_notifications(store: Exportable, line: Line, event_streams: list[str]) -> int:
    """Every outbox entry of the exported events (``event_streams``, by global sequence), in
    outbox order: read a page of events' worth at a time.
    """
    count = 0
    for first in range(1, len(event_streams) + 1, _PAGE):
        last = min(first + _PAGE - 1, len(event_streams))
        for entry in store.event_notifications(first, last):
            fields = _fields(entry, NOTIFICATION_COLUMNS)
            line(
                "notification",
                **fields,
                notification_kind=entry.kind,
                stream_id=event_streams[entry.global_seq - 1],
            )
            count += 1
    return count


NOTIFICATION_COLUMNS = (
    "seq, notification_id, global_seq, supplier_id, recipient, body, attempts,"
    " next_attempt_at, delivered_at, undeliverable, last_error"
)
"""The fields of an outbox entry a ``notification`` line carries besides its kind
(``notification_kind``: ``kind`` names the line's) and its event's stream."""


def _fields(record: Any, columns: str) -> dict[str, Any]:
    """The ``columns`` (a column list of the SQL stores) of ``record`` as an export line
    carries them, in that order: instants as text.
    """
    values = {name.strip(): getattr(record, name.strip()) for name in columns.split(",")}
    return {name: format_time(v) if isinstance(v, datetime) else v for name, v in values.items()}


# --- import ------------------------------------------------------------------------------


class Restorable(Protocol):
    """A store that loads an export into itself, empty, in one transaction."""

    def restore(self, items: Iterable[DumpItem]) -> None:
        """Write every item, or (on any error, the items' own included) nothing."""
        ...


def import_dump(store: Restorable, lines: Iterable[str], name: str) -> DumpCounts:
    """Load the export in ``lines`` (read from ``name``) into ``store``: all or nothing.

    Raises :class:`DumpInvalid` (naming the line) or :class:`TargetNotEmpty`.
    """
    check = DumpCheck()
    store.restore(read_dump(lines, name, check))
    return check.counts()


def read_dump(
    lines: Iterable[str], name: str, check: DumpCheck | None = None
) -> Iterator[DumpItem]:
    """The records of an export, each checked before it is yielded.

    Raises :class:`DumpInvalid` naming ``name`` and the line at the first problem; a store
    restoring these items in one transaction then writes nothing.
    """
    check = check or DumpCheck()
    number = 0
    for number, text in enumerate(lines, start=1):
        try:
            item = parse_item(json.loads(text), check)
        except DumpInvalid as error:
            raise error.at(name, number) from None
        except (ValueError, TypeError, KeyError, binascii.Error) as error:
            raise DumpInvalid(str(error) or type(error).__name__).at(name, number) from None
        except DocumentCorrupted as error:
            raise DumpInvalid(str(error)).at(name, number) from None
        if item is not None:
            yield item
    try:
        check.finished()
    except DumpInvalid as error:
        raise error.at(name, number + 1) from None


# --- restoring into a SQL store ---------------------------------------------------------

RESTORE_TABLES = {
    "policy_versions": "version, name, files, saved_at",
    "policy_activations": ACTIVATION_COLUMNS,
    "events": EVENT_COLUMNS,
    "requests": f"request_id, {REQUEST_COLUMNS}",
    "snapshots": "stream_id, version, state",
    "documents": f"{DOCUMENT_COLUMNS}, content",
    "outbox": OUTBOX_RESTORE_COLUMNS,
}


def refuse_non_empty(exists: Callable[[str], bool], where: str) -> None:
    """Raise :class:`TargetNotEmpty` unless every table an import fills is empty."""
    found = [table for table in RESTORE_TABLES if exists(table)]
    if found:
        raise TargetNotEmpty(
            f"{where} already holds {', '.join(found)}; import only into an empty database"
        )


def restore_batches(
    items: Iterable[DumpItem], time: TimeColumn, size: int = _PAGE
) -> Iterator[tuple[str, str, list[tuple[Any, ...]]]]:
    """``(table, columns, rows)`` batches to insert, in the file's order."""
    rows = (_restore_row(item, time) for item in items)
    for table, same_table in itertools.groupby(rows, key=lambda pair: pair[0]):
        values = (row for _, row in same_table)
        while batch := list(itertools.islice(values, size)):
            yield table, RESTORE_TABLES[table], batch


def _restore_row(item: DumpItem, time: TimeColumn) -> tuple[str, tuple[Any, ...]]:
    row: tuple[Any, ...]
    match item:
        case RecordedEvent():
            table, row = "events", event_row(item, time)
        case RequestItem():
            table, row = "requests", request_row(item.request_id, item.fingerprint, item.result)
        case StreamSnapshot():
            table, row = "snapshots", (item.stream_id, item.version, to_json(item.state))
        case DocumentItem():
            table, row = "documents", (*document_row(item.document, time), item.content)
        case PolicyVersionItem():
            files = files_to_json(item.version, item.name, item.files)
            table, row = "policy_versions", (item.version, item.name, files, time(item.saved_at))
        case PolicyActivation():
            table, row = "policy_activations", activation_row(item, time)
        case NotificationItem():
            table, row = "outbox", outbox_restore_row(item.entry, item.stream_id, time)
        case _:  # pragma: no cover
            raise TypeError(f"not a record of an export: {item!r}")
    return table, row
