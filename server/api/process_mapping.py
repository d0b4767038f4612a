"""The process methods' requests to domain commands; every bad field is named by its API path.

Each function collects what it can check without the supplier (resource name, enums, times,
money) and raises one ``InvalidCommand``; the domain then checks the rest (lengths, ranges,
the contract's objectives) and :func:`sqm.server.api.mapping.in_api_terms` spells its paths the
API's way. Request ids and etags are checked by the servicer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqm.domain.commands import (
    NO_AMOUNT,
    AcceptDeliverable,
    BlacklistSupplier,
    ClaimCompensation,
    CompleteImprovementPlan,
    CompleteMilestone,
    ConcludeReview,
    OpenProblemTicket,
    OpenReview,
    RecordInspection,
    RecordKickOff,
    RecordMarketResearch,
    RecordMeasurement,
    RecordSatisfactionSurvey,
    RecordTraining,
    ResolveProblemTicket,
    ReviewOutcome,
    SettleCompensation,
    SignContract,
    SubmitImprovementPlan,
    SubmitProgressReport,
    SubmitResourcePlan,
    SubmitSelfCheck,
    VerifyRemediation,
)
from sqm.domain.model import (
    Comparator,
    Milestone,
    Money,
    Severity,
    SlaObjective,
    SupplierState,
    exact,
)
from sqm.rules.sla import in_warning
from sqm.server.api.mapping import need_id_from_name, occur_time, supplier_id_from_name
from sqm.server.api.proto_values import (
    Violations,
    enum_from_proto,
    enum_to_proto,
    money_from_proto,
    optional_time,
    required_time,
)
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

Clock = Callable[[], datetime]


def _start(name: str) -> tuple[Violations, str]:
    """A fresh collection of violations and the supplier id of the request's ``name``."""
    bad = Violations()
    return bad, supplier_id_from_name(name, "name", bad)


def _checked(request: Any, clock: Clock) -> tuple[str, datetime]:
    """The supplier id and occurrence time of a request that has nothing else to check here."""
    bad, supplier_id = _start(request.name)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return supplier_id, occurred_at


# --- selection ---------------------------------------------------------------------------


def blacklist_supplier(request: api.BlacklistSupplierRequest, clock: Clock) -> BlacklistSupplier:
    """Map a BlacklistSupplier request."""
    supplier_id, occurred_at = _checked(request, clock)
    return BlacklistSupplier(supplier_id, request.reason, occurred_at)


def sign_contract(request: api.SignContractRequest, clock: Clock) -> SignContract:
    """Map a SignContract request.

    An unset fee or liability limit is no amount (a framework agreement) in the other's
    currency; unset start and end times take the domain's defaults (signing, and a year
    after the start); no objectives means the policy's defaults for the supplier's category.
    """
    bad, supplier_id = _start(request.name)
    if not request.HasField("contract"):
        bad.add("contract", "required")
    proto = request.contract
    monthly_fee = liability_limit = None
    if proto.HasField("monthly_fee"):
        monthly_fee = money_from_proto(proto.monthly_fee, "contract.monthly_fee", bad)
    if proto.HasField("liability_limit"):
        liability_limit = money_from_proto(proto.liability_limit, "contract.liability_limit", bad)
    starts_at = optional_time(proto, "start_time", "contract", bad)
    ends_at = optional_time(proto, "end_time", "contract", bad)
    objectives = [
        sla_objective(o, f"contract.objectives[{index}]", bad)
        for index, o in enumerate(proto.objectives)
    ]
    need = need_id_from_name(proto.need, "contract.need", bad) if proto.need else ""
    occurred_at = occur_time(request, clock, bad)
    # An amount left out is zero in the currency of the one given (CNY if neither is); a bad
    # one is the same placeholder, so the domain still checks every other field.
    nothing = Money(NO_AMOUNT.amount, (monthly_fee or liability_limit or NO_AMOUNT).currency)
    command = SignContract(
        supplier_id=supplier_id,
        contract_id=proto.contract_id,
        occurred_at=occurred_at,
        monthly_fee=monthly_fee or nothing,
        liability_limit=liability_limit or nothing,
        starts_at=starts_at,
        ends_at=ends_at,
        objectives=tuple(objectives),
        need_id=need,
    )
    bad.raise_if_any(command)
    return command


def sla_objective(proto: pb.SlaObjective, field: str, bad: Violations) -> SlaObjective:
    """One objective of a contract; ``field`` is its path (``contract.objectives[1]``).

    The metric is an id of the active policy's catalogue, checked with the pack (an unknown
    one is named with the pack's metrics). A bad comparator is recorded in ``bad`` and a
    placeholder stands in, so the objective's other fields are still checked.
    """
    comparator = enum_from_proto(
        Comparator, pb.Comparator, proto.comparator, f"{field}.comparator", bad
    )
    if comparator is None:
        bad.skip(f"{field}.comparator")
    return SlaObjective(
        objective_id=proto.objective_id,
        metric=proto.metric,
        comparator=comparator or Comparator.AT_LEAST,
        target=proto.target,
        warning=proto.warning,
        tolerance=proto.tolerance,
        grace_days=proto.grace_days,
        period_days=proto.period_days,
    )


def record_market_research(
    request: api.RecordMarketResearchRequest, clock: Clock
) -> RecordMarketResearch:
    """Map a RecordMarketResearch request."""
    supplier_id, occurred_at = _checked(request, clock)
    return RecordMarketResearch(
        supplier_id=supplier_id,
        capability_summary=request.capability_summary,
        past_performance_summary=request.past_performance_summary,
        occurred_at=occurred_at,
        references=tuple(request.references),
    )


# --- delivery ----------------------------------------------------------------------------


def record_kick_off(request: api.RecordKickOffRequest, clock: Clock) -> RecordKickOff:
    """Map a RecordKickOff request; every milestone needs a due time."""
    bad, supplier_id = _start(request.name)
    milestones = []
    for index, proto in enumerate(request.milestones):
        due_at = required_time(proto, "due_time", f"milestones[{index}]", bad)
        if due_at is not None:
            milestones.append(Milestone(proto.name, due_at, proto.kind))
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return RecordKickOff(
        supplier_id=supplier_id,
        goals=request.goals,
        occurred_at=occurred_at,
        milestones=tuple(milestones),
        responsibilities=request.responsibilities,
    )


def submit_resource_plan(
    request: api.SubmitResourcePlanRequest, clock: Clock
) -> SubmitResourcePlan:
    """Map a SubmitResourcePlan request."""
    supplier_id, occurred_at = _checked(request, clock)
    return SubmitResourcePlan(supplier_id, tuple(request.resources), occurred_at, request.summary)


# --- monitoring --------------------------------------------------------------------------


def record_measurement(request: api.RecordMeasurementRequest, clock: Clock) -> RecordMeasurement:
    """Map a RecordMeasurement request (also one row of an upload)."""
    bad, supplier_id = _start(request.name)
    period_start = required_time(request, "period_start_time", "", bad)
    period_end = required_time(request, "period_end_time", "", bad)
    occurred_at = occur_time(request, clock, bad)
    if period_start is None or period_end is None:
        # Placeholders: the period is judged once both ends are known.
        bad.skip("period_start_time")
        bad.skip("period_end_time")
    command = RecordMeasurement(
        supplier_id=supplier_id,
        objective_id=request.objective_id,
        value=request.value,
        unit=request.unit,
        period_start=period_start or occurred_at,
        period_end=period_end or occurred_at,
        occurred_at=occurred_at,
    )
    bad.raise_if_any(command)
    return command


def measurement_assessment(
    state: SupplierState, objective_id: str, value: float
) -> api.MeasurementAssessment | None:
    """``value`` against the objective ``objective_id`` of the supplier's contract: the
    shortfall when it misses, the margin when it meets; None without such an objective.
    """
    objective = state.contract.objective(objective_id) if state.contract else None
    if objective is None:
        return None
    shortfall = objective.shortfall(value)
    beyond = exact(value) - exact(objective.target)
    margin = beyond if objective.comparator is Comparator.AT_LEAST else -beyond
    return api.MeasurementAssessment(
        objective_id=objective_id,
        metric=objective.metric,
        comparator=enum_to_proto(pb.Comparator, objective.comparator),
        target=objective.target,
        value=value,
        met=shortfall == 0,
        shortfall=float(shortfall),
        margin=float(max(margin, Decimal(0))),
        tolerance=objective.tolerance,
        in_warning=in_warning(objective, value),
    )


def record_satisfaction_survey(
    request: api.RecordSatisfactionSurveyRequest, clock: Clock
) -> RecordSatisfactionSurvey:
    """Map a RecordSatisfactionSurvey request; unset (0) respondents means one."""
    supplier_id, occurred_at = _checked(request, clock)
    return RecordSatisfactionSurvey(
        supplier_id=supplier_id,
        score=request.score,
        occurred_at=occurred_at,
        respondents=request.respondents or 1,
        comment=request.comment,
    )


def record_inspection(request: api.RecordInspectionRequest, clock: Clock) -> RecordInspection:
    """Map a RecordInspection request."""
    supplier_id, occurred_at = _checked(request, clock)
    return RecordInspection(supplier_id, request.passed, occurred_at, request.findings)


def submit_progress_report(
    request: api.SubmitProgressReportRequest, clock: Clock
) -> SubmitProgressReport:
    """Map a SubmitProgressReport request."""
    supplier_id, occurred_at = _checked(request, clock)
    return SubmitProgressReport(supplier_id, request.summary, occurred_at)


def submit_self_check(request: api.SubmitSelfCheckRequest, clock: Clock) -> SubmitSelfCheck:
    """Map a SubmitSelfCheck request."""
    supplier_id, occurred_at = _checked(request, clock)
    return SubmitSelfCheck(supplier_id, request.passed, occurred_at, request.summary)


def complete_milestone(request: api.CompleteMilestoneRequest, clock: Clock) -> CompleteMilestone:
    """Map a CompleteMilestone request."""
    supplier_id, occurred_at = _checked(request, clock)
    return CompleteMilestone(supplier_id, request.milestone, occurred_at, request.note)


def accept_deliverable(request: api.AcceptDeliverableRequest, clock: Clock) -> AcceptDeliverable:
    """Map an AcceptDeliverable request."""
    supplier_id, occurred_at = _checked(request, clock)
    return AcceptDeliverable(supplier_id, request.milestone, occurred_at, request.note)


def open_problem_ticket(request: api.OpenProblemTicketRequest, clock: Clock) -> OpenProblemTicket:
    """Map an OpenProblemTicket request; the severity is required."""
    bad, supplier_id = _start(request.name)
    severity = enum_from_proto(Severity, pb.Severity, request.severity, "severity", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    assert severity is not None  # noqa: S101 - guaranteed by raise_if_any
    return OpenProblemTicket(supplier_id, request.ticket_id, request.summary, severity, occurred_at)


def resolve_problem_ticket(
    request: api.ResolveProblemTicketRequest, clock: Clock
) -> ResolveProblemTicket:
    """Map a ResolveProblemTicket request."""
    supplier_id, occurred_at = _checked(request, clock)
    return ResolveProblemTicket(supplier_id, request.ticket_id, request.resolution, occurred_at)


# --- review and improvement --------------------------------------------------------------


def open_review(request: api.OpenReviewRequest, clock: Clock) -> OpenReview:
    """Map an OpenReview request."""
    supplier_id, occurred_at = _checked(request, clock)
    return OpenReview(supplier_id, request.reason, occurred_at)


def conclude_review(request: api.ConcludeReviewRequest, clock: Clock) -> ConcludeReview:
    """Map a ConcludeReview request; the outcome is required."""
    bad, supplier_id = _start(request.name)
    outcome = enum_from_proto(ReviewOutcome, pb.ReviewOutcome, request.outcome, "outcome", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    assert outcome is not None  # noqa: S101 - guaranteed by raise_if_any
    return ConcludeReview(supplier_id, outcome, occurred_at, request.note)


def submit_improvement_plan(
    request: api.SubmitImprovementPlanRequest, clock: Clock
) -> SubmitImprovementPlan:
    """Map a SubmitImprovementPlan request."""
    supplier_id, occurred_at = _checked(request, clock)
    return SubmitImprovementPlan(supplier_id, tuple(request.measures), request.owner, occurred_at)


def complete_improvement_plan(
    request: api.CompleteImprovementPlanRequest, clock: Clock
) -> CompleteImprovementPlan:
    """Map a CompleteImprovementPlan request."""
    supplier_id, occurred_at = _checked(request, clock)
    return CompleteImprovementPlan(supplier_id, occurred_at, request.note)


def verify_remediation(request: api.VerifyRemediationRequest, clock: Clock) -> VerifyRemediation:
    """Map a VerifyRemediation request."""
    supplier_id, occurred_at = _checked(request, clock)
    return VerifyRemediation(supplier_id, occurred_at, request.note)


# --- liability ---------------------------------------------------------------------------


def claim_compensation(request: api.ClaimCompensationRequest, clock: Clock) -> ClaimCompensation:
    """Map a ClaimCompensation request; the amount is required."""
    bad, supplier_id = _start(request.name)
    amount = _required_amount(request, "the documented loss", bad)
    occurred_at = occur_time(request, clock, bad)
    loss_at = optional_time(request, "loss_time", "", bad)
    bad.raise_if_any()
    assert amount is not None  # noqa: S101 - guaranteed by raise_if_any
    return ClaimCompensation(supplier_id, amount, request.description, occurred_at, loss_at)


def record_training(request: api.RecordTrainingRequest, clock: Clock) -> RecordTraining:
    """Map a RecordTraining request."""
    supplier_id, occurred_at = _checked(request, clock)
    return RecordTraining(supplier_id, request.topic, request.attendees, occurred_at)


def settle_compensation(request: api.SettleCompensationRequest, clock: Clock) -> SettleCompensation:
    """Map a SettleCompensation request; the amount is required."""
    bad, supplier_id = _start(request.name)
    amount = _required_amount(request, "the amount paid", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    assert amount is not None  # noqa: S101 - guaranteed by raise_if_any
    return SettleCompensation(supplier_id, request.penalty_id, amount, occurred_at, request.note)


def _required_amount(request: Any, what: str, bad: Violations) -> Money | None:
    if request.HasField("amount"):
        return money_from_proto(request.amount, "amount", bad)
    bad.add("amount", f"required: {what}, e.g. amount '5000.00', currency_code 'CNY'")
    return None
