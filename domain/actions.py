"""Our code acts: turn the decisions a policy fired into events.

durable_rules only matches; what a fired rule *means* is decided here, against the state the
supplier is in by then. An action that does not apply to that state (a review trigger for a
supplier already under review, a reminder already sent) has no effect, and its decision is
not recorded: the record holds the decisions that changed something, plus, for
qualification, the explanations of why nothing did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqm.domain import lifecycle
from sqm.domain.events import (
    DecisionRecorded,
    Event,
    ImprovementDeadlineMissed,
    LifecycleTransitioned,
    PenaltyAssessed,
    RemediationVerified,
    ReminderIssued,
    ReviewOpened,
)
from sqm.domain.evolve import fold_step
from sqm.domain.history import latest_valid_certificates, period_of
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Action,
    Decision,
    LifecycleState,
    Penalty,
    Reminder,
    Review,
    SupplierState,
)
from sqm.domain.ports import DecisionContext, Evaluation, Policy

# Conservative first: once a supplier is terminated, later actions of the same evaluation
# find nothing to act on.
PRECEDENCE = (
    Action.DISQUALIFY,
    Action.TERMINATE,
    Action.REVOKE_QUALIFICATION,
    Action.OPEN_REVIEW,
    Action.VERIFY_REMEDIATION,
    Action.ASSESS_PENALTY,
    Action.REMIND,
    Action.QUALIFY,
)

Effects = Callable[[Decision, SupplierState, DecisionContext, Policy], list[Event]]


def act_on(evaluation: Evaluation, context: DecisionContext, policy: Policy) -> list[Event]:
    """The events of every fired decision that changes something, each after its decision."""
    events: list[Event] = []
    state = context.supplier
    for decision in sorted(evaluation.fired, key=lambda d: PRECEDENCE.index(d.action)):
        effects = _EFFECTS[decision.action](decision, state, context, policy)
        if not effects:
            continue
        recorded: list[Event] = [DecisionRecorded(context.now, decision), *effects]
        events.extend(recorded)
        state = _fold(recorded, state)
    return events


def transition(
    state: SupplierState, trigger: Trigger, occurred_at: datetime, cause: str
) -> LifecycleTransitioned:
    """The transition ``trigger`` makes from ``state``; raises IllegalTransition if none."""
    to_state = lifecycle.fire(state.lifecycle, trigger)
    return LifecycleTransitioned(occurred_at, trigger.value, state.lifecycle, to_state, cause)


def _move_if_allowed(
    state: SupplierState, trigger: Trigger, decision: Decision, now: datetime
) -> list[Event]:
    if trigger not in lifecycle.allowed_triggers(state.lifecycle):
        return []
    return [transition(state, trigger, now, f"rule {decision.rule_id}")]


def _qualify(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    if s.blacklisted:  # a blacklisted candidate never qualifies, whatever a pack says
        return []
    return _move_if_allowed(s, Trigger.QUALIFY, d, c.now)


def _disqualify(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    return _move_if_allowed(s, Trigger.DISQUALIFY, d, c.now)


def _revoke(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    return _move_if_allowed(s, Trigger.REVOKE_QUALIFICATION, d, c.now)


def _open_review(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    moved = _move_if_allowed(s, Trigger.OPEN_REVIEW, d, c.now)
    if not moved:
        return []
    breach = c.breach
    review = Review(
        opened_at=c.now,
        reason=d.message,
        rule_id=d.rule_id,
        objective_id=breach.objective_id if breach else "",
        severity=breach.severity if breach else None,
    )
    return [ReviewOpened(c.now, review), *moved]


def _terminate(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    if s.lifecycle is LifecycleState.REMEDIATION:
        missed = _move_if_allowed(s, Trigger.MISS_IMPROVEMENT_DEADLINE, d, c.now)
        return [ImprovementDeadlineMissed(c.now), *missed]
    if s.lifecycle is LifecycleState.UNDER_REVIEW:
        return _move_if_allowed(s, Trigger.FAIL_REVIEW, d, c.now)
    return []


def _verify(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    if s.plan is None or s.plan.completed_at is None:
        return []
    moved = _move_if_allowed(s, Trigger.VERIFY_REMEDIATION, d, c.now)
    return [RemediationVerified(c.now, d.message), *moved] if moved else []


def _assess_penalty(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    if c.breach is None or s.contract is None:
        return []
    quote = p.quote_service_credit(s, c.breach, c.now)
    penalty = Penalty(
        penalty_id=f"{s.supplier_id}/penalty-{len(s.penalties) + 1}",
        kind="service_credit",
        contract_id=s.contract.contract_id,
        amount=quote.amount,
        period=period_of(c.now),
        rule_id=d.rule_id,
        cap_applied=quote.cap_applied,
        assessed_at=c.now,
        objective_id=c.breach.objective_id,
    )
    return [PenaltyAssessed(c.now, penalty, quote.basis)]


def _remind(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event]:
    try:
        reminder = Reminder(str(d.parameters.get("reminder", "")))
    except ValueError:
        return []
    key = _reminder_key(reminder, s, c.now)
    if key is None or key in s.reminders_sent:
        return []
    return [ReminderIssued(c.now, reminder, key, d.message)]


def _reminder_key(reminder: Reminder, s: SupplierState, now: datetime) -> str | None:
    # One reminder per deadline: the key names the deadline it is about.
    if reminder is Reminder.IMPROVEMENT_PLAN_DUE:
        return f"{reminder}:{s.plan.due_at.isoformat()}" if s.plan else None
    if reminder is Reminder.CERTIFICATE_EXPIRY:
        expiries = sorted(c.valid_until for c in latest_valid_certificates(s.certificates, now))
        return f"{reminder}:{expiries[0].isoformat()}" if expiries else None
    since = s.last_progress_report_at or (s.contract.starts_at if s.contract else None)
    return f"{reminder}:{since.isoformat()}" if since else None


_EFFECTS: dict[Action, Effects] = {
    Action.QUALIFY: _qualify,
    Action.DISQUALIFY: _disqualify,
    Action.REVOKE_QUALIFICATION: _revoke,
    Action.OPEN_REVIEW: _open_review,
    Action.TERMINATE: _terminate,
    Action.VERIFY_REMEDIATION: _verify,
    Action.ASSESS_PENALTY: _assess_penalty,
    Action.REMIND: _remind,
}


def _fold(events: Sequence[Event], state: SupplierState) -> SupplierState:
    return fold_step(events, state)
