"""The records of an export file, and the checks each line passes before it is imported.

A line becomes a typed record (:data:`DumpItem`) only after it is checked against what came
before it: the hash chain (``sqm.domain.audit.ChainCheck``, the same code that verifies a live
store), consecutive stream versions, request records matching the events they name,
snapshots at their stream's last version, documents matching their SHA-256, outbox
entries naming an event of the file, each id once, with a delivery state the store keeps
(pending, delivered, undeliverable). The first problem raises :class:`DumpInvalid`;
:mod:`sqm.server.storage.transfer` adds the line number.

Version 2 of the format added the notification outbox (``notification`` lines, and their
count in the closing line); a version 1 file, which has neither, still imports.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from sqm.domain.audit import ChainCheck
from sqm.domain.documents import ArchivedDocument, checked
from sqm.domain.policy_archive import PolicyActivation
from sqm.domain.ports import AppendResult, OutboxEntry, RecordedEvent, StreamSnapshot
from sqm.domain.serialization import parse_time
from sqm.server.storage.errors import StoreUnavailable

FORMAT = "sqm-export"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, FORMAT_VERSION)
"""The versions import reads: 1 had no notification outbox."""
KINDS = (
    "header",
    "policy_version",
    "activation",
    "event",
    "request",
    "snapshot",
    "document",
    "notification",
    "end",
)


@attrs.frozen
class PolicyVersionItem:
    """An archived policy version: its files as kept, when first saved."""

    version: str
    name: str
    files: dict[str, str]
    saved_at: datetime


@attrs.frozen
class RequestItem:
    """An append's idempotency record: request id, fingerprint and where its events landed."""

    request_id: str
    fingerprint: str
    result: AppendResult


@attrs.frozen
class DocumentItem:
    """An archived document and its bytes."""

    document: ArchivedDocument
    content: bytes


@attrs.frozen
class NotificationItem:
    """An outbox entry with its delivery so far, and the stream of the event it comes from.

    A claim's lease (``claimed_until``) is not carried: it belongs to a worker of the
    exported database, and the entry is due in the copy as it was due there.
    """

    entry: OutboxEntry
    stream_id: str


DumpItem = (
    PolicyVersionItem
    | PolicyActivation
    | RecordedEvent
    | RequestItem
    | StreamSnapshot
    | DocumentItem
    | NotificationItem
)


@attrs.frozen
class DumpCounts:
    """How many records of each kind a file holds."""

    policy_versions: int = 0
    activations: int = 0
    events: int = 0
    requests: int = 0
    snapshots: int = 0
    documents: int = 0
    notifications: int = 0


class DumpInvalid(StoreUnavailable):
    """An export file that cannot be imported as it is; nothing was written."""

    def at(self, name: str, line: int) -> DumpInvalid:
        """The same problem, located at ``name``'s ``line``."""
        return DumpInvalid(f"{name}:{line}: {self}; nothing was imported")


@attrs.define
class _Span:
    """Where one request's events lie: its stream, sequences and versions."""

    stream_id: str
    first_seq: int
    last_seq: int
    first_version: int
    last_version: int


@attrs.define
class DumpCheck:
    """What the lines read so far established, to check the next one against."""

    kind_index: int = -1
    chain: ChainCheck = attrs.Factory(ChainCheck)
    versions: set[str] = attrs.Factory(set)
    activation_requests: set[str] = attrs.Factory(set)
    activations: int = 0
    streams: dict[str, int] = attrs.Factory(dict)
    spans: dict[str, _Span] = attrs.Factory(dict)
    requests: set[str] = attrs.Factory(set)
    snapshots: set[str] = attrs.Factory(set)
    document_ids: set[str] = attrs.Factory(set)
    document_requests: set[str] = attrs.Factory(set)
    format_version: int = FORMAT_VERSION
    event_streams: list[str] = attrs.Factory(list)
    """The stream of each event read, by global sequence (the first at index 0)."""
    notification_ids: set[str] = attrs.Factory(set)
    outbox_seqs: set[int] = attrs.Factory(set)

    def enter(self, kind: str) -> None:
        """Accept a line of ``kind`` here, or refuse it out of order."""
        if kind not in KINDS:
            raise DumpInvalid(f"unknown record kind {kind!r}")
        index = KINDS.index(kind)
        if self.kind_index == KINDS.index("end"):
            raise DumpInvalid("a line follows the closing line")
        if self.kind_index < 0 and kind != "header":
            raise DumpInvalid("the file does not start with an sqm export header")
        if index < self.kind_index or (kind == "header" and self.kind_index >= 0):
            raise DumpInvalid(f"a {kind} record is out of order")
        self.kind_index = index

    def counts(self) -> DumpCounts:
        """The records accepted so far."""
        return DumpCounts(
            len(self.versions),
            self.activations,
            self.chain.checked,
            len(self.requests),
            len(self.snapshots),
            len(self.document_ids),
            len(self.notification_ids),
        )

    def finished(self) -> None:
        """Refuse a file that ended before its closing line."""
        if self.kind_index != KINDS.index("end"):
            raise DumpInvalid("the file ends without its closing line: it was cut short")


def parse_item(line: Any, check: DumpCheck) -> DumpItem | None:
    """The record on one line, checked (None for the header and closing lines)."""
    if not isinstance(line, dict):
        raise DumpInvalid("a line must be a JSON object")
    kind = _text(line, "kind")
    check.enter(kind)
    return _PARSERS[kind](line, check)


def _header(line: dict[str, Any], check: DumpCheck) -> None:
    version = line.get("format_version")
    if line.get("format") != FORMAT or type(version) is not int or version not in READABLE_VERSIONS:
        readable = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise DumpInvalid(f"not an {FORMAT} file of version {readable}")
    check.format_version = version


def _end(line: dict[str, Any], check: DumpCheck) -> None:
    expected = attrs.asdict(check.counts())
    if check.format_version < 2:  # counted no notifications (and the file holds none)
        del expected["notifications"]
    if line.get("counts") != expected:
        raise DumpInvalid(
            f"the closing line counts {line.get('counts')}, the file holds {expected}"
        )
    if check.chain.checked and line.get("last_hash") != check.chain.last_hash:
        raise DumpInvalid("the closing line's last_hash is not the last event's hash")
    missing = sorted(set(check.spans) - check.requests)
    if missing:
        raise DumpInvalid(f"events of request {missing[0]!r} have no request record")


def _policy_version(line: dict[str, Any], check: DumpCheck) -> PolicyVersionItem:
    files = _object(line, "files")
    if not files or not all(isinstance(v, str) for v in files.values()):
        raise DumpInvalid("a policy version's files map paths to text")
    item = PolicyVersionItem(
        _text(line, "version"), _text(line, "name"), files, _time(line, "saved_at")
    )
    if item.version in check.versions:
        raise DumpInvalid(f"policy version {item.version!r} appears twice")
    check.versions.add(item.version)
    return item


def _activation(line: dict[str, Any], check: DumpCheck) -> PolicyActivation:
    item = PolicyActivation(
        _int(line, "sequence"),
        _text(line, "version"),
        _text(line, "actor"),
        _text(line, "request_id"),
        _time(line, "activated_at"),
    )
    if item.sequence != check.activations + 1:
        raise DumpInvalid(f"activation {item.sequence} follows {check.activations}")
    if item.version not in check.versions:
        raise DumpInvalid(f"activation of policy version {item.version!r}, not in the file")
    if item.request_id in check.activation_requests:
        raise DumpInvalid(f"activation request id {item.request_id!r} appears twice")
    check.activations += 1
    check.activation_requests.add(item.request_id)
    return item


def _event(line: dict[str, Any], check: DumpCheck) -> RecordedEvent:
    event = RecordedEvent(
        global_seq=_int(line, "global_seq"),
        stream_id=_text(line, "stream_id"),
        version=_int(line, "version"),
        event_type=_text(line, "event_type"),
        payload=_object(line, "payload"),
        occurred_at=_time(line, "occurred_at"),
        recorded_at=_time(line, "recorded_at"),
        actor=_text(line, "actor", empty=True),
        request_id=_text(line, "request_id"),
        policy_version=_text(line, "policy_version", empty=True),
        prev_hash=_text(line, "prev_hash"),
        hash=_text(line, "hash"),
    )
    problem = check.chain.problem(event)
    if problem:
        raise DumpInvalid(f"event {event.global_seq} breaks the hash chain: {problem}")
    expected = check.streams.get(event.stream_id, 0) + 1
    if event.version != expected:
        raise DumpInvalid(f"{event.stream_id!r} version {event.version} should be {expected}")
    check.streams[event.stream_id] = event.version
    check.event_streams.append(sys.intern(event.stream_id))
    _extend_span(check, event)
    return event


def _extend_span(check: DumpCheck, event: RecordedEvent) -> None:
    span = check.spans.get(event.request_id)
    if span is None:
        check.spans[event.request_id] = _Span(
            event.stream_id, event.global_seq, event.global_seq, event.version, event.version
        )
        return
    if span.stream_id != event.stream_id or span.last_seq != event.global_seq - 1:
        raise DumpInvalid(f"events of request {event.request_id!r} are not one append")
    span.last_seq, span.last_version = event.global_seq, event.version


def _request(line: dict[str, Any], check: DumpCheck) -> RequestItem:
    result = AppendResult(
        _text(line, "stream_id"),
        _int(line, "first_version"),
        _int(line, "last_version"),
        _int(line, "first_seq"),
        _int(line, "last_seq"),
    )
    item = RequestItem(_text(line, "request_id"), _text(line, "fingerprint", empty=True), result)
    span = check.spans.get(item.request_id)
    expected = None if span is None else AppendResult(**attrs.asdict(span))
    if result != expected or item.request_id in check.requests:
        raise DumpInvalid(f"request {item.request_id!r} does not match its events")
    check.requests.add(item.request_id)
    return item


def _snapshot(line: dict[str, Any], check: DumpCheck) -> StreamSnapshot:
    item = StreamSnapshot(_text(line, "stream_id"), _int(line, "version"), _object(line, "state"))
    last = check.streams.get(item.stream_id)
    # A snapshot may trail its stream's head (one is written every N versions), never pass
    # it, and the state it holds says the version it was folded to.
    if last is None or not 1 <= item.version <= last or item.stream_id in check.snapshots:
        raise DumpInvalid(
            f"the snapshot of {item.stream_id!r} is at version {item.version},"
            f" its events end at {last}"
        )
    stated = item.state.get("version")
    if stated != item.version:
        raise DumpInvalid(
            f"the snapshot of {item.stream_id!r} is at version {item.version},"
            f" its state is at version {stated}"
        )
    check.snapshots.add(item.stream_id)
    return item


def _document(line: dict[str, Any], check: DumpCheck) -> DocumentItem:
    record = ArchivedDocument(
        document_id=_text(line, "document_id"),
        supplier_id=_text(line, "supplier_id"),
        filename=_text(line, "filename"),
        media_type=_text(line, "media_type"),
        sha256=_text(line, "sha256"),
        size=_int(line, "size"),
        actor=_text(line, "actor", empty=True),
        request_id=_text(line, "request_id"),
        archived_at=_time(line, "archived_at"),
    )
    content = base64.b64decode(_text(line, "content", empty=True), validate=True)
    if record.document_id in check.document_ids or record.request_id in check.document_requests:
        raise DumpInvalid(f"document {record.document_id!r} or its request id appears twice")
    check.document_ids.add(record.document_id)
    check.document_requests.add(record.request_id)
    return DocumentItem(record, checked(record, content))


def _notification(line: dict[str, Any], check: DumpCheck) -> NotificationItem:
    if check.format_version < 2:
        raise DumpInvalid(f"a version {check.format_version} file holds no notifications")
    if "delivered_at" not in line:
        raise DumpInvalid("delivered_at must be an RFC 3339 time with an offset, or null")
    entry = OutboxEntry(
        seq=_int(line, "seq"),
        notification_id=_text(line, "notification_id"),
        kind=_text(line, "notification_kind"),
        recipient=_text(line, "recipient", empty=True),
        supplier_id=_text(line, "supplier_id", empty=True),
        global_seq=_int(line, "global_seq"),
        body=_text(line, "body"),
        attempts=_int(line, "attempts"),
        next_attempt_at=_time(line, "next_attempt_at"),
        delivered_at=None if line.get("delivered_at") is None else _time(line, "delivered_at"),
        undeliverable=_bool(line, "undeliverable"),
        last_error=_text(line, "last_error", empty=True),
    )
    item = NotificationItem(entry, _text(line, "stream_id"))
    if entry.seq < 1 or entry.seq in check.outbox_seqs:
        raise DumpInvalid(f"outbox seq {entry.seq} appears twice or is not positive")
    if entry.notification_id in check.notification_ids:
        raise DumpInvalid(f"notification {entry.notification_id!r} appears twice")
    if not 1 <= entry.global_seq <= len(check.event_streams):
        raise DumpInvalid(
            f"notification {entry.notification_id!r} names event {entry.global_seq},"
            " not in the file"
        )
    event_stream = check.event_streams[entry.global_seq - 1]
    if item.stream_id != event_stream:
        raise DumpInvalid(
            f"notification {entry.notification_id!r} names stream {item.stream_id!r},"
            f" its event {entry.global_seq} is on {event_stream!r}"
        )
    try:
        body = json.loads(entry.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DumpInvalid(f"the body of notification {entry.notification_id!r} is not JSON text")
    check.outbox_seqs.add(entry.seq)
    check.notification_ids.add(entry.notification_id)
    return item


_PARSERS: dict[str, Callable[[dict[str, Any], DumpCheck], DumpItem | None]] = {
    "header": _header,
    "policy_version": _policy_version,
    "activation": _activation,
    "event": _event,
    "request": _request,
    "snapshot": _snapshot,
    "document": _document,
    "notification": _notification,
    "end": _end,
}


def _text(line: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = line.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise DumpInvalid(f"{key} must be a {'' if empty else 'non-empty '}string")
    return value


def _int(line: dict[str, Any], key: str) -> int:
    value = line.get(key)
    if type(value) is not int or value < 0:
        raise DumpInvalid(f"{key} must be a whole number")
    return value


def _bool(line: dict[str, Any], key: str) -> bool:
    value = line.get(key)
    if type(value) is not bool:
        raise DumpInvalid(f"{key} must be true or false")
    return value


def _object(line: dict[str, Any], key: str) -> dict[str, Any]:
    value = line.get(key)
    if not isinstance(value, dict):
        raise DumpInvalid(f"{key} must be a JSON object")
    return value


def _time(line: dict[str, Any], key: str) -> datetime:
    try:
        return parse_time(_text(line, key))
    except ValueError:
        raise DumpInvalid(f"{key} must be an RFC 3339 time with an offset") from None
