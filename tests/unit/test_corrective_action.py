"""Corrective action (8D): the record answering an improvement plan, its revisions, each
action's completion, verification and extensions within the pack's limits, its closure
completing the plan, the facts rules see, and old improvement-plan streams folding as before.
"""

from __future__ import annotations

import json
from datetime import datetime

import attrs
import pytest

from sqm.domain.actions import UNESCALATED_OVERDUE_FACT, act_on
from sqm.domain.commands import (
    CloseCorrectiveAction,
    CompleteCorrectiveActionItem,
    CompleteImprovementPlan,
    DecideCorrectiveActionExtension,
    RequestCorrectiveActionExtension,
    SubmitCorrectiveAction,
    SubmitImprovementPlan,
    VerifyCorrectiveActionItem,
    VerifyRemediation,
)
from sqm.domain.corrective_action import (
    ActionNotInState,
    ActionsNotVerified,
    CorrectiveActionMissing,
    ExtensionLimitReached,
    ExtensionNotRequested,
    ExtensionTooLong,
)
from sqm.domain.corrective_records import CorrectiveActionItem, ExtensionLimits
from sqm.domain.decide import decide, fold
from sqm.domain.errors import IllegalTransition, InvalidCommand
from sqm.domain.events import (
    CorrectiveActionsEscalated,
    Escalated,
    Event,
    ImprovementPlanCompleted,
    ImprovementPlanSubmitted,
    event_type,
)
from sqm.domain.model import (
    Action,
    ConditionOutcome,
    Decision,
    Reminder,
    Stage,
    SupplierState,
)
from sqm.domain.ports import DecisionContext, Evaluation
from sqm.domain.serialization import (
    canonical_json,
    event_from_payload,
    event_to_payload,
    state_from_dict,
    state_to_dict,
)
from sqm.rules.contract_facts import corrective_action_facts
from tests.corrective import corrective_content
from tests.fakes import DAY, SID, T0, FakePolicy, S, run, supplier_in

REQUIRED = T0 + 3 * DAY
"""When :func:`supplier_in` concludes the review requiring the plan (due 21 days later)."""
PLAN_DUE = REQUIRED + 21 * DAY
SUBMITTED = REQUIRED + DAY


def with_record(*due: datetime) -> SupplierState:
    """A supplier in remediation that answered its plan with one action per due date."""
    dates = due or (SUBMITTED + 5 * DAY, SUBMITTED + 10 * DAY, SUBMITTED + 15 * DAY)
    content = corrective_content(*dates)
    return run(supplier_in(S.REMEDIATION), SubmitCorrectiveAction(SID, content, SUBMITTED))


def refused(state: SupplierState, *commands: object) -> Exception:
    """The error the last of ``commands`` is refused with, the others run first."""
    *before, last = commands
    state = run(state, *before)  # type: ignore[arg-type]
    with pytest.raises(Exception) as caught:  # noqa: PT011 - each test checks the type
        decide(last, state, FakePolicy())  # type: ignore[arg-type]
    return caught.value


# --- submitting and revising ------------------------------------------------------------------


def test_a_submitted_record_submits_the_plan_with_its_actions_as_the_measures() -> None:
    """The plan reads the record: its measures, the team's leader as owner, submitted."""
    state = with_record()
    plan, record = state.plan, state.corrective_action
    assert plan is not None
    assert record is not None
    assert plan.measures == ("measure 1", "measure 2", "measure 3")
    assert plan.owner == "王经理"
    assert plan.submitted_at == SUBMITTED
    assert [a.status for a in record.actions] == ["open", "open", "open"]


def test_a_revision_keeps_the_earlier_one_and_the_progress_of_actions_it_keeps() -> None:
    """Revision 2 is in force; revision 1 stays; a completed action stays completed."""
    state = run(with_record(), CompleteCorrectiveActionItem(SID, "A1", SUBMITTED + DAY))
    first = state.corrective_action
    assert first is not None
    revised = attrs.evolve(
        first.current,
        actions=(*first.current.actions, CorrectiveActionItem("A4", "audit", "李工", PLAN_DUE)),
    )
    state = run(state, SubmitCorrectiveAction(SID, revised, SUBMITTED + 2 * DAY))
    record = state.corrective_action
    assert record is not None
    assert record.revisions == (first.current, revised)
    assert [(a.action_id, a.status) for a in record.actions] == [
        ("A1", "completed"),
        ("A2", "open"),
        ("A3", "open"),
        ("A4", "open"),
    ]


def test_a_revision_may_not_move_a_due_date_later_nor_drop_a_completed_action() -> None:
    """Later dates are an extension's business; completed work stays on record."""
    state = run(with_record(), CompleteCorrectiveActionItem(SID, "A1", SUBMITTED + DAY))
    later = corrective_content(SUBMITTED + 9 * DAY, SUBMITTED + 10 * DAY)
    dropped = attrs.evolve(later, actions=later.actions[1:])
    error = refused(state, SubmitCorrectiveAction(SID, later, SUBMITTED + 2 * DAY))
    assert isinstance(error, InvalidCommand)
    assert [v.field for v in error.violations] == ["content.actions[0].due_at"]
    error = refused(state, SubmitCorrectiveAction(SID, dropped, SUBMITTED + 2 * DAY))
    assert isinstance(error, InvalidCommand)
    assert [v.field for v in error.violations] == ["content.actions"]


def test_an_action_due_after_the_plans_deadline_is_refused() -> None:
    """The plan's deadline bounds its actions; only an approved extension moves it."""
    late = corrective_content(SUBMITTED + DAY, PLAN_DUE + DAY)
    error = refused(supplier_in(S.REMEDIATION), SubmitCorrectiveAction(SID, late, SUBMITTED))
    assert isinstance(error, InvalidCommand)
    assert [v.field for v in error.violations] == ["content.actions[1].due_at"]


def test_a_record_needs_a_pending_plan() -> None:
    """A contracted supplier owes no corrective action."""
    command = SubmitCorrectiveAction(SID, corrective_content(SUBMITTED + DAY), SUBMITTED)
    assert isinstance(refused(supplier_in(S.CONTRACTED), command), IllegalTransition)


def test_acting_on_an_action_without_a_record_is_refused() -> None:
    """FAILED_PRECONDITION (CORRECTIVE_ACTION_MISSING), not a crash."""
    command = CompleteCorrectiveActionItem(SID, "A1", SUBMITTED)
    error = refused(supplier_in(S.REMEDIATION), command)
    assert isinstance(error, CorrectiveActionMissing)
    assert error.reason == "CORRECTIVE_ACTION_MISSING"


def test_an_unknown_action_id_is_named() -> None:
    """The field at fault is the request's action_id."""
    error = refused(with_record(), CompleteCorrectiveActionItem(SID, "A9", SUBMITTED + DAY))
    assert isinstance(error, InvalidCommand)
    assert [v.field for v in error.violations] == ["action_id"]


# --- completion, verification, closure ---------------------------------------------------------


def verified_all(state: SupplierState, at: datetime) -> SupplierState:
    """Every action of the record completed, then verified, a minute apart from ``at``."""
    record = state.corrective_action
    assert record is not None
    for action in record.actions:
        state = run(
            state,
            CompleteCorrectiveActionItem(SID, action.action_id, at, "done"),
            VerifyCorrectiveActionItem(SID, action.action_id, "质量部张工", at, "photos"),
        )
    return state


def test_closing_the_record_completes_the_plan_once_every_action_is_verified() -> None:
    """Closure (D8) is the plan's completion: the clean window starts there."""
    closed_at = SUBMITTED + 5 * DAY
    state = run(
        verified_all(with_record(), SUBMITTED + 4 * DAY), CloseCorrectiveAction(SID, closed_at)
    )
    assert state.plan is not None
    assert state.plan.completed_at == closed_at
    assert state.corrective_action is not None
    assert state.corrective_action.closed_at == closed_at
    action = state.corrective_action.actions[0]
    assert (action.verified_by, action.verification_note) == ("质量部张工", "photos")
    state = run(state, VerifyRemediation(SID, closed_at + DAY))
    assert state.lifecycle is S.CONTRACTED
    assert state.corrective_action is not None  # the closed record stays in view


def test_the_record_does_not_close_while_an_action_is_unverified() -> None:
    """The error names the actions still waiting."""
    state = run(with_record(), CompleteCorrectiveActionItem(SID, "A1", SUBMITTED + DAY))
    error = refused(state, CloseCorrectiveAction(SID, SUBMITTED + 2 * DAY))
    assert isinstance(error, ActionsNotVerified)
    assert "'A1'" in str(error)
    assert "'A3'" in str(error)


def test_only_a_completed_action_is_verified_and_only_once() -> None:
    """Verification follows completion; a second one is refused."""
    verify = VerifyCorrectiveActionItem(SID, "A1", "张工", SUBMITTED + DAY)
    assert isinstance(refused(with_record(), verify), ActionNotInState)
    done = run(with_record(), CompleteCorrectiveActionItem(SID, "A1", SUBMITTED + DAY), verify)
    assert isinstance(refused(done, verify), ActionNotInState)


def test_the_old_plan_commands_give_way_to_the_record() -> None:
    """A record is revised and closed, not replaced or completed by the old commands."""
    plan = SubmitImprovementPlan(SID, ("x",), "y", SUBMITTED + DAY)
    assert isinstance(refused(with_record(), plan), IllegalTransition)
    complete = CompleteImprovementPlan(SID, SUBMITTED + DAY)
    assert isinstance(refused(with_record(), complete), IllegalTransition)


# --- extensions ----------------------------------------------------------------------------------


DUE_DAYS = {"A1": 5, "A2": 10, "A3": 15}
"""Days after submission each action of :func:`with_record` is due."""


def extension(days: float, at: datetime, action: str = "A1") -> RequestCorrectiveActionExtension:
    """A request moving ``action`` of :func:`with_record` by ``days`` days."""
    due = SUBMITTED + (DUE_DAYS[action] + days) * DAY
    return RequestCorrectiveActionExtension(SID, action, due, "parts late", at)


def approve(at: datetime, action: str = "A1") -> DecideCorrectiveActionExtension:
    """The operator's approval of the waiting request."""
    return DecideCorrectiveActionExtension(SID, action, True, at, "agreed")


def test_an_approved_extension_moves_the_action_and_the_plan_when_it_passes_it() -> None:
    """A2 moved past the plan's deadline takes the plan's deadline with it."""
    state = with_record(SUBMITTED + 5 * DAY, PLAN_DUE - DAY)
    moved = PLAN_DUE + 10 * DAY
    request = RequestCorrectiveActionExtension(SID, "A2", moved, "site access", SUBMITTED + DAY)
    state = run(state, request, approve(SUBMITTED + 2 * DAY, "A2"))
    record = state.corrective_action
    assert record is not None
    assert state.plan is not None
    assert record.actions[1].due_at == moved
    assert record.actions[1].extensions_granted == 1
    assert state.plan.due_at == moved


def test_a_refused_extension_leaves_the_due_date() -> None:
    """The request is kept, decided refused; the date stands."""
    refuse = DecideCorrectiveActionExtension(SID, "A1", False, SUBMITTED + 2 * DAY, "no")
    state = run(with_record(), extension(3, SUBMITTED + DAY), refuse)
    record = state.corrective_action
    assert record is not None
    (asked,) = record.actions[0].extensions
    assert asked.approved is False
    assert record.actions[0].due_at == SUBMITTED + 5 * DAY


def test_an_extension_beyond_the_packs_number_is_refused_naming_the_limit() -> None:
    """The fake pack allows two per action: the third request is refused."""
    state = run(
        with_record(),
        extension(3, SUBMITTED + DAY),
        approve(SUBMITTED + DAY),
        RequestCorrectiveActionExtension(
            SID, "A1", SUBMITTED + 10 * DAY, "again", SUBMITTED + 2 * DAY
        ),
        approve(SUBMITTED + 2 * DAY),
    )
    third = RequestCorrectiveActionExtension(
        SID, "A1", SUBMITTED + 12 * DAY, "x", SUBMITTED + 3 * DAY
    )
    error = refused(state, third)
    assert isinstance(error, ExtensionLimitReached)
    assert error.reason == "EXTENSION_LIMIT_MAX_EXTENSIONS"
    assert "max_extensions" in str(error)


def test_an_extension_further_than_the_pack_allows_is_refused() -> None:
    """At most 14 days at a time in the fake pack."""
    error = refused(with_record(), extension(15, SUBMITTED + DAY))
    assert isinstance(error, ExtensionTooLong)
    assert error.reason == "EXTENSION_LIMIT_MAX_EXTENSION_DAYS"


def test_one_request_waits_at_a_time_and_a_decision_needs_one() -> None:
    """A second request before the decision, or a decision without a request, is refused."""
    waiting = run(with_record(), extension(3, SUBMITTED + DAY))
    assert isinstance(refused(waiting, extension(4, SUBMITTED + DAY)), ActionNotInState)
    assert isinstance(refused(with_record(), approve(SUBMITTED + DAY)), ExtensionNotRequested)


def test_a_pack_without_limits_allows_no_extension() -> None:
    """Silence in the pack is no licence to extend."""
    with pytest.raises(ExtensionLimitReached):
        decide(extension(1, SUBMITTED + DAY), with_record(), SilentPack())


class SilentPack(FakePolicy):
    """A pack whose improvement section says nothing of corrective actions."""

    def extension_limits(self) -> ExtensionLimits:
        """The default: no extension."""
        return ExtensionLimits()


# --- facts and rules ---------------------------------------------------------------------------


def test_the_facts_count_overdue_unverified_and_extended_actions() -> None:
    """A1 done (unverified), A2 overdue by two days, A3 due in three."""
    state = run(
        with_record(),
        extension(2, SUBMITTED + DAY, "A3"),
        approve(SUBMITTED + DAY, "A3"),
        CompleteCorrectiveActionItem(SID, "A1", SUBMITTED + 2 * DAY),
    )
    facts = corrective_action_facts(state, SUBMITTED + 12 * DAY)
    assert facts == {
        "corrective_action_open": True,
        "corrective_actions_overdue": 1,
        "corrective_actions_overdue_unescalated": 1,
        "days_corrective_action_overdue": 2.0,
        "overdue_corrective_action": "A2",
        "days_to_next_corrective_action": 5.0,
        "next_corrective_action": "A3",
        "corrective_actions_unverified": 1,
        "corrective_action_extensions": 1,
        "corrective_action_extensions_pending": 0,
    }


def test_without_a_record_the_facts_are_neutral() -> None:
    """Nothing overdue, nothing due: no threshold mistakes it for a problem."""
    facts = corrective_action_facts(supplier_in(S.REMEDIATION), SUBMITTED)
    assert facts["corrective_action_open"] is False
    assert facts["corrective_actions_overdue"] == 0
    assert facts["days_to_next_corrective_action"] == 99_999.0


def escalation(rule_id: str = "CA-002") -> Decision:
    """A fired escalate decision on the not-yet-escalated overdue actions."""
    condition = ConditionOutcome(UNESCALATED_OVERDUE_FACT, ">=", 1, 1, True)
    return Decision(
        rule_id,
        "escalate",
        "deadlines.yaml",
        1,
        "test-v1",
        Action.ESCALATE,
        True,
        "overdue",
        conditions=(condition,),
        parameters={"to": "quality_director"},
    )


def acted(state: SupplierState, decision: Decision, now: datetime) -> list[Event]:
    """The events ``decision`` leads to on the deadline check at ``now``."""
    context = DecisionContext(Stage.DEADLINES, state, now)
    return act_on(Evaluation("test-v1", fired=(decision,)), context, FakePolicy())


def test_an_overdue_action_is_escalated_once() -> None:
    """The escalation marks the actions it names; the fact then counts them no more."""
    state = with_record()
    now = SUBMITTED + 6 * DAY  # A1 a day overdue
    events = acted(state, escalation(), now)
    assert [event_type(e) for e in events] == [
        "DecisionRecorded",
        "Escalated",
        "CorrectiveActionsEscalated",
    ]
    marked = events[-1]
    assert isinstance(marked, CorrectiveActionsEscalated)
    assert marked.action_ids == ("A1",)
    state = fold(events, state)
    assert corrective_action_facts(state, now + DAY)["corrective_actions_overdue_unescalated"] == 0
    later = corrective_action_facts(state, SUBMITTED + 11 * DAY)  # A2 overdue too now
    assert later["corrective_actions_overdue_unescalated"] == 1
    assert later["corrective_actions_overdue"] == 2


def test_an_escalation_on_other_facts_marks_nothing() -> None:
    """Only a rule reading the told-once fact marks actions as escalated."""
    plain = attrs.evolve(escalation("MON-012"), conditions=())
    events = acted(with_record(), plain, SUBMITTED + 6 * DAY)
    assert [type(e) for e in events][1:] == [Escalated]


def test_each_due_date_is_reminded_of_once() -> None:
    """The reminder's key names the action and its due date: a new date, a new reminder."""
    state = with_record()
    remind = Decision(
        "CA-001",
        "remind",
        "deadlines.yaml",
        1,
        "test-v1",
        Action.REMIND,
        True,
        "due soon",
        parameters={"reminder": Reminder.CORRECTIVE_ACTION_DUE.value},
    )
    first = acted(state, remind, SUBMITTED + 3 * DAY)
    state = fold(first, state)
    assert acted(state, remind, SUBMITTED + 4 * DAY) == []
    state = run(state, extension(3, SUBMITTED + 4 * DAY), approve(SUBMITTED + 4 * DAY))
    assert [event_type(e) for e in acted(state, remind, SUBMITTED + 5 * DAY)] == [
        "DecisionRecorded",
        "ReminderIssued",
    ]


# --- old streams ------------------------------------------------------------------------------


def test_an_old_improvement_plan_stream_folds_as_before_without_a_record() -> None:
    """Events written before the record existed read back and fold to the same plan."""
    state = supplier_in(S.REMEDIATION)
    policy = FakePolicy()
    events: list[Event] = []
    for command in (
        SubmitImprovementPlan(SID, ("re-cable", "self-inspect"), "李工", SUBMITTED),
        CompleteImprovementPlan(SID, SUBMITTED + DAY, "done"),
    ):
        new = decide(command, state, policy)
        events.extend(new)
        state = fold(new, state)
    stored = [event_from_payload(event_type(e), event_to_payload(e)) for e in events]
    assert [type(e) for e in stored] == [ImprovementPlanSubmitted, ImprovementPlanCompleted]
    again = fold(stored, supplier_in(S.REMEDIATION))
    assert again.plan == state.plan
    assert again.plan is not None
    assert again.plan.measures == ("re-cable", "self-inspect")
    assert again.plan.completed_at == SUBMITTED + DAY
    assert again.corrective_action is None
    assert run(again, VerifyRemediation(SID, SUBMITTED + 2 * DAY)).lifecycle is S.CONTRACTED


def test_a_snapshot_keeps_the_record_whole() -> None:
    """State with a revised, extended, escalated record reads back equal from its JSON."""
    state = run(
        with_record(),
        extension(3, SUBMITTED + DAY),
        approve(SUBMITTED + DAY),
        extension(2, SUBMITTED + 2 * DAY, "A2"),
        CompleteCorrectiveActionItem(SID, "A3", SUBMITTED + 2 * DAY, "done"),
    )
    state = fold(acted(state, escalation(), SUBMITTED + 11 * DAY), state)
    stored = json.loads(canonical_json(state_to_dict(state)))
    assert state_from_dict(stored) == state


def test_the_supplier_is_told_once_for_each_action_falling_overdue() -> None:
    """The overdue reminder's key is the set of overdue actions: a new one, a new notice."""
    state = with_record()
    remind = Decision(
        "CA-003", "remind", "deadlines.yaml", 1, "test-v1", Action.REMIND, True, "overdue",
        parameters={"reminder": Reminder.CORRECTIVE_ACTION_OVERDUE.value},
    )  # fmt: skip
    assert acted(state, remind, SUBMITTED + 4 * DAY) == []  # nothing overdue yet
    state = fold(acted(state, remind, SUBMITTED + 6 * DAY), state)  # A1 overdue
    assert acted(state, remind, SUBMITTED + 7 * DAY) == []
    assert [event_type(e) for e in acted(state, remind, SUBMITTED + 11 * DAY)] == [
        "DecisionRecorded",
        "ReminderIssued",
    ]  # A2 overdue too
