"""Feedback and improvement: a review requires a plan with a deadline; the plan is submitted,
completed and verified after a clean window, or its deadline passes and the contract ends.
"""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from sqm.domain.commands import (
    AdvanceTime,
    Command,
    CompleteImprovementPlan,
    ConcludeReview,
    OpenReview,
    RecordMissedImprovementDeadline,
    ReviewOutcome,
    SubmitImprovementPlan,
    VerifyRemediation,
)
from sqm.domain.decide import decide
from sqm.domain.errors import IllegalTransition
from sqm.domain.events import (
    DecisionRecorded,
    ImprovementDeadlineMissed,
    ImprovementPlanCompleted,
    ImprovementPlanRequired,
    ImprovementPlanSubmitted,
    LifecycleTransitioned,
    RemediationVerified,
    ReminderIssued,
)
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Action,
    Comparator,
    ImprovementPlan,
    LifecycleState,
    Reminder,
    Review,
    Severity,
    SlaObjective,
    SupplierState,
)
from tests.fakes import (
    CLEAN_DAYS,
    DAY,
    FAKE_OBJECTIVE,
    PLAN_DUE_DAYS,
    REMIND_DAYS,
    REMIND_RULE_ID,
    SID,
    T0,
    TERMINATE_RULE_ID,
    VERIFY_RULE_ID,
    FakePolicy,
    S,
    measure,
    run,
    sign,
    supplier_in,
)

CONCLUDED_AT = T0 + 3 * DAY  # when supplier_in(S.REMEDIATION) concluded its review
DUE = CONCLUDED_AT + PLAN_DUE_DAYS[None] * DAY  # a hand-opened review's plan
TICK = DAY / 86_400_000_000  # one microsecond
RESTORE = SlaObjective("mttr", "mean_time_to_restore", Comparator.AT_MOST, 4.0, 3.0)


def submit(at: datetime = T0 + 4 * DAY, *measures: str) -> SubmitImprovementPlan:
    """The supplier's plan, submitted at ``at``."""
    return SubmitImprovementPlan(SID, measures or ("add a standby link",), "NOC lead", at)


def completed_plan(completed_at: datetime = T0 + 10 * DAY) -> SupplierState:
    """In remediation after a hand-opened review, the plan submitted and then completed."""
    return run(
        supplier_in(S.REMEDIATION), submit(), CompleteImprovementPlan(SID, completed_at, "done")
    )


def after_critical_breach() -> SupplierState:
    """Two objectives; a critical availability breach at T0+40 opened the review (under review)."""
    state = run(
        supplier_in(S.QUALIFIED), sign(FAKE_OBJECTIVE, RESTORE), measure(94.0, T0 + 40 * DAY)
    )
    assert state.lifecycle is S.UNDER_REVIEW
    return state


def tick(state: SupplierState, at: datetime) -> list[object]:
    """The events a scheduler tick at ``at`` produces."""
    return list(decide(AdvanceTime(SID, at), state, FakePolicy()))


# --- a review requires a plan ---------------------------------------------------------------


def test_a_review_opened_by_a_breach_requires_a_plan_for_its_objective_due_by_severity() -> None:
    """After a critical availability breach the plan is for availability, due in 7 days."""
    at = T0 + 41 * DAY
    events = decide(
        ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, at),
        after_critical_breach(),
        FakePolicy(),
    )
    assert events[-1] == ImprovementPlanRequired(
        at, ImprovementPlan(at, at + PLAN_DUE_DAYS[Severity.CRITICAL] * DAY, "availability")
    )


@pytest.mark.parametrize("severity", [*Severity, None])
def test_the_plan_deadline_is_the_policys_days_for_the_reviews_severity(
    severity: Severity | None,
) -> None:
    """Due at conclusion + plan_due_days(severity): 7 critical, 14 major, 30 minor, 21 none."""
    at = T0 + 5 * DAY
    under_review = supplier_in(S.UNDER_REVIEW)
    review = Review(T0 + 2 * DAY, "breach", "r", "availability" if severity else "", severity)
    state = attrs.evolve(under_review, review=review)
    events = decide(
        ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, at), state, FakePolicy()
    )
    required = events[-1]
    assert isinstance(required, ImprovementPlanRequired)
    assert required.plan.due_at == at + PLAN_DUE_DAYS[severity] * DAY
    assert required.plan.objective_id == review.objective_id


def test_requiring_remediation_clears_the_review_and_sets_the_plan() -> None:
    """In remediation the review is over and the plan is pending, neither submitted nor done."""
    state = supplier_in(S.REMEDIATION)
    assert state.review is None
    assert state.plan == ImprovementPlan(CONCLUDED_AT, DUE)


# --- submitting and completing ---------------------------------------------------------------


def test_submitting_a_plan_records_its_measures_and_owner() -> None:
    """The plan keeps its deadline and gains measures, owner and submission time."""
    at = T0 + 4 * DAY
    state = supplier_in(S.REMEDIATION)
    command = submit(at, "add a standby link", "train the NOC")
    assert decide(command, state, FakePolicy()) == [
        ImprovementPlanSubmitted(at, ("add a standby link", "train the NOC"), "NOC lead")
    ]
    plan = run(state, command).plan
    assert plan == ImprovementPlan(
        CONCLUDED_AT, DUE, "", ("add a standby link", "train the NOC"), "NOC lead", at
    )


def test_a_plan_may_be_resubmitted_until_completed() -> None:
    """A revised plan replaces the measures and the submission time."""
    state = run(supplier_in(S.REMEDIATION), submit(T0 + 4 * DAY), submit(T0 + 5 * DAY, "revised"))
    assert state.plan is not None
    assert (state.plan.measures, state.plan.submitted_at) == (("revised",), T0 + 5 * DAY)


def test_completing_a_submitted_plan_starts_the_clean_window() -> None:
    """Completion is recorded with its note and time; the plan is no longer due."""
    at = T0 + 10 * DAY
    state = run(supplier_in(S.REMEDIATION), submit())
    assert decide(CompleteImprovementPlan(SID, at, "done"), state, FakePolicy()) == [
        ImprovementPlanCompleted(at, "done")
    ]
    plan = completed_plan(at).plan
    assert plan is not None
    assert plan.completed_at == at


PLAN_GUARDS = [
    (S.CONTRACTED, [], submit(T0 + 9 * DAY), "submit_improvement_plan"),
    (S.UNDER_REVIEW, [], submit(T0 + 9 * DAY), "submit_improvement_plan"),
    (S.TERMINATED, [], submit(T0 + 9 * DAY), "submit_improvement_plan"),
    (
        S.REMEDIATION,
        [submit(), CompleteImprovementPlan(SID, T0 + 5 * DAY)],
        submit(T0 + 9 * DAY),
        "submit_improvement_plan (already completed)",
    ),
    (
        S.REMEDIATION,
        [],
        CompleteImprovementPlan(SID, T0 + 9 * DAY),
        "complete_improvement_plan (no submitted plan)",
    ),
    (
        S.REMEDIATION,
        [submit(), CompleteImprovementPlan(SID, T0 + 5 * DAY)],
        CompleteImprovementPlan(SID, T0 + 9 * DAY),
        "complete_improvement_plan (already completed)",
    ),
    (
        S.CONTRACTED,
        [],
        CompleteImprovementPlan(SID, T0 + 9 * DAY),
        "complete_improvement_plan (no submitted plan)",
    ),
    (
        S.REMEDIATION,
        [],
        VerifyRemediation(SID, T0 + 9 * DAY),
        "verify_remediation (plan not completed)",
    ),
    (
        S.REMEDIATION,
        [submit()],
        VerifyRemediation(SID, T0 + 9 * DAY),
        "verify_remediation (plan not completed)",
    ),
]


@pytest.mark.parametrize(
    ("lifecycle", "before", "command", "refusal"),
    PLAN_GUARDS,
    ids=[f"{type(c).__name__}-{r}" for _, _, c, r in PLAN_GUARDS],
)
def test_plan_commands_out_of_order_are_illegal_transitions(
    lifecycle: LifecycleState, before: list[Command], command: Command, refusal: str
) -> None:
    """Submit needs a pending plan in remediation, complete a submitted one, verify a done one."""
    state = run(supplier_in(lifecycle), *before)
    with pytest.raises(IllegalTransition) as raised:
        decide(command, state, FakePolicy())
    assert (raised.value.current_state, raised.value.trigger) == (lifecycle.value, refusal)


def test_a_legacy_remediation_without_a_plan_cannot_take_a_plan_but_can_be_verified() -> None:
    """No plan was ever required: submission is illegal, verification by hand is allowed."""
    legacy = attrs.evolve(supplier_in(S.REMEDIATION), plan=None)
    with pytest.raises(IllegalTransition):
        decide(submit(T0 + 9 * DAY), legacy, FakePolicy())
    assert run(legacy, VerifyRemediation(SID, T0 + 9 * DAY)).lifecycle is S.CONTRACTED


# --- deadlines: an overdue plan --------------------------------------------------------------


def test_an_overdue_plan_terminates_the_supplier_at_the_next_tick() -> None:
    """Past due and not completed: the rule, the missed deadline, remediation -> terminated."""
    at = DUE + TICK
    events = tick(supplier_in(S.REMEDIATION), at)
    recorded, missed, moved = events
    assert isinstance(recorded, DecisionRecorded)
    assert (recorded.decision.rule_id, recorded.decision.action) == (
        TERMINATE_RULE_ID,
        Action.TERMINATE,
    )
    assert missed == ImprovementDeadlineMissed(at)
    assert moved == LifecycleTransitioned(
        at,
        Trigger.MISS_IMPROVEMENT_DEADLINE.value,
        S.REMEDIATION,
        S.TERMINATED,
        f"rule {TERMINATE_RULE_ID}",
    )
    after = run(supplier_in(S.REMEDIATION), AdvanceTime(SID, at))
    assert (after.lifecycle, after.plan) == (S.TERMINATED, None)


def test_a_submitted_but_unfinished_plan_is_still_overdue() -> None:
    """Submission alone does not meet the deadline: the tick after it terminates."""
    state = run(supplier_in(S.REMEDIATION), submit())
    assert run(state, AdvanceTime(SID, DUE + DAY)).lifecycle is S.TERMINATED


def test_a_plan_due_exactly_now_is_not_yet_overdue() -> None:
    """At the due instant the plan is due, not overdue: a reminder, no termination."""
    events = tick(supplier_in(S.REMEDIATION), DUE)
    assert not any(isinstance(e, ImprovementDeadlineMissed) for e in events)
    assert [type(e) for e in events] == [DecisionRecorded, ReminderIssued]


def test_a_completed_plan_is_never_overdue() -> None:
    """Completed before its deadline, the plan does not terminate anything after it."""
    events = tick(completed_plan(), DUE + DAY)
    assert not any(isinstance(e, ImprovementDeadlineMissed) for e in events)


# --- deadlines: reminders ------------------------------------------------------------------


def test_a_reminder_goes_out_three_days_before_the_plan_is_due() -> None:
    """REMIND_DAYS before the deadline: one ReminderIssued keyed by the deadline."""
    at = DUE - REMIND_DAYS * DAY
    recorded, reminded = tick(supplier_in(S.REMEDIATION), at)
    assert isinstance(recorded, DecisionRecorded)
    assert recorded.decision.rule_id == REMIND_RULE_ID
    assert reminded == ReminderIssued(
        at,
        Reminder.IMPROVEMENT_PLAN_DUE,
        f"improvement_plan_due:{DUE.isoformat()}",
        recorded.decision.message,
    )


def test_no_reminder_goes_out_earlier_than_three_days_before() -> None:
    """A tick four days before the deadline finds nothing due."""
    assert tick(supplier_in(S.REMEDIATION), DUE - 4 * DAY) == []


def test_a_reminder_goes_out_once_per_deadline() -> None:
    """The second tick before the same deadline issues nothing: its key was already sent."""
    state = run(supplier_in(S.REMEDIATION), AdvanceTime(SID, DUE - 3 * DAY))
    assert state.reminders_sent == {f"improvement_plan_due:{DUE.isoformat()}"}
    assert tick(state, DUE - 2 * DAY) == []
    assert tick(state, DUE) == []


def test_a_new_deadline_gets_its_own_reminder() -> None:
    """Verified, then back in remediation with a new plan: the new deadline is reminded too."""
    first = run(supplier_in(S.REMEDIATION), AdvanceTime(SID, DUE - 3 * DAY))
    second_review = T0 + 60 * DAY
    state = run(
        first,
        submit(DUE - 2 * DAY),
        CompleteImprovementPlan(SID, DUE - DAY),
        VerifyRemediation(SID, DUE),
        OpenReview(SID, "again", second_review),
        ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, second_review),
    )
    new_due = second_review + PLAN_DUE_DAYS[None] * DAY
    events = tick(state, new_due - DAY)
    reminders = [e for e in events if isinstance(e, ReminderIssued)]
    assert [r.key for r in reminders] == [f"improvement_plan_due:{new_due.isoformat()}"]


# --- deadlines: verifying effectiveness -----------------------------------------------------


def test_a_completed_plan_is_verified_after_thirty_clean_days() -> None:
    """CLEAN_DAYS after completion with no relapse: remediation -> contracted, plan cleared."""
    completed_at = T0 + 10 * DAY
    state = completed_plan(completed_at)
    assert tick(state, completed_at + (CLEAN_DAYS - 1) * DAY) == []
    at = completed_at + CLEAN_DAYS * DAY
    recorded, verified, moved = tick(state, at)
    assert isinstance(recorded, DecisionRecorded)
    assert recorded.decision.rule_id == VERIFY_RULE_ID
    assert verified == RemediationVerified(at, recorded.decision.message)
    assert moved == LifecycleTransitioned(
        at, Trigger.VERIFY_REMEDIATION.value, S.REMEDIATION, S.CONTRACTED, f"rule {VERIFY_RULE_ID}"
    )
    after = run(state, AdvanceTime(SID, at))
    assert (after.lifecycle, after.plan) == (S.CONTRACTED, None)


def remediating_availability(completed_at: datetime) -> SupplierState:
    """After the critical availability breach: plan required, submitted and completed."""
    return run(
        after_critical_breach(),
        ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, T0 + 41 * DAY),
        submit(T0 + 42 * DAY),
        CompleteImprovementPlan(SID, completed_at),
    )


def test_a_relapse_of_the_same_objective_restarts_the_clean_window() -> None:
    """An availability breach 10 days after completion: not verified at 30, verified at 40."""
    done = T0 + 43 * DAY
    state = run(remediating_availability(done), measure(99.5, done + 10 * DAY))
    assert run(state, AdvanceTime(SID, done + 30 * DAY)).lifecycle is S.REMEDIATION
    assert run(state, AdvanceTime(SID, done + 40 * DAY)).lifecycle is S.CONTRACTED


def test_a_breach_of_another_objective_does_not_restart_the_clean_window() -> None:
    """A restore-time breach after completion leaves the availability plan's window running."""
    done = T0 + 43 * DAY
    state = run(remediating_availability(done), measure(6.0, done + 10 * DAY, "mttr", "hours"))
    assert state.breaches[-1].objective_id == "mttr"
    assert run(state, AdvanceTime(SID, done + 30 * DAY)).lifecycle is S.CONTRACTED


def test_an_unfinished_plan_is_not_verified_however_long_it_runs() -> None:
    """The clean window only starts at completion: a submitted plan is not verified by time."""
    state = run(supplier_in(S.REMEDIATION), submit())
    events = tick(state, DUE - 4 * DAY)
    assert not any(isinstance(e, RemediationVerified) for e in events)


def test_verifying_by_hand_needs_a_completed_plan_but_not_the_clean_window() -> None:
    """A human may confirm effectiveness early, once the plan is completed."""
    state = completed_plan(T0 + 10 * DAY)
    after = run(state, VerifyRemediation(SID, T0 + 11 * DAY, "confirmed on site"))
    assert (after.lifecycle, after.plan) == (S.CONTRACTED, None)


def test_a_missed_deadline_cannot_be_recorded_for_a_plan_completed_in_time() -> None:
    """The plan was completed before its deadline: recording a miss is an IllegalTransition."""
    with pytest.raises(IllegalTransition):
        decide(RecordMissedImprovementDeadline(SID, DUE + DAY), completed_plan(), FakePolicy())


def test_a_missed_deadline_cannot_be_recorded_before_the_plan_is_due() -> None:
    """A deadline still ahead has not been missed: recording a miss is an IllegalTransition."""
    state = supplier_in(S.REMEDIATION)
    with pytest.raises(IllegalTransition):
        decide(RecordMissedImprovementDeadline(SID, DUE - DAY), state, FakePolicy())


def test_a_missed_deadline_after_the_due_time_terminates() -> None:
    """Past due and not completed, the miss recorded by hand ends the contract."""
    state = run(supplier_in(S.REMEDIATION), RecordMissedImprovementDeadline(SID, DUE + DAY))
    assert (state.lifecycle, state.plan) == (S.TERMINATED, None)
