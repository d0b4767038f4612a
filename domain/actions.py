"""Our code acts: turn the decisions a policy fired into events.

durable_rules only matches; what a fired rule *means* is decided here, against the state the
supplier is in by then. Where each action *can* take effect is one table,
:data:`ACTION_REACH`, derived from the lifecycle's transitions and the actions below; lint
reads it to find rules that can fire where their action cannot apply.

A fired rule whose action cannot apply (a termination of a contracted supplier, a service
credit for an inspection) is still recorded, with ``no_effect`` saying why, so no rule is
ever silent. A reminder already sent is the one exception: the rule did its work on an
earlier tick, and recording it again on every tick would only add noise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from sqm.domain import lifecycle, milestones
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
from sqm.domain.history import latest_valid_certificates
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Action,
    Decision,
    LifecycleState,
    Penalty,
    Reminder,
    Review,
    Stage,
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

# --- where actions can take effect ---------------------------------------------------------

STAGE_STATES: Mapping[Stage, frozenset[LifecycleState]] = {
    Stage.QUALIFICATION: frozenset({lifecycle.INITIAL_STATE}),
    Stage.MONITORING: lifecycle.UNDER_CONTRACT,
    Stage.DEADLINES: lifecycle.TICKED,
}
"""The lifecycle states in which each stage's rules are evaluated (see ``decide``)."""

ACTION_TRIGGERS: Mapping[Action, tuple[Trigger, ...]] = {
    Action.QUALIFY: (Trigger.QUALIFY,),
    Action.DISQUALIFY: (Trigger.DISQUALIFY,),
    Action.REVOKE_QUALIFICATION: (Trigger.REVOKE_QUALIFICATION,),
    Action.OPEN_REVIEW: (Trigger.OPEN_REVIEW,),
    # Terminating ends a review as failed, or remediation as missed; nothing else.
    Action.TERMINATE: (Trigger.FAIL_REVIEW, Trigger.MISS_IMPROVEMENT_DEADLINE),
    Action.VERIFY_REMEDIATION: (Trigger.VERIFY_REMEDIATION,),
}
"""The lifecycle moves each moving action makes; the first the state allows is taken."""

BREACH_RECORDS = frozenset({"measurement"})
"""The monitoring records that can bring a breach: only a measurement misses an objective."""


@attrs.frozen
class Reach:
    """Where an action can take effect: lifecycle states and, if it needs one, a record."""

    states: frozenset[LifecycleState]
    record_kinds: frozenset[str] | None = None
    """The monitoring records it needs (None: any, or none)."""
    needs: str = ""
    """What it needs besides the state, in words (for messages)."""


def _reach(action: Action) -> Reach:
    triggers = ACTION_TRIGGERS.get(action)
    if triggers is not None:
        sources = {src for t, src, _ in lifecycle.TRANSITIONS if t in triggers}
        return Reach(frozenset(sources))
    if action is Action.ASSESS_PENALTY:
        return Reach(lifecycle.UNDER_CONTRACT, BREACH_RECORDS, "a breach (a measurement)")
    # A reminder has no lifecycle guard: it needs only the deadline it names.
    return Reach(frozenset(LifecycleState) - lifecycle.TERMINAL_STATES)


ACTION_REACH: Mapping[Action, Reach] = {action: _reach(action) for action in Action}
"""Where every action can take effect, derived from the lifecycle machine and the actions."""


# --- acting ---------------------------------------------------------------------------------


@attrs.frozen
class NoEffect:
    """Why a fired decision's action could not apply; ``quiet`` ones are not recorded."""

    reason: str
    quiet: bool = False


Effects = Callable[[Decision, SupplierState, DecisionContext, Policy], list[Event] | NoEffect]


def act_on(evaluation: Evaluation, context: DecisionContext, policy: Policy) -> list[Event]:
    """Every fired decision, each followed by its events, or recorded with why it had none."""
    events: list[Event] = []
    state = context.supplier
    for decision in sorted(evaluation.fired, key=lambda d: PRECEDENCE.index(d.action)):
        effects = _effects_of(decision, state, context, policy)
        if isinstance(effects, NoEffect):
            if not effects.quiet:
                events.append(
                    DecisionRecorded(context.now, decision, f"no effect: {effects.reason}")
                )
            continue
        recorded: list[Event] = [DecisionRecorded(context.now, decision), *effects]
        events.extend(recorded)
        state = _fold(recorded, state)
    return events


def revoke_unless_qualifying(
    evaluation: Evaluation, context: DecisionContext, policy: Policy
) -> list[Event]:
    """A qualified supplier evaluated again: nothing when its evidence still qualifies it,
    else back to candidate, on the ground of the rule that no longer lets it pass.
    """
    fired = {d.action for d in evaluation.fired}
    if Action.QUALIFY in fired and Action.DISQUALIFY not in fired:
        return []
    ground = _revocation_ground(evaluation, policy.version)
    under = f"on re-evaluation under policy {policy.version[:12]}"
    message = f"Qualification revoked {under}: {ground.message}".rstrip(": ")
    decision = attrs.evolve(ground, action=Action.REVOKE_QUALIFICATION, fired=True, message=message)
    cause = f"rule {ground.rule_id or '(none)'} not met {under}"
    moved = transition(context.supplier, Trigger.REVOKE_QUALIFICATION, context.now, cause)
    return [DecisionRecorded(context.now, decision), moved]


def _revocation_ground(evaluation: Evaluation, version: str) -> Decision:
    """The decision a revocation rests on: a disqualifying rule that fired, else a
    qualifying rule that did not (with its explanation), else the bare fact that none did.
    """
    found = next((d for d in evaluation.fired if d.action is Action.DISQUALIFY), None)
    found = found or next((d for d in evaluation.not_fired if d.action is Action.QUALIFY), None)
    if found is not None:
        return found
    return Decision("", "no qualifying rule", "", 0, version, Action.QUALIFY, False, "")


def _effects_of(
    decision: Decision, state: SupplierState, context: DecisionContext, policy: Policy
) -> list[Event] | NoEffect:
    action, reach = decision.action, ACTION_REACH[decision.action]
    if state.lifecycle not in reach.states:
        return NoEffect(f"{action} cannot apply in {state.lifecycle}")
    return _EFFECTS[action](decision, state, context, policy)


def transition(
    state: SupplierState, trigger: Trigger, occurred_at: datetime, cause: str
) -> LifecycleTransitioned:
    """The transition ``trigger`` makes from ``state``; raises IllegalTransition if none."""
    to_state = lifecycle.fire(state.lifecycle, trigger)
    return LifecycleTransitioned(occurred_at, trigger.value, state.lifecycle, to_state, cause)


def _move(state: SupplierState, decision: Decision, now: datetime) -> LifecycleTransitioned:
    """The move the decision's action makes from ``state`` (one ``ACTION_REACH`` allows)."""
    allowed = lifecycle.allowed_triggers(state.lifecycle)
    trigger = next(t for t in ACTION_TRIGGERS[decision.action] if t in allowed)
    return transition(state, trigger, now, f"rule {decision.rule_id}")


def _qualify(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    if s.blacklisted:  # a blacklisted candidate never qualifies, whatever a pack says
        return NoEffect("qualify cannot apply to a blacklisted supplier")
    return [_move(s, d, c.now)]


def _move_only(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    return [_move(s, d, c.now)]


def _open_review(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    moved = _move(s, d, c.now)
    breach = c.breach
    review = Review(
        opened_at=c.now,
        reason=d.message,
        rule_id=d.rule_id,
        objective_id=breach.objective_id if breach else "",
        severity=breach.severity if breach else None,
    )
    return [ReviewOpened(c.now, review), moved]


def _terminate(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    moved = _move(s, d, c.now)
    if s.lifecycle is LifecycleState.REMEDIATION:
        return [ImprovementDeadlineMissed(c.now), moved]
    return [moved]


def _verify(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event] | NoEffect:
    if s.plan is None or s.plan.completed_at is None:
        return NoEffect("verify_remediation needs a completed improvement plan")
    return [RemediationVerified(c.now, d.message), _move(s, d, c.now)]


def _assess_penalty(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    if c.breach is None:
        what = f"the {c.record_kind}" if c.record_kind else "the deadline check"
        return NoEffect(f"assess_penalty needs a breach, and {what} brought none")
    if s.contract is None:  # pragma: no cover - every state under contract has one
        return NoEffect("assess_penalty needs a contract")
    quote = p.quote_service_credit(s, c.breach, c.now)
    penalty = Penalty(
        penalty_id=f"{s.supplier_id}/penalty-{len(s.penalties) + 1}",
        kind="service_credit",
        contract_id=s.contract.contract_id,
        amount=quote.amount,
        period=p.calendar.period_of(c.now),
        rule_id=d.rule_id,
        cap_applied=quote.cap_applied,
        assessed_at=c.now,
        objective_id=c.breach.objective_id,
    )
    return [PenaltyAssessed(c.now, penalty, quote.basis)]


def _remind(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event] | NoEffect:
    try:
        reminder = Reminder(str(d.parameters.get("reminder", "")))
    except ValueError:  # the loader refuses such a rule; kept for hand-built decisions
        return NoEffect(f"remind has no reminder {d.parameters.get('reminder', '')!r}")
    key = _reminder_key(reminder, s, c.now)
    if key is None:
        return NoEffect(f"remind: there is no {reminder} deadline to remind of", quiet=True)
    if key in s.reminders_sent:
        return NoEffect(f"remind: the {reminder} reminder was already sent", quiet=True)
    return [ReminderIssued(c.now, reminder, key, d.message)]


def _reminder_key(reminder: Reminder, s: SupplierState, now: datetime) -> str | None:
    # One reminder per deadline: the key names the deadline it is about.
    if reminder is Reminder.IMPROVEMENT_PLAN_DUE:
        return f"{reminder}:{s.plan.due_at.isoformat()}" if s.plan else None
    if reminder is Reminder.CERTIFICATE_EXPIRY:
        expiries = sorted(c.valid_until for c in latest_valid_certificates(s.certificates, now))
        return f"{reminder}:{expiries[0].isoformat()}" if expiries else None
    if reminder is Reminder.MILESTONE_DUE:
        ahead = milestones.next_due(s, now)
        return f"{reminder}:{ahead.name}:{ahead.due_at.isoformat()}" if ahead else None
    if reminder is Reminder.TRAINING_DUE:
        trained = s.last_training_at or (s.contract.starts_at if s.contract else None)
        return f"{reminder}:{trained.isoformat()}" if trained else None
    if reminder is Reminder.CONTRACT_EXPIRY:
        return f"{reminder}:{s.contract.ends_at.isoformat()}" if s.contract else None
    since = s.last_progress_report_at or (s.contract.starts_at if s.contract else None)
    return f"{reminder}:{since.isoformat()}" if since else None


_EFFECTS: dict[Action, Effects] = {
    Action.QUALIFY: _qualify,
    Action.DISQUALIFY: _move_only,
    Action.REVOKE_QUALIFICATION: _move_only,
    Action.OPEN_REVIEW: _open_review,
    Action.TERMINATE: _terminate,
    Action.VERIFY_REMEDIATION: _verify,
    Action.ASSESS_PENALTY: _assess_penalty,
    Action.REMIND: _remind,
}


def _fold(events: Sequence[Event], state: SupplierState) -> SupplierState:
    return fold_step(events, state)
