"""What every event store shares: how new events are numbered, stamped and hash-chained,
how a repeated request id is answered, how JSON is kept, and how rows are laid out.

The memory, SQLite and PostgreSQL stores import these so the contract suite holds them to
one behaviour by construction, not by copy.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

import attrs
import orjson

from sqm.domain.audit import event_hash_of_json, verify_chain
from sqm.domain.documents import (
    MAX_DOCUMENT_BYTES,
    ArchivedDocument,
    ArchiveResult,
    NewDocument,
    same_request,
)
from sqm.domain.errors import ConcurrencyConflict, RequestIdReused
from sqm.domain.ports import (
    AppendResult,
    ChainVerification,
    CommandMeta,
    NewEvent,
    PendingAppend,
    RecordedEvent,
    StreamSnapshot,
)
from sqm.domain.serialization import canonical_json, format_time, parse_time

Clock = Callable[[], datetime]
PageReader = Callable[[int], Sequence[Sequence[Any]]]
"""Rows of :data:`EVENT_COLUMNS` after a global sequence, in order, a page at a time."""
Outcome = AppendResult | ConcurrencyConflict | RequestIdReused
"""What ``append_batch`` answers for one append: where it landed, or why it was refused."""
TimeColumn = Callable[[datetime], Any]
"""How a database keeps an instant: text for SQLite (``format_time``), itself for PostgreSQL."""

# Column lists shared by the SQL stores; the row helpers below follow the same order.
EVENT_COLUMNS = (
    "global_seq, stream_id, version, event_type, payload, occurred_at, recorded_at,"
    " actor, request_id, policy_version, prev_hash, hash"
)
REQUEST_COLUMNS = "fingerprint, stream_id, first_version, last_version, first_seq, last_seq"
DOCUMENT_COLUMNS = (
    "document_id, supplier_id, filename, media_type, sha256, size, actor, request_id, archived_at"
)


def utc_now() -> datetime:
    """The wall clock in UTC. Stores are adapters and may read it; the domain may not."""
    return datetime.now(UTC)


def to_json(data: Mapping[str, Any]) -> str:
    """Canonical JSON text: what a store keeps for payloads and snapshots."""
    return canonical_json(data).decode("utf-8")


def snapshot_json(data: Mapping[str, Any]) -> str:
    """A snapshot's JSON text: the same bytes as :func:`to_json` for what a snapshot holds,
    about nine times faster (a snapshot holds hundreds of records and is rewritten by every
    command). Snapshots are not hashed; events are, and always go through ``to_json``.
    """
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def from_json(text: str) -> dict[str, Any]:
    """A JSON object read back from storage (a fresh copy every time)."""
    data = orjson.loads(text)  # the values json.loads gives, about twice as fast
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    return data


def check_append(stream_id: str, events: Sequence[NewEvent]) -> None:
    """Refuse an append that no store could record meaningfully."""
    if not stream_id:
        raise ValueError("stream_id must not be empty")
    if not events:
        raise ValueError("an append needs at least one event")


def check_limit(limit: int | None) -> None:
    """Refuse a negative page size (``None`` means no limit)."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be zero or more, not {limit}")


def stored_time(moment: datetime) -> datetime:
    """The instant as it reads back from storage: UTC, microseconds (naive times refused)."""
    return parse_time(format_time(moment))


def seal_events(
    stream_id: str,
    expected_version: int,
    events: Sequence[NewEvent],
    meta: CommandMeta,
    *,
    last_seq: int,
    last_hash: str,
    recorded_at: datetime,
) -> list[RecordedEvent]:
    """Number, stamp and hash-chain ``events`` after the log's last event.

    Payloads and times are normalised to exactly what storage gives back (a JSON round
    trip, UTC), so the hash computed here is the hash a later verification recomputes.
    Each payload is encoded to canonical JSON once: that text is hashed (spliced into the
    record's canonical JSON, the same bytes :func:`~sqm.domain.audit.recompute_hash` hashes)
    and kept on the record for the row (``payload_json``).
    """
    stamp = stored_time(recorded_at)
    records: list[RecordedEvent] = []
    prev_hash = last_hash
    for offset, new in enumerate(events, start=1):
        payload_json = to_json(new.payload)
        global_seq, version = last_seq + offset, expected_version + offset
        occurred_at = stored_time(new.occurred_at)
        digest = event_hash_of_json(
            prev_hash=prev_hash, global_seq=global_seq, stream_id=stream_id, version=version,
            event_type=new.event_type, payload_json=payload_json, occurred_at=occurred_at,
            recorded_at=stamp, actor=meta.actor, request_id=meta.request_id,
            policy_version=meta.policy_version,
        )  # fmt: skip
        records.append(
            RecordedEvent(
                global_seq=global_seq,
                stream_id=stream_id,
                version=version,
                event_type=new.event_type,
                payload=from_json(payload_json),
                occurred_at=occurred_at,
                recorded_at=stamp,
                actor=meta.actor,
                request_id=meta.request_id,
                policy_version=meta.policy_version,
                prev_hash=prev_hash,
                hash=digest,
                payload_json=payload_json,
            )
        )
        prev_hash = digest
    return records


def result_of(records: Sequence[RecordedEvent]) -> AppendResult:
    """Where a freshly sealed batch of events lands."""
    first, last = records[0], records[-1]
    return AppendResult(
        stream_id=first.stream_id,
        first_version=first.version,
        last_version=last.version,
        first_seq=first.global_seq,
        last_seq=last.global_seq,
        events=tuple(records),
    )


def replay_or_refuse(
    recorded: tuple[str, AppendResult] | None, stream_id: str, meta: CommandMeta
) -> AppendResult | None:
    """The replayed result if ``meta``'s request was already recorded, else None.

    A request id seen with another fingerprint, or for another stream, names a different
    request: answering it with the first result would hide a client bug, so it is refused.
    """
    if recorded is None:
        return None
    fingerprint, result = recorded
    if fingerprint != meta.fingerprint or result.stream_id != stream_id:
        raise RequestIdReused(meta.request_id)
    return attrs.evolve(result, replayed=True, events=())


def check_pending(appends: Sequence[PendingAppend]) -> None:
    """Refuse a batch with a malformed append before anything of it is written."""
    for pending in appends:
        check_append(pending.stream_id, pending.events)


def seal_pending(
    pending: PendingAppend,
    recorded: tuple[str, AppendResult] | None,
    actual_version: int,
    *,
    last_seq: int,
    last_hash: str,
    recorded_at: datetime,
) -> Outcome:
    """One append of a batch decided against the log as the batch has left it so far.

    ``recorded`` is what the append's request id already holds and ``actual_version`` the
    stream's version; a refusal is returned, not raised, so a batch can go on.
    """
    stream_id, meta = pending.stream_id, pending.meta
    try:
        replayed = replay_or_refuse(recorded, stream_id, meta)
    except RequestIdReused as error:
        return error
    if replayed is not None:
        return replayed
    if actual_version != pending.expected_version:
        return ConcurrencyConflict(stream_id, pending.expected_version, actual_version)
    records = seal_events(
        stream_id, pending.expected_version, pending.events, meta,
        last_seq=last_seq, last_hash=last_hash, recorded_at=recorded_at,
    )  # fmt: skip
    return result_of(records)


def refused_or_kept(outcome: Outcome, *, all_or_none: bool) -> Outcome:
    """``outcome``, unless it is a refusal an all-or-none batch must raise."""
    if all_or_none and isinstance(outcome, Exception):
        raise outcome
    return outcome


class StoreBase:
    """What every store builds on its own ``append_batch`` and ``close``: ``append`` and the
    ``with`` block.
    """

    def append_batch(
        self, appends: Sequence[PendingAppend], *, all_or_none: bool = False
    ) -> list[Outcome]:
        """Each store appends its own way (see ``EventStore.append_batch``)."""
        raise NotImplementedError  # pragma: no cover

    def close(self) -> None:
        """Each store closes its own way."""
        raise NotImplementedError  # pragma: no cover

    def find_requests(self, request_ids: Sequence[str]) -> dict[str, tuple[str, AppendResult]]:
        """Each store looks requests up its own way (see ``EventStore.find_requests``)."""
        raise NotImplementedError  # pragma: no cover

    def find_request(self, request_id: str) -> tuple[str, AppendResult] | None:
        """The fingerprint and result recorded for ``request_id``, if any."""
        return self.find_requests([request_id]).get(request_id)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        meta: CommandMeta,
        snapshot: Mapping[str, Any],
    ) -> AppendResult:
        """One append, as a batch of one with ``all_or_none`` (see ``EventStore.append``)."""
        pending = PendingAppend(stream_id, expected_version, events, meta, snapshot)
        (outcome,) = self.append_batch([pending], all_or_none=True)
        if not isinstance(outcome, AppendResult):  # pragma: no cover - all_or_none raised it
            raise outcome
        return outcome


class SqlReads:
    """Reads the SQLite and PostgreSQL stores run alike but for how a query runs: each
    store's :meth:`_rows` (the queries use ``?`` placeholders).
    """

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        raise NotImplementedError  # pragma: no cover - each store runs its own queries

    def _limit(self, limit: int | None) -> int | None:
        """``limit`` as the store's LIMIT takes it (None: no limit)."""
        return limit

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with version > ``after_version``, oldest first."""
        check_limit(limit)
        rows = self._rows(
            f"SELECT {EVENT_COLUMNS} FROM events"  # noqa: S608 - column names are constants
            " WHERE stream_id = ? AND version > ? ORDER BY version LIMIT ?",
            (stream_id, after_version, self._limit(limit)),
        )
        return [event_from_row(row) for row in rows]

    def snapshot_version(self, stream_id: str) -> int | None:
        """The version of the stream's snapshot, without reading the state (None: none)."""
        rows = self._rows("SELECT version FROM snapshots WHERE stream_id = ?", (stream_id,))
        return int(rows[0][0]) if rows else None

    def load_snapshot(self, stream_id: str) -> StreamSnapshot | None:
        """The stream's latest projected state, from the snapshots table alone."""
        rows = self._rows("SELECT version, state FROM snapshots WHERE stream_id = ?", (stream_id,))
        if not rows:
            return None
        return StreamSnapshot(stream_id, int(rows[0][0]), from_json(rows[0][1]))

    def list_snapshots(self, after_stream_id: str = "", limit: int = 100) -> list[StreamSnapshot]:
        """Snapshots ordered by stream id (code point order), after ``after_stream_id``."""
        check_limit(limit)
        rows = self._rows(
            "SELECT stream_id, version, state FROM snapshots WHERE stream_id > ?"
            " ORDER BY stream_id LIMIT ?",
            (after_stream_id, limit),
        )
        return [StreamSnapshot(row[0], int(row[1]), from_json(row[2])) for row in rows]

    def list_stream_ids(self, after_stream_id: str = "", limit: int = 100) -> list[str]:
        """The ids :meth:`list_snapshots` would list, without reading the states."""
        check_limit(limit)
        rows = self._rows(
            "SELECT stream_id FROM snapshots WHERE stream_id > ? ORDER BY stream_id LIMIT ?",
            (after_stream_id, limit),
        )
        return [str(row[0]) for row in rows]


# --- archived documents ------------------------------------------------------------------


def new_document_id() -> str:
    """A fresh, opaque document id."""
    return uuid.uuid4().hex


def check_document(document: NewDocument) -> None:
    """Refuse a document no store could keep meaningfully."""
    if not document.supplier_id:
        raise ValueError("supplier_id must not be empty")
    if not document.filename or not document.media_type:
        raise ValueError("a document needs a filename and a media type")
    if not document.request_id:
        raise ValueError("request_id must not be empty")
    if len(document.content) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"a document holds at most {MAX_DOCUMENT_BYTES} bytes")


def replay_document(kept: ArchivedDocument | None, new: NewDocument) -> ArchiveResult | None:
    """The first result if ``new``'s request id was already kept, else None.

    The same request id asking for another document is refused, as for events.
    """
    if kept is None:
        return None
    if not same_request(kept, new):
        raise RequestIdReused(new.request_id)
    return ArchiveResult(kept, replayed=True)


def archived(document: NewDocument, document_id: str, archived_at: datetime) -> ArchivedDocument:
    """The archive's record of ``document``, stamped as storage gives it back."""
    return ArchivedDocument(
        document_id=document_id,
        supplier_id=document.supplier_id,
        filename=document.filename,
        media_type=document.media_type,
        sha256=document.sha256,
        size=len(document.content),
        actor=document.actor,
        request_id=document.request_id,
        archived_at=stored_time(archived_at),
    )


# --- rows of the SQL stores ------------------------------------------------------------


def stored_instant(value: str | datetime) -> datetime:
    """An instant read back from a database (RFC 3339 text or an aware datetime), in UTC."""
    if isinstance(value, str):
        return parse_time(value)
    if value.tzinfo is None:
        raise ValueError(f"stored time {value!r} has no UTC offset")
    return value.astimezone(UTC)


def event_row(record: RecordedEvent, time: TimeColumn) -> tuple[Any, ...]:
    """``record`` as the values of :data:`EVENT_COLUMNS` (payload as canonical JSON text)."""
    return (
        record.global_seq,
        record.stream_id,
        record.version,
        record.event_type,
        record.payload_json if record.payload_json is not None else to_json(record.payload),
        time(record.occurred_at),
        time(record.recorded_at),
        record.actor,
        record.request_id,
        record.policy_version,
        record.prev_hash,
        record.hash,
    )


def event_from_row(row: Sequence[Any]) -> RecordedEvent:
    """The event in a row of :data:`EVENT_COLUMNS`."""
    return RecordedEvent(
        global_seq=int(row[0]),
        stream_id=row[1],
        version=int(row[2]),
        event_type=row[3],
        payload=from_json(row[4]),
        occurred_at=stored_instant(row[5]),
        recorded_at=stored_instant(row[6]),
        actor=row[7],
        request_id=row[8],
        policy_version=row[9],
        prev_hash=row[10],
        hash=row[11],
    )


def request_row(request_id: str, fingerprint: str, result: AppendResult) -> tuple[Any, ...]:
    """A request record as the values of ``request_id`` then :data:`REQUEST_COLUMNS`."""
    return (
        request_id,
        fingerprint,
        result.stream_id,
        result.first_version,
        result.last_version,
        result.first_seq,
        result.last_seq,
    )


def request_from_row(row: Sequence[Any]) -> tuple[str, AppendResult]:
    """The fingerprint and result in a row of :data:`REQUEST_COLUMNS`."""
    return str(row[0]), AppendResult(row[1], int(row[2]), int(row[3]), int(row[4]), int(row[5]))


def document_row(record: ArchivedDocument, time: TimeColumn) -> tuple[Any, ...]:
    """``record`` as the values of :data:`DOCUMENT_COLUMNS`."""
    return (
        record.document_id,
        record.supplier_id,
        record.filename,
        record.media_type,
        record.sha256,
        record.size,
        record.actor,
        record.request_id,
        time(record.archived_at),
    )


def document_from_row(row: Sequence[Any]) -> ArchivedDocument:
    """The document record in a row of :data:`DOCUMENT_COLUMNS`."""
    return ArchivedDocument(
        document_id=row[0],
        supplier_id=row[1],
        filename=row[2],
        media_type=row[3],
        sha256=row[4],
        size=int(row[5]),
        actor=row[6],
        request_id=row[7],
        archived_at=stored_instant(row[8]),
    )


def verify_rows(read_page: PageReader, end: int) -> ChainVerification:
    """Recompute the chain over stored rows up to global sequence ``end``.

    Rows are read a page at a time (``read_page(after_seq)``), so appends go on meanwhile;
    a row too damaged to decode is reported as the broken link rather than raised.
    """
    damaged: list[tuple[int, str]] = []
    verdict = verify_chain(_decoded_rows(read_page, end, damaged))
    if verdict.intact and damaged:
        seq, problem = damaged[0]
        return ChainVerification(verdict.events_checked, seq, problem)
    return verdict


def _decoded_rows(
    read_page: PageReader, end: int, damaged: list[tuple[int, str]]
) -> Iterator[RecordedEvent]:
    after = 0
    while after < end:
        rows = read_page(after)
        if not rows:
            return
        for row in rows:
            if int(row[0]) > end:
                return
            try:
                yield event_from_row(row)
            except (ValueError, TypeError, AttributeError) as error:
                damaged.append((int(row[0]), f"stored event cannot be decoded: {error}"))
                return
        after = int(rows[-1][0])


# --- names in SQL text ----------------------------------------------------------------------
# Values always travel as parameters. Table and column names cannot be parameters, so where a
# statement is built for several tables the names pass through these checks first: only the
# plain lower-case names the stores define get into SQL text.

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PLACEHOLDERS = frozenset({"?", "%s"})


def identifier(name: str) -> str:
    """``name`` for SQL text, if it is a plain lower-case identifier; else ``ValueError``."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a table or column name: {name!r}")
    return name


def identifiers(names: str) -> str:
    """A comma-separated list of identifiers, each checked by :func:`identifier`."""
    return ", ".join(identifier(name.strip()) for name in names.split(","))


def placeholders(count: int, mark: str) -> str:
    """``count`` parameter marks (``?`` for SQLite, ``%s`` for PostgreSQL), comma-separated."""
    if mark not in _PLACEHOLDERS or count < 1:
        raise ValueError(f"cannot make {count} placeholders of {mark!r}")
    return ", ".join([mark] * count)
