"""What every store's policy archive shares: argument checks, how files are kept, how an
activation retry is answered and how a version's activation summary is computed.

The memory, SQLite and PostgreSQL archives import these, so the contract suite holds them to one
behaviour by construction (as :mod:`sqm.server.storage.records` does for events); the SQL
stores also share their archive reads (:class:`ArchiveReads`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from sqm.domain.documents import ArchivedDocument, DocumentNotFound, checked
from sqm.domain.errors import RequestIdReused
from sqm.domain.policy_archive import ArchivedVersion, PolicyActivation, PolicyVersionNotFound
from sqm.server.storage.records import (
    DOCUMENT_COLUMNS,
    SqlReads,
    TimeColumn,
    check_limit,
    document_from_row,
    from_json,
    stored_instant,
    to_json,
)

ACTIVATION_COLUMNS = "sequence, version, actor, request_id, activated_at"


def files_to_json(version: str, name: str, files: Mapping[str, str]) -> str:
    """Check a version's arguments and return its files as canonical JSON text."""
    if not version:
        raise ValueError("a policy version must not be empty")
    if not name:
        raise ValueError("a policy pack name must not be empty")
    if not files:
        raise ValueError("a policy version needs at least one file")
    for path, text in files.items():
        if not isinstance(path, str) or not path or not isinstance(text, str):
            raise ValueError(f"policy files map relative paths to text, got {path!r}")
    return to_json(dict(files))


def files_from_json(text: str) -> dict[str, str]:
    """A version's files as stored by :func:`files_to_json`."""
    return {str(path): str(content) for path, content in from_json(text).items()}


def check_activation(version: str, actor: str, request_id: str) -> None:
    """Refuse an activation no store could record meaningfully."""
    if not version or not request_id:
        raise ValueError("an activation needs a version and a request id")
    if not actor:
        raise ValueError("an activation needs an actor")


def replay_activation(
    recorded: PolicyActivation | None, version: str, request_id: str
) -> PolicyActivation | None:
    """The first activation if ``request_id`` was already recorded for ``version``, else None.

    The same request id for another version names a different request, and is refused.
    """
    if recorded is None:
        return None
    if recorded.version != version:
        raise RequestIdReused(request_id)
    return attrs.evolve(recorded, replayed=True)


def summary(
    version: str, name: str, saved_at: datetime, activations: Iterable[PolicyActivation]
) -> ArchivedVersion:
    """An archived version with its first and last activation times and count."""
    times = [a.activated_at for a in activations if a.version == version]
    return ArchivedVersion(
        version=version,
        name=name,
        saved_at=saved_at,
        first_activated_at=times[0] if times else None,
        last_activated_at=times[-1] if times else None,
        activation_count=len(times),
    )


def activation_row(activation: PolicyActivation, time: TimeColumn) -> tuple[Any, ...]:
    """``activation`` as the values of :data:`ACTIVATION_COLUMNS`."""
    return (
        activation.sequence,
        activation.version,
        activation.actor,
        activation.request_id,
        time(activation.activated_at),
    )


def activation_from_row(row: Sequence[Any]) -> PolicyActivation:
    """The activation in a row of :data:`ACTIVATION_COLUMNS`."""
    return PolicyActivation(int(row[0]), row[1], row[2], row[3], stored_instant(row[4]))


class ArchiveReads(SqlReads):
    """The archives' reads, the same in the SQLite and PostgreSQL stores (see ``SqlReads``)."""

    # policy_versions in the order first saved (SQLite's has no seq column: its rowid).
    _VERSIONS_AS_SAVED = "SELECT version, name, saved_at FROM policy_versions ORDER BY seq"

    def _archive_rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of the policy archive's tables (a store that may lack them overrides this)."""
        return self._rows(sql, params)

    def get_document(self, document_id: str) -> tuple[ArchivedDocument, bytes]:
        """The document and its bytes, checked against the recorded SHA-256."""
        rows = self._rows(
            f"SELECT {DOCUMENT_COLUMNS}, content FROM documents"  # noqa: S608 - constants
            " WHERE document_id = ?",
            (document_id,),
        )
        if not rows:
            raise DocumentNotFound(document_id)
        record = document_from_row(rows[0])
        return record, checked(record, bytes(rows[0][-1]))

    def list_documents(
        self, supplier_id: str, after_document_id: str = "", limit: int = 100
    ) -> list[ArchivedDocument]:
        """The supplier's documents in archive order, after ``after_document_id``."""
        check_limit(limit)
        rows = self._rows(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents"  # noqa: S608 - constant columns
            " WHERE supplier_id = ? AND seq > COALESCE("
            "(SELECT seq FROM documents WHERE document_id = ?), 0)"
            " ORDER BY seq LIMIT ?",
            (supplier_id, after_document_id, limit),
        )
        return [document_from_row(row) for row in rows]

    def _document_by_request(self, request_id: str) -> ArchivedDocument | None:
        rows = self._rows(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE request_id = ?",  # noqa: S608
            (request_id,),
        )
        return document_from_row(rows[0]) if rows else None

    def active_version(self) -> str | None:
        """The version of the latest activation, if any."""
        rows = self._archive_rows(
            "SELECT version FROM policy_activations ORDER BY sequence DESC LIMIT 1"
        )
        return str(rows[0][0]) if rows else None

    def activations(self) -> list[PolicyActivation]:
        """The activation history, oldest first."""
        rows = self._archive_rows(
            f"SELECT {ACTIVATION_COLUMNS} FROM policy_activations"  # noqa: S608 - constant
            " ORDER BY sequence"
        )
        return [activation_from_row(row) for row in rows]

    def list_versions(self) -> list[ArchivedVersion]:
        """Every archived version, in the order first saved."""
        rows = self._archive_rows(self._VERSIONS_AS_SAVED)
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
        rows = self._archive_rows(
            "SELECT name, files, saved_at FROM policy_versions WHERE version = ?", (version,)
        )
        if not rows:
            raise PolicyVersionNotFound(version)
        return str(rows[0][0]), str(rows[0][1]), stored_instant(rows[0][2])
