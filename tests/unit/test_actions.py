"""Our code acts: what each fired decision does to the supplier, in which order, and that a
decision with no effect is recorded with why (only a reminder already sent stays quiet).

These tests call :func:`sqm.domain.actions.act_on` with decisions built by hand, so every action
is checked in every state regardless of which rules a policy has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs
import pytest

from sqm.domain.actions import PRECEDENCE, act_on
from sqm.domain.commands import (
    CompleteImprovementPlan,
    ReviewOutcome,
    SubmitImprovementPlan,
    SubmitProgressReport,
)
from sqm.domain.events import (
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
from sqm.domain.evolve import fold
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Action,
    Breach,
    Decision,
    FactValue,
    ImprovementPlan,
    LifecycleState,
    Money,
    Reminder,
    Review,
    Severity,
    Stage,
    SupplierState,
)
from sqm.domain.ports import DecisionContext, Evaluation
from tests.fakes import DAY, SID, T0, FakePolicy, S, licence, run, supplier_in

NOW = T0 + 40 * DAY
BREACH = Breach("availability", "availability", Severity.MAJOR, 98.5, 99.9, 1.4, NOW, NOW)


def decision(
    action: Action, rule_id: str = "", parameters: Mapping[str, FactValue] | None = None
) -> Decision:
    """A fired decision for ``action`` (rule id ``t.<action>`` unless given)."""
    return Decision(
        rule_id=rule_id or f"t.{action.value}",
        rule_title=f"test {action.value}",
        rule_file="tests/unit/test_actions.py",
        rule_line=1,
        policy_version="test-v1",
        action=action,
        fired=True,
        message=f"{action.value} because the test says so",
        parameters=dict(parameters or {}),
    )


def act(
    state: SupplierState,
    *decisions: Decision,
    stage: Stage = Stage.DEADLINES,
    breach: Breach | None = None,
    now: datetime = NOW,
) -> list[Event]:
    """The events ``decisions`` lead to for ``state`` at ``now``."""
    context = DecisionContext(stage, state, now, breach=breach)
    return act_on(Evaluation("test-v1", fired=decisions), context, FakePolicy())


def moves(events: list[Event]) -> list[tuple[str, LifecycleState, LifecycleState]]:
    """The transitions among ``events`` as (trigger, from, to)."""
    return [
        (e.trigger, e.from_state, e.to_state)
        for e in events
        if isinstance(e, LifecycleTransitioned)
    ]


def recorded(events: list[Event]) -> list[str]:
    """The rule ids of the decisions recorded among ``events``, in order."""
    return [e.decision.rule_id for e in events if isinstance(e, DecisionRecorded)]


def no_effect(events: list[Event]) -> list[str]:
    """The ``no_effect`` reasons of ``events``, which must all be recorded decisions."""
    assert all(isinstance(e, DecisionRecorded) for e in events), events
    return [e.no_effect for e in events if isinstance(e, DecisionRecorded)]


def remind(reminder: str) -> Decision:
    """A fired remind decision for ``reminder``."""
    return decision(Action.REMIND, parameters={"reminder": reminder})


def completed(state: SupplierState) -> SupplierState:
    """``state`` (in remediation) with its plan submitted and completed."""
    return run(
        state,
        SubmitImprovementPlan(SID, ("standby link",), "NOC lead", T0 + 4 * DAY),
        CompleteImprovementPlan(SID, T0 + 5 * DAY),
    )


# --- recording ------------------------------------------------------------------------------


def test_each_acting_decision_is_recorded_just_before_its_effects() -> None:
    """DecisionRecorded at now, then the decision's own events, decision by decision."""
    events = act(supplier_in(S.QUALIFIED), decision(Action.REVOKE_QUALIFICATION))
    assert events == [
        DecisionRecorded(NOW, decision(Action.REVOKE_QUALIFICATION)),
        LifecycleTransitioned(
            NOW,
            Trigger.REVOKE_QUALIFICATION.value,
            S.QUALIFIED,
            S.CANDIDATE,
            "rule t.revoke_qualification",
        ),
    ]


def test_decisions_act_in_precedence_order_whatever_order_they_fired_in() -> None:
    """Conservative actions first: terminate acts before verify, so verify finds nothing."""
    state = completed(supplier_in(S.REMEDIATION))
    events = act(state, decision(Action.VERIFY_REMEDIATION), decision(Action.TERMINATE))
    assert recorded(events) == ["t.terminate", "t.verify_remediation"]
    assert events[-1] == DecisionRecorded(
        NOW,
        decision(Action.VERIFY_REMEDIATION),
        "no effect: verify_remediation cannot apply in terminated",
    )
    assert moves(events) == [(Trigger.TERMINATE_FOR_CAUSE.value, S.REMEDIATION, S.TERMINATED)]


def test_disqualify_is_first_and_qualify_last_in_the_precedence() -> None:
    """The order is part of the contract with policy authors: conservative first, qualify last."""
    assert PRECEDENCE[0] is Action.DISQUALIFY
    assert PRECEDENCE[-1] is Action.QUALIFY
    assert set(PRECEDENCE) == set(Action)


def test_no_fired_decisions_give_no_events() -> None:
    """Nothing fired, nothing happens."""
    assert act(supplier_in(S.CONTRACTED)) == []


# --- lifecycle actions ----------------------------------------------------------------------

LIFECYCLE_ACTIONS = [
    (Action.QUALIFY, S.CANDIDATE, Trigger.QUALIFY, S.QUALIFIED),
    (Action.DISQUALIFY, S.CANDIDATE, Trigger.DISQUALIFY, S.TERMINATED),
    (Action.REVOKE_QUALIFICATION, S.QUALIFIED, Trigger.REVOKE_QUALIFICATION, S.CANDIDATE),
    (Action.TERMINATE, S.UNDER_REVIEW, Trigger.TERMINATE_FOR_CAUSE, S.TERMINATED),
]


@pytest.mark.parametrize(
    ("action", "source", "trigger", "dest"),
    LIFECYCLE_ACTIONS,
    ids=[f"{a.value}-from-{s.value}" for a, s, _, _ in LIFECYCLE_ACTIONS],
)
def test_a_lifecycle_action_fires_its_trigger_from_its_state(
    action: Action, source: LifecycleState, trigger: Trigger, dest: LifecycleState
) -> None:
    """Each action moves the supplier along its own row of the table, caused by the rule."""
    events = act(supplier_in(source), decision(action))
    assert moves(events) == [(trigger.value, source, dest)]
    assert events[-1] == LifecycleTransitioned(
        NOW, trigger.value, source, dest, f"rule t.{action.value}"
    )


_ACTING = {(a, s) for a, s, _, _ in LIFECYCLE_ACTIONS} | {(Action.TERMINATE, S.REMEDIATION)}
NO_MOVE = [
    (action, state)
    for action in (Action.QUALIFY, Action.DISQUALIFY, Action.REVOKE_QUALIFICATION, Action.TERMINATE)
    for state in LifecycleState
    if (action, state) not in _ACTING
]


@pytest.mark.parametrize(
    ("action", "lifecycle"), NO_MOVE, ids=[f"{a.value}-in-{s.value}" for a, s in NO_MOVE]
)
def test_a_lifecycle_action_with_no_move_from_the_state_is_recorded_as_having_no_effect(
    action: Action, lifecycle: LifecycleState
) -> None:
    """Where the table has no move for it, the decision is recorded saying so, and nothing else."""
    events = act(supplier_in(lifecycle), decision(action))
    assert no_effect(events) == [f"no effect: {action} cannot apply in {lifecycle}"]


def test_terminating_in_remediation_after_the_plans_deadline_records_the_missed_deadline() -> None:
    """The plan fell due on day 24 and is not done: on day 40 the deadline was missed."""
    state = supplier_in(S.REMEDIATION)
    assert state.plan is not None
    assert state.plan.due_at < NOW
    events = act(state, decision(Action.TERMINATE))
    assert events[1:] == [
        ImprovementDeadlineMissed(NOW),
        LifecycleTransitioned(
            NOW,
            Trigger.MISS_IMPROVEMENT_DEADLINE.value,
            S.REMEDIATION,
            S.TERMINATED,
            "rule t.terminate",
        ),
    ]


def test_terminating_in_remediation_before_the_plans_deadline_is_for_cause() -> None:
    """A critical breach on day 10 ends the contract for its cause, not as a missed deadline."""
    state = supplier_in(S.REMEDIATION)
    assert state.plan is not None
    early = T0 + 10 * DAY
    assert early < state.plan.due_at
    events = act(state, decision(Action.TERMINATE, "MON-009"), now=early)
    assert not any(isinstance(e, ImprovementDeadlineMissed) for e in events)
    assert events[1:] == [
        TerminatedForCause(early, "MON-009", "terminate because the test says so"),
        LifecycleTransitioned(
            early, Trigger.TERMINATE_FOR_CAUSE.value, S.REMEDIATION, S.TERMINATED, "rule MON-009"
        ),
    ]


def test_terminating_in_remediation_with_a_completed_plan_is_for_cause() -> None:
    """A plan delivered, even after its due date, was not missed: the rule's cause ends it."""
    events = act(completed(supplier_in(S.REMEDIATION)), decision(Action.TERMINATE))
    assert isinstance(events[1], TerminatedForCause)
    assert moves(events) == [(Trigger.TERMINATE_FOR_CAUSE.value, S.REMEDIATION, S.TERMINATED)]


def test_terminating_under_review_is_for_cause_without_a_missed_deadline() -> None:
    """From under review, terminate records the rule and its ground; the review is closed."""
    events = act(supplier_in(S.UNDER_REVIEW), decision(Action.TERMINATE))
    assert not any(isinstance(e, ImprovementDeadlineMissed) for e in events)
    assert events[1] == TerminatedForCause(NOW, "t.terminate", "terminate because the test says so")
    assert moves(events) == [(Trigger.TERMINATE_FOR_CAUSE.value, S.UNDER_REVIEW, S.TERMINATED)]
    after = fold(events, supplier_in(S.UNDER_REVIEW))
    assert after is not None
    assert (after.lifecycle, after.review, after.plan) == (S.TERMINATED, None, None)


@pytest.mark.parametrize(
    ("lifecycle", "old_events"),
    [
        (S.REMEDIATION, [ImprovementDeadlineMissed(T0 + 10 * DAY)]),
        (S.UNDER_REVIEW, []),
    ],
    ids=["missed-deadline-in-remediation", "failed-review"],
)
def test_terminations_recorded_before_termination_for_cause_still_fold(
    lifecycle: LifecycleState, old_events: list[Event]
) -> None:
    """Streams written by earlier versions (a rule's termination recorded as a missed deadline,
    or as a failed review) replay to the same terminated supplier.
    """
    trigger = Trigger.MISS_IMPROVEMENT_DEADLINE if old_events else Trigger.FAIL_REVIEW
    at = T0 + 10 * DAY
    moved = LifecycleTransitioned(at, trigger.value, lifecycle, S.TERMINATED, "rule MON-9")
    recorded = [DecisionRecorded(at, decision(Action.TERMINATE)), *old_events, moved]
    after = fold(recorded, supplier_in(lifecycle))
    assert after is not None
    assert after.lifecycle is S.TERMINATED


def test_a_blacklisted_candidate_is_never_qualified_by_a_rule() -> None:
    """Whatever a pack says, qualify does nothing for a blacklisted candidate."""
    blacklisted = attrs.evolve(supplier_in(S.CANDIDATE), blacklisted=True)
    events = act(blacklisted, decision(Action.QUALIFY), stage=Stage.QUALIFICATION)
    assert no_effect(events) == ["no effect: qualify cannot apply to a blacklisted supplier"]


def test_disqualify_and_qualify_together_only_disqualify() -> None:
    """Once disqualified the candidate is terminated; qualify then has nothing to act on."""
    events = act(
        supplier_in(S.CANDIDATE),
        decision(Action.QUALIFY),
        decision(Action.DISQUALIFY),
        stage=Stage.QUALIFICATION,
    )
    assert recorded(events) == ["t.disqualify", "t.qualify"]
    assert moves(events) == [(Trigger.DISQUALIFY.value, S.CANDIDATE, S.TERMINATED)]
    assert no_effect(events[-1:]) == ["no effect: qualify cannot apply in terminated"]


# --- open_review ----------------------------------------------------------------------------


def test_open_review_on_a_breach_names_its_objective_and_severity() -> None:
    """The review carries the rule, its message, and the breach's objective and severity."""
    events = act(
        supplier_in(S.CONTRACTED),
        decision(Action.OPEN_REVIEW),
        stage=Stage.MONITORING,
        breach=BREACH,
    )
    assert events[1:] == [
        ReviewOpened(
            NOW,
            Review(
                NOW,
                "open_review because the test says so",
                "t.open_review",
                "availability",
                Severity.MAJOR,
            ),
        ),
        LifecycleTransitioned(
            NOW, Trigger.OPEN_REVIEW.value, S.CONTRACTED, S.UNDER_REVIEW, "rule t.open_review"
        ),
    ]


def test_open_review_without_a_breach_opens_a_review_without_objective_or_severity() -> None:
    """A review triggered by a survey or a missed report has no objective and no severity."""
    events = act(supplier_in(S.CONTRACTED), decision(Action.OPEN_REVIEW))
    opened = events[1]
    assert isinstance(opened, ReviewOpened)
    assert (opened.review.objective_id, opened.review.severity) == ("", None)


@pytest.mark.parametrize("lifecycle", [S.QUALIFIED, S.UNDER_REVIEW, S.REMEDIATION, S.TERMINATED])
def test_open_review_outside_contracted_is_recorded_as_having_no_effect(
    lifecycle: LifecycleState,
) -> None:
    """Already under review (or not contracted): no review, no move; the decision says why."""
    events = act(supplier_in(lifecycle), decision(Action.OPEN_REVIEW), breach=BREACH)
    assert no_effect(events) == [f"no effect: open_review cannot apply in {lifecycle}"]


# --- review outcomes -----------------------------------------------------------------------


def test_require_remediation_concludes_the_review_and_requires_a_plan() -> None:
    """As a review concluded by hand: ReviewConcluded, the move, then the plan with its deadline."""
    state = supplier_in(S.UNDER_REVIEW)
    events = act(state, decision(Action.REQUIRE_REMEDIATION), stage=Stage.MONITORING)
    assert events[1:] == [
        ReviewConcluded(
            NOW, ReviewOutcome.REMEDIATION_REQUIRED, "require_remediation because the test says so"
        ),
        LifecycleTransitioned(
            NOW,
            Trigger.REQUIRE_REMEDIATION.value,
            S.UNDER_REVIEW,
            S.REMEDIATION,
            "rule t.require_remediation",
        ),
        ImprovementPlanRequired(NOW, ImprovementPlan(NOW, FakePolicy().plan_due_at(None, NOW), "")),
    ]


def test_require_remediation_on_a_critical_breach_gives_the_critical_deadline() -> None:
    """The plan is about the breach that fired the rule, due by its severity."""
    critical = attrs.evolve(BREACH, severity=Severity.CRITICAL)
    events = act(
        supplier_in(S.UNDER_REVIEW),
        decision(Action.REQUIRE_REMEDIATION),
        stage=Stage.MONITORING,
        breach=critical,
    )
    required = events[-1]
    assert isinstance(required, ImprovementPlanRequired)
    assert required.plan.objective_id == "availability"
    assert required.plan.due_at == FakePolicy().plan_due_at(Severity.CRITICAL, NOW)


def test_clear_review_returns_the_supplier_to_contracted() -> None:
    """A review cleared by rule: ReviewConcluded (cleared) and under_review -> contracted."""
    state = supplier_in(S.UNDER_REVIEW)
    events = act(state, decision(Action.CLEAR_REVIEW))
    assert events[1:] == [
        ReviewConcluded(NOW, ReviewOutcome.CLEARED, "clear_review because the test says so"),
        LifecycleTransitioned(
            NOW, Trigger.CLEAR_REVIEW.value, S.UNDER_REVIEW, S.CONTRACTED, "rule t.clear_review"
        ),
    ]
    after = fold(events, state)
    assert after is not None
    assert after.review is None


REVIEW_OUTCOMES = [
    (action, state)
    for action in (Action.REQUIRE_REMEDIATION, Action.CLEAR_REVIEW)
    for state in LifecycleState
    if state is not S.UNDER_REVIEW
]


@pytest.mark.parametrize(
    ("action", "lifecycle"),
    REVIEW_OUTCOMES,
    ids=[f"{a.value}-in-{s.value}" for a, s in REVIEW_OUTCOMES],
)
def test_a_review_outcome_outside_a_review_has_no_effect(
    action: Action, lifecycle: LifecycleState
) -> None:
    """No review open, nothing to conclude: recorded saying so."""
    events = act(supplier_in(lifecycle), decision(action))
    assert no_effect(events) == [f"no effect: {action} cannot apply in {lifecycle}"]


# --- escalate and notify ----------------------------------------------------------------------


@pytest.mark.parametrize("lifecycle", list(LifecycleState))
def test_an_escalation_is_recorded_with_its_role_and_message_in_every_state(
    lifecycle: LifecycleState,
) -> None:
    """Escalated names the rule, the role and the message; nothing else changes."""
    parameters = {"to": "procurement_director", "message": "two critical breaches"}
    events = act(supplier_in(lifecycle), decision(Action.ESCALATE, "MON-011", parameters))
    assert events[1:] == [
        Escalated(NOW, "MON-011", "procurement_director", "two critical breaches")
    ]


def test_a_notification_without_a_message_sends_the_rules_message() -> None:
    """The rule's own message is the default."""
    events = act(supplier_in(S.CONTRACTED), decision(Action.NOTIFY, parameters={"to": "noc"}))
    assert events[1:] == [
        NotificationIssued(NOW, "t.notify", "noc", "notify because the test says so")
    ]


def test_an_escalation_after_a_termination_still_goes_out() -> None:
    """Terminate acts first; the escalation that came with it is not lost."""
    escalate = decision(Action.ESCALATE, parameters={"to": "director"})
    events = act(supplier_in(S.UNDER_REVIEW), escalate, decision(Action.TERMINATE))
    assert [type(e) for e in events] == [
        DecisionRecorded,
        TerminatedForCause,
        LifecycleTransitioned,
        DecisionRecorded,
        Escalated,
    ]


def test_an_escalation_naming_no_role_has_no_effect() -> None:
    """A hand-built decision without ``to`` (the loader refuses such a rule) tells nobody."""
    events = act(supplier_in(S.CONTRACTED), decision(Action.ESCALATE))
    assert no_effect(events) == ["no effect: escalate names no role to tell"]


# --- verify_remediation ---------------------------------------------------------------------


def test_verify_remediation_of_a_completed_plan_returns_to_contracted() -> None:
    """A completed plan: RemediationVerified with the rule's message, remediation -> contracted."""
    events = act(completed(supplier_in(S.REMEDIATION)), decision(Action.VERIFY_REMEDIATION))
    assert events[1:] == [
        RemediationVerified(NOW, "verify_remediation because the test says so"),
        LifecycleTransitioned(
            NOW,
            Trigger.VERIFY_REMEDIATION.value,
            S.REMEDIATION,
            S.CONTRACTED,
            "rule t.verify_remediation",
        ),
    ]


def test_verify_remediation_needs_a_completed_plan() -> None:
    """No plan, or a plan not yet completed: nothing is verified; the decision says why."""
    pending = supplier_in(S.REMEDIATION)
    why = ["no effect: verify_remediation needs a completed improvement plan"]
    assert no_effect(act(pending, decision(Action.VERIFY_REMEDIATION))) == why
    planless = attrs.evolve(pending, plan=None)
    assert no_effect(act(planless, decision(Action.VERIFY_REMEDIATION))) == why


# --- assess_penalty -------------------------------------------------------------------------


def test_assess_penalty_without_a_breach_has_no_effect() -> None:
    """A penalty is for a breach: fired on an inspection or a tick, it enters nothing."""
    ticked = act(supplier_in(S.CONTRACTED), decision(Action.ASSESS_PENALTY))
    assert no_effect(ticked) == [
        "no effect: assess_penalty needs a breach, and the deadline check brought none"
    ]
    context = DecisionContext(
        Stage.MONITORING, supplier_in(S.CONTRACTED), NOW, record_kind="inspection"
    )
    fired = Evaluation("test-v1", fired=(decision(Action.ASSESS_PENALTY),))
    assert no_effect(act_on(fired, context, FakePolicy())) == [
        "no effect: assess_penalty needs a breach, and the inspection brought none"
    ]


def test_assess_penalty_without_a_contract_has_no_effect() -> None:
    """No contract, no fee to credit against."""
    events = act(supplier_in(S.QUALIFIED), decision(Action.ASSESS_PENALTY), breach=BREACH)
    assert no_effect(events) == ["no effect: assess_penalty cannot apply in qualified"]


def test_two_penalty_rules_enter_two_numbered_credits() -> None:
    """Each fired penalty rule acts on the ledger as the previous one left it."""
    events = act(
        supplier_in(S.CONTRACTED),
        decision(Action.ASSESS_PENALTY, "t.credit"),
        decision(Action.ASSESS_PENALTY, "t.repeat-credit"),
        stage=Stage.MONITORING,
        breach=BREACH,
    )
    penalties = [e.penalty for e in events if isinstance(e, PenaltyAssessed)]
    assert [(p.penalty_id, p.rule_id) for p in penalties] == [
        (f"{SID}/penalty-1", "t.credit"),
        (f"{SID}/penalty-2", "t.repeat-credit"),
    ]


def test_a_penalty_with_a_stated_amount_needs_no_breach() -> None:
    """A fixed amount for a failed inspection enters the ledger, without an objective."""
    context = DecisionContext(
        Stage.MONITORING, supplier_in(S.CONTRACTED), NOW, record_kind="inspection"
    )
    fixed = decision(Action.ASSESS_PENALTY, "PEN-002", {"amount.fixed": "3000.00"})
    events = act_on(Evaluation("test-v1", fired=(fixed,)), context, FakePolicy())
    (assessed,) = [e for e in events if isinstance(e, PenaltyAssessed)]
    assert (assessed.penalty.amount, assessed.penalty.rule_id) == (
        Money(Decimal("3000.00"), "CNY"),
        "PEN-002",
    )
    assert (assessed.penalty.kind, assessed.penalty.objective_id) == ("service_credit", "")
    assert assessed.basis == "rule PEN-002 (assess_penalty because the test says so)"


def test_a_percentage_penalty_on_a_breach_keeps_the_breachs_objective() -> None:
    """1.5% of the 100,000.00 CNY fee, for the availability breach that fired it."""
    percent = decision(Action.ASSESS_PENALTY, parameters={"amount.percent_of_monthly_fee": "1.5"})
    events = act(supplier_in(S.CONTRACTED), percent, stage=Stage.MONITORING, breach=BREACH)
    (assessed,) = [e for e in events if isinstance(e, PenaltyAssessed)]
    assert assessed.penalty.amount == Money(Decimal("1500.00"), "CNY")
    assert assessed.penalty.objective_id == "availability"


def test_a_stated_penalty_on_the_deadline_check_is_entered_once_a_period() -> None:
    """A missed report stays missed at every tick: it costs its amount once in the month."""
    fixed = decision(Action.ASSESS_PENALTY, "DL-011", {"amount.fixed": "2000.00"})
    state = supplier_in(S.CONTRACTED)
    first = act(state, fixed)
    assert len([e for e in first if isinstance(e, PenaltyAssessed)]) == 1
    charged = fold(first, state)
    assert charged is not None
    assert act(charged, fixed, now=NOW + DAY) == []
    next_month = act(charged, fixed, now=NOW + 31 * DAY)
    assert len([e for e in next_month if isinstance(e, PenaltyAssessed)]) == 1


def test_a_fixed_amount_in_another_currency_has_no_effect() -> None:
    """Nothing is converted: the decision says why."""
    usd = decision(Action.ASSESS_PENALTY, parameters={"amount.fixed": "700.00 USD"})
    events = act(supplier_in(S.CONTRACTED), usd, stage=Stage.MONITORING, breach=BREACH)
    assert no_effect(events) == ["no effect: assess_penalty states USD, the contract is in CNY"]


# --- remind ---------------------------------------------------------------------------------


@pytest.mark.parametrize("parameters", [{}, {"reminder": "birthday"}, {"reminder": 3}])
def test_a_reminder_of_an_unknown_kind_has_no_effect(parameters: dict[str, FactValue]) -> None:
    """A reminder needs a known ``reminder`` parameter; otherwise nothing is sent."""
    state = supplier_in(S.REMEDIATION)
    events = act(state, decision(Action.REMIND, parameters=parameters))
    assert no_effect(events) == [
        f"no effect: remind has no reminder {parameters.get('reminder', '')!r}"
    ]


def test_a_plan_reminder_is_keyed_by_the_plans_deadline() -> None:
    """One ReminderIssued whose key names the plan's due time."""
    state = supplier_in(S.REMEDIATION)
    assert state.plan is not None
    events = act(state, remind("improvement_plan_due"))
    assert events[1] == ReminderIssued(
        NOW,
        Reminder.IMPROVEMENT_PLAN_DUE,
        f"improvement_plan_due:{state.plan.due_at.isoformat()}",
        "remind because the test says so",
    )


def test_a_plan_reminder_without_a_plan_has_no_effect() -> None:
    """No plan, no deadline to remind of."""
    assert act(supplier_in(S.CONTRACTED), remind("improvement_plan_due")) == []


def test_a_reminder_already_sent_is_not_sent_again() -> None:
    """The same key a second time: no reminder, no decision recorded."""
    state = supplier_in(S.REMEDIATION)
    sent = fold(act(state, remind("improvement_plan_due")), state)
    assert sent is not None
    assert act(sent, remind("improvement_plan_due"), now=NOW + DAY) == []


def test_a_certificate_reminder_is_keyed_by_the_earliest_expiry_of_a_valid_certificate() -> None:
    """Valid certificates ending in 20 and 60 days, one already expired: keyed by the 20."""
    soonest = NOW + 20 * DAY
    state = attrs.evolve(
        supplier_in(S.CONTRACTED),
        certificates=(
            licence(valid_until=NOW + 60 * DAY),
            licence(number="ISO", kind="iso_9001", valid_until=soonest),
            licence(number="OLD", kind="tl_9000", valid_until=NOW - DAY),
        ),
    )
    reminded = act(state, remind("certificate_expiry"))[1]
    assert isinstance(reminded, ReminderIssued)
    assert reminded.key == f"certificate_expiry:{soonest.isoformat()}"


def test_a_certificate_reminder_without_a_valid_certificate_has_no_effect() -> None:
    """Nothing valid, nothing to expire."""
    state = attrs.evolve(supplier_in(S.CONTRACTED), certificates=())
    assert act(state, remind("certificate_expiry")) == []


def test_a_renewed_certificate_does_not_key_the_expiry_reminder() -> None:
    """ISO 9001 renewed (old copy ends in 5 days), licence ends in 20: the reminder is the 20."""
    licence_ends = NOW + 20 * DAY
    state = attrs.evolve(
        supplier_in(S.CONTRACTED),
        certificates=(
            licence(valid_until=licence_ends),
            licence(number="ISO-old", kind="iso_9001", valid_until=NOW + 5 * DAY),
            licence(
                number="ISO-new",
                kind="iso_9001",
                valid_from=NOW - DAY,
                valid_until=NOW + 700 * DAY,
            ),
        ),
    )
    reminded = act(state, remind("certificate_expiry"))[1]
    assert isinstance(reminded, ReminderIssued)
    assert reminded.key == f"certificate_expiry:{licence_ends.isoformat()}"


def test_a_report_reminder_is_keyed_by_the_last_report_or_the_contract_start() -> None:
    """No report yet: keyed by the contract start; after a report, by that report's time."""
    state = supplier_in(S.CONTRACTED)
    assert state.contract is not None
    first = act(state, remind("progress_report_due"))[1]
    assert isinstance(first, ReminderIssued)
    assert first.key == f"progress_report_due:{state.contract.starts_at.isoformat()}"
    reported_at = T0 + 20 * DAY
    reported = run(state, SubmitProgressReport(SID, "weekly", reported_at))
    second = act(reported, remind("progress_report_due"))[1]
    assert isinstance(second, ReminderIssued)
    assert second.key == f"progress_report_due:{reported_at.isoformat()}"


def test_a_report_reminder_without_a_contract_or_report_has_no_effect() -> None:
    """A qualified supplier owes no reports yet."""
    assert act(supplier_in(S.QUALIFIED), remind("progress_report_due")) == []
