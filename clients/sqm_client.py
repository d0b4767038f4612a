"""A typed Python client for the SQM gRPC API.

Mutating calls get a request id (a UUID unless the caller gives one) and are retried on
transient failures with that same id, so a retry never records anything twice. Every call
has a deadline. Failures raise :class:`sqm.client.errors.SqmError` with the server's reason.
The process methods (contract, monitoring, review, improvement, liability) are in
:mod:`sqm.client.process_calls`, the need methods (shortlist, ranking, award) in
:mod:`sqm.client.need_calls`, the supplier's side (notices, credit disputes) in
:mod:`sqm.client.supplier_calls`, corrective actions (8D) in
:mod:`sqm.client.corrective_action_calls`; message builders in :mod:`sqm.client.builders`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import grpc

from sqm.client.builders import certificate, supplier_name, timestamp
from sqm.client.corrective_action_calls import CorrectiveActionCalls
from sqm.client.need_calls import NeedCalls
from sqm.client.process_calls import ProcessCalls, new_request_id
from sqm.client.supplier_calls import SupplierSideCalls
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc

__all__ = ["SqmClient", "certificate", "supplier_name"]


class SqmClient(ProcessCalls, NeedCalls, SupplierSideCalls, CorrectiveActionCalls):
    """Client for ``sqm.v1.SupplierService``; use as a context manager to close the channel."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.2,
        actor: str | None = None,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        """Connect to ``target``; a ``token`` is sent with every call, ``credentials`` mean TLS."""
        channel = channel or _channel(target, credentials)
        super().__init__(
            channel, timeout=timeout, attempts=attempts, backoff=backoff, actor=actor, token=token
        )
        self._stub = api_grpc.SupplierServiceStub(channel)

    def register_supplier(
        self,
        supplier_id: str,
        display_name: str,
        category: str,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> pb.Supplier:
        """Register a candidate supplier; returns it."""
        request = api.RegisterSupplierRequest(
            supplier_id=supplier_id,
            display_name=display_name,
            category=category,
            occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(),
            view=view,
        )
        return self._call(self._stub.RegisterSupplier, request).supplier

    def submit_qualification_evidence(
        self,
        supplier_id: str,
        *,
        scores: Mapping[str, float] | None = None,
        certificates: Sequence[pb.Certificate] = (),
        site_audit_result: pb.SiteAuditResult.ValueType = pb.SITE_AUDIT_RESULT_UNSPECIFIED,
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.SubmitQualificationEvidenceResponse:
        """Submit evidence; the response carries the supplier and the decisions made."""
        request = api.SubmitQualificationEvidenceRequest(
            name=supplier_name(supplier_id),
            scores=dict(scores or {}),
            certificates=list(certificates),
            site_audit_result=site_audit_result,
            occur_time=timestamp(occur_time),
            etag=etag,
            request_id=request_id or new_request_id(),
            view=view,
        )
        return self._call(self._stub.SubmitQualificationEvidence, request)

    def get_supplier(
        self,
        supplier_id: str,
        *,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> pb.Supplier:
        """Read one supplier."""
        request = api.GetSupplierRequest(name=supplier_name(supplier_id), view=view)
        return self._call(self._stub.GetSupplier, request).supplier

    def list_suppliers(
        self,
        page_size: int = 0,
        *,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
        standing: str = "",
    ) -> Iterator[pb.Supplier]:
        """Every supplier in id order (only those whose latest scorecard is in ``standing``
        when given), fetched page by page.
        """
        request = api.ListSuppliersRequest(page_size=page_size, view=view, standing=standing)
        for page in self._pages(self._stub.ListSuppliers, request):
            yield from page.suppliers

    def list_supplier_events(
        self, supplier_id: str, page_size: int = 0
    ) -> Iterator[pb.SupplierEvent]:
        """The supplier's whole history, oldest first, fetched page by page."""
        request = api.ListSupplierEventsRequest(
            parent=supplier_name(supplier_id), page_size=page_size
        )
        for page in self._pages(self._stub.ListSupplierEvents, request):
            yield from page.events


def _channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, credentials)
