"""The scale-out event store: PostgreSQL, shared by several stateless server instances.

Same protocol and semantics as the SQLite store (one contract suite holds both). What
several instances on one database add:

- **One order.** An append locks the single ``log_head`` row (``SELECT ... FOR UPDATE``), so
  appends from every instance take turns: the global sequence is gap-free in commit order
  and each event's ``prev_hash`` is the hash committed just before it.
- **Optimistic concurrency per supplier.** Under that lock the stream's version is read
  fresh (a batch takes the lock once, and reads its streams' versions and request ids in one
  query each); a stale ``expected_version`` raises ``ConcurrencyConflict`` (the application decides
  again on fresh state), and a unique ``(stream_id, version)`` constraint is the backstop.
- **Deadlines once.** :meth:`PostgresEventStore.tick_lock` is a session advisory lock: one
  instance's scheduler ticks while the others skip; if two ticks do overlap, the request ids
  and version checks above still record each deadline once.
- **Watchers everywhere.** An append NOTIFYs the store's channel with the new last sequence;
  any instance's watchers wake up and read from the sequence (see ``postgres_listen``).

The database URL is a libpq connection URI; ``options=-csearch_path=NAME`` in it puts the
store in schema ``NAME`` (tests use one schema each).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from sqm.domain.errors import ConcurrencyConflict
from sqm.domain.ports import (
    AppendResult,
    ChainVerification,
    OutboxEntry,
    PendingAppend,
    RecordedEvent,
)
from sqm.server.storage import postgres_schema
from sqm.server.storage.errors import StorageFault, StoreUnavailable
from sqm.server.storage.outbox_records import (
    OUTBOX_COLUMNS,
    OUTBOX_INSERT_COLUMNS,
    SqlOutboxReads,
    entry_from_row,
    outbox_rows,
    short_error,
)
from sqm.server.storage.postgres_archive import PostgresArchives, keep_instant
from sqm.server.storage.postgres_listen import AppendListener
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
    to_json,
    utc_now,
    verify_rows,
)
from sqm.server.storage.signals import Callback
from sqm.server.storage.transfer import DumpItem, refuse_non_empty, restore_batches
from sqm.server.storage.urls import redact_url

CONNECT_TIMEOUT_SECONDS = 5
POOL_SIZE = 4  # one application worker, a scheduler's lock, and room for a slow return
_VERIFY_PAGE = 1000
_IDS_PER_QUERY = 500


class PostgresEventStore(PostgresArchives, SqlOutboxReads, StoreBase):
    """The ``EventStore``, ``DocumentStore`` and ``PolicyArchive`` protocols on PostgreSQL.

    Opening checks the schema (``migrate=True`` applies missing migrations instead) and
    raises :class:`StoreUnavailable` with a one-line reason when the URL is malformed, the
    server cannot be reached or the schema is not this code's.
    """

    def __init__(
        self,
        url: str,
        clock: Clock = utc_now,
        *,
        migrate: bool = False,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self._where = redact_url(url)
        self._clock = clock
        self.write_fault = None  # set by a failed call, until a write or the probe succeeds
        self.applied_migrations: list[tuple[int, str]] = []
        """The migrations this opening applied (number, description), with ``migrate``."""
        conninfo = _conninfo(url, self._where)
        with _connect(conninfo, self._where) as conn:
            self.applied_migrations = _prepare_schema(conn, self._where, migrate=migrate)
            self._identity = _identity(conn, self._where)
        self._pool = _open_pool(conninfo, pool_size, self._where)
        self._channel = f"sqm_appends_{self._identity}"
        self._listener = AppendListener(conninfo, self._channel)
        self._tick_key = _lock_key(f"{self._identity}:tick")

    @property
    def where(self) -> str:
        """The database URL without its password."""
        return self._where

    def append_batch(
        self, appends: Sequence[PendingAppend], *, all_or_none: bool = False
    ) -> list[Outcome]:
        """Append several requests in ONE transaction (see ``EventStore.append_batch``).

        The head row is locked once for the batch, its request ids and stream versions are
        read in one query each, and the appends are then decided in order in memory against
        what the batch has written so far; the rows go in together at the end.
        """
        check_pending(appends)
        snapshots = [None if p.snapshot is None else to_json(p.snapshot) for p in appends]
        if not appends:
            return []
        with (
            self._conflict_on_duplicate(appends[0]),
            self._connection() as conn,
            conn.transaction(),
        ):
            head = conn.execute("SELECT last_seq, last_hash FROM log_head FOR UPDATE").fetchone()
            if head is None:
                raise StoreUnavailable(f"{self._where}: the log head row is missing")
            log = _BatchLog(
                int(head[0]),
                str(head[1]),
                _find_requests(conn, [p.meta.request_id for p in appends]),
                _stream_versions(conn, [p.stream_id for p in appends]),
            )
            outcomes = [
                refused_or_kept(log.seal(pending, self._clock()), all_or_none=all_or_none)
                for pending in appends
            ]
            written = [
                (pending, outcome, state_json)
                for pending, outcome, state_json in zip(appends, outcomes, snapshots, strict=True)
                if isinstance(outcome, AppendResult) and not outcome.replayed
            ]
            if written:
                self._insert(conn, written, log)
        self.write_fault = None
        return outcomes

    @contextlib.contextmanager
    def _conflict_on_duplicate(self, first: PendingAppend) -> Iterator[None]:
        # Unreachable while every writer takes the head lock; the unique constraint on
        # (stream_id, version) is the backstop, and it means a lost race: the whole batch
        # is refused, as a conflict on its first append.
        try:
            yield
        except psycopg.errors.UniqueViolation as error:
            if error.diag.constraint_name != "events_stream_version":
                raise
            with self._connection() as conn:
                actual = _stream_versions(conn, [first.stream_id]).get(first.stream_id, 0)
            raise ConcurrencyConflict(first.stream_id, first.expected_version, actual) from None

    def _insert(
        self,
        conn: psycopg.Connection,
        written: Sequence[tuple[PendingAppend, AppendResult, str | None]],
        log: _BatchLog,
    ) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO events ({EVENT_COLUMNS})"  # noqa: S608 - column names are constants
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [event_row(e, keep_instant) for _, result, _ in written for e in result.events],
            )
            cursor.executemany(
                f"INSERT INTO requests (request_id, {REQUEST_COLUMNS})"  # noqa: S608 - constants
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [request_row(p.meta.request_id, p.meta.fingerprint, r) for p, r, _ in written],
            )
            # Only where given: None means a later append of the batch keeps the stream's state.
            notifications = outbox_rows([(p, r) for p, r, _ in written], keep_instant)
            if notifications:
                cursor.executemany(
                    f"INSERT INTO outbox ({OUTBOX_INSERT_COLUMNS})"  # noqa: S608 - constants
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    notifications,
                )
            cursor.executemany(
                "INSERT INTO snapshots (stream_id, version, state) VALUES (%s, %s, %s)"
                " ON CONFLICT (stream_id) DO UPDATE"
                " SET version = excluded.version, state = excluded.state",
                [
                    (r.stream_id, r.last_version, state)
                    for _, r, state in written
                    if state is not None
                ],
            )
        conn.execute(
            "UPDATE log_head SET last_seq = %s, last_hash = %s", (log.last_seq, log.last_hash)
        )
        # Delivered on commit only, so a woken watcher always finds the events.
        conn.execute("SELECT pg_notify(%s, %s)", (self._channel, str(log.last_seq)))

    # --- the notification outbox (``sqm.domain.ports.NotificationOutbox``) ----------------

    def claim_notifications(
        self, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxEntry]:
        """Pending notifications due at ``now``, claimed for ``lease_seconds``.

        ``FOR UPDATE SKIP LOCKED``: instances claiming at the same moment each take rows the
        others have not locked, without waiting for them; once committed, the lease keeps
        the rows from every other claim until it runs out.
        """
        check_limit(limit)
        until = now + timedelta(seconds=lease_seconds)
        with self._connection() as conn, conn.transaction():
            rows = conn.execute(
                f"UPDATE outbox SET claimed_until = %s WHERE seq IN (SELECT seq FROM outbox"  # noqa: S608 - constant
                " WHERE delivered_at IS NULL AND NOT undeliverable AND next_attempt_at <= %s"
                " AND (claimed_until IS NULL OR claimed_until <= %s) ORDER BY seq LIMIT %s"
                f" FOR UPDATE SKIP LOCKED) RETURNING {OUTBOX_COLUMNS}",
                (until, now, now, limit),
            ).fetchall()
        return sorted((entry_from_row(row) for row in rows), key=lambda entry: entry.seq)

    def mark_delivered(self, notification_id: str, at: datetime) -> None:
        """Record the notification as delivered."""
        self._outbox_write(
            "UPDATE outbox SET delivered_at = %s, claimed_until = NULL, attempts = attempts + 1"
            " WHERE notification_id = %s AND delivered_at IS NULL",
            (at, notification_id),
        )

    def record_failed_attempt(
        self, notification_id: str, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed attempt: due again at ``retry_at``, or undeliverable (None)."""
        self._outbox_write(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s, claimed_until = NULL,"
            " next_attempt_at = COALESCE(%s, next_attempt_at), undeliverable = %s"
            " WHERE notification_id = %s AND delivered_at IS NULL",
            (short_error(error), retry_at, retry_at is None, notification_id),
        )

    def retry_notifications(self, notification_ids: Sequence[str], at: datetime) -> int:
        """Make undeliverable notifications pending again (all of them with no ids)."""
        ids = list(dict.fromkeys(notification_ids))
        with self._connection() as conn, conn.transaction():
            cursor = conn.execute(
                "UPDATE outbox SET undeliverable = false, attempts = 0, next_attempt_at = %s,"
                " claimed_until = NULL WHERE undeliverable"
                " AND (%s OR notification_id = ANY(%s))",
                (at, not ids, ids),
            )
            return cursor.rowcount

    def _outbox_write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._connection() as conn, conn.transaction():
            conn.execute(sql, params)

    def find_requests(self, request_ids: Sequence[str]) -> dict[str, tuple[str, AppendResult]]:
        """The fingerprint and result recorded for each of ``request_ids`` that is recorded,
        in one query per few hundred ids.
        """
        with self._connection() as conn:
            return _find_requests(conn, request_ids)

    def snapshot_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The version of each of ``stream_ids``' snapshots that exists, in one query."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT stream_id, version FROM snapshots WHERE stream_id = ANY(%s)",
                (list(dict.fromkeys(stream_ids)),),
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The head version of each of ``stream_ids`` that has events, in one query."""
        with self._connection() as conn:
            return _stream_versions(conn, stream_ids)

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events of every stream with global sequence > ``after_seq``, in sequence order."""
        check_limit(limit)
        return [event_from_row(row) for row in self._rows_after(after_seq, limit)]

    def _rows_after(self, after_seq: int, limit: int | None) -> list[tuple[Any, ...]]:
        return self._rows(
            f"SELECT {EVENT_COLUMNS} FROM events"  # noqa: S608 - column names are constants
            " WHERE global_seq > ? ORDER BY global_seq LIMIT ?",
            (after_seq, limit),
        )

    def verify_chain(self) -> ChainVerification:
        """Recompute every hash from the first event up to the head as verification starts."""
        end = self.last_sequence()
        return verify_rows(lambda after: self._rows_after(after, _VERIFY_PAGE), end)

    def identity(self) -> str:
        """The database's random identity, made when its schema was created."""
        return self._identity

    def last_sequence(self) -> int:
        """The global sequence of the newest committed event (0 when the log is empty)."""
        rows = self._rows("SELECT last_seq FROM log_head")
        return int(rows[0][0]) if rows else 0

    @contextlib.contextmanager
    def tick_lock(self) -> Iterator[bool]:
        """Whether this instance may run the scheduler's tick now (no other instance is).

        A session advisory lock, held on one pooled connection for the tick and released
        after; PostgreSQL releases it too if the instance dies mid-tick.
        """
        with self._connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._tick_key,)).fetchone()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    # A broken connection has already lost its session locks.
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("SELECT pg_advisory_unlock(%s)", (self._tick_key,))

    def subscribe_appends(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` (from another thread) after appends by any instance."""
        return self._listener.subscribe(callback)

    def restore(self, items: Iterable[DumpItem]) -> None:
        """Load an export into this empty database in one transaction (all or nothing)."""
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT 1 FROM log_head FOR UPDATE")
            refuse_non_empty(_exists(conn), self._where)
            for table, columns, rows in restore_batches(items, keep_instant):
                with conn.cursor() as cursor:
                    cursor.executemany(_restore_insert(table, columns, len(rows[0])), rows)
            conn.execute(
                "UPDATE log_head SET (last_seq, last_hash) = (SELECT global_seq, hash FROM events"
                " ORDER BY global_seq DESC LIMIT 1) WHERE EXISTS (SELECT 1 FROM events)"
            )
            # New notifications are numbered after the imported ones.
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('outbox', 'seq'), MAX(seq))"
                " FROM outbox HAVING COUNT(*) > 0"
            )

    def storage_fault(self) -> StorageFault | None:
        """The fault that refused the last call, while it lasts (None: calls go through).

        Cleared by a commit, or here once a probe write goes through again: an empty update
        of the head row, which needs the server, a writable database and room for a row.
        """
        if self.write_fault is not None and self._takes_writes():
            self.write_fault = None
        return self.write_fault

    def integrity_problems(self) -> list[str]:
        """None to report: PostgreSQL verifies its own pages (data checksums) as it reads."""
        return []

    def _takes_writes(self) -> bool:
        try:
            with (
                self._pool.connection(timeout=CONNECT_TIMEOUT_SECONDS) as conn,
                conn.transaction(),
            ):
                conn.execute("UPDATE log_head SET last_seq = last_seq")
        except (psycopg.Error, PoolTimeout):
            return False
        return True

    def close(self) -> None:
        """Stop listening and close every connection (idempotent)."""
        self._listener.close()
        self._pool.close()


@attrs.define
class _BatchLog:
    """The log as a batch's appends leave it, decided in memory under the head lock."""

    last_seq: int
    last_hash: str
    requests: dict[str, tuple[str, AppendResult]]
    versions: dict[str, int]

    def seal(self, pending: PendingAppend, recorded_at: datetime) -> Outcome:
        """Decide ``pending`` after the batch's earlier appends; note what it writes."""
        meta, stream_id = pending.meta, pending.stream_id
        outcome = seal_pending(
            pending, self.requests.get(meta.request_id), self.versions.get(stream_id, 0),
            last_seq=self.last_seq, last_hash=self.last_hash, recorded_at=recorded_at,
        )  # fmt: skip
        if isinstance(outcome, AppendResult) and not outcome.replayed:
            self.requests[meta.request_id] = (meta.fingerprint, attrs.evolve(outcome, events=()))
            self.versions[stream_id] = outcome.last_version
            self.last_seq, self.last_hash = outcome.last_seq, outcome.events[-1].hash
        return outcome


def _find_requests(
    conn: psycopg.Connection, request_ids: Sequence[str]
) -> dict[str, tuple[str, AppendResult]]:
    unique = list(dict.fromkeys(request_ids))
    found: dict[str, tuple[str, AppendResult]] = {}
    for start in range(0, len(unique), _IDS_PER_QUERY):
        rows = conn.execute(
            f"SELECT request_id, {REQUEST_COLUMNS} FROM requests"  # noqa: S608 - constant
            " WHERE request_id = ANY(%s)",
            (unique[start : start + _IDS_PER_QUERY],),
        ).fetchall()
        found.update((row[0], request_from_row(row[1:])) for row in rows)
    return found


def _restore_insert(table: str, columns: str, count: int) -> str:
    """The INSERT of restored rows of ``table``: checked names and placeholders, no values.
    The outbox keeps its order (``seq``), which PostgreSQL would otherwise number itself.
    """
    if table == "outbox":
        return (
            f"INSERT INTO {identifier(table)} ({identifiers(columns)})"  # noqa: S608
            f" OVERRIDING SYSTEM VALUE VALUES ({placeholders(count, '%s')})"
        )
    return (
        f"INSERT INTO {identifier(table)} ({identifiers(columns)})"  # noqa: S608
        f" VALUES ({placeholders(count, '%s')})"
    )


def _stream_versions(conn: psycopg.Connection, stream_ids: Sequence[str]) -> dict[str, int]:
    # One max() per stream, read off the end of the (stream_id, version) index: a GROUP BY
    # over the streams would read every event they hold (years of records each).
    rows = conn.execute(
        "SELECT wanted, (SELECT max(version) FROM events WHERE stream_id = wanted)"
        " FROM unnest(%s::text[]) AS wanted",
        (list(dict.fromkeys(stream_ids)),),
    ).fetchall()
    return {str(row[0]): int(row[1]) for row in rows if row[1] is not None}


def _exists(conn: psycopg.Connection) -> Callable[[str], bool]:
    def exists(table: str) -> bool:
        row = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {identifier(table)})").fetchone()  # noqa: S608
        return bool(row and row[0])

    return exists


def _conninfo(url: str, where: str) -> str:
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        reason = str(error).strip().split("\n", 1)[0]
        raise StoreUnavailable(f"{where} is not a valid PostgreSQL URL: {reason}") from None
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    params.setdefault("application_name", "sqm")
    return make_conninfo("", **params)


def _connect(conninfo: str, where: str) -> psycopg.Connection:
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as error:
        reason = str(error).strip().split("\n", 1)[0] or "no answer"
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {where}: {reason}") from None


def _prepare_schema(
    conn: psycopg.Connection, where: str, *, migrate: bool
) -> list[tuple[int, str]]:
    encoding = conn.execute("SHOW server_encoding").fetchone()
    if encoding is None or encoding[0] != "UTF8":
        found = encoding[0] if encoding else "unknown"
        raise StoreUnavailable(f"{where} uses encoding {found}; SQM needs a UTF8 database")
    if migrate:
        return postgres_schema.migrate(conn, where)
    postgres_schema.require_current(conn, where)
    return []


def _identity(conn: psycopg.Connection, where: str) -> str:
    row = conn.execute("SELECT value FROM store_meta WHERE key = 'identity'").fetchone()
    if row is None:
        raise StoreUnavailable(f"{where}: the store's identity is missing")
    return str(row[0])


def _open_pool(conninfo: str, size: int, where: str) -> ConnectionPool:
    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max(size, 2),
        kwargs={"autocommit": True},
        timeout=CONNECT_TIMEOUT_SECONDS * 2,  # how long a call waits for a connection
        # A lost server is retried with growing pauses (1, 2, 4 s ...) for this long, then
        # given up until a call asks again: once it is back, the next call (or the storage
        # probe, each second) reconnects at once instead of waiting out a long pause.
        reconnect_timeout=CONNECT_TIMEOUT_SECONDS * 2,
        # A connection the server dropped (a restart, a failover) is replaced, not handed out.
        check=ConnectionPool.check_connection,
        name="sqm",
        open=False,
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS * 2)
    except PoolTimeout:
        pool.close()
        raise StoreUnavailable(f"cannot open connections to PostgreSQL at {where}") from None
    return pool


def _lock_key(name: str) -> int:
    # Advisory locks are database-wide: keyed by the store's identity, stores in other
    # schemas of the same database never contend.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
