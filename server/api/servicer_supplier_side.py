"""The supplier's side: its notices and their acknowledgement, disputes of its service
credits, and the operator's decision on a dispute.
"""

from __future__ import annotations

from functools import partial

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.supplier_side import NOTICE_TYPES
from sqm.server.api import mapping, pagination, supplier_side_mapping
from sqm.server.api.errors import translated
from sqm.server.api.servicer_base import Context, ServicerBase, process_method, supplier_id
from sqm.server.app.suppliers import EventFilter
from sqm.v1 import supplier_service_pb2 as api

NOTICES_PAGE = (100, 1000)  # (default, maximum)


class SupplierSideMethods(ServicerBase):
    """List and acknowledge notices; dispute a credit; decide a dispute."""

    @translated
    async def ListNotices(  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.ListNoticesRequest, context: Context
    ) -> api.ListNoticesResponse:
        """The notices to a supplier, oldest first, each marked acknowledged or not."""
        parent = supplier_id(request.parent, "parent")
        size = pagination.page_size(request.page_size, *NOTICES_PAGE)
        collection = f"notices:{parent}"
        after = pagination.decode_index(request.page_token, collection)
        wanted = EventFilter(NOTICE_TYPES)
        page, resume = await self._run(self._service.filtered_history, parent, after, size, wanted)
        state = await self._run(self._service.get, parent)
        return api.ListNoticesResponse(
            notices=[
                api.Notice(
                    event=mapping.supplier_event(event),
                    acknowledged=event.global_seq in state.acknowledged_notices,
                )
                for event in page
            ],
            next_page_token=pagination.encode(collection, resume) if resume is not None else "",
        )

    @translated
    async def AcknowledgeNotice(  # noqa: N802
        self, request: api.AcknowledgeNoticeRequest, context: Context
    ) -> api.AcknowledgeNoticeResponse:
        """Record that the supplier read a notice; NOT_FOUND unless it is one of its own."""
        parent = supplier_id(request.name, "name")
        if request.notice_sequence <= 0:  # before the lookup: a bad sequence is not NOT_FOUND
            problem = "expected the notice's event sequence, from 1"
            raise InvalidCommand([FieldViolation("notice_sequence", problem)])
        notice = await self._run(self._service.notice, parent, request.notice_sequence)
        # The notice's type comes from the record, never from the caller.
        mapper = partial(supplier_side_mapping.acknowledge_notice, notice_type=notice.event_type)
        return api.AcknowledgeNoticeResponse(result=await self._process(mapper, request, context))

    DisputePenalty = process_method(
        supplier_side_mapping.dispute_penalty,
        api.DisputePenaltyResponse,
        "Record the supplier's dispute of a service credit, on its grounds.",
    )
    DecidePenaltyDispute = process_method(
        supplier_side_mapping.decide_penalty_dispute,
        api.DecidePenaltyDisputeResponse,
        "Decide an open dispute; an accepted one reverses the credit with a credit note.",
    )
