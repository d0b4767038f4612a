"""The SQLite store's archives: documents (``DocumentStore``) and policy versions
(``PolicyArchive``), in the same file as the event log.

A version's files are kept once, by content hash; activations are an append-only history
whose latest row is the active version; documents are kept with the SHA-256 of their bytes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqm.domain.documents import (
    ArchiveResult,
    NewDocument,
)
from sqm.domain.policy_archive import (
    PolicyActivation,
    PolicyVersionConflict,
)
from sqm.domain.serialization import format_time
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
from sqm.server.storage.sqlite_schema import ARCHIVE_SCHEMA


class SqliteArchives(ArchiveReads):
    """Documents and policy versions on the connection of :class:`SqliteEventStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    _clock: Clock
    _schema: int
    _write_transaction: Callable[[], AbstractContextManager[None]]
    _VERSIONS_AS_SAVED = "SELECT version, name, saved_at FROM policy_versions ORDER BY rowid"

    # --- archived documents (``sqm.domain.documents.DocumentStore``) ----------------------

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
            self._version_row(version)  # PolicyVersionNotFound if it was never saved
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

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _archive_rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._rows(sql, params) if self._has_archive() else []

    def _has_archive(self) -> bool:
        # A file opened read-only may predate the archive; it simply has no versions.
        return self._schema >= ARCHIVE_SCHEMA
