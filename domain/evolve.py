"""``apply``: the pure fold of events into a supplier's state (nothing is updated in place)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from datetime import datetime
from decimal import Decimal
from functools import singledispatch
from typing import Any, TypeVar

import attrs

from sqm.domain import lifecycle, windows
from sqm.domain.corrective_records import ActionExtension, ActionProgress, CorrectiveAction
from sqm.domain.events import (
    BreachDetected,
    CompensationSettled,
    ContractEnded,
    ContractSigned,
    CorrectiveActionClosed,
    CorrectiveActionExtensionDecided,
    CorrectiveActionExtensionRequested,
    CorrectiveActionItemCompleted,
    CorrectiveActionItemVerified,
    CorrectiveActionsEscalated,
    CorrectiveActionSubmitted,
    DecisionRecorded,
    DeliverableAccepted,
    DocumentArchived,
    Event,
    ImprovementDeadlineMissed,
    ImprovementPlanCompleted,
    ImprovementPlanRequired,
    ImprovementPlanSubmitted,
    InspectionRecorded,
    KickOffRecorded,
    LifecycleTransitioned,
    MarketResearchRecorded,
    MeasurementRecorded,
    MilestoneCompleted,
    NoticeAcknowledged,
    PenaltyAssessed,
    PenaltyDisputed,
    PenaltyDisputeDecided,
    PenaltyReversed,
    ProblemTicketOpened,
    ProblemTicketResolved,
    ProgressReportSubmitted,
    QualificationEvidenceSubmitted,
    RemediationVerified,
    ReminderIssued,
    ResourcePlanSubmitted,
    ReviewConcluded,
    ReviewOpened,
    SatisfactionSurveyRecorded,
    ScorecardClosed,
    SelfCheckSubmitted,
    SupplierBlacklisted,
    SupplierRegistered,
    TerminatedForCause,
    TicketResolutionMissed,
    TrainingRecorded,
)
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import Breach, Observation, ProblemTicket, SupplierState
from sqm.domain.scorecards import SCORECARDS_KEPT

T = TypeVar("T")


LATEST_DECISIONS = 20
"""The state keeps this many recent decisions for a quick look; the stream keeps them all."""

HISTORY_LIMIT = 500
"""Measurements, breaches, surveys and inspections kept in the state for windows and counts.

The snapshot is rebuilt on every command, so unbounded history would slow every command as a
supplier ages. 500 entries cover any realistic window (a year of daily measurements of one
objective); the full history stays in the event stream.
"""


def _state_evolver() -> Callable[..., SupplierState]:
    """``attrs.evolve`` for :class:`SupplierState`, generated once for its fields.

    Every event evolves the state twice and ``attrs.evolve`` reads the class's fields and
    each attribute by name on every call: a fifth of replaying a history. The generated
    function reads each field directly; unknown names are refused as ``evolve`` refuses them.
    """
    fields = [(a.name, a.alias) for a in attrs.fields(SupplierState) if a.init]
    arguments = ", ".join(
        f"{alias}=changes.pop({alias!r}) if {alias!r} in changes else state.{name}"
        for name, alias in fields
    )
    source = (
        "def evolved(state, **changes):\n"
        f"    new = SupplierState({arguments})\n"
        "    if changes:\n"
        "        raise TypeError(f'SupplierState has no fields {sorted(changes)}')\n"
        "    return new\n"
    )
    namespace: dict[str, Any] = {"SupplierState": SupplierState}
    exec(compile(source, "<SupplierState evolver>", "exec"), namespace)  # noqa: S102 - our source
    evolver: Callable[..., SupplierState] = namespace["evolved"]
    return evolver


_evolved = _state_evolver()


def _bounded(items: tuple[T, ...], item: T) -> tuple[T, ...]:
    return (*items, item)[-HISTORY_LIMIT:]


def _seeded(times: tuple[datetime, ...], last: datetime | None) -> tuple[datetime, ...]:
    """A report history with the latest report in it: a state from a snapshot written before
    histories were kept knows only the latest (folding the events, both are always set).
    """
    return (last,) if not times and last is not None else times


def _detected_at(breach: Breach) -> datetime:
    return breach.detected_at


def _observed_at(observation: Observation) -> datetime:
    return observation.at


def apply(state: SupplierState | None, event: Event) -> SupplierState:
    """The state after ``event``; ``state`` is None only before ``SupplierRegistered``."""
    if isinstance(event, SupplierRegistered):
        if state is not None:
            raise ValueError("SupplierRegistered can only start a stream")
        return SupplierState(
            supplier_id=event.supplier_id,
            name=event.name,
            category=event.category,
            version=1,
            registered_at=event.occurred_at,
            updated_at=event.occurred_at,
        )
    if state is None:
        raise ValueError(f"{type(event).__name__} cannot start a stream")
    changed = _evolve(event, state)
    return _evolved(changed, version=state.version + 1, updated_at=event.occurred_at)


def fold(events: Iterable[Event], state: SupplierState | None = None) -> SupplierState | None:
    """Apply ``events`` in order, starting from ``state``."""
    for event in events:
        state = apply(state, event)
    return state


@attrs.define
class FoldChain:
    """The events folded so far from one starting state, and the state they lead to."""

    state: SupplierState | None
    events: list[Event] = attrs.field(factory=list)


_CHAIN: ContextVar[FoldChain | None] = ContextVar("sqm_fold_chain", default=None)


def fold_step(events: Sequence[Event], state: SupplierState) -> SupplierState:
    """``fold(events, state)`` for deciding: the state a decision context sees.

    Under :func:`folds_kept`, a step that starts where the chain's last one ended extends
    the chain, so the state after a command's events can go on from the folds deciding did.
    """
    folded = fold(events, state)
    if folded is None:  # pragma: no cover - a fold from a state always has one
        raise RuntimeError("fold returned no state")
    chain = _CHAIN.get()
    if chain is not None and chain.state is state:
        chain.events.extend(events)
        chain.state = folded
    return folded


class _FoldsKept:
    """:func:`folds_kept`'s context: a class rather than a generator, as it is entered
    once for every command decided.
    """

    __slots__ = ("_chain", "_token")

    def __init__(self, state: SupplierState | None) -> None:
        self._chain = FoldChain(state)
        self._token: Token[FoldChain | None] | None = None

    def __enter__(self) -> FoldChain:
        self._token = _CHAIN.set(self._chain)
        return self._chain

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _CHAIN.reset(self._token)
            self._token = None


def folds_kept(state: SupplierState | None) -> AbstractContextManager[FoldChain]:
    """Keep the chain of :func:`fold_step` calls made from ``state`` in this context."""
    return _FoldsKept(state)


def fold_rest(
    events: Sequence[Event], start: SupplierState | None, chain: FoldChain
) -> SupplierState | None:
    """The state after ``events`` from ``start``, folding only what ``chain`` has not: the
    chain is used when its events are the first of ``events``, the very same objects.
    """
    done = len(chain.events)
    prefix = events[:done]
    if (
        done
        and len(prefix) == done
        and all(a is b for a, b in zip(chain.events, prefix, strict=True))
    ):
        return fold(events[done:], chain.state)
    return fold(events, start)


@singledispatch
def _evolve(event: Event, state: SupplierState) -> SupplierState:
    """Events that record facts without changing the projected fields."""
    return state


@_evolve.register
def _(event: QualificationEvidenceSubmitted, state: SupplierState) -> SupplierState:
    scores = {**state.scores, **event.scores}
    replaced = {(c.kind, c.number) for c in event.certificates}
    kept = tuple(c for c in state.certificates if (c.kind, c.number) not in replaced)
    audit = state.site_audit_passed if event.site_audit_passed is None else event.site_audit_passed
    return _evolved(
        state,
        scores=scores,
        certificates=kept + event.certificates,
        site_audit_passed=audit,
        last_decisions=(),
    )


@_evolve.register
def _(event: MarketResearchRecorded, state: SupplierState) -> SupplierState:
    return _evolved(
        state,
        market_research_at=event.occurred_at,
        market_research_references=len(event.references),
    )


@_evolve.register
def _(event: SupplierBlacklisted, state: SupplierState) -> SupplierState:
    return _evolved(state, blacklisted=True)


@_evolve.register
def _(event: DecisionRecorded, state: SupplierState) -> SupplierState:
    latest = (*state.last_decisions, event.decision)[-LATEST_DECISIONS:]
    return _evolved(state, last_decisions=latest)


@_evolve.register
def _(event: LifecycleTransitioned, state: SupplierState) -> SupplierState:
    if state.lifecycle is not event.from_state:
        raise ValueError(
            f"event moves from {event.from_state.value!r} but the supplier is"
            f" {state.lifecycle.value!r}"
        )
    # Replaying through the machine keeps the fold honest: a stored transition the
    # lifecycle does not allow is a corrupt stream, not something to paper over.
    to_state = lifecycle.fire(state.lifecycle, Trigger(event.trigger))
    if to_state is not event.to_state:
        raise ValueError(
            f"{event.trigger!r} leads to {to_state.value!r}, not {event.to_state.value!r}"
        )
    return _evolved(state, lifecycle=to_state)


@_evolve.register
def _(event: ContractSigned, state: SupplierState) -> SupplierState:
    return _evolved(state, contract=event.contract)


@_evolve.register
def _(event: ContractEnded, state: SupplierState) -> SupplierState:
    # A review or plan about the delivery ends with the contract; the contract stays on file.
    return _evolved(state, review=None, plan=None)


@_evolve.register
def _(event: MeasurementRecorded, state: SupplierState) -> SupplierState:
    kept = _bounded(state.measurements, event.measurement)
    index = windows.after_measurement(
        state.windows, state.measurements, event.measurement, len(kept)
    )
    return _evolved(state, measurements=kept, windows=index)


@_evolve.register
def _(event: BreachDetected, state: SupplierState) -> SupplierState:
    kept = _bounded(state.breaches, event.breach)
    index = windows.after_record(
        state.windows, windows.BREACHES, state.breaches, event.breach, len(kept), at=_detected_at
    )
    return _evolved(state, breaches=kept, windows=index)


@_evolve.register
def _(event: PenaltyAssessed, state: SupplierState) -> SupplierState:
    return _evolved(state, penalties=(*state.penalties, event.penalty))


@_evolve.register
def _(event: SatisfactionSurveyRecorded, state: SupplierState) -> SupplierState:
    kept = _bounded(state.surveys, event.survey)
    index = windows.after_record(
        state.windows, windows.SURVEYS, state.surveys, event.survey, len(kept), at=_observed_at
    )
    return _evolved(state, surveys=kept, windows=index)


@_evolve.register
def _(event: InspectionRecorded, state: SupplierState) -> SupplierState:
    kept = _bounded(state.inspections, event.inspection)
    index = windows.after_record(
        state.windows, windows.INSPECTIONS, state.inspections, event.inspection, len(kept),
        at=_observed_at,
    )  # fmt: skip
    return _evolved(state, inspections=kept, windows=index)


@_evolve.register
def _(event: ProgressReportSubmitted, state: SupplierState) -> SupplierState:
    return _evolved(
        state,
        last_progress_report_at=event.occurred_at,
        progress_reports=_bounded(
            _seeded(state.progress_reports, state.last_progress_report_at), event.occurred_at
        ),
    )


@_evolve.register
def _(event: SelfCheckSubmitted, state: SupplierState) -> SupplierState:
    return _evolved(
        state,
        last_self_check_at=event.occurred_at,
        last_self_check_passed=event.passed,
        self_checks=_bounded(
            _seeded(state.self_checks, state.last_self_check_at), event.occurred_at
        ),
    )


@_evolve.register
def _(event: ReviewOpened, state: SupplierState) -> SupplierState:
    tickets = _ticket_led_to_review(state.tickets, event.review.ticket_id, event.occurred_at)
    return _evolved(state, review=event.review, last_review_at=event.occurred_at, tickets=tickets)


def _ticket_led_to_review(
    tickets: tuple[ProblemTicket, ...], ticket_id: str, at: datetime
) -> tuple[ProblemTicket, ...]:
    """The tickets, the latest of ``ticket_id`` marked as having led to a review at ``at``."""
    if not ticket_id:
        return tickets
    marked = list(tickets)
    for index in reversed(range(len(marked))):
        if marked[index].ticket_id == ticket_id:
            marked[index] = attrs.evolve(marked[index], review_opened_at=at)
            break
    return tuple(marked)


@_evolve.register
def _(event: ReviewConcluded, state: SupplierState) -> SupplierState:
    return _evolved(state, review=None)


@_evolve.register
def _(event: ImprovementPlanRequired, state: SupplierState) -> SupplierState:
    # A new plan gets a new corrective action; the last one stays in the stream.
    return _evolved(state, plan=event.plan, corrective_action=None)


@_evolve.register
def _(event: ImprovementPlanSubmitted, state: SupplierState) -> SupplierState:
    if state.plan is None:
        raise ValueError("a plan was submitted but none was required")
    plan = attrs.evolve(
        state.plan, measures=event.measures, owner=event.owner, submitted_at=event.occurred_at
    )
    return _evolved(state, plan=plan)


@_evolve.register
def _(event: ImprovementPlanCompleted, state: SupplierState) -> SupplierState:
    if state.plan is None:
        raise ValueError("a plan was completed but none was required")
    return _evolved(state, plan=attrs.evolve(state.plan, completed_at=event.occurred_at))


@_evolve.register
def _(event: CorrectiveActionSubmitted, state: SupplierState) -> SupplierState:
    plan = state.plan
    if plan is None:
        raise ValueError("a corrective action was submitted but no plan was required")
    content = event.content
    record = state.corrective_action
    kept = {a.action_id: a for a in record.actions} if record else {}
    actions = tuple(
        attrs.evolve(kept[i.action_id], description=i.description, owner=i.owner, due_at=i.due_at)
        if i.action_id in kept
        else ActionProgress(i.action_id, i.description, i.owner, i.due_at)
        for i in content.actions
    )
    revisions = (*record.revisions, content) if record else (content,)
    submitted_at = record.submitted_at if record else event.occurred_at
    # The record is the plan's answer: its actions are the plan's measures.
    plan = attrs.evolve(
        plan,
        measures=tuple(i.description for i in content.actions),
        owner=content.team[0] if content.team else plan.owner,
        submitted_at=plan.submitted_at or event.occurred_at,
    )
    return _evolved(
        state, plan=plan, corrective_action=CorrectiveAction(submitted_at, revisions, actions)
    )


def _with_action(
    state: SupplierState, action_id: str, change: Callable[[ActionProgress], ActionProgress]
) -> SupplierState:
    record = state.corrective_action
    if record is None or record.action(action_id) is None:
        raise ValueError(f"corrective action item {action_id!r} is not on record")
    actions = tuple(change(a) if a.action_id == action_id else a for a in record.actions)
    return _evolved(state, corrective_action=attrs.evolve(record, actions=actions))


@_evolve.register
def _(event: CorrectiveActionItemCompleted, state: SupplierState) -> SupplierState:
    return _with_action(
        state,
        event.action_id,
        lambda a: attrs.evolve(a, completed_at=event.occurred_at, completion_note=event.note),
    )


@_evolve.register
def _(event: CorrectiveActionItemVerified, state: SupplierState) -> SupplierState:
    return _with_action(
        state,
        event.action_id,
        lambda a: attrs.evolve(
            a,
            verified_at=event.occurred_at,
            verified_by=event.verified_by,
            verification_note=event.note,
        ),
    )


@_evolve.register
def _(event: CorrectiveActionExtensionRequested, state: SupplierState) -> SupplierState:
    asked = ActionExtension(event.occurred_at, event.due_at, event.reason)
    return _with_action(
        state, event.action_id, lambda a: attrs.evolve(a, extensions=(*a.extensions, asked))
    )


@_evolve.register
def _(event: CorrectiveActionExtensionDecided, state: SupplierState) -> SupplierState:
    def decided(action: ActionProgress) -> ActionProgress:
        *earlier, last = action.extensions
        last = attrs.evolve(
            last, decided_at=event.occurred_at, approved=event.approved, note=event.note
        )
        return attrs.evolve(action, due_at=event.due_at, extensions=(*earlier, last))

    state = _with_action(state, event.action_id, decided)
    plan = state.plan
    if event.approved and plan is not None and event.due_at > plan.due_at:
        # The plan is due when its last action is: an approved extension moves both.
        state = _evolved(state, plan=attrs.evolve(plan, due_at=event.due_at))
    return state


@_evolve.register
def _(event: CorrectiveActionsEscalated, state: SupplierState) -> SupplierState:
    record = state.corrective_action
    if record is None:
        raise ValueError("corrective actions were escalated but none is on record")
    named = set(event.action_ids)
    actions = tuple(
        attrs.evolve(a, escalated_at=event.occurred_at) if a.action_id in named else a
        for a in record.actions
    )
    return _evolved(state, corrective_action=attrs.evolve(record, actions=actions))


@_evolve.register
def _(event: CorrectiveActionClosed, state: SupplierState) -> SupplierState:
    record, plan = state.corrective_action, state.plan
    if record is None or plan is None:
        raise ValueError("a corrective action was closed but none is on record")
    return _evolved(
        state,
        corrective_action=attrs.evolve(
            record, closed_at=event.occurred_at, closure_note=event.note
        ),
        plan=attrs.evolve(plan, completed_at=event.occurred_at),
    )


@_evolve.register
def _(event: RemediationVerified, state: SupplierState) -> SupplierState:
    return _evolved(state, plan=None)


@_evolve.register
def _(event: ImprovementDeadlineMissed, state: SupplierState) -> SupplierState:
    return _evolved(state, plan=None)


@_evolve.register
def _(event: TerminatedForCause, state: SupplierState) -> SupplierState:
    # The contract ended: no review or plan is open any more.
    return _evolved(state, review=None, plan=None)


@_evolve.register
def _(event: ReminderIssued, state: SupplierState) -> SupplierState:
    return _evolved(state, reminders_sent=state.reminders_sent | {event.key})


@_evolve.register
def _(event: ProblemTicketOpened, state: SupplierState) -> SupplierState:
    ticket = ProblemTicket(event.ticket_id, event.severity, event.occurred_at)
    return _evolved(
        state,
        open_tickets=state.open_tickets | {event.ticket_id},
        tickets=_bounded(state.tickets, ticket),
    )


@_evolve.register
def _(event: ProblemTicketResolved, state: SupplierState) -> SupplierState:
    # The latest ticket of the id is the open one (an id may be reused once resolved).
    tickets = list(state.tickets)
    for index in reversed(range(len(tickets))):
        if tickets[index].ticket_id == event.ticket_id:
            tickets[index] = attrs.evolve(tickets[index], resolved_at=event.occurred_at)
            break
    return _evolved(
        state, open_tickets=state.open_tickets - {event.ticket_id}, tickets=tuple(tickets)
    )


@_evolve.register
def _(event: TicketResolutionMissed, state: SupplierState) -> SupplierState:
    return _evolved(state, ticket_misses=_bounded(state.ticket_misses, event.occurred_at))


@_evolve.register
def _(event: CompensationSettled, state: SupplierState) -> SupplierState:
    settled = state.settlements.get(event.penalty_id, Decimal("0.00")) + event.amount.amount
    return _evolved(state, settlements={**state.settlements, event.penalty_id: settled})


@_evolve.register
def _(event: NoticeAcknowledged, state: SupplierState) -> SupplierState:
    acknowledged = state.acknowledged_notices | {event.notice_sequence}
    return _evolved(state, acknowledged_notices=acknowledged)


@_evolve.register
def _(event: PenaltyDisputed, state: SupplierState) -> SupplierState:
    return _evolved(state, penalty_disputes={**state.penalty_disputes, event.penalty_id: "open"})


@_evolve.register
def _(event: PenaltyDisputeDecided, state: SupplierState) -> SupplierState:
    decided = {**state.penalty_disputes, event.penalty_id: event.outcome.value}
    return _evolved(state, penalty_disputes=decided)


@_evolve.register
def _(event: PenaltyReversed, state: SupplierState) -> SupplierState:
    # The credit note joins the ledger: every sum over it (caps, totals) nets the credit out.
    return _evolved(state, penalties=(*state.penalties, event.credit_note))


@_evolve.register
def _(event: KickOffRecorded, state: SupplierState) -> SupplierState:
    # A new kick-off replaces the milestones; completions of milestones it keeps still count.
    names = {m.name for m in event.milestones}
    return _evolved(
        state,
        milestones=event.milestones,
        kicked_off_at=event.occurred_at,
        milestones_completed=state.milestones_completed & names,
        milestone_completions={
            name: at for name, at in state.milestone_completions.items() if name in names
        },
        deliverables_accepted=state.deliverables_accepted & names,
    )


@_evolve.register
def _(event: MilestoneCompleted, state: SupplierState) -> SupplierState:
    return _evolved(
        state,
        milestones_completed=state.milestones_completed | {event.milestone},
        milestone_completions={**state.milestone_completions, event.milestone: event.occurred_at},
    )


@_evolve.register
def _(event: DeliverableAccepted, state: SupplierState) -> SupplierState:
    return _evolved(state, deliverables_accepted=state.deliverables_accepted | {event.milestone})


@_evolve.register
def _(event: DocumentArchived, state: SupplierState) -> SupplierState:
    if event.kind != "contract":
        return state
    return _evolved(state, contract_archived_at=event.occurred_at)


@_evolve.register
def _(event: ResourcePlanSubmitted, state: SupplierState) -> SupplierState:
    return _evolved(state, resource_plan_at=event.occurred_at)


@_evolve.register
def _(event: TrainingRecorded, state: SupplierState) -> SupplierState:
    return _evolved(state, last_training_at=event.occurred_at)


@_evolve.register
def _(event: ScorecardClosed, state: SupplierState) -> SupplierState:
    kept = (*state.scorecards, event.scorecard)[-SCORECARDS_KEPT:]
    return _evolved(state, scorecards=kept)
