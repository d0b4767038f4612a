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
from sqm.server.storage.errors import StorageFault
from sqm.server.storage.policy_records import (
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
from sqm.server.storage.records import (
    DOCUMENT_COLUMNS,
    Clock,
    archived,
    check_document,
    check_limit,
    document_from_row,
    document_row,
    new_document_id,
    replay_document,
    stored_instant,
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


class PostgresArchives:
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

    def _document_by_request(self, request_id: str) -> ArchivedDocument | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE request_id = %s",  # noqa: S608
                (request_id,),
            ).fetchone()
        return None if row is None else document_from_row(row)

    def get_document(self, document_id: str) -> tuple[ArchivedDocument, bytes]:
        """The document and its bytes, checked against the recorded SHA-256."""
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {DOCUMENT_COLUMNS}, content FROM documents"  # noqa: S608 - constants
                " WHERE document_id = %s",
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
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {DOCUMENT_COLUMNS} FROM documents"  # noqa: S608 - constant columns
                " WHERE supplier_id = %s AND seq > COALESCE("
                "(SELECT seq FROM documents WHERE document_id = %s), 0)"
                " ORDER BY seq LIMIT %s",
                (supplier_id, after_document_id, limit),
            ).fetchall()
        return [document_from_row(row) for row in rows]

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

    def active_version(self) -> str | None:
        """The version of the latest activation, if any."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT version FROM policy_activations ORDER BY sequence DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])

    def activations(self) -> list[PolicyActivation]:
        """The activation history, oldest first."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {ACTIVATION_COLUMNS} FROM policy_activations"  # noqa: S608 - constant
                " ORDER BY sequence"
            ).fetchall()
        return [activation_from_row(row) for row in rows]

    def list_versions(self) -> list[ArchivedVersion]:
        """Every archived version, in the order first saved."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT version, name, saved_at FROM policy_versions ORDER BY seq"
            ).fetchall()
        activations = self.activations()
        return [summary(row[0], row[1], stored_instant(row[2]), activations) for row in rows]

    def get_version(self, version: str) -> ArchivedVersion:
        """One archived version, with its activation summary."""
        name, _, saved_at = self._version_row(version)
        return summary(version, name, saved_at, self.activations())

    def load_version(self, version: str) -> dict[str, str]:
        """The files of ``version``."""
        return files_from_json(self._version_row(version)[1])

    def _version_row(self, version: str) -> tuple[str, str, datetime]:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT name, files, saved_at FROM policy_versions WHERE version = %s", (version,)
            ).fetchone()
        if row is None:
            raise PolicyVersionNotFound(version)
        return str(row[0]), str(row[1]), stored_instant(row[2])
