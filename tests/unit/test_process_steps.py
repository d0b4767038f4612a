"""Process steps the pack reacts to: failed self-checks, kick-off milestones, scheduled
business reviews.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest

from sqm.domain import history, milestones, tickets
from sqm.domain.commands import (
    AcceptDeliverable,
    Command,
    CompleteMilestone,
    ConcludeReview,
    OpenProblemTicket,
    OpenReview,
    RecordKickOff,
    RecordTraining,
    ResolveProblemTicket,
    ReviewOutcome,
    SubmitSelfCheck,
)
from sqm.domain.decide import decide
from sqm.domain.errors import InvalidCommand
from sqm.domain.events import ReviewOpened, TicketResolutionMissed
from sqm.domain.evolve import fold
from sqm.domain.model import Milestone, Severity, SupplierState
from sqm.domain.needs import NeedPrecondition
from sqm.rules import default_pack_dir, load_policy
from tests.fakes import DAY, SID, SIGNED_AT, FakePolicy, S, run, sign, supplier_in

# --- self-checks ------------------------------------------------------------------------


def test_a_failed_self_check_is_kept_on_the_state_for_the_monitoring_fact() -> None:
    """The latest self-check's result is folded: failed, then passed again."""
    failed = run(supplier_in(S.CONTRACTED), SubmitSelfCheck(SID, False, SIGNED_AT + 5 * DAY))
    assert failed.last_self_check_passed is False
    passed = run(failed, SubmitSelfCheck(SID, True, SIGNED_AT + 6 * DAY))
    assert passed.last_self_check_passed is True


# --- kick-off milestones ---------------------------------------------------------------------

SURVEY_DUE = SIGNED_AT + 20 * DAY
CUTOVER_DUE = SIGNED_AT + 40 * DAY


def kicked_off() -> SupplierState:
    """A contracted supplier with two milestones: a survey and a cut-over."""
    kick_off = RecordKickOff(
        SID, "roll-out", SIGNED_AT + DAY,
        (Milestone("survey", SURVEY_DUE), Milestone("cut-over", CUTOVER_DUE)),
    )  # fmt: skip
    return run(supplier_in(S.CONTRACTED), kick_off)


def test_a_completed_milestone_is_no_longer_open_and_its_deliverable_can_be_accepted() -> None:
    """Complete, then accept: both recorded; the survey drops out of the open milestones."""
    state = run(
        kicked_off(),
        CompleteMilestone(SID, "survey", SURVEY_DUE - DAY),
        AcceptDeliverable(SID, "survey", SURVEY_DUE, "report accepted"),
    )
    assert [m.name for m in milestones.open_milestones(state)] == ["cut-over"]
    assert state.deliverables_accepted == frozenset({"survey"})


def test_overdue_milestones_are_counted_with_the_days_of_the_most_overdue() -> None:
    """Both past due: two overdue, the survey first, 25 days past it."""
    state = kicked_off()
    now = CUTOVER_DUE + 5 * DAY
    assert [m.name for m in milestones.overdue(state, now)] == ["survey", "cut-over"]
    assert milestones.days_overdue(state, now) == 25.0
    assert milestones.next_due(state, now) is None


def test_a_deliverable_of_a_milestone_not_completed_is_refused() -> None:
    """Acceptance comes after completion: the milestone field says so."""
    with pytest.raises(InvalidCommand) as refused:
        decide(AcceptDeliverable(SID, "survey", SURVEY_DUE), kicked_off(), FakePolicy())
    assert refused.value.violations[0].field == "milestone"
    assert "not completed" in refused.value.violations[0].description


def test_an_unknown_milestone_is_refused_listing_the_known_ones() -> None:
    """A name not agreed at kick-off is refused, the kick-off's names listed."""
    with pytest.raises(InvalidCommand) as refused:
        decide(CompleteMilestone(SID, "go-live", SURVEY_DUE), kicked_off(), FakePolicy())
    assert "survey, cut-over" in refused.value.violations[0].description


def test_a_milestone_is_completed_once() -> None:
    """A second completion is refused."""
    state = run(kicked_off(), CompleteMilestone(SID, "survey", SURVEY_DUE))
    with pytest.raises(InvalidCommand):
        decide(CompleteMilestone(SID, "survey", SURVEY_DUE + DAY), state, FakePolicy())


# --- training and business reviews -----------------------------------------------------------


def test_training_and_reviews_count_from_the_contract_start_until_one_is_held() -> None:
    """Days since training and since the last review run from the contract's start, then
    from the latest training and review.
    """
    state = supplier_in(S.CONTRACTED)
    now = SIGNED_AT + 50 * DAY
    assert history.days_since_training(state, now) == 50.0
    assert history.days_since_review(state, now) == 50.0
    trained = run(state, RecordTraining(SID, "incident handling", 12, SIGNED_AT + 40 * DAY))
    assert history.days_since_training(trained, now) == 10.0
    reviewed = run(trained, OpenReview(SID, "business review", SIGNED_AT + 45 * DAY))
    assert history.days_since_review(reviewed, now) == 5.0


# --- problem tickets ---------------------------------------------------------------------------


def resolved_after(hours: float, severity: Severity = Severity.MAJOR) -> list[object]:
    """The events of resolving a ticket of ``severity`` ``hours`` after it was opened."""
    opened_at = SIGNED_AT + 5 * DAY
    state = run(
        supplier_in(S.CONTRACTED),
        OpenProblemTicket(SID, "PT-1", "packet loss", severity, opened_at),
    )
    resolve = ResolveProblemTicket(SID, "PT-1", "fixed", opened_at + timedelta(hours=hours))
    return list(decide(resolve, state, FakePolicy()))


def test_a_ticket_resolved_past_its_target_records_the_miss_with_target_and_hours() -> None:
    """A major ticket resolved in 30 hours against 24: TicketResolutionMissed."""
    events = resolved_after(30)
    missed = [e for e in events if isinstance(e, TicketResolutionMissed)]
    assert [(m.ticket_id, m.target_hours, m.resolution_hours) for m in missed] == [
        ("PT-1", 24.0, 30.0)
    ]


def test_a_ticket_resolved_in_time_records_no_miss() -> None:
    """Twenty hours for a major ticket is within its target."""
    assert not any(isinstance(e, TicketResolutionMissed) for e in resolved_after(20))


def test_open_ticket_age_and_misses_are_counted_from_the_kept_tickets() -> None:
    """The oldest open ticket's age, and misses within a window."""
    opened_at = SIGNED_AT + 5 * DAY
    state = run(
        supplier_in(S.CONTRACTED),
        OpenProblemTicket(SID, "PT-1", "loss", Severity.CRITICAL, opened_at),
        OpenProblemTicket(SID, "PT-2", "jitter", Severity.MINOR, opened_at + DAY),
        ResolveProblemTicket(SID, "PT-1", "fixed", opened_at + 2 * DAY),
    )
    now = opened_at + 4 * DAY
    assert tickets.oldest_open_days(state, now) == 3.0
    assert tickets.misses_within(state, now, 90) == 1
    assert tickets.overdue_open(state, now, lambda severity: 72.0) == 0
    assert tickets.overdue_open(state, now, lambda severity: 48.0) == 1


# --- contracts and needs --------------------------------------------------------------------------


class NeedfulPolicy(FakePolicy):
    """A policy whose pack requires every contract to be signed under an awarded need."""

    def contract_requires_need(self) -> bool:
        """Always."""
        return True


def test_a_pack_requiring_a_need_refuses_a_contract_without_one() -> None:
    """NEED_PRECONDITION, saying the need must be named; with one, the contract records it."""
    qualified = supplier_in(S.QUALIFIED)
    with pytest.raises(NeedPrecondition) as refused:
        decide(sign(), qualified, NeedfulPolicy())
    assert "awarded need" in str(refused.value)
    state = run(qualified, attrs.evolve(sign(), need_id="ran-2027"), policy=NeedfulPolicy())
    assert state.contract is not None
    assert state.contract.need_id == "ran-2027"


def late_tickets(count: int) -> tuple[list[Command], datetime]:
    """Open and resolve ``count`` critical tickets PT-1.. a day apart, each in 6 hours
    (the default pack's target is 4); the moment of the last resolution.
    """
    commands: list[Command] = []
    at = SIGNED_AT + 5 * DAY
    for number in range(1, count + 1):
        at += DAY
        ticket = f"PT-{number}"
        commands.append(OpenProblemTicket(SID, ticket, "cell site down", Severity.CRITICAL, at))
        commands.append(ResolveProblemTicket(SID, ticket, "fixed", at + timedelta(hours=6)))
    return commands, at + timedelta(hours=6)


def test_the_late_resolution_that_opens_a_review_is_named_by_the_review_and_its_plan() -> None:
    """MON-011 (default pack): the third late ticket in 90 days opens a review naming it;
    the ticket shows when, and the plan the review requires carries the ticket on.
    """
    policy = load_policy(default_pack_dir())
    commands, last = late_tickets(3)
    state = supplier_in(S.CONTRACTED)
    for command in commands:
        events = decide(command, state, policy)
        state = fold(events, state)
    (opened,) = [e for e in events if isinstance(e, ReviewOpened)]
    assert (opened.review.rule_id, opened.review.ticket_id) == ("MON-011", "PT-3")
    assert [(t.ticket_id, t.review_opened_at) for t in state.tickets] == [
        ("PT-1", None), ("PT-2", None), ("PT-3", last)
    ]  # fmt: skip
    remediate = ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, last + DAY)
    planned = fold(decide(remediate, state, policy), state)
    assert planned.plan is not None
    assert planned.plan.ticket_id == "PT-3"


def test_a_hand_opened_review_names_no_ticket() -> None:
    """A review opened by hand was not decided on a ticket: its ticket id is empty."""
    reviewed = run(supplier_in(S.CONTRACTED), OpenReview(SID, "business review", SIGNED_AT + DAY))
    assert reviewed.review is not None
    assert reviewed.review.ticket_id == ""
