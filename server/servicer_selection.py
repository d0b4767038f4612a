"""Selection: register, qualify, read and list suppliers, blacklist, sign the contract."""

from __future__ import annotations

from server import mapping, pagination, process_mapping
from server.errors import translated
from server.servicer_base import Context, ServicerBase, supplier_id
from sqm.v1 import supplier_service_pb2 as api

SUPPLIERS_PAGE = (50, 1000)  # (default, maximum)
EVENTS_PAGE = (100, 1000)


class SelectionMethods(ServicerBase):
    """The selection part of the process, and the standard read methods."""

    @translated
    async def RegisterSupplier(  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.RegisterSupplierRequest, context: Context
    ) -> api.RegisterSupplierResponse:
        """Enter a supplier as a candidate."""
        command, request_context = self._prepare(mapping.register_supplier, request, context)
        result = await self._execute(command, request_context)
        return api.RegisterSupplierResponse(supplier=mapping.supplier(result.supplier))

    @translated
    async def SubmitQualificationEvidence(  # noqa: N802
        self, request: api.SubmitQualificationEvidenceRequest, context: Context
    ) -> api.SubmitQualificationEvidenceResponse:
        """Add evidence; a candidate is assessed by the active policy."""
        command, request_context = self._prepare(mapping.submit_evidence, request, context)
        result = await self._execute(command, request_context)
        return api.SubmitQualificationEvidenceResponse(
            supplier=mapping.supplier(result.supplier),
            decisions=mapping.decisions(result.decisions),
        )

    @translated
    async def GetSupplier(  # noqa: N802
        self, request: api.GetSupplierRequest, context: Context
    ) -> api.GetSupplierResponse:
        """Read one supplier."""
        state = await self._run(self._service.get, supplier_id(request.name, "name"))
        return api.GetSupplierResponse(supplier=mapping.supplier(state))

    @translated
    async def ListSuppliers(  # noqa: N802
        self, request: api.ListSuppliersRequest, context: Context
    ) -> api.ListSuppliersResponse:
        """List suppliers in id order."""
        size = pagination.page_size(request.page_size, *SUPPLIERS_PAGE)
        after = pagination.decode(request.page_token, "suppliers") or ""
        # One extra row tells whether another page exists without a second query.
        states = await self._run(self._service.list_suppliers, str(after), size + 1)
        page, more = states[:size], len(states) > size
        token = pagination.encode("suppliers", page[-1].supplier_id) if more else ""
        return api.ListSuppliersResponse(
            suppliers=[mapping.supplier(s) for s in page], next_page_token=token
        )

    @translated
    async def ListSupplierEvents(  # noqa: N802
        self, request: api.ListSupplierEventsRequest, context: Context
    ) -> api.ListSupplierEventsResponse:
        """List a supplier's events, oldest first."""
        parent = supplier_id(request.parent, "parent")
        size = pagination.page_size(request.page_size, *EVENTS_PAGE)
        collection = f"events:{parent}"
        after = pagination.decode(request.page_token, collection) or 0
        events = await self._run(self._service.history, parent, int(after), size + 1)
        page, more = events[:size], len(events) > size
        token = pagination.encode(collection, page[-1].version) if more else ""
        return api.ListSupplierEventsResponse(
            events=[mapping.supplier_event(e) for e in page], next_page_token=token
        )

    @translated
    async def BlacklistSupplier(  # noqa: N802
        self, request: api.BlacklistSupplierRequest, context: Context
    ) -> api.BlacklistSupplierResponse:
        """Bar a supplier from qualification; a candidate is disqualified."""
        result = await self._process(process_mapping.blacklist_supplier, request, context)
        return api.BlacklistSupplierResponse(result=result)

    @translated
    async def SignContract(  # noqa: N802
        self, request: api.SignContractRequest, context: Context
    ) -> api.SignContractResponse:
        """Record the contract signed with a qualified supplier."""
        result = await self._process(process_mapping.sign_contract, request, context)
        return api.SignContractResponse(result=result)
