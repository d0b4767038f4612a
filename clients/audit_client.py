"""A client for ``sqm.v1.AuditService``: watch the record, verify it, export, archive documents.

::

    from sqm.client.audit_client import AuditClient

    with AuditClient("127.0.0.1:50051", actor="auditor") as audit:
        print(audit.verify_chain().intact)
        with audit.watch(resume_token=saved) as stream:
            for item in stream:
                handle(item.event)
                saved = item.resume_token   # keep it: resume from here after a disconnect

Unary calls have a deadline and raise :class:`sqm.client.errors.SqmError`; archiving is retried
on transient failures with the same request id, so a retry never archives twice. A watch
has no deadline: it runs until :meth:`WatchStream.cancel` (or leaving its ``with`` block).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import grpc

from sqm.client.builders import timestamp
from sqm.client.errors import from_rpc_error
from sqm.client.retry import RetryingClient
from sqm.v1 import audit_service_pb2 as api
from sqm.v1 import audit_service_pb2_grpc as api_grpc


class WatchStream:
    """An open Watch: iterate for :class:`api.WatchResponse` items; cancel to end it."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.cancel()

    def __iter__(self) -> Iterator[api.WatchResponse]:
        try:
            yield from self._call
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.CANCELLED and self._call.cancelled():
                return  # we ended it ourselves
            raise from_rpc_error(error) from None

    def cancel(self) -> None:
        """End the stream (the server stops sending at once)."""
        self._call.cancel()


class AuditClient(RetryingClient):
    """Client for ``sqm.v1.AuditService``; use as a context manager to close the channel.

    Every unary call here is safe to retry: reads, or an archive under one request id.
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 0.2,
        actor: str | None = None,
        token: str | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        channel = channel or grpc.insecure_channel(target)
        super().__init__(
            channel, timeout=timeout, attempts=attempts, backoff=backoff, actor=actor, token=token
        )
        self._stub = api_grpc.AuditServiceStub(channel)

    def watch(
        self,
        *,
        resume_token: str = "",
        start_from_now: bool = False,
        supplier_id: str = "",
        timeout: float | None = None,
        notification_kinds: Sequence[str] = (),
        notification_recipients: Sequence[str] = (),
    ) -> WatchStream:
        """Open a Watch after ``resume_token`` (from the beginning when empty).

        ``timeout`` None (the default) lets it run until cancelled. With notification kinds
        or recipients, only the events that notified them come, each with its notifications.
        """
        request = api.WatchRequest(
            resume_token=resume_token,
            start_from_now=start_from_now,
            supplier=f"suppliers/{supplier_id}" if supplier_id else "",
            notification_kinds=notification_kinds,
            notification_recipients=notification_recipients,
        )
        return WatchStream(self._stub.Watch(request, timeout=timeout, metadata=self._metadata))

    def verify_chain(self) -> api.VerifyAuditChainResponse:
        """Recompute the record's hash chain on the server."""
        return self._call(self._stub.VerifyAuditChain, api.VerifyAuditChainRequest())

    def export_supplier(self, supplier_id: str) -> api.ExportSupplierResponse:
        """The supplier's whole record."""
        request = api.ExportSupplierRequest(name=f"suppliers/{supplier_id}")
        return self._call(self._stub.ExportSupplier, request)

    def archive_document(
        self,
        supplier_id: str,
        filename: str,
        media_type: str,
        content: bytes,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
    ) -> api.Document:
        """Archive ``content`` for the supplier; returns the document with its SHA-256.

        The supplier's record gets a ``DocumentArchived`` event at ``occur_time`` (the
        server's time when None), which puts the SHA-256 in the hash chain.
        """
        request = api.ArchiveDocumentRequest(
            parent=f"suppliers/{supplier_id}",
            filename=filename,
            media_type=media_type,
            content=content,
            occur_time=timestamp(occur_time),
            request_id=request_id or str(uuid.uuid4()),
        )
        return self._call(self._stub.ArchiveDocument, request).document

    def get_document(self, name: str) -> api.GetDocumentResponse:
        """A document (by resource name) with its content, checked by the server."""
        return self._call(self._stub.GetDocument, api.GetDocumentRequest(name=name))

    def list_documents(self, supplier_id: str, page_size: int = 0) -> Iterator[api.Document]:
        """The supplier's documents in archive order, fetched page by page."""
        request = api.ListDocumentsRequest(parent=f"suppliers/{supplier_id}", page_size=page_size)
        for page in self._pages(self._stub.ListDocuments, request):
            yield from page.documents
