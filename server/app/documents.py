"""Archived documents on the record: the bytes in the archive, their SHA-256 in the chain.

Archiving a document takes two writes: the bytes go to the document archive, then a
``DocumentArchived`` event carrying their SHA-256 goes on the supplier's stream, so the
hash chain vouches for every document. Both are idempotent under the caller's request id,
so a call retried after a crash between them completes the record and duplicates nothing.
The event is checked before the bytes are kept, so a request the record would refuse (time
going backwards) leaves nothing behind.

Verification then covers both: the chain's links, and each recorded document's bytes
against the SHA-256 its event recorded (altering a document and its archived hash
together is caught, because the chain's copy of the hash cannot be altered unseen).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from sqm.domain.commands import RecordDocument
from sqm.domain.documents import (
    ArchivedDocument,
    DocumentCorrupted,
    DocumentNotFound,
    DocumentStore,
    NewDocument,
)
from sqm.domain.events import DocumentArchived
from sqm.domain.pack_catalogue import DocumentKindId
from sqm.domain.ports import ChainVerification, EventStore
from sqm.domain.validation import validate, validate_against
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import CommandResult, SupplierService

VERIFY_PAGE = 1000
_PLACEHOLDER_ID = "0" * 32  # the archive assigns the id; the checks only need its form


@attrs.frozen
class DocumentVerification:
    """The chain's verdict, extended to the documents; ``documents_checked`` before any fault."""

    chain: ChainVerification
    documents_checked: int


class DocumentRecords:
    """Archive documents onto suppliers' records, and verify them against the chain."""

    def __init__(
        self, documents: DocumentStore, store: EventStore, service: SupplierService
    ) -> None:
        self._documents = documents
        self._store = store
        self._service = service

    def archive(
        self, document: NewDocument, occurred_at: datetime, context: RequestContext
    ) -> tuple[ArchivedDocument, CommandResult]:
        """Keep ``document`` and record it on its supplier's stream, once per request id."""
        state = self._service.get(document.supplier_id)  # NOT_FOUND for an unknown supplier
        if self._store.find_request(context.request_id) is None:
            probe = _probe(document, occurred_at)
            validate(probe)
            validate_against(probe, state)
        kept = self._documents.archive_document(document).document
        recorded = _record(kept, occurred_at, document.kind)
        return kept, self._service.execute(recorded, context)

    def verify(self) -> DocumentVerification:
        """The chain's links, then every recorded document against its recorded SHA-256."""
        chain = self._store.verify_chain()
        if not chain.intact:
            return DocumentVerification(chain, 0)
        checked, broken = self.check_documents()
        if broken is not None:
            sequence, problem = broken
            return DocumentVerification(
                ChainVerification(chain.events_checked, sequence, problem), checked
            )
        return DocumentVerification(chain, checked)

    def check_documents(self) -> tuple[int, tuple[int, str] | None]:
        """Every recorded document against its recorded SHA-256, without the chain.

        The documents checked before the first problem, and that problem with the global
        sequence of the event recording the document (None: every document matches).
        """
        checked, after = 0, 0
        wanted = DocumentArchived.__name__
        while page := self._store.read_all(after, VERIFY_PAGE):
            for event in page:
                after = event.global_seq
                if event.event_type != wanted:
                    continue
                problem = self._problem(event.payload)
                if problem:
                    return checked, (event.global_seq, problem)
                checked += 1
        return checked, None

    def _problem(self, recorded: Mapping[str, Any]) -> str:
        document_id = str(recorded["document_id"])
        try:
            kept, _ = self._documents.get_document(document_id)
        except DocumentNotFound:
            return f"document {document_id} is on the record but missing from the archive"
        except DocumentCorrupted as error:
            return f"document {document_id}: its bytes hash to {error.actual_sha256}"
        if kept.sha256 != recorded["sha256"]:
            return (
                f"document {document_id}: the archive holds SHA-256 {kept.sha256},"
                f" the record {recorded['sha256']}"
            )
        return ""


def _record(kept: ArchivedDocument, occurred_at: datetime, kind: DocumentKindId) -> RecordDocument:
    return RecordDocument(
        supplier_id=kept.supplier_id,
        document_id=kept.document_id,
        filename=kept.filename,
        media_type=kept.media_type,
        sha256=kept.sha256,
        size=kept.size,
        occurred_at=occurred_at,
        kind=kind,
    )


def _probe(document: NewDocument, occurred_at: datetime) -> RecordDocument:
    """The record ``document`` would get, before the archive has given it an id."""
    return RecordDocument(
        supplier_id=document.supplier_id,
        document_id=_PLACEHOLDER_ID,
        filename=document.filename,
        media_type=document.media_type,
        sha256=document.sha256,
        size=len(document.content),
        occurred_at=occurred_at,
        kind=document.kind,
    )
