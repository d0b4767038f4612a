"""Selection: register, qualify, read and list suppliers, blacklist, sign the contract."""

from __future__ import annotations

import hashlib

from sqm.domain.events import EVENT_TYPES
from sqm.server.api import mapping, need_mapping, pagination, process_mapping
from sqm.server.api.errors import translated
from sqm.server.api.proto_values import optional_time
from sqm.server.api.servicer_base import (
    Context,
    ServicerBase,
    process_method,
    read_view,
    supplier_id,
    write_view,
)
from sqm.server.app.needs import ranked_candidates
from sqm.server.app.suppliers import EventFilter
from sqm.server.security.auth import current_actor
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
        return api.RegisterSupplierResponse(
            supplier=mapping.supplier(result.supplier, write_view(request), self._service.policy())
        )

    @translated
    async def SubmitQualificationEvidence(  # noqa: N802
        self, request: api.SubmitQualificationEvidenceRequest, context: Context
    ) -> api.SubmitQualificationEvidenceResponse:
        """Add evidence; a candidate is assessed by the active policy."""
        command, request_context = self._prepare(mapping.submit_evidence, request, context)
        result = await self._execute(command, request_context)
        return api.SubmitQualificationEvidenceResponse(
            supplier=mapping.supplier(result.supplier, write_view(request), self._service.policy()),
            decisions=mapping.decisions(result.decisions),
        )

    @translated
    async def GetSupplier(  # noqa: N802
        self, request: api.GetSupplierRequest, context: Context
    ) -> api.GetSupplierResponse:
        """Read one supplier."""
        view = read_view(request)
        state = await self._read(supplier_id(request.name, "name"))
        terms = self._service.policy()
        return api.GetSupplierResponse(supplier=mapping.supplier(state, view, terms))

    @translated
    async def ListSuppliers(  # noqa: N802
        self, request: api.ListSuppliersRequest, context: Context
    ) -> api.ListSuppliersResponse:
        """List suppliers in id order: only those in ``standing`` when it is given, and a
        supplier's token lists itself only.
        """
        view = read_view(request)
        terms = self._service.policy()
        own = current_actor().supplier
        if own is not None:  # the access table lets a supplier list only itself
            state = await self._run(self._service.find, own)
            listed = [mapping.supplier(state, view, terms)] if state is not None else []
            return api.ListSuppliersResponse(suppliers=listed)
        size = pagination.page_size(request.page_size, *SUPPLIERS_PAGE)
        after = pagination.decode(request.page_token, "suppliers") or ""
        # One extra row tells whether another page exists without a second query.
        if request.standing:
            states = await self._run(
                self._service.list_suppliers_in_standing, request.standing, str(after), size + 1
            )
        else:
            states = await self._run(self._service.list_suppliers, str(after), size + 1)
        page, more = states[:size], len(states) > size
        token = pagination.encode("suppliers", page[-1].supplier_id) if more else ""
        return api.ListSuppliersResponse(
            suppliers=[mapping.supplier(s, view, terms) for s in page], next_page_token=token
        )

    @translated
    async def RankCandidates(  # noqa: N802
        self, request: api.RankCandidatesRequest, context: Context
    ) -> api.RankCandidatesResponse:
        """Rank shortlisted candidates by weighted sum and TOPSIS, with the report."""
        inputs = ranking_inputs(request)
        outcome = await self._run(self._service.rank_candidates, inputs)
        return api.RankCandidatesResponse(
            candidates=[need_mapping.candidate_ranking(c) for c in ranked_candidates(outcome)],
            methods_agree=outcome.report.methods_agree,
            report=outcome.report.summary(),
            policy_version=outcome.policy_version,
        )

    @translated
    async def ListSupplierEvents(  # noqa: N802
        self, request: api.ListSupplierEventsRequest, context: Context
    ) -> api.ListSupplierEventsResponse:
        """List a supplier's events, oldest first."""
        parent = supplier_id(request.parent, "parent")
        wanted = event_filter(request)
        size = pagination.page_size(request.page_size, *EVENTS_PAGE)
        # The token is bound to the filter: a page of one filter cannot resume another.
        collection = f"events:{parent}:{_filter_key(wanted)}"
        after = pagination.decode_index(request.page_token, collection)
        page, resume = await self._run(self._service.filtered_history, parent, after, size, wanted)
        token = pagination.encode(collection, resume) if resume is not None else ""
        return api.ListSupplierEventsResponse(
            events=[mapping.supplier_event(e) for e in page], next_page_token=token
        )

    BlacklistSupplier = process_method(
        process_mapping.blacklist_supplier,
        api.BlacklistSupplierResponse,
        "Bar a supplier from qualification; a candidate is disqualified.",
    )
    SignContract = process_method(
        process_mapping.sign_contract,
        api.SignContractResponse,
        "Record the contract signed with a qualified supplier.",
    )
    RecordMarketResearch = process_method(
        process_mapping.record_market_research,
        api.RecordMarketResearchResponse,
        "Record market research on a candidate or qualified supplier.",
    )


def event_filter(request: api.ListSupplierEventsRequest) -> EventFilter:
    """The filter a ListSupplierEvents request asks for; every bad part named at once."""
    bad = mapping.Violations()
    unknown = sorted(set(request.event_types) - set(EVENT_TYPES))
    if unknown:
        bad.add("event_types", f"unknown {unknown}; expected any of {', '.join(EVENT_TYPES)}")
    start = optional_time(request, "start_time", "", bad)
    end = optional_time(request, "end_time", "", bad)
    if start is not None and end is not None and end <= start:
        bad.add("end_time", "must be later than start_time")
    bad.raise_if_any()
    return EventFilter(frozenset(request.event_types), start, end)


def _filter_key(wanted: EventFilter) -> str:
    text = "|".join(
        [",".join(sorted(wanted.types)), str(wanted.start or ""), str(wanted.end or "")]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


MAX_CANDIDATES = 100


def ranking_inputs(request: api.RankCandidatesRequest) -> list[tuple[str, dict[str, float]]]:
    """The shortlist of a RankCandidates request; every bad part named at once."""
    bad = mapping.Violations()
    if not request.candidates:
        bad.add("candidates", "give at least one candidate")
    if len(request.candidates) > MAX_CANDIDATES:
        bad.add("candidates", f"at most {MAX_CANDIDATES} candidates")
    inputs = []
    for index, candidate in enumerate(request.candidates):
        field = f"candidates[{index}]"
        supplier = mapping.supplier_id_from_name(candidate.supplier, f"{field}.supplier", bad)
        need_mapping.check_candidate_values(field, candidate.values, bad)
        inputs.append((supplier, dict(candidate.values)))
    bad.raise_if_any()
    return inputs
