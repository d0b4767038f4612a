"""The pure heart of the domain: ``decide`` turns a command into events.

Guards run before anything is produced: a command yields all its events or none. Records
are applied before the policy is consulted, so windows and counts include them; what fired
rules lead to is worked out in :mod:`sqm.domain.actions`. ``apply`` and ``fold`` (the other
half, events into state) live in :mod:`sqm.domain.evolve` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqm.domain import contract_term, lifecycle, milestones, tickets
from sqm.domain.actions import STAGE_STATES, act_on, revoke_unless_qualifying, transition
from sqm.domain.catalogue_checks import validate_with_ids
from sqm.domain.commands import (
    AcceptDeliverable,
    AdvanceTime,
    BlacklistSupplier,
    ClaimCompensation,
    CloseCorrectiveAction,
    Command,
    CompleteCorrectiveActionItem,
    CompleteImprovementPlan,
    CompleteMilestone,
    ConcludeReview,
    DecideCorrectiveActionExtension,
    OpenProblemTicket,
    OpenReview,
    RecordDocument,
    RecordInspection,
    RecordKickOff,
    RecordMarketResearch,
    RecordMeasurement,
    RecordMissedImprovementDeadline,
    RecordSatisfactionSurvey,
    RecordTraining,
    ReevaluateQualification,
    RegisterSupplier,
    RequestCorrectiveActionExtension,
    ResolveProblemTicket,
    ReviewOutcome,
    SettleCompensation,
    SignContract,
    SubmitCorrectiveAction,
    SubmitImprovementPlan,
    SubmitProgressReport,
    SubmitQualificationEvidence,
    SubmitResourcePlan,
    SubmitSelfCheck,
    VerifyCorrectiveActionItem,
    VerifyRemediation,
)
from sqm.domain.corrective_action import HANDLERS as CORRECTIVE_ACTION_HANDLERS
from sqm.domain.errors import (
    FieldViolation,
    IllegalTransition,
    InvalidCommand,
    SupplierAlreadyExists,
    SupplierNotFound,
)
from sqm.domain.events import (
    BreachDetected,
    CompensationSettled,
    ContractSigned,
    DecisionRecorded,
    DocumentArchived,
    Event,
    ImprovementDeadlineMissed,
    ImprovementPlanCompleted,
    ImprovementPlanRequired,
    ImprovementPlanSubmitted,
    InspectionRecorded,
    KickOffRecorded,
    MarketResearchRecorded,
    MeasurementRecorded,
    PenaltyAssessed,
    ProblemTicketOpened,
    ProblemTicketResolved,
    ProgressReportSubmitted,
    QualificationEvidenceSubmitted,
    RemediationVerified,
    ResourcePlanSubmitted,
    ReviewConcluded,
    ReviewOpened,
    SatisfactionSurveyRecorded,
    SelfCheckSubmitted,
    SupplierBlacklisted,
    SupplierRegistered,
    TrainingRecorded,
)
from sqm.domain.evolve import apply, fold, fold_rest, fold_step, folds_kept
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Breach,
    Contract,
    ImprovementPlan,
    LifecycleState,
    Measurement,
    Observation,
    Penalty,
    QualificationChanges,
    Review,
    Stage,
    SupplierState,
)
from sqm.domain.needs import NeedPrecondition
from sqm.domain.ports import DecisionContext, Policy
from sqm.domain.scorecards import scorecards_due
from sqm.domain.supplier_side import HANDLERS as SUPPLIER_SIDE_HANDLERS
from sqm.domain.validation import validate, validate_against

__all__ = ["apply", "decide", "decide_and_fold", "fold"]

CONTRACT_TERM = timedelta(days=365)
Handler = Callable[[Any, SupplierState, Policy], list[Event]]


def decide(command: Command, state: SupplierState | None, policy: Policy) -> list[Event]:
    """The events ``command`` produces against ``state`` under ``policy``.

    Raises a :class:`~sqm.domain.errors.DomainError` (and produces nothing) when the command is
    malformed, names an unknown supplier, or asks for a move the lifecycle forbids. May
    return no events (time advanced and nothing was due).
    """
    validate_with_ids(command, policy.catalogue, validate)
    if isinstance(command, RegisterSupplier):
        if state is not None:
            raise SupplierAlreadyExists(command.supplier_id)
        return [
            SupplierRegistered(
                command.supplier_id, command.name, command.category, command.occurred_at
            )
        ]
    if state is None:
        raise SupplierNotFound(command.supplier_id)
    if state.supplier_id != command.supplier_id:
        raise ValueError(f"{command.supplier_id!r} decided against {state.supplier_id!r}'s state")
    validate_against(command, state)
    in_force = _IN_FORCE.get(type(command))
    if in_force is not None:
        contract_term.require_in_force(state, command.occurred_at, in_force)
    return _HANDLERS[type(command)](command, state, policy)


def decide_and_fold(
    command: Command, state: SupplierState | None, policy: Policy
) -> tuple[list[Event], SupplierState | None]:
    """:func:`decide`, and the state its events lead to, each event folded once.

    Deciding already folds the events it evaluates rules on (the decision contexts); the
    state after the command goes on from there instead of folding every event again. It is
    the state ``fold(events, state)`` gives.
    """
    with folds_kept(state) as chain:
        events = decide(command, state, policy)
    return events, fold_rest(events, state, chain)


def _applied(state: SupplierState, *events: Event) -> SupplierState:
    return fold_step(events, state)


def _require(state: SupplierState, allowed: frozenset[LifecycleState], action: str) -> None:
    if state.lifecycle not in allowed:
        raise IllegalTransition(state.lifecycle.value, action)


def _require_running(state: SupplierState, command: Command, action: str) -> None:
    contract_term.require_running(state, command.occurred_at, action)


def _cause(command: Command) -> str:
    return f"command {type(command).__name__}"


# --- selection ---------------------------------------------------------------------------


def _submit_evidence(
    command: SubmitQualificationEvidence, state: SupplierState, policy: Policy
) -> list[Event]:
    if state.lifecycle in lifecycle.TERMINAL_STATES:
        raise IllegalTransition(state.lifecycle.value, "submit_qualification_evidence")
    submitted = QualificationEvidenceSubmitted(
        command.occurred_at,
        # Floats throughout: 80 and 80.0 must hash and replay identically.
        {criterion: float(score) for criterion, score in command.scores.items()},
        command.certificates,
        command.site_audit_passed,
    )
    if state.lifecycle not in STAGE_STATES[Stage.QUALIFICATION]:
        return [submitted]  # evidence kept on file (a renewed certificate, say)
    context = DecisionContext(Stage.QUALIFICATION, _applied(state, submitted), command.occurred_at)
    evaluation = policy.evaluate(context)
    acted = act_on(evaluation, context, policy)
    if acted:  # what changed, and every fired rule that could not change anything
        return [submitted, *acted]
    # Nothing fired: keep the explanations, so the history says why not.
    return [submitted, *(DecisionRecorded(command.occurred_at, d) for d in evaluation.not_fired)]


def _blacklist(command: BlacklistSupplier, state: SupplierState, policy: Policy) -> list[Event]:
    if state.lifecycle in lifecycle.TERMINAL_STATES:
        raise IllegalTransition(state.lifecycle.value, "blacklist")
    events: list[Event] = [SupplierBlacklisted(command.occurred_at, command.reason)]
    if state.lifecycle is LifecycleState.CANDIDATE:
        events.append(transition(state, Trigger.DISQUALIFY, command.occurred_at, _cause(command)))
    return events


def _sign_contract(command: SignContract, state: SupplierState, policy: Policy) -> list[Event]:
    # The transition is computed first: an illegal move raises before any event exists.
    moved = transition(state, Trigger.SIGN_CONTRACT, command.occurred_at, _cause(command))
    if state.blacklisted:
        raise IllegalTransition(state.lifecycle.value, "sign_contract (supplier is blacklisted)")
    if not command.need_id and policy.contract_requires_need():
        raise NeedPrecondition(
            "needs",
            "the policy requires a contract to be signed under an awarded need: name the need"
            " awarded to this supplier (SignContract need)",
        )
    starts_at = command.starts_at or command.occurred_at
    contract = Contract(
        contract_id=command.contract_id,
        signed_at=command.occurred_at,
        starts_at=starts_at,
        ends_at=command.ends_at or starts_at + CONTRACT_TERM,
        monthly_fee=command.monthly_fee,
        liability_limit=command.liability_limit,
        objectives=command.objectives or policy.default_objectives(state.category),
        need_id=command.need_id,
    )
    return [ContractSigned(command.occurred_at, contract), moved]


# --- monitoring --------------------------------------------------------------------------


def _record_measurement(
    command: RecordMeasurement, state: SupplierState, policy: Policy
) -> list[Event]:
    contract_term.require_within_term(state, command.period_end, "a measured period")
    _require(state, STAGE_STATES[Stage.MONITORING], "record_measurement")
    assert state.contract is not None  # noqa: S101 - every state under contract has one
    objective = state.contract.objective(command.objective_id)
    if objective is None:
        known = ", ".join(o.objective_id for o in state.contract.objectives) or "none"
        raise InvalidCommand(
            [
                FieldViolation(
                    "objective_id", f"not an objective of the contract; expected one of {known}"
                )
            ]
        )
    spec = policy.catalogue.metric(objective.metric)
    if spec is None:  # the contract predates a pack that dropped the metric
        known = ", ".join(policy.catalogue.metric_ids)
        message = (
            f"the objective's metric {objective.metric!r} is not in the active policy's"
            f" catalogue ({known}): measurements of it cannot be judged"
        )
        raise InvalidCommand([FieldViolation("objective_id", message)])
    problems = []
    if command.unit != spec.unit:
        problems.append(
            FieldViolation(
                "unit", f"{objective.metric} is measured in {spec.unit!r}, not {command.unit!r}"
            )
        )
    if not spec.minimum <= command.value <= spec.maximum:
        problems.append(
            FieldViolation(
                "value", f"{objective.metric} ranges from {spec.minimum:g} to {spec.maximum:g}"
            )
        )
    if problems:
        raise InvalidCommand(problems)
    severity = policy.classify(objective, command.value)
    at = command.occurred_at
    measurement = Measurement(
        # Floats throughout: 100 and 100.0 must replay to the same bytes.
        objective.objective_id, objective.metric, float(command.value),
        command.period_start, command.period_end, severity is None, at,
    )  # fmt: skip
    events: list[Event] = [MeasurementRecorded(at, measurement)]
    breach = None
    if severity is not None:
        shortfall = float(objective.shortfall(command.value))
        breach = Breach(
            objective.objective_id, objective.metric, severity, float(command.value),
            objective.target, shortfall, command.period_end, at,
        )  # fmt: skip
        events.append(BreachDetected(at, breach))
    return events + _monitor(
        state, events, "measurement", policy, measurement=measurement, breach=breach
    )


def _monitor(
    state: SupplierState,
    recorded: list[Event],
    kind: str,
    policy: Policy,
    *,
    measurement: Measurement | None = None,
    breach: Breach | None = None,
    ticket_id: str = "",
) -> list[Event]:
    now = recorded[0].occurred_at
    context = DecisionContext(
        Stage.MONITORING,
        _applied(state, *recorded),
        now,
        kind,
        measurement,
        breach,
        ticket_id=ticket_id,
    )
    return act_on(policy.evaluate(context), context, policy)


def _record_survey(
    command: RecordSatisfactionSurvey, state: SupplierState, policy: Policy
) -> list[Event]:
    _require_running(state, command, "record_satisfaction_survey")
    survey = Observation(command.occurred_at, float(command.score))
    recorded: list[Event] = [
        SatisfactionSurveyRecorded(
            command.occurred_at, survey, command.respondents, command.comment
        )
    ]
    return recorded + _monitor(state, recorded, "survey", policy)


def _record_inspection(
    command: RecordInspection, state: SupplierState, policy: Policy
) -> list[Event]:
    _require_running(state, command, "record_inspection")
    inspection = Observation(command.occurred_at, 1.0 if command.passed else 0.0, command.passed)
    recorded: list[Event] = [InspectionRecorded(command.occurred_at, inspection, command.findings)]
    return recorded + _monitor(state, recorded, "inspection", policy)


def _progress_report(
    command: SubmitProgressReport, state: SupplierState, policy: Policy
) -> list[Event]:
    _require_running(state, command, "submit_progress_report")
    recorded: list[Event] = [ProgressReportSubmitted(command.occurred_at, command.summary)]
    return recorded + _monitor(state, recorded, "progress_report", policy)


def _self_check(command: SubmitSelfCheck, state: SupplierState, policy: Policy) -> list[Event]:
    _require_running(state, command, "submit_self_check")
    recorded: list[Event] = [
        SelfCheckSubmitted(command.occurred_at, command.passed, command.summary)
    ]
    return recorded + _monitor(state, recorded, "self_check", policy)


# --- records that do not consult the policy ------------------------------------------------


def _market_research(
    command: RecordMarketResearch, state: SupplierState, policy: Policy
) -> list[Event]:
    _require(state, lifecycle.RESEARCHABLE, "record_market_research")
    return [
        MarketResearchRecorded(
            command.occurred_at,
            command.capability_summary,
            command.past_performance_summary,
            command.references,
        )
    ]


def _kick_off(command: RecordKickOff, state: SupplierState, policy: Policy) -> list[Event]:
    _require_running(state, command, "record_kick_off")
    return [
        KickOffRecorded(
            command.occurred_at, command.goals, command.milestones, command.responsibilities
        )
    ]


def _resource_plan(
    command: SubmitResourcePlan, state: SupplierState, policy: Policy
) -> list[Event]:
    _require_running(state, command, "submit_resource_plan")
    return [ResourcePlanSubmitted(command.occurred_at, command.resources, command.summary)]


def _open_ticket(command: OpenProblemTicket, state: SupplierState, policy: Policy) -> list[Event]:
    _require_running(state, command, "open_problem_ticket")
    if command.ticket_id in state.open_tickets:
        raise InvalidCommand(
            [FieldViolation("ticket_id", f"{command.ticket_id!r} is already open")]
        )
    return [
        ProblemTicketOpened(
            command.occurred_at, command.ticket_id, command.summary, command.severity
        )
    ]


def _resolve_ticket(
    command: ResolveProblemTicket, state: SupplierState, policy: Policy
) -> list[Event]:
    # No lifecycle guard: a ticket opened under contract may be closed after termination.
    if command.ticket_id not in state.open_tickets:
        raise InvalidCommand(
            [FieldViolation("ticket_id", f"{command.ticket_id!r} is not an open ticket")]
        )
    at = command.occurred_at
    recorded: list[Event] = [ProblemTicketResolved(at, command.ticket_id, command.resolution)]
    if state.lifecycle not in lifecycle.UNDER_CONTRACT or contract_term.past_term(state, at):
        return recorded  # closed after the contract (ended, or ending at the next tick)
    missed = tickets.missed_target(state, command.ticket_id, at, policy)
    if missed is not None:
        recorded.append(missed)
    return recorded + _monitor(
        state, recorded, "ticket_resolution", policy, ticket_id=command.ticket_id
    )


def _training(command: RecordTraining, state: SupplierState, policy: Policy) -> list[Event]:
    _require_running(state, command, "record_training")
    return [TrainingRecorded(command.occurred_at, command.topic, command.attendees)]


# --- review and improvement -------------------------------------------------------------


def _document(command: RecordDocument, state: SupplierState, policy: Policy) -> list[Event]:
    # Any state: records about a terminated supplier (a termination letter) are kept too.
    return [
        DocumentArchived(
            command.occurred_at,
            command.document_id,
            command.filename,
            command.media_type,
            command.sha256,
            command.size,
            command.kind,
        )
    ]


def _open_review(command: OpenReview, state: SupplierState, policy: Policy) -> list[Event]:
    moved = transition(state, Trigger.OPEN_REVIEW, command.occurred_at, _cause(command))
    review = Review(opened_at=command.occurred_at, reason=command.reason)
    return [ReviewOpened(command.occurred_at, review), moved]


_REVIEW_TRIGGERS = {
    ReviewOutcome.CLEARED: Trigger.CLEAR_REVIEW,
    ReviewOutcome.REMEDIATION_REQUIRED: Trigger.REQUIRE_REMEDIATION,
    ReviewOutcome.FAILED: Trigger.FAIL_REVIEW,
}


def _conclude_review(command: ConcludeReview, state: SupplierState, policy: Policy) -> list[Event]:
    at = command.occurred_at
    moved = transition(state, _REVIEW_TRIGGERS[command.outcome], at, _cause(command))
    events: list[Event] = [ReviewConcluded(at, command.outcome, command.note), moved]
    if command.outcome is ReviewOutcome.REMEDIATION_REQUIRED:
        review = state.review or Review(opened_at=at, reason="")
        due = policy.plan_due_at(review.severity, at)
        plan = ImprovementPlan(at, due, review.objective_id, ticket_id=review.ticket_id)
        events.append(ImprovementPlanRequired(at, plan))
    return events


def _submit_plan(
    command: SubmitImprovementPlan, state: SupplierState, policy: Policy
) -> list[Event]:
    if state.lifecycle is not LifecycleState.REMEDIATION or state.plan is None:
        raise IllegalTransition(state.lifecycle.value, "submit_improvement_plan")
    if state.plan.completed_at is not None:
        raise IllegalTransition(
            state.lifecycle.value, "submit_improvement_plan (already completed)"
        )
    if state.corrective_action is not None:
        # The record's actions are the plan's measures: it is revised, not replaced.
        raise IllegalTransition(
            state.lifecycle.value, "submit_improvement_plan (a corrective action answers it)"
        )
    return [ImprovementPlanSubmitted(command.occurred_at, command.measures, command.owner)]


def _complete_plan(
    command: CompleteImprovementPlan, state: SupplierState, policy: Policy
) -> list[Event]:
    plan = state.plan
    if (
        state.lifecycle is not LifecycleState.REMEDIATION
        or plan is None
        or plan.submitted_at is None
    ):
        raise IllegalTransition(
            state.lifecycle.value, "complete_improvement_plan (no submitted plan)"
        )
    if plan.completed_at is not None:
        raise IllegalTransition(
            state.lifecycle.value, "complete_improvement_plan (already completed)"
        )
    if state.corrective_action is not None:
        # Closing the record completes the plan, once every action is verified.
        raise IllegalTransition(
            state.lifecycle.value, "complete_improvement_plan (close the corrective action)"
        )
    return [ImprovementPlanCompleted(command.occurred_at, command.note)]


def _verify_remediation(
    command: VerifyRemediation, state: SupplierState, policy: Policy
) -> list[Event]:
    if state.plan is not None and state.plan.completed_at is None:
        # A human may confirm effectiveness early, but never of a plan still in progress.
        raise IllegalTransition(state.lifecycle.value, "verify_remediation (plan not completed)")
    moved = transition(state, Trigger.VERIFY_REMEDIATION, command.occurred_at, _cause(command))
    return [RemediationVerified(command.occurred_at, command.note), moved]


def _missed_deadline(
    command: RecordMissedImprovementDeadline, state: SupplierState, policy: Policy
) -> list[Event]:
    at = command.occurred_at
    plan = state.plan
    if plan is not None and (plan.completed_at is not None or at <= plan.due_at):
        # A supplier that delivered, or still has time, has missed nothing.
        raise IllegalTransition(
            state.lifecycle.value, "miss_improvement_deadline (the plan is not overdue)"
        )
    moved = transition(state, Trigger.MISS_IMPROVEMENT_DEADLINE, at, _cause(command))
    return [ImprovementDeadlineMissed(at), moved]


# --- liability and time ----------------------------------------------------------------


def _claim_compensation(
    command: ClaimCompensation, state: SupplierState, policy: Policy
) -> list[Event]:
    contract = state.contract
    if contract is None:
        raise IllegalTransition(state.lifecycle.value, "claim_compensation (no contract)")
    if command.amount.currency != contract.liability_limit.currency:
        raise InvalidCommand(
            [
                FieldViolation(
                    "amount.currency", f"the contract is in {contract.liability_limit.currency}"
                )
            ]
        )
    loss_at = command.loss_at or command.occurred_at
    contract_term.check_claim_window(
        contract, loss_at, command.occurred_at, policy.claim_window_days()
    )
    quote = policy.quote_compensation(state, command.amount, command.occurred_at)
    penalty = Penalty(
        penalty_id=f"{state.supplier_id}/penalty-{len(state.penalties) + 1}",
        kind="compensation",
        contract_id=contract.contract_id,
        amount=quote.amount,
        period=policy.calendar.period_of(command.occurred_at),
        rule_id="",
        cap_applied=quote.cap_applied,
        assessed_at=command.occurred_at,
    )
    # The loss time, when given, is kept in the basis so a replay can claim it again.
    loss = f" (loss at {loss_at.isoformat()})" if command.loss_at is not None else ""
    basis = f"{command.description}: claimed {command.amount}{loss}; {quote.basis}"
    return [PenaltyAssessed(command.occurred_at, penalty, basis)]


def _settle_compensation(
    command: SettleCompensation, state: SupplierState, policy: Policy
) -> list[Event]:
    penalty = next((p for p in state.penalties if p.penalty_id == command.penalty_id), None)
    if penalty is None or penalty.kind != "compensation":
        what = "not in the ledger" if penalty is None else "a service credit, not a compensation"
        raise InvalidCommand([FieldViolation("penalty_id", f"{command.penalty_id!r} is {what}")])
    if command.amount.currency != penalty.amount.currency:
        raise InvalidCommand(
            [FieldViolation("amount.currency", f"the compensation is in {penalty.amount.currency}")]
        )
    outstanding = penalty.amount.amount - state.settlements.get(penalty.penalty_id, 0)
    if command.amount.amount > outstanding:
        raise InvalidCommand(
            [
                FieldViolation(
                    "amount", f"more than the {outstanding} {penalty.amount.currency} outstanding"
                )
            ]
        )
    return [
        CompensationSettled(command.occurred_at, command.penalty_id, command.amount, command.note)
    ]


def _advance_time(command: AdvanceTime, state: SupplierState, policy: Policy) -> list[Event]:
    # Scorecard periods close first, on the contract they belong to (before its end when it
    # ends now), so the deadline rules see the standing they lead to.
    closed = scorecards_due(state, policy, command.occurred_at)
    if closed:
        state = _applied(state, *closed)
    # The contract's end comes next, whatever the pack: its deadline rules then see the
    # supplier as it stands after the end (qualified, with the contract on file).
    ended = contract_term.ended_events(state, command.occurred_at)
    if ended:
        state = _applied(state, *ended)
    if state.lifecycle not in STAGE_STATES[Stage.DEADLINES]:
        return [*closed, *ended]  # nothing runs against candidates' or terminated suppliers'
    context = DecisionContext(Stage.DEADLINES, state, command.occurred_at)
    return [*closed, *ended, *act_on(policy.evaluate(context), context, policy)]


def _reevaluate(
    command: ReevaluateQualification, state: SupplierState, policy: Policy
) -> list[Event]:
    if state.lifecycle is not LifecycleState.QUALIFIED:
        return []  # a contracted supplier keeps its contract; a candidate awaits evidence
    if policy.qualification_changes_apply_to is not QualificationChanges.QUALIFIED_SUPPLIERS:
        return []  # the policy leaves recorded qualifications standing (既往不咎)
    # Judged at the command's time: a certificate that lapsed since no longer counts.
    context = DecisionContext(Stage.QUALIFICATION, state, command.occurred_at)
    return revoke_unless_qualifying(policy.evaluate(context), context, policy)


_IN_FORCE: dict[type, str] = {
    OpenReview: "open_review",
    ConcludeReview: "conclude_review",
    SubmitImprovementPlan: "submit_improvement_plan",
    CompleteImprovementPlan: "complete_improvement_plan",
    VerifyRemediation: "verify_remediation",
    RecordMissedImprovementDeadline: "miss_improvement_deadline",
    # The corrective action (8D) answers the improvement plan, which ends with the contract.
    SubmitCorrectiveAction: "submit_corrective_action",
    CompleteCorrectiveActionItem: "complete_corrective_action_item",
    VerifyCorrectiveActionItem: "verify_corrective_action_item",
    RequestCorrectiveActionExtension: "request_corrective_action_extension",
    DecideCorrectiveActionExtension: "decide_corrective_action_extension",
    CloseCorrectiveAction: "close_corrective_action",
}
"""Commands that act on the contract in force (reviews, the improvement plan and the
corrective action answering it), beside the records (which check the term themselves):
after the term's end they are refused (``CONTRACT_ENDED``) even before the scheduler's tick
ends the contract, as they are after it (by the lifecycle). What follows a contract stays
open after it: closing a ticket, claiming, settling or disputing credits, acknowledging
notices, archiving documents, evidence, blacklisting."""

_HANDLERS: dict[type, Handler] = {
    SubmitQualificationEvidence: _submit_evidence,
    BlacklistSupplier: _blacklist,
    SignContract: _sign_contract,
    RecordMeasurement: _record_measurement,
    RecordSatisfactionSurvey: _record_survey,
    RecordInspection: _record_inspection,
    SubmitProgressReport: _progress_report,
    SubmitSelfCheck: _self_check,
    OpenReview: _open_review,
    ConcludeReview: _conclude_review,
    SubmitImprovementPlan: _submit_plan,
    CompleteImprovementPlan: _complete_plan,
    VerifyRemediation: _verify_remediation,
    RecordMissedImprovementDeadline: _missed_deadline,
    ClaimCompensation: _claim_compensation,
    AdvanceTime: _advance_time,
    ReevaluateQualification: _reevaluate,
    RecordMarketResearch: _market_research,
    RecordKickOff: _kick_off,
    CompleteMilestone: milestones.complete,
    AcceptDeliverable: milestones.accept,
    SubmitResourcePlan: _resource_plan,
    OpenProblemTicket: _open_ticket,
    ResolveProblemTicket: _resolve_ticket,
    RecordTraining: _training,
    SettleCompensation: _settle_compensation,
    RecordDocument: _document,
    **SUPPLIER_SIDE_HANDLERS,
    **CORRECTIVE_ACTION_HANDLERS,
}
