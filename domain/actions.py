"""Our code acts: turn the decisions a policy fired into events.

durable_rules only matches; what a fired rule *means* is decided here, against the state the
supplier is in by then. Where each action *can* take effect is one table,
:data:`ACTION_REACH`, derived from the lifecycle's transitions and the actions below; lint
reads it to find rules that can fire where their action cannot apply.

A fired rule whose action cannot apply (a termination of a contracted supplier, a service
credit by the schedule for an inspection) is still recorded, with ``no_effect`` saying why,
so no rule is ever silent. A reminder already sent, or a deadline penalty already entered
this month, is the exception: the rule did its work on an earlier tick, and recording it
again on every tick would only add noise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from sqm.domain import corrective_action, lifecycle, milestones
from sqm.domain.commands import ReviewOutcome
from sqm.domain.events import (
    CorrectiveActionsEscalated,
    DecisionRecorded,
    Escalated,
    Event,
    ImprovementDeadlineMissed,
    ImprovementPlanRequired,
    LifecycleTransitioned,
    NotificationIssued,
    PenaltyAssessed,
    RemediationVerified,
    ReminderIssued,
    ReviewConcluded,
    ReviewOpened,
    TerminatedForCause,
)
from sqm.domain.evolve import fold_step
from sqm.domain.history import latest_valid_certificates
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Action,
    Decision,
    ImprovementPlan,
    LifecycleState,
    Penalty,
    Reminder,
    Review,
    Severity,
    Stage,
    StatedAmount,
    SupplierState,
)
from sqm.domain.ports import DecisionContext, Evaluation, PenaltyQuote, Policy

# Conservative first: once a supplier is terminated, later actions of the same evaluation
# find nothing to act on.
PRECEDENCE = (
    Action.DISQUALIFY,
    Action.TERMINATE,
    Action.REVOKE_QUALIFICATION,
    Action.REQUIRE_REMEDIATION,
    Action.OPEN_REVIEW,
    Action.CLEAR_REVIEW,
    Action.VERIFY_REMEDIATION,
    Action.ASSESS_PENALTY,
    Action.ESCALATE,
    Action.NOTIFY,
    Action.REMIND,
    Action.QUALIFY,
)

# --- where actions can take effect ---------------------------------------------------------

STAGE_STATES: Mapping[Stage, frozenset[LifecycleState]] = {
    Stage.QUALIFICATION: frozenset({lifecycle.INITIAL_STATE}),
    Stage.MONITORING: lifecycle.UNDER_CONTRACT,
    Stage.DEADLINES: lifecycle.TICKED,
    # A need's rules: the candidate shortlisted or awarded is qualified or contracted (a
    # tick judges the need alone; sqm.domain.needs).
    Stage.SELECTION: lifecycle.SHORTLISTABLE,
}
"""The lifecycle states in which each stage's rules are evaluated (see ``decide``)."""

ACTION_TRIGGERS: Mapping[Action, tuple[Trigger, ...]] = {
    Action.QUALIFY: (Trigger.QUALIFY,),
    Action.DISQUALIFY: (Trigger.DISQUALIFY,),
    Action.REVOKE_QUALIFICATION: (Trigger.REVOKE_QUALIFICATION,),
    Action.OPEN_REVIEW: (Trigger.OPEN_REVIEW,),
    # Terminating ends a review or remediation: as a missed deadline only when the plan's
    # deadline has passed, otherwise for the rule's cause (see ``_terminate``).
    Action.TERMINATE: (Trigger.TERMINATE_FOR_CAUSE, Trigger.MISS_IMPROVEMENT_DEADLINE),
    Action.VERIFY_REMEDIATION: (Trigger.VERIFY_REMEDIATION,),
    Action.REQUIRE_REMEDIATION: (Trigger.REQUIRE_REMEDIATION,),
    Action.CLEAR_REVIEW: (Trigger.CLEAR_REVIEW,),
}
"""The lifecycle moves each moving action can make: the one its state allows (terminate,
which can make two from remediation, chooses by the plan's deadline)."""

MESSAGES = frozenset({Action.ESCALATE, Action.NOTIFY})
"""Actions that tell a named role something and change nothing else."""

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
        needs = "a breach (a measurement) or an amount stated in the rule"
        return Reach(lifecycle.UNDER_CONTRACT, BREACH_RECORDS, needs)
    if action in MESSAGES:
        # Telling someone has no lifecycle guard: a termination is worth escalating too.
        return Reach(frozenset(LifecycleState))
    # A reminder has no lifecycle guard: it needs only the deadline it names.
    return Reach(frozenset(LifecycleState) - lifecycle.TERMINAL_STATES)


ACTION_REACH: Mapping[Action, Reach] = {action: _reach(action) for action in Action}
"""Where every action can take effect, derived from the lifecycle machine and the actions."""

STATED_PENALTY_REACH = Reach(lifecycle.UNDER_CONTRACT)
"""A penalty with its amount stated needs no breach: any failure a rule describes will do."""


def reach_of(action: Action, parameters: Mapping[str, object]) -> Reach:
    """Where ``action`` with these parameters (a rule's) can take effect."""
    if action is Action.ASSESS_PENALTY and any(k.startswith("amount.") for k in parameters):
        return STATED_PENALTY_REACH
    return ACTION_REACH[action]


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
    action, reach = decision.action, reach_of(decision.action, decision.parameters)
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
        ticket_id=c.ticket_id,
    )
    return [ReviewOpened(c.now, review), moved]


def _terminate(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    cause = f"rule {d.rule_id}"
    if plan_overdue(s, c.now):
        missed = transition(s, Trigger.MISS_IMPROVEMENT_DEADLINE, c.now, cause)
        return [ImprovementDeadlineMissed(c.now), missed]
    ended = transition(s, Trigger.TERMINATE_FOR_CAUSE, c.now, cause)
    return [TerminatedForCause(c.now, d.rule_id, d.message), ended]


def plan_overdue(state: SupplierState, now: datetime) -> bool:
    """True in remediation when the plan is not completed and its deadline has passed."""
    plan = state.plan
    return (
        state.lifecycle is LifecycleState.REMEDIATION
        and plan is not None
        and plan.completed_at is None
        and now > plan.due_at
    )


def _require_remediation(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    # As a review concluded by hand: the plan is due by the severity behind it, here the
    # worse of the review's and the breach that fired the rule, if any.
    review = s.review or Review(opened_at=c.now, reason="")
    breach = c.breach
    severity = _worse(review.severity, breach.severity if breach else None)
    objective = breach.objective_id if breach else review.objective_id
    ticket = c.ticket_id or review.ticket_id
    plan = ImprovementPlan(c.now, p.plan_due_at(severity, c.now), objective, ticket_id=ticket)
    return [
        ReviewConcluded(c.now, ReviewOutcome.REMEDIATION_REQUIRED, d.message),
        _move(s, d, c.now),
        ImprovementPlanRequired(c.now, plan),
    ]


def _worse(a: Severity | None, b: Severity | None) -> Severity | None:
    if a is None or b is None:
        return a or b
    return a if a.rank >= b.rank else b


def _clear_review(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    return [ReviewConcluded(c.now, ReviewOutcome.CLEARED, d.message), _move(s, d, c.now)]


def _tell(kind: type[Escalated] | type[NotificationIssued]) -> Effects:
    """The effect of escalate or notify: the message to the role the rule names."""

    def told(
        d: Decision, s: SupplierState, c: DecisionContext, p: Policy
    ) -> list[Event] | NoEffect:
        to = str(d.parameters.get("to", ""))
        if not to:  # the loader refuses such a rule; kept for hand-built decisions
            return NoEffect(f"{d.action} names no role to tell")
        message = str(d.parameters.get("message", "")) or d.message
        return [kind(c.now, d.rule_id, to, message), *_told_overdue_actions(d, s, c.now)]

    return told


UNESCALATED_OVERDUE_FACT = "corrective_actions_overdue_unescalated"
"""A rule that tells someone on this fact tells them about these actions, once each."""


def _told_overdue_actions(d: Decision, s: SupplierState, now: datetime) -> list[Event]:
    """The overdue corrective actions an escalate or notify rule on
    :data:`UNESCALATED_OVERDUE_FACT` told about, marked so the fact counts them no more:
    the next tick does not escalate the same overdue action again.
    """
    if not any(condition.fact == UNESCALATED_OVERDUE_FACT for condition in d.conditions):
        return []
    told = corrective_action.unescalated_overdue(s, now)
    if not told:
        return []
    return [CorrectiveActionsEscalated(now, d.rule_id, tuple(a.action_id for a in told))]


def _verify(d: Decision, s: SupplierState, c: DecisionContext, p: Policy) -> list[Event] | NoEffect:
    if s.plan is None or s.plan.completed_at is None:
        return NoEffect("verify_remediation needs a completed improvement plan")
    return [RemediationVerified(c.now, d.message), _move(s, d, c.now)]


def _assess_penalty(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy
) -> list[Event] | NoEffect:
    if s.contract is None:  # pragma: no cover - every state under contract has one
        return NoEffect("assess_penalty needs a contract")
    stated = StatedAmount.from_parameters(d.parameters)
    if stated is not None:
        return _stated_credit(d, s, c, p, stated)
    if c.breach is None:
        what = f"the {c.record_kind}" if c.record_kind else "the deadline check"
        return NoEffect(f"assess_penalty needs a breach, and {what} brought none")
    quote = p.quote_service_credit(s, c.breach, c.now)
    return [_entered(d, s, c, p.calendar.period_of(c.now), quote)]


def _stated_credit(
    d: Decision, s: SupplierState, c: DecisionContext, p: Policy, stated: StatedAmount
) -> list[Event] | NoEffect:
    """The amount the rule states. On the deadline check, once per rule and ledger period:
    a missed report stays missed tick after tick, and costs its amount once a month.
    """
    period = p.calendar.period_of(c.now)
    if c.stage is Stage.DEADLINES and any(
        x.rule_id == d.rule_id and x.period == period for x in s.penalties
    ):
        return NoEffect(f"assess_penalty: {d.rule_id} already assessed in {period}", quiet=True)
    currency = _contract_currency(s)
    if stated.currency not in {"", currency}:
        return NoEffect(f"assess_penalty states {stated.currency}, the contract is in {currency}")
    quote = p.quote_stated_credit(s, stated, f"rule {d.rule_id} ({d.message})", c.now)
    return [_entered(d, s, c, period, quote)]


def _contract_currency(state: SupplierState) -> str:
    """The currency of the supplier's contract ("" without one)."""
    return state.contract.monthly_fee.currency if state.contract else ""


def _entered(
    d: Decision, s: SupplierState, c: DecisionContext, period: str, quote: PenaltyQuote
) -> PenaltyAssessed:
    """The service credit ``quote`` sets, entered in the ledger for the rule."""
    penalty = Penalty(
        penalty_id=f"{s.supplier_id}/penalty-{len(s.penalties) + 1}",
        kind="service_credit",
        contract_id=s.contract.contract_id if s.contract else "",
        amount=quote.amount,
        period=period,
        rule_id=d.rule_id,
        cap_applied=quote.cap_applied,
        assessed_at=c.now,
        objective_id=c.breach.objective_id if c.breach else "",
    )
    return PenaltyAssessed(c.now, penalty, quote.basis)


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
    deadline = _REMINDER_DEADLINES[reminder](s, now)
    return f"{reminder}:{deadline}" if deadline else None


def _plan_due(s: SupplierState, now: datetime) -> str | None:
    return s.plan.due_at.isoformat() if s.plan else None


def _first_certificate_expiry(s: SupplierState, now: datetime) -> str | None:
    expiries = sorted(c.valid_until for c in latest_valid_certificates(s.certificates, now))
    return expiries[0].isoformat() if expiries else None


def _next_milestone(s: SupplierState, now: datetime) -> str | None:
    ahead = milestones.next_due(s, now)
    return f"{ahead.name}:{ahead.due_at.isoformat()}" if ahead else None


def _contract_start(s: SupplierState) -> datetime | None:
    return s.contract.starts_at if s.contract else None


def _last_training(s: SupplierState, now: datetime) -> str | None:
    trained = s.last_training_at or _contract_start(s)
    return trained.isoformat() if trained else None


def _contract_end(s: SupplierState, now: datetime) -> str | None:
    return s.contract.ends_at.isoformat() if s.contract else None


def _last_progress_report(s: SupplierState, now: datetime) -> str | None:
    since = s.last_progress_report_at or _contract_start(s)
    return since.isoformat() if since else None


def _next_corrective_action(s: SupplierState, now: datetime) -> str | None:
    # A new due date (an approved extension) asks for its own reminder.
    ahead = corrective_action.next_due(s, now)
    return f"{ahead.action_id}:{ahead.due_at.isoformat()}" if ahead else None


def _overdue_corrective_actions(s: SupplierState, now: datetime) -> str | None:
    # Each action falling overdue (at each due date) changes the set, and asks for a notice.
    late = corrective_action.overdue_actions(s, now)
    return ",".join(f"{a.action_id}:{a.due_at.isoformat()}" for a in late) if late else None


def _contract_signed(s: SupplierState, now: datetime) -> str | None:
    contract = s.contract
    return f"{contract.contract_id}:{contract.signed_at.isoformat()}" if contract else None


def _kick_off(s: SupplierState, now: datetime) -> str | None:
    # A new kick-off asks for its own resource plan reminder.
    return s.kicked_off_at.isoformat() if s.kicked_off_at else None


_REMINDER_DEADLINES: Mapping[Reminder, Callable[[SupplierState, datetime], str | None]] = {
    Reminder.IMPROVEMENT_PLAN_DUE: _plan_due,
    Reminder.CERTIFICATE_EXPIRY: _first_certificate_expiry,
    Reminder.MILESTONE_DUE: _next_milestone,
    Reminder.TRAINING_DUE: _last_training,
    Reminder.CONTRACT_EXPIRY: _contract_end,
    Reminder.PROGRESS_REPORT_DUE: _last_progress_report,
    Reminder.RESOURCE_PLAN_DUE: _kick_off,
    Reminder.CONTRACT_ARCHIVE_DUE: _contract_signed,
    Reminder.CORRECTIVE_ACTION_DUE: _next_corrective_action,
    Reminder.CORRECTIVE_ACTION_OVERDUE: _overdue_corrective_actions,
    Reminder.NEED_DUE: lambda s, now: None,  # a need's, on the need's stream (domain.needs)
}
"""Per reminder, the deadline it is about (in its key), or None when there is none."""


_EFFECTS: dict[Action, Effects] = {
    Action.QUALIFY: _qualify,
    Action.DISQUALIFY: _move_only,
    Action.REVOKE_QUALIFICATION: _move_only,
    Action.OPEN_REVIEW: _open_review,
    Action.TERMINATE: _terminate,
    Action.VERIFY_REMEDIATION: _verify,
    Action.ASSESS_PENALTY: _assess_penalty,
    Action.REMIND: _remind,
    Action.REQUIRE_REMEDIATION: _require_remediation,
    Action.CLEAR_REVIEW: _clear_review,
    Action.ESCALATE: _tell(Escalated),
    Action.NOTIFY: _tell(NotificationIssued),
}


def _fold(events: Sequence[Event], state: SupplierState) -> SupplierState:
    return fold_step(events, state)
