"""The process methods of the client: contract, monitoring, review, improvement, liability.

Each mutating call returns the :class:`ProcessResult` (supplier after the call, decisions,
recorded events); a request id is generated once per call unless given, and every retry
sends that same id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from sqm.client.builders import supplier_name, timestamp
from sqm.client.retry import RetryingClient
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc


@attrs.frozen
class PenaltyLedger:
    """A supplier's whole penalties ledger and its totals per kind (unset without a contract)."""

    penalties: tuple[pb.Penalty, ...]
    service_credit_total: pb.Money
    compensation_total: pb.Money


def new_request_id() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


class ProcessCalls(RetryingClient):
    """Mixed into :class:`clients.SqmClient`, which supplies the stub."""

    _stub: api_grpc.SupplierServiceStub

    def _process(self, method: Callable[..., Any], request: Any) -> api.ProcessResult:
        result: api.ProcessResult = self._call(method, request).result
        return result

    def blacklist_supplier(
        self,
        supplier_id: str,
        reason: str,
        *,
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Bar a supplier from qualification; a candidate is disqualified."""
        return self._process(self._stub.BlacklistSupplier, api.BlacklistSupplierRequest(
            name=supplier_name(supplier_id), reason=reason, occur_time=timestamp(occur_time),
            etag=etag, request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def sign_contract(
        self,
        supplier_id: str,
        contract: pb.Contract,
        *,
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record the contract signed with a qualified supplier (see ``clients.contract``)."""
        return self._process(self._stub.SignContract, api.SignContractRequest(
            name=supplier_name(supplier_id), contract=contract, occur_time=timestamp(occur_time),
            etag=etag, request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def record_measurement(
        self,
        measurement: api.RecordMeasurementRequest,
        *,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record one SLA measurement (build it with ``clients.measurement``)."""
        request = api.RecordMeasurementRequest()
        request.CopyFrom(measurement)
        request.request_id = request.request_id or new_request_id()
        request.view = view or request.view
        return self._call(self._stub.RecordMeasurement, request).result

    def upload_measurements(
        self,
        rows: Iterable[api.RecordMeasurementRequest],
        partial_acceptance: bool = False,
        *,
        timeout: float | None = None,
    ) -> api.UploadMeasurementsResponse:
        """Upload measurements in one stream: all or none, unless ``partial_acceptance``.

        Rows without a request id get one here, once, so a retried stream (the client
        retries transient failures) is recognised row by row and never counts twice. The
        server decides rows one by one: give large uploads a ``timeout`` (seconds for the
        whole stream) longer than the client's default.
        """
        messages = []
        for row in rows:
            message = api.UploadMeasurementsRequest(measurement=row)
            if not message.measurement.request_id:
                message.measurement.request_id = new_request_id()
            messages.append(message)
        if messages:
            messages[0].partial_acceptance = partial_acceptance

        def stream(requests: Sequence[api.UploadMeasurementsRequest], **kwargs: Any) -> Any:
            return self._stub.UploadMeasurements(iter(requests), **kwargs)

        response: api.UploadMeasurementsResponse = self._call(stream, messages, timeout)
        return response

    def record_satisfaction_survey(
        self,
        supplier_id: str,
        score: float,
        *,
        respondents: int = 1,
        comment: str = "",
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record a customer satisfaction result (0-100)."""
        survey = self._stub.RecordSatisfactionSurvey
        return self._process(survey, api.RecordSatisfactionSurveyRequest(
            name=supplier_name(supplier_id), score=score, respondents=respondents,
            comment=comment, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def record_inspection(
        self,
        supplier_id: str,
        passed: bool,
        *,
        findings: str = "",
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record an inspection, passed or failed."""
        return self._process(self._stub.RecordInspection, api.RecordInspectionRequest(
            name=supplier_name(supplier_id), passed=passed, findings=findings,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def submit_progress_report(
        self,
        supplier_id: str,
        summary: str,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record the supplier's periodic progress report."""
        return self._process(self._stub.SubmitProgressReport, api.SubmitProgressReportRequest(
            name=supplier_name(supplier_id), summary=summary, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def submit_self_check(
        self,
        supplier_id: str,
        passed: bool,
        *,
        summary: str = "",
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record the supplier's periodic self-check."""
        return self._process(self._stub.SubmitSelfCheck, api.SubmitSelfCheckRequest(
            name=supplier_name(supplier_id), passed=passed, summary=summary,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def open_review(
        self,
        supplier_id: str,
        reason: str,
        *,
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Put a contracted supplier under review by hand."""
        return self._process(self._stub.OpenReview, api.OpenReviewRequest(
            name=supplier_name(supplier_id), reason=reason, occur_time=timestamp(occur_time),
            etag=etag, request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def conclude_review(
        self,
        supplier_id: str,
        outcome: pb.ReviewOutcome.ValueType,
        *,
        note: str = "",
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Conclude the open review: cleared, remediation required, or failed."""
        return self._process(self._stub.ConcludeReview, api.ConcludeReviewRequest(
            name=supplier_name(supplier_id), outcome=outcome, note=note,
            occur_time=timestamp(occur_time), etag=etag,
            request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def submit_improvement_plan(
        self,
        supplier_id: str,
        measures: Sequence[str],
        owner: str,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record the improvement plan the review required."""
        return self._process(self._stub.SubmitImprovementPlan, api.SubmitImprovementPlanRequest(
            name=supplier_name(supplier_id), measures=list(measures), owner=owner,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def complete_improvement_plan(
        self,
        supplier_id: str,
        *,
        note: str = "",
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record that the plan's measures are in place."""
        return self._process(self._stub.CompleteImprovementPlan, api.CompleteImprovementPlanRequest(
            name=supplier_name(supplier_id), note=note, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def verify_remediation(
        self,
        supplier_id: str,
        *,
        note: str = "",
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Confirm by hand that a completed plan was effective."""
        return self._process(self._stub.VerifyRemediation, api.VerifyRemediationRequest(
            name=supplier_name(supplier_id), note=note, occur_time=timestamp(occur_time),
            etag=etag, request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def claim_compensation(
        self,
        supplier_id: str,
        amount: pb.Money,
        description: str,
        *,
        occur_time: datetime | None = None,
        loss_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Claim compensation for documented losses (build the amount with ``clients.money``);
        ``loss_time`` is when the loss happened (the claim's time when not given).
        """
        return self._process(self._stub.ClaimCompensation, api.ClaimCompensationRequest(
            name=supplier_name(supplier_id), amount=amount, description=description,
            occur_time=timestamp(occur_time), loss_time=timestamp(loss_time),
            request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def record_market_research(
        self,
        supplier_id: str,
        capability_summary: str,
        past_performance_summary: str,
        references: Sequence[str] = (),
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record market research on a candidate or qualified supplier."""
        return self._process(self._stub.RecordMarketResearch, api.RecordMarketResearchRequest(
            name=supplier_name(supplier_id), capability_summary=capability_summary,
            past_performance_summary=past_performance_summary, references=list(references),
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def record_kick_off(
        self,
        supplier_id: str,
        goals: str,
        milestones: Sequence[tuple[str, datetime] | tuple[str, datetime, str]] = (),
        responsibilities: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record the delivery kick-off; ``milestones`` are (name, due time) pairs, or (name,
        due time, kind) with a milestone kind the pack's catalogue declares (``site_survey``).
        """
        return self._process(self._stub.RecordKickOff, api.RecordKickOffRequest(
            name=supplier_name(supplier_id), goals=goals,
            milestones=[_milestone(*milestone) for milestone in milestones],
            responsibilities=responsibilities, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def complete_milestone(
        self,
        supplier_id: str,
        milestone: str,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record that the supplier completed the kick-off milestone named ``milestone``."""
        return self._process(self._stub.CompleteMilestone, api.CompleteMilestoneRequest(
            name=supplier_name(supplier_id), milestone=milestone, note=note,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def accept_deliverable(
        self,
        supplier_id: str,
        milestone: str,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Accept the stage deliverable of the completed milestone ``milestone``."""
        return self._process(self._stub.AcceptDeliverable, api.AcceptDeliverableRequest(
            name=supplier_name(supplier_id), milestone=milestone, note=note,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def submit_resource_plan(
        self,
        supplier_id: str,
        resources: Sequence[str],
        summary: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record the resources the supplier commits to the delivery."""
        return self._process(self._stub.SubmitResourcePlan, api.SubmitResourcePlanRequest(
            name=supplier_name(supplier_id), resources=list(resources), summary=summary,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def open_problem_ticket(
        self,
        supplier_id: str,
        ticket_id: str,
        summary: str,
        severity: pb.Severity.ValueType,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Open a problem ticket (severity ``pb.SEVERITY_MAJOR``...)."""
        return self._process(self._stub.OpenProblemTicket, api.OpenProblemTicketRequest(
            name=supplier_name(supplier_id), ticket_id=ticket_id, summary=summary,
            severity=severity, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def resolve_problem_ticket(
        self,
        supplier_id: str,
        ticket_id: str,
        resolution: str,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Resolve an open problem ticket."""
        return self._process(self._stub.ResolveProblemTicket, api.ResolveProblemTicketRequest(
            name=supplier_name(supplier_id), ticket_id=ticket_id, resolution=resolution,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def record_training(
        self,
        supplier_id: str,
        topic: str,
        attendees: int,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record staff training."""
        return self._process(self._stub.RecordTraining, api.RecordTrainingRequest(
            name=supplier_name(supplier_id), topic=topic, attendees=attendees,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def settle_compensation(
        self,
        supplier_id: str,
        penalty_id: str,
        amount: pb.Money,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Record (part of) a compensation in the ledger as paid."""
        return self._process(self._stub.SettleCompensation, api.SettleCompensationRequest(
            name=supplier_name(supplier_id), penalty_id=penalty_id, amount=amount, note=note,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        ))  # fmt: skip

    def list_penalties(self, supplier_id: str, page_size: int = 0) -> PenaltyLedger:
        """The supplier's whole penalties ledger, fetched page by page, with its totals."""
        return PenaltyLedger(*_ledger(self.list_penalty_pages(supplier_id, page_size)))

    def list_penalty_pages(
        self, supplier_id: str, page_size: int = 0
    ) -> Iterator[api.ListPenaltiesResponse]:
        """The ledger's pages as the server sends them."""
        request = api.ListPenaltiesRequest(parent=supplier_name(supplier_id), page_size=page_size)
        yield from self._pages(self._stub.ListPenalties, request)


def _ledger(
    pages: Iterable[api.ListPenaltiesResponse],
) -> tuple[tuple[pb.Penalty, ...], pb.Money, pb.Money]:
    penalties: list[pb.Penalty] = []
    last = api.ListPenaltiesResponse()
    for page in pages:
        penalties.extend(page.penalties)
        last = page
    return tuple(penalties), last.service_credit_total, last.compensation_total


def _milestone(name: str, due: datetime, kind: str = "") -> pb.Milestone:
    return pb.Milestone(name=name, due_time=timestamp(due), kind=kind)
