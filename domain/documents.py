"""Archived documents: the records (contracts, inspection reports, ...) kept for audit.

A document is kept once, as given, with the SHA-256 of its bytes; it is never changed or
deleted, and every read checks the bytes against that hash. Archiving is idempotent by
request id. The stores in ``sqm.server.storage`` implement :class:`DocumentStore`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from sqm.domain.errors import DomainError
from sqm.domain.pack_catalogue import OTHER_DOCUMENT, DocumentKindId

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


@attrs.frozen
class NewDocument:
    """A document to archive for a supplier, under the request id that asks for it."""

    supplier_id: str
    filename: str
    media_type: str
    content: bytes
    actor: str
    request_id: str
    kind: DocumentKindId = OTHER_DOCUMENT
    """Recorded on the supplier's stream with the document (the archive keeps the bytes)."""

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the content."""
        return sha256_hex(self.content)


@attrs.frozen
class ArchivedDocument:
    """A document's record in the archive (everything but its bytes)."""

    document_id: str
    supplier_id: str
    filename: str
    media_type: str
    sha256: str
    size: int
    actor: str
    request_id: str
    archived_at: datetime


@attrs.frozen
class ArchiveResult:
    """What archiving answered; ``replayed`` is True when the request id was already kept."""

    document: ArchivedDocument
    replayed: bool = False


class DocumentNotFound(DomainError):
    """No archived document has this id (for this supplier)."""

    reason = "DOCUMENT_NOT_FOUND"

    def __init__(self, document_id: str) -> None:
        self.document_id = document_id
        super().__init__(f"document {document_id!r} does not exist")


class DocumentCorrupted(DomainError):
    """A document's bytes no longer match the SHA-256 recorded when it was archived."""

    reason = "DOCUMENT_CORRUPTED"

    def __init__(self, document_id: str, expected: str, actual: str) -> None:
        self.document_id = document_id
        self.expected_sha256 = expected
        self.actual_sha256 = actual
        super().__init__(
            f"document {document_id!r} is corrupted: archived with SHA-256 {expected},"
            f" its bytes now hash to {actual}"
        )


def sha256_hex(content: bytes) -> str:
    """The hex SHA-256 of ``content``."""
    return hashlib.sha256(content).hexdigest()


def checked(document: ArchivedDocument, content: bytes) -> bytes:
    """``content`` if it still matches the document's SHA-256 and size.

    Anything else raises ``DocumentCorrupted``: the archive no longer holds what it was given.
    """
    actual = sha256_hex(content)
    if actual != document.sha256 or len(content) != document.size:
        raise DocumentCorrupted(document.document_id, document.sha256, actual)
    return content


def same_request(kept: ArchivedDocument, new: NewDocument) -> bool:
    """Whether ``new`` asks for exactly what ``kept`` already holds (an idempotent retry)."""
    return (kept.supplier_id, kept.filename, kept.media_type, kept.sha256) == (
        new.supplier_id,
        new.filename,
        new.media_type,
        new.sha256,
    )


class DocumentsUnavailable(DomainError):
    """The configured store keeps no documents."""

    reason = "DOCUMENTS_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("this server's store does not archive documents")


@runtime_checkable
class DocumentStore(Protocol):
    """An append-only archive of documents, idempotent by request id."""

    def archive_document(self, document: NewDocument) -> ArchiveResult:
        """Keep ``document``; a repeated request id returns the first result (``replayed``),
        or raises ``RequestIdReused`` if it asked for something else.
        """
        ...

    def get_document(self, document_id: str) -> tuple[ArchivedDocument, bytes]:
        """The document and its bytes, checked against the SHA-256 (``DocumentCorrupted``);
        ``DocumentNotFound`` when unknown.
        """
        ...

    def list_documents(
        self, supplier_id: str, after_document_id: str = "", limit: int = 100
    ) -> list[ArchivedDocument]:
        """The supplier's documents in the order archived, after ``after_document_id``."""
        ...
