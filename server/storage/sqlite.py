"""The embedded event store: one SQLite file in WAL mode, durable before it answers.

Events and request records are append-only (triggers refuse UPDATE and DELETE), every
event is hash-chained to the one before it in global order, and one append is one
``BEGIN IMMEDIATE`` transaction: events, request record and snapshot land together or not
at all. The schema is versioned with ``PRAGMA user_version``; later versions add steps to
``MIGRATIONS``. The same file holds the policy archive (``domain.policy_archive``): policy
versions and the append-only history of activations.

Tools that only read (``sqm policy explain``, ``sqm policy versions``) open the file with
``read_only=True``: no migration, no write, the file is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from domain.audit import GENESIS_HASH
from domain.documents import (
    ArchivedDocument,
    ArchiveResult,
    DocumentNotFound,
    NewDocument,
    checked,
)
from domain.policy_archive import (
    ArchivedVersion,
    PolicyActivation,
    PolicyVersionConflict,
    PolicyVersionNotFound,
)
from domain.ports import (
    AppendResult,
    ChainVerification,
    CommandMeta,
    NewEvent,
    PendingAppend,
    RecordedEvent,
    StreamSnapshot,
)
from domain.serialization import format_time, parse_time
from server.storage.errors import StoreUnavailable, UnsupportedSchemaVersion
from server.storage.policy_records import (
    ACTIVATION_COLUMNS,
    activation_from_row,
    activation_row,
    check_activation,
    files_from_json,
    files_to_json,
    replay_activation,
    stored_time,
    summary,
)
from server.storage.records import (
    DOCUMENT_COLUMNS,
    EVENT_COLUMNS,
    REQUEST_COLUMNS,
    Clock,
    Outcome,
    archived,
    check_document,
    check_limit,
    check_pending,
    document_from_row,
    document_row,
    event_from_row,
    event_row,
    from_json,
    identifier,
    identifiers,
    new_document_id,
    only_result,
    placeholders,
    refused_or_kept,
    replay_document,
    request_from_row,
    request_row,
    seal_pending,
    single,
    snapshot_json,
    utc_now,
    verify_rows,
)
from server.storage.signals import AppendSignal
from server.storage.transfer import DumpItem, refuse_non_empty, restore_batches

_APPEND_ONLY = "SELECT RAISE(ABORT, '{table} is append-only: rows are never changed or deleted')"

# One entry per schema version: entry N (1-based) takes a file from version N - 1 to N.
# Never edit a released entry; add a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            global_seq INTEGER PRIMARY KEY CHECK (global_seq >= 1),
            stream_id TEXT NOT NULL CHECK (stream_id <> ''),
            version INTEGER NOT NULL CHECK (version >= 1),
            event_type TEXT NOT NULL,
            payload TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            actor TEXT NOT NULL,
            request_id TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            UNIQUE (stream_id, version)
        )""",
        """CREATE TABLE requests (
            request_id TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            first_version INTEGER NOT NULL,
            last_version INTEGER NOT NULL,
            first_seq INTEGER NOT NULL REFERENCES events (global_seq),
            last_seq INTEGER NOT NULL REFERENCES events (global_seq)
        )""",
        """CREATE TABLE snapshots (
            stream_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            state TEXT NOT NULL
        )""",
        *(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN {_APPEND_ONLY.format(table=table)}; END"
            for table in ("events", "requests")
            for verb in ("UPDATE", "DELETE")
        ),
    ),
    # 2: the policy archive. A version's files are kept once, by content hash; activations
    # are an append-only history whose latest row is the active version.
    (
        """CREATE TABLE policy_versions (
            version TEXT PRIMARY KEY CHECK (version <> ''),
            name TEXT NOT NULL CHECK (name <> ''),
            files TEXT NOT NULL,
            saved_at TEXT NOT NULL
        )""",
        """CREATE TABLE policy_activations (
            sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),
            version TEXT NOT NULL REFERENCES policy_versions (version),
            actor TEXT NOT NULL,
            request_id TEXT NOT NULL UNIQUE,
            activated_at TEXT NOT NULL
        )""",
        *(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN {_APPEND_ONLY.format(table=table)}; END"
            for table in ("policy_versions", "policy_activations")
            for verb in ("UPDATE", "DELETE")
        ),
    ),
    # 3: the store's identity (resume tokens name the database they came from) and the
    # archive of documents, kept with the SHA-256 of their bytes.
    (
        """CREATE TABLE store_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        "INSERT INTO store_meta (key, value) VALUES ('identity', lower(hex(randomblob(16))))",
        """CREATE TABLE documents (
            seq INTEGER PRIMARY KEY CHECK (seq >= 1),
            document_id TEXT NOT NULL UNIQUE CHECK (document_id <> ''),
            supplier_id TEXT NOT NULL CHECK (supplier_id <> ''),
            filename TEXT NOT NULL CHECK (filename <> ''),
            media_type TEXT NOT NULL CHECK (media_type <> ''),
            content BLOB NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL CHECK (size >= 0),
            actor TEXT NOT NULL,
            request_id TEXT NOT NULL UNIQUE CHECK (request_id <> ''),
            archived_at TEXT NOT NULL
        )""",
        "CREATE INDEX documents_by_supplier ON documents (supplier_id, seq)",
        *(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN {_APPEND_ONLY.format(table=table)}; END"
            for table in ("store_meta", "documents")
            for verb in ("UPDATE", "DELETE")
        ),
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

__all__ = ["SCHEMA_VERSION", "NotAnSqmDatabase", "SqliteEventStore", "UnsupportedSchemaVersion"]

_VERIFY_PAGE = 1000
_IDS_PER_QUERY = 500  # well under SQLite's limit on bound parameters
_ARCHIVE_SCHEMA = 2  # the schema version that added the policy archive


class NotAnSqmDatabase(StoreUnavailable):
    """A file opened read-only holds no SQM schema (it was never served, or is not ours)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is not an SQM database (no schema version recorded)")


class SqliteEventStore:
    """The ``EventStore`` and ``PolicyArchive`` protocols over one SQLite file.

    One connection, shared by threads behind a lock; other processes or stores on the
    same file are serialised by SQLite's write lock (``BEGIN IMMEDIATE``, waiting up to
    ``busy_timeout_ms``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        clock: Clock = utc_now,
        busy_timeout_ms: int = 5000,
        *,
        read_only: bool = False,
    ) -> None:
        self._path = os.fspath(path)
        self._clock = clock
        # Re-entrant: appends inside ``transaction()`` take it again on the same thread.
        self._lock = threading.RLock()
        self._unsignalled: int | None = None  # the head a commit is about to make known
        self._signal = AppendSignal(self._appended_elsewhere)
        # isolation_level=None: the module opens no transactions of its own; we BEGIN them.
        self._conn = sqlite3.connect(
            Path(self._path).resolve().as_uri() + "?mode=ro" if read_only else self._path,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
            uri=read_only,
        )
        try:
            if read_only:
                self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                self._schema = self._check_readable()
            else:
                self._configure(busy_timeout_ms)
                self._migrate()
                self._schema = SCHEMA_VERSION
        except BaseException:
            self._conn.close()
            raise
        self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]

    def __enter__(self) -> SqliteEventStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _configure(self, busy_timeout_ms: int) -> None:
        (mode,) = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise sqlite3.OperationalError(f"{self._path}: WAL mode unavailable (got {mode!r})")
        # FULL: a commit reaches the disk before append() returns, so an answer is durable.
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")

    def _migrate(self) -> None:
        # Read the version inside the write transaction, so two processes opening a new
        # file at once do not both create the tables.
        with self._write_transaction():
            (found,) = self._conn.execute("PRAGMA user_version").fetchone()
            if found > SCHEMA_VERSION:
                raise UnsupportedSchemaVersion(self._path, found, SCHEMA_VERSION)
            for statements in MIGRATIONS[found:]:
                for statement in statements:
                    self._conn.execute(statement)
            if found < SCHEMA_VERSION:
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    def _check_readable(self) -> int:
        (found,) = self._conn.execute("PRAGMA user_version").fetchone()
        if found > SCHEMA_VERSION:
            raise UnsupportedSchemaVersion(self._path, found, SCHEMA_VERSION)
        if found < 1:
            raise NotAnSqmDatabase(self._path)
        return int(found)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around several appends: they are durable together or not at all.

        A process killed inside the block leaves none of its appends behind. Each append
        inside keeps its own checks and is a savepoint: one that fails (a conflict) is undone
        alone, and the block may go on. Other threads wait until the block ends.
        """
        with self._lock, self._write_transaction():
            yield

    @contextlib.contextmanager
    def _write_transaction(self) -> Iterator[None]:
        nested = self._conn.in_transaction  # inside transaction(): the caller holds the lock
        self._conn.execute("SAVEPOINT nested" if nested else "BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("RELEASE nested" if nested else "COMMIT")
        except BaseException:
            if not nested:
                self._unsignalled = None
            # An I/O error may have rolled the whole transaction back already.
            if nested and self._conn.in_transaction:
                self._conn.execute("ROLLBACK TO nested")
                self._conn.execute("RELEASE nested")
            elif not nested and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        if not nested and self._unsignalled is not None:
            last, self._unsignalled = self._unsignalled, None
            self._signal.fire(last)

    def subscribe_appends(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback`` with the new last sequence after this store's commits, and
        (polled) after those of other processes sharing the file.
        """
        return self._signal.subscribe(callback)

    def _appended_elsewhere(self) -> int | None:
        # ``data_version`` changes when another connection to the file has committed.
        with self._lock:
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            if version == self._data_version:
                return None
            self._data_version = version
            return self._head()[0]

    def durability(self) -> dict[str, Any]:
        """The connection's durability settings, for health checks and tests."""
        with self._lock:
            return {
                name: self._conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        meta: CommandMeta,
        snapshot: Mapping[str, Any],
    ) -> AppendResult:
        """One append, as a batch of one with ``all_or_none`` (see ``EventStore.append``)."""
        pending = single(stream_id, expected_version, events, meta, snapshot)
        return only_result(self.append_batch(pending, all_or_none=True))

    def append_batch(
        self, appends: Sequence[PendingAppend], *, all_or_none: bool = False
    ) -> list[Outcome]:
        """Append several requests in one ``BEGIN IMMEDIATE`` transaction: one commit, one
        fsync for all (group commit). Each is checked against the log as the earlier appends
        of the batch left it; a refused one is returned in its place and writes nothing.
        With ``all_or_none``, a refusal is raised instead and nothing of the batch is written.
        """
        check_pending(appends)
        snapshots = [None if p.snapshot is None else snapshot_json(p.snapshot) for p in appends]
        with self._lock, self._write_transaction():
            return [
                refused_or_kept(self._append_one(pending, state_json), all_or_none=all_or_none)
                for pending, state_json in zip(appends, snapshots, strict=True)
            ]

    def _append_one(self, pending: PendingAppend, state_json: str | None) -> Outcome:
        # The caller holds the lock and the write transaction.
        last_seq, last_hash = self._head()
        outcome = seal_pending(
            pending,
            self._find_request(pending.meta.request_id),
            self._stream_version(pending.stream_id),
            last_seq=last_seq, last_hash=last_hash, recorded_at=self._clock(),
        )  # fmt: skip
        if isinstance(outcome, AppendResult) and not outcome.replayed:
            self._insert(outcome.events, pending.meta, outcome, state_json)
        return outcome

    def _stream_version(self, stream_id: str) -> int:
        row = self._conn.execute(
            "SELECT MAX(version) FROM events WHERE stream_id = ?", (stream_id,)
        ).fetchone()
        return int(row[0] or 0)

    def _head(self) -> tuple[int, str]:
        row = self._conn.execute(
            "SELECT global_seq, hash FROM events ORDER BY global_seq DESC LIMIT 1"
        ).fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def _insert(
        self,
        records: Sequence[RecordedEvent],
        meta: CommandMeta,
        result: AppendResult,
        state_json: str | None,
    ) -> None:
        self._conn.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - column names are constants
            [event_row(record, format_time) for record in records],
        )
        self._conn.execute(
            f"INSERT INTO requests (request_id, {REQUEST_COLUMNS})"  # noqa: S608 - constant columns
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            request_row(meta.request_id, meta.fingerprint, result),
        )
        self._unsignalled = result.last_seq
        if state_json is None:  # a later append of the same batch writes the snapshot
            return
        self._conn.execute(
            "INSERT INTO snapshots (stream_id, version, state) VALUES (?, ?, ?)"
            " ON CONFLICT (stream_id) DO UPDATE"
            " SET version = excluded.version, state = excluded.state",
            (result.stream_id, result.last_version, state_json),
        )

    def find_request(self, request_id: str) -> tuple[str, AppendResult] | None:
        """The fingerprint and result recorded for ``request_id``, if any."""
        with self._lock:
            return self._find_request(request_id)

    def find_requests(self, request_ids: Sequence[str]) -> dict[str, tuple[str, AppendResult]]:
        """The fingerprint and result recorded for each of ``request_ids`` that is recorded,
        in one query per few hundred ids (a batch checks all of its requests at once).
        """
        found: dict[str, tuple[str, AppendResult]] = {}
        unique = list(dict.fromkeys(request_ids))
        with self._lock:
            for start in range(0, len(unique), _IDS_PER_QUERY):
                chunk = unique[start : start + _IDS_PER_QUERY]
                rows = self._conn.execute(
                    f"SELECT request_id, {REQUEST_COLUMNS} FROM requests"  # noqa: S608 - constant
                    f" WHERE request_id IN ({placeholders(len(chunk), '?')})",
                    chunk,
                ).fetchall()
                found.update((row[0], request_from_row(row[1:])) for row in rows)
        return found

    def _find_request(self, request_id: str) -> tuple[str, AppendResult] | None:
        row = self._conn.execute(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE request_id = ?",  # noqa: S608 - constant
            (request_id,),
        ).fetchone()
        return None if row is None else request_from_row(row)

    def snapshot_version(self, stream_id: str) -> int | None:
        """The version of the stream's snapshot, without reading the state (None: none)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version FROM snapshots WHERE stream_id = ?", (stream_id,)
            ).fetchone()
        return None if row is None else int(row[0])

    def load_snapshot(self, stream_id: str) -> StreamSnapshot | None:
        """The stream's latest projected state, from the snapshots table alone."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version, state FROM snapshots WHERE stream_id = ?", (stream_id,)
            ).fetchone()
        return None if row is None else StreamSnapshot(stream_id, row[0], from_json(row[1]))

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with version > ``after_version``, oldest first."""
        check_limit(limit)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events"  # noqa: S608 - column names are constants
                " WHERE stream_id = ? AND version > ? ORDER BY version LIMIT ?",
                (stream_id, after_version, _sql_limit(limit)),
            ).fetchall()
        return [event_from_row(row) for row in rows]

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events of every stream with global sequence > ``after_seq``, in sequence order."""
        return [event_from_row(row) for row in self._read_rows(after_seq, limit)]

    def _read_rows(
        self, after_seq: int, limit: int | None, up_to_seq: int | None = None
    ) -> list[tuple[Any, ...]]:
        check_limit(limit)
        with self._lock:
            return self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events"  # noqa: S608 - column names are constants
                " WHERE global_seq > ? AND (? IS NULL OR global_seq <= ?)"
                " ORDER BY global_seq LIMIT ?",
                (after_seq, up_to_seq, up_to_seq, _sql_limit(limit)),
            ).fetchall()

    def list_snapshots(self, after_stream_id: str = "", limit: int = 100) -> list[StreamSnapshot]:
        """Snapshots ordered by stream id (code point order), after ``after_stream_id``."""
        check_limit(limit)
        with self._lock:
            rows = self._conn.execute(
                "SELECT stream_id, version, state FROM snapshots WHERE stream_id > ?"
                " ORDER BY stream_id LIMIT ?",
                (after_stream_id, limit),
            ).fetchall()
        return [StreamSnapshot(row[0], row[1], from_json(row[2])) for row in rows]

    def verify_chain(self) -> ChainVerification:
        """Recompute every hash from the first event; report the first broken link.

        Pages are read under the lock one at a time, so appends go on meanwhile; the check
        stops at the head as it was when verification started.
        """
        with self._lock:
            end = self._head()[0]
        return verify_rows(lambda after: self._read_rows(after, _VERIFY_PAGE, up_to_seq=end), end)

    def backup(self, target_path: str | os.PathLike[str]) -> None:
        """Copy the whole database to ``target_path`` with SQLite's online backup API."""
        target = sqlite3.connect(os.fspath(target_path))
        try:
            # Under the lock, so the copy is one consistent moment between appends.
            with self._lock:
                self._conn.backup(target)
        finally:
            target.close()

    def identity(self) -> str:
        """The database's random identity, made once when the file was created (or upgraded).

        An empty string for a file opened read-only from before identities were kept.
        """
        with self._lock:
            try:
                row = self._conn.execute(
                    "SELECT value FROM store_meta WHERE key = 'identity'"
                ).fetchone()
            except sqlite3.OperationalError:  # no such table: an older file, read-only
                return ""
        return "" if row is None else str(row[0])

    def last_sequence(self) -> int:
        """The global sequence of the newest event (0 when the log is empty)."""
        with self._lock:
            return self._head()[0]

    @contextlib.contextmanager
    def tick_lock(self) -> Iterator[bool]:
        """Always granted: the scheduler's ticks need no turn-taking on one file (a second
        process on it is serialised by the write lock, and its duplicates by request ids).
        """
        yield True

    def restore(self, items: Iterable[DumpItem]) -> None:
        """Load an export into this empty database in one transaction (all or nothing)."""
        with self._lock, self._write_transaction():
            refuse_non_empty(self._has_rows, self._path)
            for table, columns, rows in restore_batches(items, format_time):
                self._conn.executemany(
                    f"INSERT INTO {identifier(table)} ({identifiers(columns)})"  # noqa: S608
                    f" VALUES ({placeholders(len(rows[0]), '?')})",  # checked names, no values
                    rows,
                )

    def _has_rows(self, table: str) -> bool:
        # The caller holds the lock; ``table`` is one of the store's own table names.
        row = self._conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()  # noqa: S608
        return bool(row[0])

    # --- archived documents (``domain.documents.DocumentStore``) ----------------------

    def archive_document(self, document: NewDocument) -> ArchiveResult:
        """Keep ``document`` once, idempotent by request id (see ``DocumentStore``)."""
        check_document(document)
        with self._lock, self._write_transaction():
            kept = self._document_by_request(document.request_id)
            replayed = replay_document(kept, document)
            if replayed is not None:
                return replayed
            record = archived(document, new_document_id(), self._clock())
            self._conn.execute(
                f"INSERT INTO documents ({DOCUMENT_COLUMNS}, content)"  # noqa: S608 - constants
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*document_row(record, format_time), sqlite3.Binary(document.content)),
            )
            return ArchiveResult(record)

    def get_document(self, document_id: str) -> tuple[ArchivedDocument, bytes]:
        """The document and its bytes, checked against the recorded SHA-256."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {DOCUMENT_COLUMNS}, content FROM documents"  # noqa: S608 - constants
                " WHERE document_id = ?",
                (document_id,),
            ).fetchone()
        if row is None:
            raise DocumentNotFound(document_id)
        record = document_from_row(row)
        return record, checked(record, bytes(row[-1]))

    def list_documents(
        self, supplier_id: str, after_document_id: str = "", limit: int = 100
    ) -> list[ArchivedDocument]:
        """The supplier's documents in archive order, after ``after_document_id``."""
        check_limit(limit)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {DOCUMENT_COLUMNS} FROM documents"  # noqa: S608 - constant columns
                " WHERE supplier_id = ? AND seq > COALESCE("
                "(SELECT seq FROM documents WHERE document_id = ?), 0)"
                " ORDER BY seq LIMIT ?",
                (supplier_id, after_document_id, limit),
            ).fetchall()
        return [document_from_row(row) for row in rows]

    def _document_by_request(self, request_id: str) -> ArchivedDocument | None:
        row = self._conn.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE request_id = ?",  # noqa: S608 - constant columns
            (request_id,),
        ).fetchone()
        return None if row is None else document_from_row(row)

    # --- the policy archive ------------------------------------------------------------

    def save_version(
        self, version: str, name: str, files: Mapping[str, str], saved_at: datetime
    ) -> bool:
        """Keep ``files`` as ``version``; False when already kept (see ``PolicyArchive``)."""
        files_json = files_to_json(version, name, files)
        with self._lock, self._write_transaction():
            row = self._conn.execute(
                "SELECT files FROM policy_versions WHERE version = ?", (version,)
            ).fetchone()
            if row is not None:
                if row[0] != files_json:
                    raise PolicyVersionConflict(version)
                return False
            self._conn.execute(
                "INSERT INTO policy_versions (version, name, files, saved_at) VALUES (?, ?, ?, ?)",
                (version, name, files_json, format_time(saved_at)),
            )
            return True

    def record_activation(
        self, version: str, actor: str, request_id: str, activated_at: datetime
    ) -> PolicyActivation:
        """Append an activation to the history (see ``PolicyArchive.record_activation``)."""
        check_activation(version, actor, request_id)
        with self._lock, self._write_transaction():
            row = self._conn.execute(
                f"SELECT {ACTIVATION_COLUMNS} FROM policy_activations"  # noqa: S608 - constant columns
                " WHERE request_id = ?",
                (request_id,),
            ).fetchone()
            replayed = replay_activation(
                None if row is None else activation_from_row(row), version, request_id
            )
            if replayed is not None:
                return replayed
            if not self._version_row(version):
                raise PolicyVersionNotFound(version)
            (last,) = self._conn.execute(
                "SELECT COALESCE(MAX(sequence), 0) FROM policy_activations"
            ).fetchone()
            activation = PolicyActivation(
                int(last) + 1, version, actor, request_id, stored_time(activated_at)
            )
            self._conn.execute(
                f"INSERT INTO policy_activations ({ACTIVATION_COLUMNS})"  # noqa: S608 - constant columns
                " VALUES (?, ?, ?, ?, ?)",
                activation_row(activation, format_time),
            )
            return activation

    def active_version(self) -> str | None:
        """The version of the latest activation, if any."""
        if not self._has_archive():
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT version FROM policy_activations ORDER BY sequence DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])

    def activations(self) -> list[PolicyActivation]:
        """The activation history, oldest first."""
        if not self._has_archive():
            return []
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {ACTIVATION_COLUMNS} FROM policy_activations"  # noqa: S608 - constant columns
                " ORDER BY sequence"
            ).fetchall()
        return [activation_from_row(row) for row in rows]

    def list_versions(self) -> list[ArchivedVersion]:
        """Every archived version, in the order first saved."""
        if not self._has_archive():
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT version, name, saved_at FROM policy_versions ORDER BY rowid"
            ).fetchall()
        activations = self.activations()
        return [summary(row[0], row[1], parse_time(row[2]), activations) for row in rows]

    def get_version(self, version: str) -> ArchivedVersion:
        """One archived version, with its activation summary."""
        with self._lock:
            row = self._version_row(version)
        if row is None:
            raise PolicyVersionNotFound(version)
        return summary(version, row[0], parse_time(row[2]), self.activations())

    def load_version(self, version: str) -> dict[str, str]:
        """The files of ``version``."""
        with self._lock:
            row = self._version_row(version)
        if row is None:
            raise PolicyVersionNotFound(version)
        return files_from_json(row[1])

    def _version_row(self, version: str) -> tuple[Any, ...] | None:
        # The caller holds the lock.
        if not self._has_archive():
            return None
        row = self._conn.execute(
            "SELECT name, files, saved_at FROM policy_versions WHERE version = ?", (version,)
        ).fetchone()
        return None if row is None else tuple(row)

    def _has_archive(self) -> bool:
        # A file opened read-only may predate the archive; it simply has no versions.
        return self._schema >= _ARCHIVE_SCHEMA

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._signal.close()
        with self._lock:
            self._conn.close()


def _sql_limit(limit: int | None) -> int:
    # SQLite reads a negative LIMIT as "no limit".
    return -1 if limit is None else limit
