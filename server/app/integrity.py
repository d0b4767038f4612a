"""Everything on the record checked against what it is derived from, and against checkpoints.

The hash chain says the log agrees with itself. This audit goes further, in one pass over
the log (memory in proportion to the requests, not the events) and one over each stream:

- **checkpoints** signed outside the database (:mod:`sqm.server.security.checkpoints`): the
  event at each checkpointed sequence exists and carries the checkpointed hash, so a
  truncated log or a recomputed chain shows;
- **requests**: every request an event names has its idempotency record, with a
  fingerprint, covering exactly that request's events (a deleted record would let the
  request id be reused with other content);
- **snapshots**: each stream's events folded again equal its snapshot, field by field;
- **policy versions**: each archived version's files hash to the version (its content hash);
- **the database itself**, when the source can say (SQLite's ``PRAGMA integrity_check``).

Each problem is a :class:`Finding` naming where it is. A read that fails (a damaged page)
is a finding too, never an exception: the audit exists for a record that may be broken.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import attrs

from sqm.domain.audit import ChainCheck
from sqm.domain.evolve import apply
from sqm.domain.needs import fold_need, is_need_stream
from sqm.domain.policy_changes import fold_policy_changes, is_policy_stream
from sqm.domain.ports import AppendResult, RecordedEvent, StreamSnapshot
from sqm.domain.serialization import (
    canonical_json,
    event_from_payload,
    need_event_from_payload,
    need_to_dict,
    policy_change_from_payload,
    policy_changes_to_dict,
    state_to_dict,
)
from sqm.rules.loader import content_version
from sqm.server.app.documents import DocumentRecords
from sqm.server.security.checkpoints import Checkpoint, CheckpointError

log = logging.getLogger("sqm.integrity")
PAGE = 1000
_IDS_PER_LOOKUP = 500
_SHOWN_FIELDS = 5


class _Versioned(Protocol):
    @property
    def version(self) -> str: ...


class AuditSource(Protocol):
    """What the audit reads: a live store, or an export read back (``sqm audit verify``)."""

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events in global order after ``after_seq``."""
        ...

    def find_requests(self, request_ids: Sequence[str]) -> dict[str, tuple[str, AppendResult]]:
        """The idempotency records of those of ``request_ids`` that have one."""
        ...

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """One stream's events after ``after_version``, oldest first."""
        ...

    def list_snapshots(self, after_stream_id: str = "", limit: int = 100) -> list[StreamSnapshot]:
        """Snapshots in stream id order."""
        ...

    def list_versions(self) -> Sequence[_Versioned]:
        """The archived policy versions."""
        ...

    def load_version(self, version: str) -> dict[str, str]:
        """The files of one archived version, as kept."""
        ...


@attrs.frozen
class Finding:
    """One problem, where it is: ``sequence`` is the event's global sequence (0: none)."""

    place: str
    problem: str
    sequence: int = 0

    def __str__(self) -> str:
        return f"{self.place}: {self.problem}"


@attrs.frozen
class AuditReport:
    """How much was checked, and every problem found (none: the record verifies)."""

    events_checked: int
    findings: tuple[Finding, ...]

    @property
    def intact(self) -> bool:
        """True when nothing was found."""
        return not self.findings


@attrs.define
class _Span:
    stream_id: str
    first_seq: int
    last_seq: int
    first_version: int
    last_version: int


@attrs.define
class _Pass:
    """What one pass over the log gathers."""

    chain: ChainCheck = attrs.Factory(ChainCheck)
    spans: dict[str, _Span] = attrs.Factory(dict)
    streams: set[str] = attrs.Factory(set)
    hashes: dict[int, str] = attrs.Factory(dict)
    last_seq: int = 0
    findings: list[Finding] = attrs.Factory(list)


def audit(
    source: AuditSource,
    checkpoints: Sequence[Checkpoint] = (),
    database_problems: Callable[[], list[str]] | None = None,
) -> AuditReport:
    """Check ``source`` against itself and ``checkpoints``; every problem becomes a finding."""
    findings: list[Finding] = []
    if database_problems is not None:
        findings.extend(_guarded("database", lambda: _database(database_problems)))
    wanted = {checkpoint.sequence for checkpoint in checkpoints}
    state = _Pass()
    findings.extend(_guarded("events", lambda: _read_log(source, wanted, state)))
    findings.extend(state.findings)
    findings.extend(_checkpoints(checkpoints, state))
    findings.extend(_guarded("requests", lambda: _requests(source, state)))
    findings.extend(_guarded("snapshots", lambda: _snapshots(source, state)))
    findings.extend(_guarded("policy versions", lambda: _policies(source)))
    return AuditReport(state.chain.checked, tuple(findings))


def _guarded(place: str, check: Callable[[], Iterator[Finding] | list[Finding]]) -> list[Finding]:
    # A damaged record can make any read fail, with whatever the driver raises; the
    # audit reports it as found, so the broad except is the point.
    try:
        return list(check())
    except Exception as error:
        log.warning("audit: %s could not be read: %s", place, error)
        return [Finding(place, f"could not be read: {type(error).__name__}: {error}")]


def _database(problems: Callable[[], list[str]]) -> list[Finding]:
    return [Finding("database file", f"damaged: {problem}") for problem in problems()]


def _read_log(source: AuditSource, wanted: set[int], state: _Pass) -> list[Finding]:
    after, broken = 0, False
    while page := source.read_all(after, PAGE):
        for event in page:
            after = state.last_seq = event.global_seq
            if event.global_seq in wanted:
                state.hashes[event.global_seq] = event.hash
            if not broken:
                problem = state.chain.problem(event)
                if problem:
                    broken = True
                    place = f"event {event.global_seq}"
                    state.findings.append(Finding(place, problem, event.global_seq))
            _extend_span(state, event)
            state.streams.add(event.stream_id)
    return []


def _extend_span(state: _Pass, event: RecordedEvent) -> None:
    span = state.spans.get(event.request_id)
    if span is None:
        state.spans[event.request_id] = _Span(
            event.stream_id, event.global_seq, event.global_seq, event.version, event.version
        )
    else:
        span.last_seq, span.last_version = event.global_seq, event.version


def _folded(source: AuditSource, stream: str, version: int) -> tuple[Any, Finding | None]:
    """The stream's state from its events up to ``version``, one page at a time, or the
    event the domain cannot apply.
    """
    state: Any = None
    after = 0
    while after < version and (page := source.read_stream(stream, after, PAGE)):
        for event in page:
            if event.version > version:
                return state, None
            try:
                if is_need_stream(stream):
                    payload = need_event_from_payload(event.event_type, event.payload)
                    state = fold_need([payload], state)
                elif is_policy_stream(stream):
                    change = policy_change_from_payload(event.event_type, event.payload)
                    state = fold_policy_changes([change], state)
                else:
                    state = apply(state, event_from_payload(event.event_type, event.payload))
            except Exception as error:  # a payload the domain cannot read: reported, not raised
                place = f"event {event.global_seq} ({stream!r} version {event.version})"
                return None, Finding(place, f"cannot be applied: {error}", event.global_seq)
        after = page[-1].version
    return state, None


def _checkpoints(checkpoints: Sequence[Checkpoint], state: _Pass) -> Iterator[Finding]:
    for checkpoint in checkpoints:
        place = f"checkpoint at sequence {checkpoint.sequence} (signed {checkpoint.signed_at})"
        found = state.hashes.get(checkpoint.sequence)
        if found is None:
            yield Finding(
                place,
                f"the log ends at sequence {state.last_seq}: events after it were removed",
                state.last_seq + 1,
            )
        elif found != checkpoint.hash:
            yield Finding(
                place,
                f"event {checkpoint.sequence} has hash {found}, the checkpoint signed"
                f" {checkpoint.hash}: the log was rewritten at or before it",
                checkpoint.sequence,
            )


def _requests(source: AuditSource, state: _Pass) -> Iterator[Finding]:
    ids = list(state.spans)
    for start in range(0, len(ids), _IDS_PER_LOOKUP):
        chunk = ids[start : start + _IDS_PER_LOOKUP]
        found = source.find_requests(chunk)
        for request_id in chunk:
            span = state.spans[request_id]
            place = f"request {request_id!r} (events {span.first_seq}..{span.last_seq})"
            record = found.get(request_id)
            if record is None:
                yield Finding(place, "has events but no idempotency record", span.first_seq)
                continue
            fingerprint, result = record
            expected = AppendResult(**attrs.asdict(span))
            if not fingerprint:
                yield Finding(place, "its idempotency record has no fingerprint", span.first_seq)
            elif result != expected:
                yield Finding(
                    place, f"its idempotency record says {result}, not its events", span.first_seq
                )


def _snapshots(source: AuditSource, state: _Pass) -> Iterator[Finding]:
    """Each snapshot against its stream folded again: one stream in memory at a time."""
    after = ""
    seen: set[str] = set()
    while page := source.list_snapshots(after, PAGE):
        for snapshot in page:
            seen.add(snapshot.stream_id)
            yield from _snapshot(source, snapshot)
        after = page[-1].stream_id
    for stream in sorted(state.streams - seen):
        yield Finding(_stream_place(stream), "has events but no snapshot")


def _snapshot(source: AuditSource, snapshot: StreamSnapshot) -> Iterator[Finding]:
    stream = snapshot.stream_id
    place = _stream_place(stream)
    folded, unreadable = _folded(source, stream, snapshot.version)
    if unreadable is not None:
        yield unreadable
        return
    if folded is None:
        yield Finding(place, "has a snapshot but no events")
        return
    events_version = _version_of(folded)
    if events_version is not None and events_version != snapshot.version:
        yield Finding(place, f"snapshot at version {snapshot.version}, events at {events_version}")
    expected = _plain(_state_dict(stream, folded))
    differences = list(_differences(expected, _plain(snapshot.state), ""))
    if differences:
        shown = "; ".join(differences[:_SHOWN_FIELDS])
        more = len(differences) - _SHOWN_FIELDS
        suffix = f" (and {more} more)" if more > 0 else ""
        yield Finding(place, f"snapshot differs from its events: {shown}{suffix}")


def _state_dict(stream: str, folded: Any) -> dict[str, Any]:
    if is_need_stream(stream):
        return need_to_dict(folded)
    if is_policy_stream(stream):
        return policy_changes_to_dict(folded)
    return state_to_dict(folded)


def _stream_place(stream: str) -> str:
    if is_policy_stream(stream):
        return f"policy changes {stream!r}"
    return f"need {stream!r}" if is_need_stream(stream) else f"supplier {stream!r}"


def _version_of(state: Any) -> int | None:
    version = getattr(state, "version", None)
    return version if isinstance(version, int) else None


def _plain(data: Mapping[str, Any]) -> Any:
    return json.loads(canonical_json(data))


def _differences(expected: Any, found: Any, path: str) -> Iterator[str]:
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in sorted(set(expected) | set(found)):
            yield from _differences(expected.get(key), found.get(key), f"{path}.{key}".lstrip("."))
    elif isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        for index, (left, right) in enumerate(zip(expected, found, strict=True)):
            yield from _differences(left, right, f"{path}[{index}]")
    elif expected != found:
        yield f"{path or 'state'} is {_short(found)}, the events give {_short(expected)}"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _policies(source: AuditSource) -> Iterator[Finding]:
    for kept in source.list_versions():
        files = source.load_version(kept.version)
        actual = content_version({name: text.encode("utf-8") for name, text in files.items()})
        if actual != kept.version:
            yield Finding(
                f"policy version {kept.version}",
                f"its archived files hash to {actual}: they were altered",
            )


@attrs.frozen
class RecordVerdict:
    """The audit of a live record, its documents included."""

    report: AuditReport
    documents_checked: int

    @property
    def first_sequence(self) -> int:
        """The earliest event a finding names (0: none does)."""
        return min((f.sequence for f in self.report.findings if f.sequence), default=0)


def verify_record(
    source: AuditSource,
    documents: DocumentRecords,
    checkpoints: Callable[[], Sequence[Checkpoint]] | None = None,
    database_problems: Callable[[], list[str]] | None = None,
) -> RecordVerdict:
    """:func:`audit` the store, then check every archived document against its event."""
    found: list[Finding] = []
    signed: Sequence[Checkpoint] = ()
    if checkpoints is not None:
        try:
            signed = checkpoints()
        except CheckpointError as error:
            found.append(Finding("checkpoint file", str(error)))
    report = audit(source, signed, database_problems)
    found.extend(report.findings)
    checked = 0
    try:
        checked, broken = documents.check_documents()
    except Exception as error:  # as in ``_guarded``: a damaged record is reported, not raised
        found.append(Finding("documents", f"could not be read: {type(error).__name__}: {error}"))
    else:
        if broken is not None:
            found.append(Finding(f"event {broken[0]}", broken[1], broken[0]))
    return RecordVerdict(AuditReport(report.events_checked, tuple(found)), checked)
