"""An event store and policy archive in memory: the fake for unit tests and simulation.

It keeps the SQLite store's semantics exactly (the contract suites in
``tests/integration/test_store_contract.py`` and ``test_policy_archive_contract.py`` hold
both to them); the rules every store shares live in :mod:`sqm.server.storage.records` and
:mod:`sqm.server.storage.policy_records`.
"""

from __future__ import annotations

import bisect
import contextlib
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from sqm.domain.audit import GENESIS_HASH, verify_chain
from sqm.domain.documents import (
    ArchivedDocument,
    ArchiveResult,
    DocumentNotFound,
    NewDocument,
    checked,
)
from sqm.domain.policy_archive import (
    ArchivedVersion,
    PolicyActivation,
    PolicyVersionConflict,
    PolicyVersionNotFound,
)
from sqm.domain.ports import (
    AppendResult,
    ChainVerification,
    CommandMeta,
    OutboxCounts,
    OutboxEntry,
    PendingAppend,
    RecordedEvent,
    StreamSnapshot,
)
from sqm.server.storage.outbox_records import outbox_rows, short_error
from sqm.server.storage.policy_records import (
    check_activation,
    files_from_json,
    files_to_json,
    replay_activation,
    summary,
)
from sqm.server.storage.records import (
    Clock,
    Outcome,
    StoreBase,
    archived,
    check_document,
    check_limit,
    check_pending,
    from_json,
    new_document_id,
    refused_or_kept,
    replay_document,
    seal_pending,
    stored_time,
    to_json,
    utc_now,
)
from sqm.server.storage.signals import AppendSignal


@attrs.frozen
class _Snapshot:
    version: int
    state_json: str


@attrs.define
class _Staged:
    """What the appends of a batch decided so far wrote, before the batch is kept."""

    last: RecordedEvent | None = None
    versions: dict[str, int] = attrs.field(factory=dict)
    requests: dict[str, tuple[str, AppendResult]] = attrs.field(factory=dict)
    written: bool = False

    @property
    def last_seq(self) -> int:
        return 0 if self.last is None else self.last.global_seq

    @property
    def last_hash(self) -> str:
        return GENESIS_HASH if self.last is None else self.last.hash

    def add(self, meta: CommandMeta, result: AppendResult) -> None:
        self.last = result.events[-1]
        self.versions[result.stream_id] = result.last_version
        self.requests[meta.request_id] = (meta.fingerprint, attrs.evolve(result, events=()))
        self.written = True


@attrs.frozen
class _PolicyVersion:
    name: str
    files_json: str
    saved_at: datetime


class MemoryEventStore(StoreBase):
    """The ``EventStore`` and ``PolicyArchive`` protocols in memory, thread-safe behind one
    lock.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._requests: dict[str, tuple[str, AppendResult]] = {}
        self._snapshots: dict[str, _Snapshot] = {}
        self._stream_ids: list[str] = []  # sorted, for list_snapshots pagination
        self._policy_versions: dict[str, _PolicyVersion] = {}  # in the order first saved
        self._activations: list[PolicyActivation] = []
        self._activation_requests: dict[str, PolicyActivation] = {}
        self._documents: dict[str, tuple[ArchivedDocument, bytes]] = {}  # in archive order
        self._document_requests: dict[str, ArchivedDocument] = {}
        # A memory store is a database of its own: resume tokens from any other are refused.
        self._identity = secrets.token_hex(16)
        self._outbox: list[_OutboxRow] = []  # in outbox order: seq n at index n - 1
        self._signal = AppendSignal()

    def append_batch(
        self, appends: Sequence[PendingAppend], *, all_or_none: bool = False
    ) -> list[Outcome]:
        """Append each of ``appends`` in order, all at once (see ``EventStore.append_batch``).

        The whole batch is decided before anything changes, so a refusal raised with
        ``all_or_none`` leaves the store as it was.
        """
        check_pending(appends)
        snapshots = [None if p.snapshot is None else to_json(p.snapshot) for p in appends]
        with self._lock:
            staged = _Staged(self._log[-1] if self._log else None)
            outcomes = []
            for pending in appends:
                sid, request_id = pending.stream_id, pending.meta.request_id
                outcome = refused_or_kept(
                    seal_pending(
                        pending,
                        staged.requests.get(request_id) or self._requests.get(request_id),
                        staged.versions.get(sid, len(self._streams.get(sid, []))),
                        last_seq=staged.last_seq, last_hash=staged.last_hash,
                        recorded_at=self._clock(),
                    ),
                    all_or_none=all_or_none,
                )  # fmt: skip
                if isinstance(outcome, AppendResult) and not outcome.replayed:
                    staged.add(pending.meta, outcome)
                outcomes.append(outcome)
            # Everything that can fail has run: from here on the batch is all-or-nothing.
            for (pending, state_json), outcome in zip(
                zip(appends, snapshots, strict=True), outcomes, strict=True
            ):
                if isinstance(outcome, AppendResult) and not outcome.replayed:
                    self._commit(pending.meta, outcome, state_json)
                    self._outbox.extend(
                        _OutboxRow(len(self._outbox) + offset, *row)
                        for offset, row in enumerate(outbox_rows([(pending, outcome)], _same), 1)
                    )
            last = len(self._log)
        if staged.written:
            self._signal.fire(last)
        return outcomes

    def _commit(self, meta: CommandMeta, result: AppendResult, state_json: str | None) -> None:
        stream_id = result.stream_id
        if stream_id not in self._streams:
            self._streams[stream_id] = []
            bisect.insort(self._stream_ids, stream_id)
        self._streams[stream_id].extend(result.events)
        self._log.extend(result.events)
        self._requests[meta.request_id] = (meta.fingerprint, attrs.evolve(result, events=()))
        if state_json is not None:  # None: a later append of the batch keeps the state
            self._snapshots[stream_id] = _Snapshot(result.last_version, state_json)

    def find_requests(self, request_ids: Sequence[str]) -> dict[str, tuple[str, AppendResult]]:
        """The fingerprint and result recorded for each of ``request_ids`` that is recorded."""
        with self._lock:
            return {rid: self._requests[rid] for rid in request_ids if rid in self._requests}

    def snapshot_version(self, stream_id: str) -> int | None:
        """The version of the stream's snapshot, without reading the state (None: none)."""
        with self._lock:
            found = self._snapshots.get(stream_id)
        return None if found is None else found.version

    def snapshot_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The version of each of ``stream_ids``' snapshots that exists."""
        with self._lock:
            found = {s: self._snapshots.get(s) for s in stream_ids}
        return {s: snapshot.version for s, snapshot in found.items() if snapshot is not None}

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The head version of each of ``stream_ids`` that has events."""
        with self._lock:
            return {s: len(self._streams[s]) for s in stream_ids if self._streams.get(s)}

    def subscribe_appends(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback`` with the new last sequence after each batch that wrote events."""
        return self._signal.subscribe(callback)

    def load_snapshot(self, stream_id: str) -> StreamSnapshot | None:
        """The stream's latest projected state, without reading its events."""
        with self._lock:
            found = self._snapshots.get(stream_id)
        if found is None:
            return None
        return StreamSnapshot(stream_id, found.version, from_json(found.state_json))

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with version > ``after_version``, oldest first."""
        check_limit(limit)
        with self._lock:
            # Versions run 1, 2, 3, ... so version v sits at index v - 1.
            page = self._streams.get(stream_id, [])[max(after_version, 0) :]
        return [_copy(record) for record in page[:limit]]

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events of every stream with global sequence > ``after_seq``, in sequence order."""
        check_limit(limit)
        with self._lock:
            page = self._log[max(after_seq, 0) :]
        return [_copy(record) for record in page[:limit]]

    def list_snapshots(self, after_stream_id: str = "", limit: int = 100) -> list[StreamSnapshot]:
        """Snapshots ordered by stream id (code point order), starting after ``after_stream_id``."""
        check_limit(limit)
        with self._lock:
            start = bisect.bisect_right(self._stream_ids, after_stream_id)
            ids = self._stream_ids[start : start + limit]
            found = [(stream_id, self._snapshots[stream_id]) for stream_id in ids]
        return [
            StreamSnapshot(sid, snap.version, from_json(snap.state_json)) for sid, snap in found
        ]

    def list_stream_ids(self, after_stream_id: str = "", limit: int = 100) -> list[str]:
        """The ids :meth:`list_snapshots` would list, without reading the states."""
        check_limit(limit)
        with self._lock:
            start = bisect.bisect_right(self._stream_ids, after_stream_id)
            return self._stream_ids[start : start + limit]

    def verify_chain(self) -> ChainVerification:
        """Recompute every hash from the first event; report the first broken link."""
        with self._lock:
            log = list(self._log)
        return verify_chain(log)

    def identity(self) -> str:
        """This store's random identity, fixed for its lifetime."""
        return self._identity

    def storage_fault(self) -> Exception | None:
        """Memory never refuses a write."""
        return None

    def integrity_problems(self) -> list[str]:
        """Memory has no files to damage."""
        return []

    def last_sequence(self) -> int:
        """The global sequence of the newest event (0 when the log is empty)."""
        with self._lock:
            return len(self._log)

    @contextlib.contextmanager
    def tick_lock(self) -> Iterator[bool]:
        """Always granted: a memory store has one process."""
        yield True

    # --- archived documents (``sqm.domain.documents.DocumentStore``) ----------------------

    def archive_document(self, document: NewDocument) -> ArchiveResult:
        """Keep ``document`` once, idempotent by request id (see ``DocumentStore``)."""
        check_document(document)
        with self._lock:
            replayed = replay_document(self._document_requests.get(document.request_id), document)
            if replayed is not None:
                return replayed
            record = archived(document, new_document_id(), self._clock())
            self._documents[record.document_id] = (record, bytes(document.content))
            self._document_requests[document.request_id] = record
            return ArchiveResult(record)

    def get_document(self, document_id: str) -> tuple[ArchivedDocument, bytes]:
        """The document and its bytes, checked against the recorded SHA-256."""
        with self._lock:
            found = self._documents.get(document_id)
        if found is None:
            raise DocumentNotFound(document_id)
        record, content = found
        return record, checked(record, content)

    def list_documents(
        self, supplier_id: str, after_document_id: str = "", limit: int = 100
    ) -> list[ArchivedDocument]:
        """The supplier's documents in archive order, after ``after_document_id``."""
        check_limit(limit)
        with self._lock:
            records = [r for r, _ in self._documents.values() if r.supplier_id == supplier_id]
        ids = [r.document_id for r in records]
        start = ids.index(after_document_id) + 1 if after_document_id in ids else 0
        return records[start : start + limit]

    # --- the policy archive ------------------------------------------------------------

    def save_version(
        self, version: str, name: str, files: Mapping[str, str], saved_at: datetime
    ) -> bool:
        """Keep ``files`` as ``version``; False when already kept (see ``PolicyArchive``)."""
        files_json = files_to_json(version, name, files)
        with self._lock:
            known = self._policy_versions.get(version)
            if known is not None:
                if known.files_json != files_json:
                    raise PolicyVersionConflict(version)
                return False
            self._policy_versions[version] = _PolicyVersion(name, files_json, stored_time(saved_at))
            return True

    def record_activation(
        self, version: str, actor: str, request_id: str, activated_at: datetime
    ) -> PolicyActivation:
        """Append an activation to the history (see ``PolicyArchive.record_activation``)."""
        check_activation(version, actor, request_id)
        with self._lock:
            replayed = replay_activation(
                self._activation_requests.get(request_id), version, request_id
            )
            if replayed is not None:
                return replayed
            if version not in self._policy_versions:
                raise PolicyVersionNotFound(version)
            activation = PolicyActivation(
                len(self._activations) + 1, version, actor, request_id, stored_time(activated_at)
            )
            self._activations.append(activation)
            self._activation_requests[request_id] = activation
            return activation

    def active_version(self) -> str | None:
        """The version of the latest activation, if any."""
        with self._lock:
            return self._activations[-1].version if self._activations else None

    def activations(self) -> list[PolicyActivation]:
        """The activation history, oldest first."""
        with self._lock:
            return list(self._activations)

    def list_versions(self) -> list[ArchivedVersion]:
        """Every archived version, in the order first saved."""
        with self._lock:
            activations = list(self._activations)
            versions = list(self._policy_versions.items())
        return [summary(v, kept.name, kept.saved_at, activations) for v, kept in versions]

    def get_version(self, version: str) -> ArchivedVersion:
        """One archived version, with its activation summary."""
        with self._lock:
            kept = self._policy_versions.get(version)
            activations = list(self._activations)
        if kept is None:
            raise PolicyVersionNotFound(version)
        return summary(version, kept.name, kept.saved_at, activations)

    def load_version(self, version: str) -> dict[str, str]:
        """The files of ``version``."""
        with self._lock:
            kept = self._policy_versions.get(version)
        if kept is None:
            raise PolicyVersionNotFound(version)
        return files_from_json(kept.files_json)

    # --- the notification outbox (``sqm.domain.ports.NotificationOutbox``) ----------------

    def claim_notifications(
        self, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxEntry]:
        """Pending notifications due at ``now``, claimed for ``lease_seconds`` (one lock)."""
        check_limit(limit)
        until = now + timedelta(seconds=lease_seconds)
        with self._lock:
            due = [row for row in self._outbox if row.due(now)][:limit]
            for row in due:
                row.claimed_until = until
            return [row.entry() for row in due]

    def mark_delivered(self, notification_id: str, at: datetime) -> None:
        """Record the notification as delivered."""
        with self._lock:
            row = self._row(notification_id)
            if row is not None and row.delivered_at is None:
                row.delivered_at, row.claimed_until = stored_time(at), None
                row.attempts += 1

    def record_failed_attempt(
        self, notification_id: str, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed attempt: due again at ``retry_at``, or undeliverable (None)."""
        with self._lock:
            row = self._row(notification_id)
            if row is None or row.delivered_at is not None:
                return
            row.attempts += 1
            row.last_error, row.claimed_until = short_error(error), None
            if retry_at is None:
                row.undeliverable = True
            else:
                row.next_attempt_at = stored_time(retry_at)

    def list_notifications(
        self, *, undeliverable: bool, after_seq: int = 0, limit: int = 100
    ) -> list[OutboxEntry]:
        """Undeliverable (or still pending) notifications in outbox order after ``after_seq``."""
        check_limit(limit)
        with self._lock:
            found = [
                row.entry()
                for row in self._outbox[max(after_seq, 0) :]
                if row.delivered_at is None and row.undeliverable == undeliverable
            ]
        return found[:limit]

    def retry_notifications(self, notification_ids: Sequence[str], at: datetime) -> int:
        """Make undeliverable notifications pending again (all of them with no ids)."""
        wanted = set(notification_ids)
        with self._lock:
            rows = [
                row
                for row in self._outbox
                if row.undeliverable and (not wanted or row.notification_id in wanted)
            ]
            for row in rows:
                row.undeliverable, row.attempts = False, 0
                row.next_attempt_at, row.claimed_until = stored_time(at), None
        return len(rows)

    def outbox_counts(self) -> OutboxCounts:
        """How many notifications are pending, delivered and undeliverable."""
        with self._lock:
            delivered = sum(row.delivered_at is not None for row in self._outbox)
            undeliverable = sum(row.undeliverable for row in self._outbox)
            return OutboxCounts(
                len(self._outbox) - delivered - undeliverable, delivered, undeliverable
            )

    def event_notifications(self, first_seq: int, last_seq: int) -> list[OutboxEntry]:
        """The notifications of the events ``first_seq`` to ``last_seq``, in outbox order."""
        with self._lock:
            return [row.entry() for row in self._outbox if first_seq <= row.global_seq <= last_seq]

    def _row(self, notification_id: str) -> _OutboxRow | None:
        return next((r for r in self._outbox if r.notification_id == notification_id), None)

    def close(self) -> None:
        """Nothing to release; present so the memory store can stand in for any other."""


@attrs.define
class _OutboxRow:
    """One notification of the outbox and its delivery so far (the SQL stores' row)."""

    seq: int
    notification_id: str
    global_seq: int
    stream_id: str
    supplier_id: str
    kind: str
    recipient: str
    body: str
    attempts: int
    next_attempt_at: datetime
    undeliverable: bool
    last_error: str
    claimed_until: datetime | None = None
    delivered_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        """Pending, due at ``now`` and not claimed by a lease still running."""
        return (
            self.delivered_at is None
            and not self.undeliverable
            and self.next_attempt_at <= now
            and (self.claimed_until is None or self.claimed_until <= now)
        )

    def entry(self) -> OutboxEntry:
        """The row as the port gives it."""
        return OutboxEntry(
            seq=self.seq, notification_id=self.notification_id, kind=self.kind,
            recipient=self.recipient, supplier_id=self.supplier_id, global_seq=self.global_seq,
            body=self.body, attempts=self.attempts, next_attempt_at=self.next_attempt_at,
            delivered_at=self.delivered_at, undeliverable=self.undeliverable,
            last_error=self.last_error,
        )  # fmt: skip


def _same(moment: datetime) -> datetime:
    return moment


def _copy(record: RecordedEvent) -> RecordedEvent:
    # Callers get their own payload, as from a database: mutating it changes nothing stored.
    return attrs.evolve(record, payload=from_json(to_json(record.payload)))
