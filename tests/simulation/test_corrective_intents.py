"""The corrective-action (8D, 纠正措施) intents of generated stories: each becomes the command
the process accepts when a record applies, nothing (or a refusal) when it does not, and a
story holding them is written as a policy test file ``sqm policy test`` runs.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import find, settings

from sqm.domain.commands import (
    AdvanceTime,
    CloseCorrectiveAction,
    CompleteCorrectiveActionItem,
    DecideCorrectiveActionExtension,
    RequestCorrectiveActionExtension,
    ReviewOutcome,
    SubmitCorrectiveAction,
    VerifyCorrectiveActionItem,
)
from sqm.domain.model import LifecycleState
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.rules.tooling.testfile import parse_case_file
from sqm.server.app.policy_tests import run_pack_tests
from sqm.simulation import check, run_scenario
from sqm.simulation import scenarios as sc
from sqm.simulation.runner import Player, command_for

PACK = load_pack(default_pack_dir())
POLICY = CompiledPolicy(PACK)
PROFILE = sc.SupplierProfile("sim-supplier", "network_equipment")

REMEDIATION = (
    sc.Step(1.0, sc.Inspect(passed=False)),  # a failed inspection opens a review
    sc.Step(1.0, sc.Conclude(ReviewOutcome.REMEDIATION_REQUIRED)),  # a plan due in 30 days
)
RECORD_CLOSED = (
    *REMEDIATION,
    sc.Step(1.0, sc.SubmitCorrective(actions=2, days=10.0)),
    sc.Step(1.0, sc.RequestCorrectiveExtension(index=0, days=3.0)),
    sc.Step(1.0, sc.DecideCorrectiveExtension(index=0, approved=True)),
    sc.Step(1.0, sc.CompleteCorrectiveItem(index=0)),
    sc.Step(1.0, sc.CompleteCorrectiveItem(index=3)),  # modulo two: the second action
    sc.Step(1.0, sc.VerifyCorrectiveItem(index=0)),
    sc.Step(1.0, sc.VerifyCorrectiveItem(index=1)),
    sc.Step(1.0, sc.CloseCorrective()),
)
CORRECTIVE_COMMANDS = (
    SubmitCorrectiveAction,
    RequestCorrectiveActionExtension,
    DecideCorrectiveActionExtension,
    CompleteCorrectiveActionItem,
    CompleteCorrectiveActionItem,
    VerifyCorrectiveActionItem,
    VerifyCorrectiveActionItem,
    CloseCorrectiveAction,
)


def play(*steps: sc.Step) -> Player:
    """A player that has run the story ``steps`` under the default pack."""
    player = Player(POLICY, sc.Scenario(PROFILE, steps), PACK.invariants, PACK.criterion_ids)
    outcome = player.play()
    assert outcome.broken is None, outcome.broken
    return player


def test_the_intents_carry_a_record_from_submission_to_closure() -> None:
    """Submitted for the pending plan, an action's extension asked and approved, both
    actions completed and verified, the record closed: every command accepted, the plan
    completed with it, the invariants held.
    """
    outcome = run_scenario(
        POLICY, sc.Scenario(PROFILE, RECORD_CLOSED), PACK.invariants, PACK.criterion_ids
    )

    assert outcome.broken is None
    corrective = [e for e in outcome.timeline if isinstance(e.command, CORRECTIVE_COMMANDS)]
    assert [type(e.command) for e in corrective] == list(CORRECTIVE_COMMANDS)
    assert [e.refused for e in corrective] == [""] * len(CORRECTIVE_COMMANDS)
    assert all(e.events for e in corrective)
    state = outcome.state
    assert state is not None
    record = state.corrective_action
    assert record is not None
    assert record.closed_at is not None
    assert [a.action_id for a in record.actions] == ["A1", "A2"]
    assert all(a.verified_at is not None for a in record.actions)
    assert record.actions[0].extensions_granted == 1
    assert state.plan is not None
    assert state.plan.completed_at is not None
    assert state.lifecycle is LifecycleState.REMEDIATION  # until the clean window is over


def test_a_record_submitted_has_its_actions_due_evenly_up_to_the_days_given() -> None:
    """Three actions over twelve days: due four, eight and twelve days after submission."""
    player = play(*REMEDIATION, sc.Step(2.0, sc.SubmitCorrective(actions=3, days=12.0)))

    state = player.state
    assert state is not None
    record = state.corrective_action
    assert record is not None
    assert [(a.action_id, a.due_at - record.submitted_at) for a in record.actions] == [
        ("A1", timedelta(days=4)), ("A2", timedelta(days=8)), ("A3", timedelta(days=12)),
    ]  # fmt: skip


ITEM_INTENTS = (
    sc.CompleteCorrectiveItem(0),
    sc.VerifyCorrectiveItem(1),
    sc.RequestCorrectiveExtension(2, 5.0),
    sc.DecideCorrectiveExtension(0, True),
    sc.CloseCorrective(),
)


@pytest.mark.parametrize("intent", ITEM_INTENTS, ids=lambda i: type(i).__name__)
def test_without_a_record_an_intent_on_it_is_nothing(intent: sc.Intent) -> None:
    """Before registration, while contracted, and with a plan pending but no record: no
    command (the tick before the step is all that happens).
    """
    fresh = Player(POLICY, sc.Scenario(PROFILE, ()), PACK.invariants, PACK.criterion_ids)
    now = sc.START + timedelta(days=5)

    assert command_for(intent, fresh, now) is None
    assert command_for(intent, play(), now) is None
    assert command_for(intent, play(*REMEDIATION), now) is None


def test_a_record_without_a_pending_plan_is_refused() -> None:
    """Submitted while contracted (no review asked for a plan): the process refuses it."""
    outcome = run_scenario(
        POLICY,
        sc.Scenario(PROFILE, (sc.Step(1.0, sc.SubmitCorrective(1, 5.0)),)),
        PACK.invariants,
        PACK.criterion_ids,
    )

    last = outcome.timeline[-1]
    assert isinstance(last.command, SubmitCorrectiveAction)
    assert last.refused.startswith("ILLEGAL_TRANSITION"), last.refused


def test_steps_the_record_is_not_ready_for_are_refused_not_skipped() -> None:
    """An action verified before it is completed, the record closed with actions open, a
    decision with no request waiting, an extension past the pack's 14 days: each refused.
    """
    outcome = run_scenario(
        POLICY,
        sc.Scenario(
            PROFILE,
            (
                *REMEDIATION,
                sc.Step(1.0, sc.SubmitCorrective(1, 10.0)),
                sc.Step(1.0, sc.VerifyCorrectiveItem(0)),
                sc.Step(1.0, sc.CloseCorrective()),
                sc.Step(1.0, sc.DecideCorrectiveExtension(0, True)),
                sc.Step(1.0, sc.RequestCorrectiveExtension(0, 20.0)),
            ),
        ),
        PACK.invariants,
        PACK.criterion_ids,
    )

    asked = [e for e in outcome.timeline if not isinstance(e.command, AdvanceTime)]
    refused = [e.refused.split(":")[0] for e in asked[-4:]]
    assert refused == [
        "CORRECTIVE_ACTION_ITEM_STATE",
        "CORRECTIVE_ACTION_NOT_VERIFIED",
        "EXTENSION_NOT_REQUESTED",
        "EXTENSION_LIMIT_MAX_EXTENSION_DAYS",
    ]


def test_an_approved_extension_moves_the_plans_deadline_the_invariants_follow() -> None:
    """The last action, due on the plan's deadline, moved ten days: a day past the old
    deadline the supplier is still in remediation; a day past the new one it has left it.
    """
    story = (
        *REMEDIATION,
        sc.Step(0.0, sc.SubmitCorrective(actions=1, days=30.0)),
        sc.Step(0.0, sc.RequestCorrectiveExtension(index=0, days=10.0)),
        sc.Step(0.0, sc.DecideCorrectiveExtension(index=0, approved=True)),
        sc.Step(31.0, sc.Wait()),
    )
    moved = play(*story)
    ended = play(*story, sc.Step(10.0, sc.Wait()))

    assert moved.state is not None
    assert moved.state.lifecycle is LifecycleState.REMEDIATION
    assert ended.state is not None
    assert ended.state.lifecycle is not LifecycleState.REMEDIATION


def test_the_timeline_names_the_actions() -> None:
    """A reader of a counterexample sees which action each step is about, and when due."""
    outcome = run_scenario(
        POLICY, sc.Scenario(PROFILE, RECORD_CLOSED), PACK.invariants, PACK.criterion_ids
    )
    asked = [e for e in outcome.timeline if isinstance(e.command, CORRECTIVE_COMMANDS)]
    lines = [check.describe(e) for e in asked]

    assert lines[0] == (
        "SubmitCorrectiveAction (actions=A1 by 2027-01-12, A2 by 2027-01-17)"
        " -> CorrectiveActionSubmitted"
    )
    assert lines[1].startswith(
        "RequestCorrectiveActionExtension (action_id=A1, due_at=2027-01-15 09:00)"
    )
    assert lines[2].startswith("DecideCorrectiveActionExtension (action_id=A1, approved=True)")
    assert lines[4].startswith("CompleteCorrectiveActionItem (action_id=A2)")


def test_a_story_with_a_record_is_written_as_a_test_file_policy_test_runs(
    tmp_path: Path,
) -> None:
    """The written file parses with every corrective command (a refused one expecting its
    error), and ``sqm policy test``'s runner replays it on the default pack, passing.
    """
    steps = (*RECORD_CLOSED[:3], sc.Step(1.0, sc.RequestCorrectiveExtension(1, 20.0)),
             *RECORD_CLOSED[3:])  # fmt: skip
    scenario = sc.Scenario(PROFILE, steps)
    outcome = run_scenario(POLICY, scenario, PACK.invariants, PACK.criterion_ids)
    path = tmp_path / "counterexample.yaml"
    written = check.test_file(check.CheckResult(PACK, 1, 7, scenario, outcome))
    path.write_text(written, encoding="utf-8")

    parsed = parse_case_file(path.read_text(encoding="utf-8"), str(path))
    assert parsed.problems == ()
    (case,) = parsed.cases
    kinds = {type(step.item) for step in case.steps}
    assert set(CORRECTIVE_COMMANDS) <= kinds
    assert [s.expect_error for s in case.steps if s.expect_error] == [
        "EXTENSION_LIMIT_MAX_EXTENSION_DAYS"
    ]
    submitted = next(s.item for s in case.steps if isinstance(s.item, SubmitCorrectiveAction))
    assert submitted == next(
        e.command for e in outcome.timeline if isinstance(e.command, SubmitCorrectiveAction)
    )
    run = run_pack_tests(default_pack_dir(), [path])
    assert run.ok, [f for r in run.results for f in r.failures]


NEW_INTENTS = (
    sc.SubmitCorrective,
    sc.CompleteCorrectiveItem,
    sc.VerifyCorrectiveItem,
    sc.RequestCorrectiveExtension,
    sc.DecideCorrectiveExtension,
    sc.CloseCorrective,
)


@pytest.mark.parametrize("kind", NEW_INTENTS, ids=lambda k: k.__name__)
def test_generated_stories_draw_each_corrective_intent(kind: type) -> None:
    """``intents()`` draws every corrective intent, with small bounded values."""
    found = find(
        sc.intents(),
        lambda intent: isinstance(intent, kind),
        settings=settings(max_examples=2000, database=None, deadline=None),
        random=random.Random(0),
    )

    assert isinstance(found, kind)
    assert 0 <= getattr(found, "index", 0) <= 2
    assert 1 <= getattr(found, "actions", 1) <= 3
    assert 0 < getattr(found, "days", 1.0) <= 35
