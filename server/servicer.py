"""The SupplierService servicer: thin. Map the request, run the application service, map back.

Application calls run on one worker thread: the SQLite connection and the rules engine are
both fed from a single thread, and commands are serialised within the process (across
processes, optimistic concurrency in the store does it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import grpc

from domain.errors import InvalidCommand
from server import mapping, pagination
from server.application import CommandResult, RequestContext, SupplierService
from server.errors import translated
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc

SUPPLIERS_PAGE = (50, 1000)  # (default, maximum)
EVENTS_PAGE = (100, 1000)
ACTOR_METADATA_KEY = "x-sqm-actor"

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]


class SupplierServicer(api_grpc.SupplierServiceServicer):
    """gRPC face of :class:`~server.application.SupplierService`."""

    def __init__(
        self, service: SupplierService, executor: ThreadPoolExecutor, clock: Callable[[], datetime]
    ) -> None:
        self._service = service
        self._executor = executor
        self._clock = clock

    @translated
    async def RegisterSupplier(  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.RegisterSupplierRequest, context: Context
    ) -> api.RegisterSupplierResponse:
        """Enter a supplier as a candidate."""
        command = mapping.register_supplier(request, self._clock)
        result = await self._execute(command, _request_context(request, context))
        return api.RegisterSupplierResponse(supplier=mapping.supplier(result.supplier))

    @translated
    async def SubmitQualificationEvidence(  # noqa: N802
        self, request: api.SubmitQualificationEvidenceRequest, context: Context
    ) -> api.SubmitQualificationEvidenceResponse:
        """Add evidence; a candidate is assessed by the active policy."""
        command = mapping.submit_evidence(request, self._clock)
        ctx = _request_context(request, context, mapping.expected_version(request.etag))
        result = await self._execute(command, ctx)
        return api.SubmitQualificationEvidenceResponse(
            supplier=mapping.supplier(result.supplier),
            decisions=mapping.decisions(result.decisions),
        )

    @translated
    async def GetSupplier(  # noqa: N802
        self, request: api.GetSupplierRequest, context: Context
    ) -> api.GetSupplierResponse:
        """Read one supplier."""
        supplier_id = _supplier_id(request.name, "name")
        state = await self._run(self._service.get, supplier_id)
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
        supplier_id = _supplier_id(request.parent, "parent")
        size = pagination.page_size(request.page_size, *EVENTS_PAGE)
        collection = f"events:{supplier_id}"
        after = pagination.decode(request.page_token, collection) or 0
        events = await self._run(self._service.history, supplier_id, int(after), size + 1)
        page, more = events[:size], len(events) > size
        token = pagination.encode(collection, page[-1].version) if more else ""
        return api.ListSupplierEventsResponse(
            events=[mapping.supplier_event(e) for e in page], next_page_token=token
        )

    async def _execute(self, command: Any, context: RequestContext) -> CommandResult:
        try:
            return await self._run(self._service.execute, command, context)
        except InvalidCommand as error:
            raise mapping.in_api_terms(error, command) from None

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args))


def _supplier_id(name: str, field: str) -> str:
    bad = mapping.Violations()
    supplier_id = mapping.supplier_id_from_name(name, field, bad)
    bad.raise_if_any()
    return supplier_id


def _request_context(
    request: Any, context: Context, expected_version: int | None = None
) -> RequestContext:
    metadata = dict(context.invocation_metadata() or ())
    actor = str(metadata.get(ACTOR_METADATA_KEY, "anonymous"))
    return RequestContext(mapping.request_id(request.request_id), actor, expected_version)
