"""The records of an export file, and the checks each line passes before it is imported.

A line becomes a typed record (:data:`DumpItem`) only after it is checked against what came
before it: the hash chain (``sqm.domain.audit.ChainCheck``, the same code that verifies a live
store), consecutive stream versions, request records matching the events they name,
snapshots at their stream's last version, documents matching their SHA-256. The first
problem raises :class:`DumpInvalid`; :mod:`sqm.server.storage.transfer` adds the line number.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from sqm.domain.audit import ChainCheck
from sqm.domain.documents import ArchivedDocument, checked
from sqm.domain.policy_archive import PolicyActivation
from sqm.domain.ports import AppendResult, RecordedEvent, StreamSnapshot
from sqm.domain.serialization import parse_time
from sqm.server.storage.errors import StoreUnavailable

FORMAT = "sqm-export"
FORMAT_VERSION = 1
KINDS = (
    "header",
    "policy_version",
    "activation",
    "event",
    "request",
    "snapshot",
    "document",
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


DumpItem = (
    PolicyVersionItem
    | PolicyActivation
    | RecordedEvent
    | RequestItem
    | StreamSnapshot
    | DocumentItem
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


def _header(line: dict[str, Any], _: DumpCheck) -> None:
    if line.get("format") != FORMAT or line.get("format_version") != FORMAT_VERSION:
        raise DumpInvalid(f"not an {FORMAT} file of version {FORMAT_VERSION}")


def _end(line: dict[str, Any], check: DumpCheck) -> None:
    expected = attrs.asdict(check.counts())
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


_PARSERS: dict[str, Callable[[dict[str, Any], DumpCheck], DumpItem | None]] = {
    "header": _header,
    "policy_version": _policy_version,
    "activation": _activation,
    "event": _event,
    "request": _request,
    "snapshot": _snapshot,
    "document": _document,
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
