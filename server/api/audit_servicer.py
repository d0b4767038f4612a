"""The AuditService servicer: watch the record, verify its chain, export, archive documents.

Thin, like the others: requests are checked and mapped (:mod:`sqm.server.api.audit_mapping`), the
store is read on the application's worker thread, answers mapped back. Errors become statuses
through the shared table in :mod:`sqm.server.api.errors`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sqm.domain import notifications
from sqm.domain.commands import RecordDocument
from sqm.domain.documents import ArchivedDocument, DocumentNotFound
from sqm.domain.errors import InvalidCommand
from sqm.domain.ports import OutboxEntry, RecordedEvent, Store
from sqm.server.api import audit_mapping, mapping, pagination, watch
from sqm.server.api.errors import ForeignSupplier, abort, translated
from sqm.server.api.notification_mapping import notification_kinds, outbox_notification
from sqm.server.api.resource_mapping import penalties
from sqm.server.api.servicer_base import Context, OnWorker, actor, supplier_id
from sqm.server.app.documents import DocumentRecords
from sqm.server.app.integrity import RecordVerdict, verify_record
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.observability.calls import watching
from sqm.server.security.auth import current_actor
from sqm.server.security.checkpoints import (
    Checkpoint,
    CheckpointWriter,
    SignedCheckpoint,
    read_checkpoints,
)
from sqm.v1 import audit_service_pb2 as api
from sqm.v1 import audit_service_pb2_grpc as api_grpc
from sqm.v1 import resources_pb2 as pb

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])
DOCUMENTS_PAGE = (50, 1000)  # (default, maximum)
_EXPORT_PAGE = 1000
_PROBLEMS_SHOWN = 10  # in ``problem``; ``findings`` holds them all


class AuditServicer(OnWorker, api_grpc.AuditServiceServicer):
    """gRPC face of the record: the event store, its documents and the supplier service."""

    def __init__(
        self,
        service: SupplierService,
        store: Store,
        executor: ThreadPoolExecutor,
        clock: Callable[[], datetime],
        checkpoints: CheckpointWriter | None = None,
    ) -> None:
        self._checkpoints = checkpoints
        self._service = service
        self._store = store
        self._records = DocumentRecords(store, store, service)
        self._head = watch.StoreHead(store, checkpoints)
        self._executor = executor
        self._clock = clock

    # The stubs type a streaming method as an iterator; grpc.aio also accepts a coroutine
    # that writes its responses, which is what this is (see the docstring for why).
    async def Watch(  # type: ignore[override]  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.WatchRequest, context: Context
    ) -> None:
        """Stream every event after the resume token, then new ones, until cancelled.

        Written with ``context.write`` rather than as an async generator: when a client
        cancels, a generator's cleanup can run after grpc has released the call, and then
        an interceptor reading the call's peer crashes the process.
        """
        try:
            wanted = supplier_id(request.supplier, "supplier") if request.supplier else ""
            notes = _NotificationFilter(
                notification_kinds(list(request.notification_kinds)),
                _recipients(list(request.notification_recipients)),
            )
            after = await self._run(
                watch.start_after, request.resume_token, request.start_from_now, self._head
            )
            identity = await self._run(self._head.identity)
        except Exception as error:
            await abort(context, error)
        items = watch.follow(partial(self._read_page, notes), after, self._head)
        with watching():
            async with contextlib.aclosing(items):
                async for item in items:
                    if isinstance(item, watch.CheckpointReached):
                        await context.write(
                            api.WatchResponse(
                                checkpoint=_signed_checkpoint(item.signed),
                                resume_token=watch.encode_token(item.after, identity),
                            )
                        )
                    elif (not wanted or item.stream_id == wanted) and notes.passes(item):
                        await context.write(
                            api.WatchResponse(
                                event=mapping.supplier_event(item),
                                resume_token=watch.encode_token(item.global_seq, identity),
                                notifications=notes.of(item),
                            )
                        )

    async def _read_page(
        self, notes: _NotificationFilter, after_seq: int, limit: int
    ) -> list[RecordedEvent]:
        page = await self._read_all(after_seq, limit)
        if notes.active and page:
            first, last = page[0].global_seq, page[-1].global_seq
            notes.found(await self._run(self._store.event_notifications, first, last))
        return page

    async def _read_all(self, after_seq: int, limit: int) -> list[RecordedEvent]:
        return await self._run(self._store.read_all, after_seq, limit)

    @translated
    async def VerifyAuditChain(  # noqa: N802
        self, request: api.VerifyAuditChainRequest, context: Context
    ) -> api.VerifyAuditChainResponse:
        """Audit the whole record (:mod:`sqm.server.app.integrity`): chain, checkpoints,
        requests, snapshots, policy versions, documents and the database file.
        """
        verdict = await self._run(self._verify)
        findings = verdict.report.findings
        return api.VerifyAuditChainResponse(
            events_checked=verdict.report.events_checked,
            intact=not findings,
            first_broken_sequence=verdict.first_sequence,
            problem="; ".join(str(f) for f in findings[:_PROBLEMS_SHOWN]),
            documents_checked=verdict.documents_checked,
            findings=[
                api.AuditFinding(place=f.place, problem=f.problem, sequence=f.sequence)
                for f in findings
            ],
        )

    def _verify(self) -> RecordVerdict:
        writer = self._checkpoints
        signed = None
        if writer is not None:
            path, key = writer.path, writer.public_key
            signed = partial(_signed, path, key)
        return verify_record(self._store, self._records, signed, self._store.integrity_problems)

    @translated
    async def ExportSupplier(  # noqa: N802
        self, request: api.ExportSupplierRequest, context: Context
    ) -> api.ExportSupplierResponse:
        """A supplier's state, every event, its penalties and its documents."""
        found = supplier_id(request.name, "name")
        return await self._run(self._export, found)

    def _export(self, found: str) -> api.ExportSupplierResponse:
        state = self._service.get(found)  # NOT_FOUND for an unknown supplier
        events = self._store.read_stream(found)
        documents: list[ArchivedDocument] = []
        after = ""
        while page := self._store.list_documents(found, after, _EXPORT_PAGE):
            documents.extend(page)
            after = page[-1].document_id
        return api.ExportSupplierResponse(
            supplier=mapping.supplier(state, terms=self._service.policy()),
            events=[mapping.supplier_event(e) for e in events],
            penalties=penalties(state, state.penalties),
            documents=[audit_mapping.document(d) for d in documents],
        )

    @translated
    async def ArchiveDocument(  # noqa: N802
        self, request: api.ArchiveDocumentRequest, context: Context
    ) -> api.ArchiveDocumentResponse:
        """Keep a document for a supplier, with its SHA-256 on the supplier's record."""
        kinds = self._service.catalogue().document_kind_ids
        document = audit_mapping.new_document(request, actor(context), kinds)
        occurred_at = audit_mapping.occurred_at(request, self._clock)
        defaulted = not request.HasField("occur_time")
        record_context = RequestContext(document.request_id, document.actor, None, defaulted)
        try:
            kept, result = await self._run(
                self._records.archive, document, occurred_at, record_context
            )
        except InvalidCommand as error:
            raise mapping.in_api_terms_of(error, RecordDocument) from None
        return api.ArchiveDocumentResponse(
            document=audit_mapping.document(kept),
            events=[mapping.supplier_event(e) for e in result.events],
        )

    @translated
    async def GetDocument(  # noqa: N802
        self, request: api.GetDocumentRequest, context: Context
    ) -> api.GetDocumentResponse:
        """A document with its content, checked against its SHA-256."""
        owner, document_id = audit_mapping.document_ref(request.name)
        record, content = await self._run(self._store.get_document, document_id)
        if record.supplier_id != owner:
            raise DocumentNotFound(document_id)
        return api.GetDocumentResponse(document=audit_mapping.document(record), content=content)

    @translated
    async def ListDocuments(  # noqa: N802
        self, request: api.ListDocumentsRequest, context: Context
    ) -> api.ListDocumentsResponse:
        """A supplier's documents in archive order."""
        parent = supplier_id(request.parent, "parent")
        size = pagination.page_size(request.page_size, *DOCUMENTS_PAGE)
        collection = f"documents:{parent}"
        after = pagination.decode(request.page_token, collection) or ""
        await self._run(self._service.get, parent)
        found = await self._run(self._store.list_documents, parent, str(after), size + 1)
        page, more = found[:size], len(found) > size
        token = pagination.encode(collection, page[-1].document_id) if more else ""
        return api.ListDocumentsResponse(
            documents=[audit_mapping.document(d) for d in page], next_page_token=token
        )


@attrs.define
class _NotificationFilter:
    """Watch's notification filters, and the notifications of the page being sent."""

    kinds: tuple[str, ...]
    recipients: tuple[str, ...]
    _by_event: dict[int, list[OutboxEntry]] = attrs.field(factory=dict)

    @property
    def active(self) -> bool:
        """Whether any filter is set (else every event passes, with no notifications)."""
        return bool(self.kinds or self.recipients)

    def found(self, entries: list[OutboxEntry]) -> None:
        """The notifications of the page just read."""
        self._by_event.clear()
        for entry in entries:
            if notifications.wanted(entry.kind, entry.recipient, self.kinds, self.recipients):
                self._by_event.setdefault(entry.global_seq, []).append(entry)

    def passes(self, event: RecordedEvent) -> bool:
        """Whether the event is sent: no filter, or a notification of it matches."""
        return not self.active or event.global_seq in self._by_event

    def of(self, event: RecordedEvent) -> list[pb.OutboxNotification]:
        """The event's matching notifications, as sent."""
        return [outbox_notification(e) for e in self._by_event.get(event.global_seq, [])]


def _recipients(recipients: list[str]) -> tuple[str, ...]:
    # A supplier's token already watches only its own stream (``supplier`` must name it);
    # here it may name no recipient but itself either.
    supplier = current_actor().supplier
    if supplier is not None and any(
        r != notifications.supplier_recipient(supplier) for r in recipients
    ):
        raise ForeignSupplier("sqm.v1.AuditService/Watch", "notification_recipients", supplier)
    return tuple(recipients)


def _signed_checkpoint(signed: SignedCheckpoint) -> api.SignedCheckpoint:
    checkpoint = signed.checkpoint
    return api.SignedCheckpoint(
        sequence=checkpoint.sequence,
        hash=checkpoint.hash,
        identity=checkpoint.identity,
        sign_time=checkpoint.signed_at,
        signature=signed.signature,
        line=signed.line,
    )


def _signed(path: Path, key: Ed25519PublicKey) -> list[Checkpoint]:
    return read_checkpoints(path, key) if path.exists() else []
