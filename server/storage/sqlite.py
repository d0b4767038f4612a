"""The embedded event store: one SQLite file in WAL mode, durable before it answers.

Events and request records are append-only (triggers refuse UPDATE and DELETE), every
event is hash-chained to the one before it in global order, and one append is one
``BEGIN IMMEDIATE`` transaction: events, request record and snapshot land together or not
at all. The schema and its migrations are in ``sqlite_schema``; the same file holds the
archives of documents and policy versions (``sqlite_archive``).

Tools that only read (``sqm policy explain``, ``sqm policy versions``) open the file with
``read_only=True``: no migration, no write, the file is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqm.domain.audit import GENESIS_HASH
from sqm.domain.ports import (
    AppendResult,
    ChainVerification,
    CommandMeta,
    OutboxEntry,
    PendingAppend,
    RecordedEvent,
)
from sqm.domain.serialization import format_time
from sqm.server.storage.errors import StorageFault, UnsupportedSchemaVersion
from sqm.server.storage.outbox_records import (
    OUTBOX_COLUMNS,
    OUTBOX_INSERT_COLUMNS,
    SqlOutboxReads,
    entry_from_row,
    outbox_rows,
    short_error,
)
from sqm.server.storage.records import (
    EVENT_COLUMNS,
    REQUEST_COLUMNS,
    Clock,
    Outcome,
    StoreBase,
    check_limit,
    check_pending,
    event_from_row,
    event_row,
    identifier,
    identifiers,
    placeholders,
    refused_or_kept,
    request_from_row,
    request_row,
    seal_pending,
    snapshot_json,
    utc_now,
    verify_rows,
)
from sqm.server.storage.signals import AppendSignal
from sqm.server.storage.sqlite_archive import SqliteArchives
from sqm.server.storage.sqlite_checkpoints import BackgroundCheckpoints
from sqm.server.storage.sqlite_schema import (
    SCHEMA_VERSION,
    NotAnSqmDatabase,
    check_readable,
    configure,
    migrate,
)
from sqm.server.storage.transfer import DumpItem, refuse_non_empty, restore_batches

__all__ = ["SCHEMA_VERSION", "NotAnSqmDatabase", "SqliteEventStore", "UnsupportedSchemaVersion"]

_VERIFY_PAGE = 1000
_IDS_PER_QUERY = 500  # well under SQLite's limit on bound parameters


class SqliteEventStore(SqliteArchives, SqlOutboxReads, StoreBase):
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
        self.write_fault: StorageFault | None = None  # the last write's fault, until one commits
        self._signal = AppendSignal(self._appended_elsewhere)
        self._checkpoints: BackgroundCheckpoints | None = None
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
                self._schema = check_readable(self._conn, self._path)
            else:
                configure(self._conn, self._path, busy_timeout_ms)
                with self._write_transaction():
                    migrate(self._conn, self._path)
                self._schema = SCHEMA_VERSION
        except BaseException:
            self._conn.close()
            raise
        self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]

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
        except BaseException as error:
            if not nested:
                self._unsignalled = None
            # An I/O error may have rolled the whole transaction back already.
            with contextlib.suppress(sqlite3.Error):  # a full disk may refuse this too
                if nested and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK TO nested")
                    self._conn.execute("RELEASE nested")
                elif not nested and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            fault = _storage_fault(error, self._path)
            if fault is None:
                raise
            self.write_fault = fault
            raise fault from None
        if not nested:
            self.write_fault = None
            if self._checkpoints is not None:
                self._checkpoints.committed()
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
            self._insert_notifications(pending, outcome)
        return outcome

    def _insert_notifications(self, pending: PendingAppend, result: AppendResult) -> None:
        rows = outbox_rows([(pending, result)], format_time)
        if rows:
            self._conn.executemany(
                f"INSERT INTO outbox ({OUTBOX_INSERT_COLUMNS})"  # noqa: S608 - constant columns
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    # --- the notification outbox (``sqm.domain.ports.NotificationOutbox``) ----------------

    def claim_notifications(
        self, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxEntry]:
        """Pending notifications due at ``now``, claimed for ``lease_seconds``.

        The claim is one ``BEGIN IMMEDIATE`` transaction: SQLite's write lock serialises the
        workers of every process on the file, so two claims never return the same row
        while its lease runs.
        """
        check_limit(limit)
        at, until = format_time(now), format_time(now + timedelta(seconds=lease_seconds))
        with self._lock, self._write_transaction():
            rows = self._conn.execute(
                f"UPDATE outbox SET claimed_until = ? WHERE seq IN (SELECT seq FROM outbox"  # noqa: S608 - constant
                " WHERE delivered_at IS NULL AND undeliverable = 0 AND next_attempt_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY seq LIMIT ?)"
                f" RETURNING {OUTBOX_COLUMNS}",
                (until, at, at, limit),
            ).fetchall()
        return sorted((entry_from_row(row) for row in rows), key=lambda entry: entry.seq)

    def mark_delivered(self, notification_id: str, at: datetime) -> None:
        """Record the notification as delivered."""
        self._outbox_write(
            "UPDATE outbox SET delivered_at = ?, claimed_until = NULL, attempts = attempts + 1"
            " WHERE notification_id = ? AND delivered_at IS NULL",
            (format_time(at), notification_id),
        )

    def record_failed_attempt(
        self, notification_id: str, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed attempt: due again at ``retry_at``, or undeliverable (None)."""
        self._outbox_write(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, claimed_until = NULL,"
            " next_attempt_at = COALESCE(?, next_attempt_at), undeliverable = ?"
            " WHERE notification_id = ? AND delivered_at IS NULL",
            (
                short_error(error),
                None if retry_at is None else format_time(retry_at),
                retry_at is None,
                notification_id,
            ),
        )

    def retry_notifications(self, notification_ids: Sequence[str], at: datetime) -> int:
        """Make undeliverable notifications pending again (all of them with no ids)."""
        ids = list(dict.fromkeys(notification_ids))
        with self._lock, self._write_transaction():
            if not ids:
                return self._conn.execute(
                    "UPDATE outbox SET undeliverable = 0, attempts = 0, next_attempt_at = ?,"
                    " claimed_until = NULL WHERE undeliverable = 1",
                    (format_time(at),),
                ).rowcount
            retried = 0
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                retried += self._conn.execute(
                    "UPDATE outbox SET undeliverable = 0, attempts = 0, next_attempt_at = ?,"  # noqa: S608 - placeholders only
                    " claimed_until = NULL WHERE undeliverable = 1"
                    f" AND notification_id IN ({placeholders(len(chunk), '?')})",
                    (format_time(at), *chunk),
                ).rowcount
        return retried

    def _outbox_write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock, self._write_transaction():
            self._conn.execute(sql, params)

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

    def snapshot_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The version of each of ``stream_ids``' snapshots that exists, in one query per few
        hundred ids (a batch looks up every stream it writes at once).
        """
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(stream_ids))
        with self._lock:
            for start in range(0, len(unique), _IDS_PER_QUERY):
                chunk = unique[start : start + _IDS_PER_QUERY]
                rows = self._conn.execute(
                    "SELECT stream_id, version FROM snapshots"  # noqa: S608 - placeholders only
                    f" WHERE stream_id IN ({placeholders(len(chunk), '?')})",
                    chunk,
                ).fetchall()
                found.update((str(row[0]), int(row[1])) for row in rows)
        return found

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The head version of each of ``stream_ids`` that has events, in one query (a batch
        with snapshots every N versions looks its streams' heads up at once).
        """
        # One MAX per stream, read off the end of the (stream_id, version) index: a GROUP BY
        # over the streams would walk every event they hold. The ids go in as one JSON array.
        with self._lock:
            rows = self._conn.execute(
                "SELECT value, (SELECT MAX(version) FROM events WHERE stream_id = value)"
                " FROM json_each(?)",
                (json.dumps(list(dict.fromkeys(stream_ids))),),
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows if row[1] is not None}

    def _find_request(self, request_id: str) -> tuple[str, AppendResult] | None:
        row = self._conn.execute(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE request_id = ?",  # noqa: S608 - constant
            (request_id,),
        ).fetchone()
        return None if row is None else request_from_row(row)

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events of every stream with global sequence > ``after_seq``, in sequence order."""
        return [event_from_row(row) for row in self._read_rows(after_seq, limit)]

    def _limit(self, limit: int | None) -> int:
        return _sql_limit(limit)

    def _read_rows(
        self, after_seq: int, limit: int | None, up_to_seq: int | None = None
    ) -> list[tuple[Any, ...]]:
        check_limit(limit)
        return self._rows(
            f"SELECT {EVENT_COLUMNS} FROM events"  # noqa: S608 - column names are constants
            " WHERE global_seq > ? AND (? IS NULL OR global_seq <= ?)"
            " ORDER BY global_seq LIMIT ?",
            (after_seq, up_to_seq, up_to_seq, _sql_limit(limit)),
        )

    def verify_chain(self) -> ChainVerification:
        """Recompute every hash from the first event; report the first broken link.

        Pages are read under the lock one at a time, so appends go on meanwhile; the check
        stops at the head as it was when verification started.
        """
        with self._lock:
            end = self._head()[0]
        return verify_rows(lambda after: self._read_rows(after, _VERIFY_PAGE, up_to_seq=end), end)

    def integrity_problems(self, limit: int = 20) -> list[str]:
        """What SQLite's ``PRAGMA integrity_check`` finds wrong with the file (empty: sound).

        Run on a connection of its own, so appends go on meanwhile (WAL readers do not block
        the writer); a file too damaged to check is one problem, not an exception.
        """
        uri = Path(self._path).resolve().as_uri() + "?mode=ro"
        try:
            checker = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as error:
            return [f"cannot be opened: {error}"]
        try:
            rows = checker.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
        except sqlite3.Error as error:
            return [str(error)]
        finally:
            checker.close()
        found = [str(row[0]) for row in rows]
        return [] if found == ["ok"] else found

    def storage_fault(self) -> StorageFault | None:
        """The fault that refused the last write, while it lasts (None: writes go through).

        Cleared by a commit, or here once the file is writable with space free again.
        """
        if self.write_fault is not None and writable(self._path):
            self.write_fault = None
        return self.write_fault

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
        query = f"SELECT EXISTS (SELECT 1 FROM {identifier(table)})"  # noqa: S608 - checked name
        row = self._conn.execute(query).fetchone()
        return bool(row[0])

    def checkpoint_in_background(self) -> None:
        """Copy the WAL into the file on a thread of its own, never inside a commit
        (:mod:`~sqm.server.storage.sqlite_checkpoints`): a server does; a tool need not.
        """
        with self._lock:
            if self._checkpoints is None:
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
                self._checkpoints = BackgroundCheckpoints(self._path)

    def reader(self) -> SqliteEventStore:
        """A read-only connection to the same file: in WAL its reads go on while this
        connection commits, seeing what was committed before each began.
        """
        return SqliteEventStore(self._path, self._clock, read_only=True)

    def close(self) -> None:
        """Close the connection (idempotent); the last one to the file checkpoints it."""
        self._signal.close()
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        with self._lock:
            self._conn.close()


_FULL, _IOERR, _READONLY = 13, 10, 8  # SQLite's primary result codes
_MIN_FREE_BYTES = 1024 * 1024


def _storage_fault(error: BaseException, path: str) -> StorageFault | None:
    """The fault a failed write means, when it is the storage's (disk full, read-only, I/O)."""
    if not isinstance(error, sqlite3.Error):
        return None
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code == _FULL:
        return StorageFault(path, "the database's disk is full", full=True)
    if code == _READONLY:
        return StorageFault(path, "the database is read-only", full=False)
    if code == _IOERR:
        return StorageFault(path, f"the database's disk failed a write ({error})", full=False)
    return None


def writable(path: str) -> bool:
    """Whether writes may succeed again: the file and its folder writable, and space free."""
    folder = os.path.dirname(os.path.abspath(path))
    if not (os.access(path, os.W_OK) and os.access(folder, os.W_OK)):
        return False
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize >= _MIN_FREE_BYTES


def _sql_limit(limit: int | None) -> int:
    # SQLite reads a negative LIMIT as "no limit" (and refuses NULL).
    return -1 if limit is None else limit
