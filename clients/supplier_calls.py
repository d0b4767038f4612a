"""The supplier's side of the client: notices, their acknowledgement, credit disputes.

A supplier's token may call these on its own supplier (``sqm.client`` is what a supplier's
system uses too); deciding a dispute is for the operator's integration role.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqm.client.builders import supplier_name, timestamp
from sqm.client.process_calls import new_request_id
from sqm.client.retry import RetryingClient
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc

OUTCOMES = {
    "upheld": api.DISPUTE_OUTCOME_UPHELD,
    "accepted": api.DISPUTE_OUTCOME_ACCEPTED,
}
"""A dispute's outcome by the word the CLI takes."""


class SupplierSideCalls(RetryingClient):
    """Mixed into :class:`clients.SqmClient`, which supplies the stub."""

    _stub: api_grpc.SupplierServiceStub

    def list_notices(self, supplier_id: str, page_size: int = 0) -> Iterator[api.Notice]:
        """Every notice to the supplier, oldest first, fetched page by page."""
        request = api.ListNoticesRequest(parent=supplier_name(supplier_id), page_size=page_size)
        for page in self._pages(self._stub.ListNotices, request):
            yield from page.notices

    def acknowledge_notice(
        self,
        supplier_id: str,
        notice_sequence: int,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record that the supplier read the notice at ``notice_sequence``."""
        request = api.AcknowledgeNoticeRequest(
            name=supplier_name(supplier_id), notice_sequence=notice_sequence,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.AcknowledgeNotice, request).result

    def dispute_penalty(
        self,
        supplier_id: str,
        penalty_id: str,
        grounds: str,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Dispute a service credit of the supplier's ledger."""
        request = api.DisputePenaltyRequest(
            name=supplier_name(supplier_id), penalty_id=penalty_id, grounds=grounds,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.DisputePenalty, request).result

    def decide_penalty_dispute(
        self,
        supplier_id: str,
        penalty_id: str,
        outcome: api.DisputeOutcome.ValueType,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Decide an open dispute: upheld, or accepted (the credit is reversed)."""
        request = api.DecidePenaltyDisputeRequest(
            name=supplier_name(supplier_id), penalty_id=penalty_id, outcome=outcome, note=note,
            occur_time=timestamp(occur_time), etag=etag,
            request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.DecidePenaltyDispute, request).result
