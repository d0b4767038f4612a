"""Liability: compensation claims and the penalties ledger."""

from __future__ import annotations

from typing import Any

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.server.api import pagination, process_mapping
from sqm.server.api.errors import translated
from sqm.server.api.proto_values import money_to_proto
from sqm.server.api.resource_mapping import penalties, penalty_totals
from sqm.server.api.servicer_base import Context, ServicerBase, process_method, supplier_id
from sqm.v1 import supplier_service_pb2 as api

PENALTIES_PAGE = (100, 1000)  # (default, maximum)


class LiabilityMethods(ServicerBase):
    """Claim compensation; read the penalties ledger."""

    ClaimCompensation = process_method(
        process_mapping.claim_compensation,
        api.ClaimCompensationResponse,
        "Claim compensation for documented losses, capped by the liability limit.",
    )
    SettleCompensation = process_method(
        process_mapping.settle_compensation,
        api.SettleCompensationResponse,
        "Record (part of) a compensation as paid; never more than is outstanding.",
    )

    @translated
    async def ListPenalties(  # noqa: N802
        self, request: api.ListPenaltiesRequest, context: Context
    ) -> api.ListPenaltiesResponse:
        """A page of the ledger, oldest first, with the whole ledger's totals per kind.

        The totals are in the contract's currency and unset while there is no contract.
        """
        parent = supplier_id(request.parent, "parent")
        size = pagination.page_size(request.page_size, *PENALTIES_PAGE)
        collection = f"penalties:{parent}"
        start = _position(pagination.decode(request.page_token, collection))
        state = await self._run(self._service.get, parent)
        # The ledger is append-only, so a position in it stays valid between pages.
        page = state.penalties[start : start + size]
        more = start + size < len(state.penalties)
        totals = {kind: money_to_proto(m) for kind, m in penalty_totals(state).items()}
        return api.ListPenaltiesResponse(
            penalties=penalties(state, page),
            next_page_token=pagination.encode(collection, start + size) if more else "",
            service_credit_total=totals.get("service_credit"),
            compensation_total=totals.get("compensation"),
        )


def _position(decoded: Any) -> int:
    if decoded is None:
        return 0
    if isinstance(decoded, bool) or not isinstance(decoded, int) or decoded < 0:
        raise InvalidCommand([FieldViolation("page_token", "not a page token this list issued")])
    return decoded
