"""The pure heart of the domain: ``decide`` turns a command into events, ``apply`` folds events
into state. Guards run before anything is produced: a command yields all its events or none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import singledispatch

import attrs

from domain import lifecycle
from domain.commands import (
    Command,
    ConcludeReview,
    OpenReview,
    RecordMissedImprovementDeadline,
    RegisterSupplier,
    ReviewOutcome,
    SignContract,
    SubmitQualificationEvidence,
    VerifyRemediation,
)
from domain.errors import IllegalTransition, SupplierAlreadyExists, SupplierNotFound
from domain.events import (
    ContractSigned,
    DecisionRecorded,
    Event,
    ImprovementDeadlineMissed,
    LifecycleTransitioned,
    QualificationEvidenceSubmitted,
    RemediationVerified,
    ReviewConcluded,
    ReviewOpened,
    SupplierRegistered,
)
from domain.lifecycle import Trigger
from domain.model import Action, Decision, LifecycleState, Stage, SupplierState
from domain.ports import DecisionContext, Policy
from domain.validation import validate, validate_against

# When rules ask for conflicting moves, the more conservative one wins.
_ACTION_PRECEDENCE: tuple[tuple[Action, Trigger], ...] = (
    (Action.DISQUALIFY, Trigger.DISQUALIFY),
    (Action.QUALIFY, Trigger.QUALIFY),
)

_REVIEW_TRIGGERS = {
    ReviewOutcome.CLEARED: Trigger.CLEAR_REVIEW,
    ReviewOutcome.REMEDIATION_REQUIRED: Trigger.REQUIRE_REMEDIATION,
    ReviewOutcome.FAILED: Trigger.FAIL_REVIEW,
}


def decide(command: Command, state: SupplierState | None, policy: Policy) -> list[Event]:
    """The events ``command`` produces against ``state`` under ``policy``.

    Raises a :class:`~domain.errors.DomainError` (and produces nothing) when the command is
    malformed, names an unknown supplier, or asks for a move the lifecycle forbids.
    """
    validate(command)
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
    if isinstance(command, SubmitQualificationEvidence):
        return _submit_evidence(command, state, policy)
    return _lifecycle_command(command, state)


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
    events: list[Event] = [submitted]
    if state.lifecycle is not LifecycleState.CANDIDATE:
        return events  # evidence kept on file (a renewed certificate, say); nothing to decide
    evaluation = policy.evaluate(
        DecisionContext(Stage.QUALIFICATION, apply(state, submitted), command.occurred_at)
    )
    recorded = evaluation.fired or evaluation.not_fired
    events.extend(DecisionRecorded(command.occurred_at, d) for d in recorded)
    events.extend(_transition_for(evaluation.fired, state, command))
    return events


def _transition_for(
    fired: Iterable[Decision], state: SupplierState, command: SubmitQualificationEvidence
) -> list[Event]:
    by_action = {d.action: d for d in fired}
    for action, trigger in _ACTION_PRECEDENCE:
        if action in by_action:
            cause = f"rule {by_action[action].rule_id}"
            return [_transition(state, trigger, command.occurred_at, cause)]
    return []


def _transition(
    state: SupplierState, trigger: Trigger, occurred_at: datetime, cause: str
) -> LifecycleTransitioned:
    to_state = lifecycle.fire(state.lifecycle, trigger)
    return LifecycleTransitioned(occurred_at, trigger.value, state.lifecycle, to_state, cause)


def _lifecycle_command(command: Command, state: SupplierState) -> list[Event]:
    cause = f"command {type(command).__name__}"
    at = command.occurred_at
    record: Event
    if isinstance(command, SignContract):
        trigger, record = Trigger.SIGN_CONTRACT, ContractSigned(at, command.contract_id)
    elif isinstance(command, OpenReview):
        trigger, record = Trigger.OPEN_REVIEW, ReviewOpened(at, command.reason)
    elif isinstance(command, ConcludeReview):
        trigger = _REVIEW_TRIGGERS[command.outcome]
        record = ReviewConcluded(at, command.outcome, command.note)
    elif isinstance(command, VerifyRemediation):
        trigger, record = Trigger.VERIFY_REMEDIATION, RemediationVerified(at, command.note)
    elif isinstance(command, RecordMissedImprovementDeadline):
        trigger, record = Trigger.MISS_IMPROVEMENT_DEADLINE, ImprovementDeadlineMissed(at)
    else:  # pragma: no cover - exhaustiveness guard for new command types
        raise TypeError(f"no decision logic for {type(command).__name__}")
    # The transition is computed first: an illegal move raises before any event exists.
    moved = _transition(state, trigger, at, cause)
    return [record, moved]


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
    return attrs.evolve(changed, version=state.version + 1, updated_at=event.occurred_at)


def fold(events: Iterable[Event], state: SupplierState | None = None) -> SupplierState | None:
    """Apply ``events`` in order, starting from ``state``."""
    for event in events:
        state = apply(state, event)
    return state


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
    return attrs.evolve(
        state,
        scores=scores,
        certificates=kept + event.certificates,
        site_audit_passed=audit,
        last_decisions=(),
    )


@_evolve.register
def _(event: DecisionRecorded, state: SupplierState) -> SupplierState:
    return attrs.evolve(state, last_decisions=(*state.last_decisions, event.decision))


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
    return attrs.evolve(state, lifecycle=to_state)
