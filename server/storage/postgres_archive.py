"""The PostgreSQL store's archives: documents (``DocumentStore``) and policy versions
(``PolicyArchive``), with the semantics of the SQLite store's, safe for several instances.

Concurrent instances meet at unique keys: a document's request id, a version's hash (the
second to archive it finds the first's row), and activations take turns on a table lock
so their sequence has no gaps or duplicates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from sqm.domain.documents import (
    ArchiveResult,
    NewDocument,
)
from sqm.domain.policy_archive import (
    PolicyActivation,
    PolicyVersionConflict,
    PolicyVersionNotFound,
)
from sqm.server.storage.errors import StorageFault
from sqm.server.storage.policy_records import (
    ACTIVATION_COLUMNS,
    ArchiveReads,
    activation_from_row,
    activation_row,
    check_activation,
    files_to_json,
    replay_activation,
)
from sqm.server.storage.records import (
    DOCUMENT_COLUMNS,
    Clock,
    archived,
    check_document,
    document_row,
    new_document_id,
    replay_document,
    stored_time,
)

FAULT_WAIT_SECONDS = 1.0


def storage_fault(error: Exception, where: str) -> StorageFault:
    """What a failed PostgreSQL call means for the service, in one line."""
    place = f"PostgreSQL at {where}"
    if isinstance(error, psycopg.errors.DiskFull):  # SQLSTATE 53100
        return StorageFault(place, "its disk is full", full=True)
    if isinstance(error, psycopg.errors.ReadOnlySqlTransaction):  # 25006: a standby, say
        return StorageFault(place, "the database is read-only", full=False)
    reason = str(error).strip().split("\n", 1)[0] or "no answer"
    if isinstance(error, PoolTimeout) or getattr(error, "sqlstate", None) is None:
        return StorageFault(place, f"cannot be reached ({reason})", full=False, reads_go_on=False)
    return StorageFault(place, f"failed ({reason})", full=False, reads_go_on=False)


def keep_instant(value: Any) -> Any:
    """PostgreSQL keeps an aware datetime as timestamptz, to the microsecond: as it is."""
    return value


class PostgresArchives(ArchiveReads):
    """Documents and policy versions on the pool of :class:`PostgresEventStore`."""

    _pool: ConnectionPool
    _clock: Clock
    _where: str
    write_fault: StorageFault | None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; losing the server, a full disk or a read-only database is a
        :class:`StorageFault`, kept until it clears (retry later: a request retried with its
        id is answered once, whatever happened to the first).
        """
        # While a fault is known, a call waits a moment for a connection, not the pool's
        # whole timeout: the caller hears of the outage at once and retries later.
        wait = FAULT_WAIT_SECONDS if self.write_fault is not None else None
        try:
            with self._pool.connection(timeout=wait) as conn:
                yield conn
        except (
            psycopg.OperationalError,
            psycopg.errors.ReadOnlySqlTransaction,
            PoolTimeout,
        ) as error:
            self.write_fault = storage_fault(error, self._where)
            raise self.write_fault from error

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._connection() as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    # --- archived documents ------------------------------------------------------------

    def archive_document(self, document: NewDocument) -> ArchiveResult:
        """Keep ``document`` once, idempotent by request id (see ``DocumentStore``)."""
        check_document(document)
        replayed = replay_document(self._document_by_request(document.request_id), document)
        if replayed is not None:
            return replayed
        record = archived(document, new_document_id(), self._clock())
        with self._connection() as conn:
            inserted = conn.execute(
                f"INSERT INTO documents ({DOCUMENT_COLUMNS}, content)"  # noqa: S608 - constants
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (request_id) DO NOTHING RETURNING document_id",
                (*document_row(record, keep_instant), document.content),
            ).fetchone()
        if inserted is not None:
            return ArchiveResult(record)
        # Another instance archived this request id between the look-up and the insert.
        replayed = replay_document(self._document_by_request(document.request_id), document)
        if replayed is None:  # pragma: no cover - archived rows are never deleted
            raise RuntimeError(f"document request {document.request_id!r} vanished")
        return replayed

    # --- the policy archive --------------------------------------------------------------

    def save_version(
        self, version: str, name: str, files: Mapping[str, str], saved_at: datetime
    ) -> bool:
        """Keep ``files`` as ``version``; False when already kept (see ``PolicyArchive``)."""
        files_json = files_to_json(version, name, files)
        with self._connection() as conn:
            inserted = conn.execute(
                "INSERT INTO policy_versions (version, name, files, saved_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (version) DO NOTHING RETURNING version",
                (version, name, files_json, stored_time(saved_at)),
            ).fetchone()
            if inserted is not None:
                return True
            row = conn.execute(
                "SELECT files FROM policy_versions WHERE version = %s", (version,)
            ).fetchone()
        if row is None or row[0] != files_json:
            raise PolicyVersionConflict(version)
        return False

    def record_activation(
        self, version: str, actor: str, request_id: str, activated_at: datetime
    ) -> PolicyActivation:
        """Append an activation to the history (see ``PolicyArchive.record_activation``)."""
        check_activation(version, actor, request_id)
        with self._connection() as conn, conn.transaction():
            # Activations from several instances take turns: sequences stay 1, 2, 3, ...
            conn.execute("LOCK TABLE policy_activations IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute(
                f"SELECT {ACTIVATION_COLUMNS} FROM policy_activations"  # noqa: S608 - constant
                " WHERE request_id = %s",
                (request_id,),
            ).fetchone()
            recorded = None if row is None else activation_from_row(row)
            replayed = replay_activation(recorded, version, request_id)
            if replayed is not None:
                return replayed
            known = conn.execute(
                "SELECT 1 FROM policy_versions WHERE version = %s", (version,)
            ).fetchone()
            if known is None:
                raise PolicyVersionNotFound(version)
            last = conn.execute("SELECT COALESCE(MAX(sequence), 0) FROM policy_activations")
            (sequence,) = last.fetchone() or (0,)
            activation = PolicyActivation(
                int(sequence) + 1, version, actor, request_id, stored_time(activated_at)
            )
            conn.execute(
                f"INSERT INTO policy_activations ({ACTIVATION_COLUMNS})"  # noqa: S608 - constant
                " VALUES (%s, %s, %s, %s, %s)",
                activation_row(activation, keep_instant),
            )
            return activation
