"""Random command sequences through decide/apply: the lifecycle table is never escaped, and
a supplier's state is always the fold of its events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs
from hypothesis import event, given
from hypothesis import strategies as st

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
from domain.decide import apply, decide, fold
from domain.errors import DomainError, IllegalTransition, SupplierAlreadyExists, SupplierNotFound
from domain.events import Event, LifecycleTransitioned, event_type
from domain.lifecycle import TRANSITIONS, Trigger
from domain.model import LifecycleState, SupplierState
from domain.serialization import canonical_json, event_from_payload, event_to_payload
from tests.fakes import BLACKLIST_CRITERION, BLACKLIST_SCORE, FakePolicy
from tests.strategies import command_sequences, commands, register_supplier_commands

TABLE = {(trigger, source, dest) for trigger, source, dest in TRANSITIONS}
_TRIGGERS = {
    SignContract: Trigger.SIGN_CONTRACT,
    OpenReview: Trigger.OPEN_REVIEW,
    VerifyRemediation: Trigger.VERIFY_REMEDIATION,
    RecordMissedImprovementDeadline: Trigger.MISS_IMPROVEMENT_DEADLINE,
}
_REVIEW_TRIGGERS = {
    ReviewOutcome.CLEARED: Trigger.CLEAR_REVIEW,
    ReviewOutcome.REMEDIATION_REQUIRED: Trigger.REQUIRE_REMEDIATION,
    ReviewOutcome.FAILED: Trigger.FAIL_REVIEW,
}


@attrs.frozen
class Step:
    """One command decided against the state before it: its events, or the error it raised."""

    command: Command
    before: SupplierState | None
    after: SupplierState | None
    events: tuple[Event, ...] = ()
    error: DomainError | None = None


def replay(sequence: Sequence[Command]) -> list[Step]:
    """Decide each command against the current state and apply its events, as a service would."""
    policy = FakePolicy()
    state: SupplierState | None = None
    steps = []
    for command in sequence:
        try:
            produced = decide(command, state, policy)
        except DomainError as error:
            steps.append(Step(command, state, state, error=error))
            continue
        before = state
        for produced_event in produced:
            state = apply(state, produced_event)
        steps.append(Step(command, before, state, tuple(produced)))
    return steps


def all_events(steps: Sequence[Step]) -> list[Event]:
    """Every event produced by ``steps``, in order."""
    return [e for step in steps for e in step.events]


def round_tripped(events: Sequence[Event]) -> list[Event]:
    """``events`` as a store gives them back: type name plus canonical JSON payload."""
    return [
        event_from_payload(event_type(e), json.loads(canonical_json(event_to_payload(e))))
        for e in events
    ]


def lifecycle_trigger(command: Command) -> Trigger | None:
    """The trigger a lifecycle command fires; None for registration and evidence."""
    if isinstance(command, ConcludeReview):
        return _REVIEW_TRIGGERS[command.outcome]
    return _TRIGGERS.get(type(command))


@given(command_sequences())
def test_random_sequences_only_move_along_the_lifecycle_table(sequence: list[Command]) -> None:
    """Every state reached is a LifecycleState, reached by a transition listed in TRANSITIONS."""
    for step in replay(sequence):
        if step.after is None:
            continue
        assert step.after.lifecycle in LifecycleState
        moves = [e for e in step.events if isinstance(e, LifecycleTransitioned)]
        assert len(moves) <= 1
        for move in moves:
            assert (Trigger(move.trigger), move.from_state, move.to_state) in TABLE
            assert step.before is not None
            assert move.from_state is step.before.lifecycle
            assert move.to_state is step.after.lifecycle
        if not moves and step.before is not None:
            assert step.after.lifecycle is step.before.lifecycle
        event(f"reached {step.after.lifecycle.value}")


@given(command_sequences())
def test_a_command_is_refused_exactly_when_the_process_forbids_it(sequence: list[Command]) -> None:
    """Registration, lookup and lifecycle guards refuse a command iff the table says no."""
    for step in replay(sequence):
        command, before = step.command, step.before
        if isinstance(command, RegisterSupplier):
            assert isinstance(step.error, SupplierAlreadyExists) is (before is not None)
            continue
        if before is None:
            assert isinstance(step.error, SupplierNotFound)
            continue
        trigger = lifecycle_trigger(command)
        if trigger is None:  # evidence: accepted in every state but the terminal one
            forbidden = before.lifecycle in lifecycle.TERMINAL_STATES
        else:
            forbidden = trigger not in lifecycle.allowed_triggers(before.lifecycle)
        assert isinstance(step.error, IllegalTransition) is forbidden
        if isinstance(step.error, IllegalTransition):
            assert step.error.current_state == before.lifecycle.value


@given(command_sequences())
def test_a_command_yields_all_its_events_or_raises_with_none(sequence: list[Command]) -> None:
    """Accepted: events that all apply, stamped with the command's time. Refused: no change."""
    for step in replay(sequence):
        if step.error is not None:
            assert step.events == ()
            assert step.after == step.before
            continue
        assert step.events
        assert all(e.occurred_at == step.command.occurred_at for e in step.events)
        assert step.after is not None
        assert step.after.updated_at == step.command.occurred_at
        previous_version = step.before.version if step.before else 0
        assert step.after.version == previous_version + len(step.events)


@given(command_sequences())
def test_the_state_is_always_the_fold_of_the_events_so_far(sequence: list[Command]) -> None:
    """Incremental apply equals a fold from scratch and from JSON; version counts the events."""
    steps = replay(sequence)
    stored = round_tripped(all_events(steps))
    count = 0
    for step in steps:
        count += len(step.events)
        assert fold(all_events(steps)[:count]) == step.after
        assert fold(stored[:count]) == step.after
        assert (step.after.version if step.after else 0) == count


@given(command_sequences())
def test_terminated_is_absorbing_in_any_sequence(sequence: list[Command]) -> None:
    """Once a supplier is terminated, every later command is refused and nothing changes."""
    terminated_at: SupplierState | None = None
    for step in replay(sequence):
        if terminated_at is not None:
            assert step.error is not None
            assert step.after == terminated_at
        elif step.after is not None and step.after.lifecycle is LifecycleState.TERMINATED:
            terminated_at = step.after


@given(st.data())
def test_no_command_moves_a_terminated_supplier(data: st.DataObject) -> None:
    """After disqualification, arbitrary commands for the supplier all raise a DomainError."""
    registration = data.draw(register_supplier_commands())
    blacklisting = SubmitQualificationEvidence(
        registration.supplier_id,
        registration.occurred_at,
        scores={BLACKLIST_CRITERION: BLACKLIST_SCORE},
    )
    terminated = replay([registration, blacklisting])[-1].after
    assert terminated is not None
    assert terminated.lifecycle is LifecycleState.TERMINATED
    for command in data.draw(st.lists(commands(registration.supplier_id), max_size=10)):
        steps = replay([registration, blacklisting, command])
        assert steps[-1].error is not None
        assert steps[-1].after == terminated


@given(command_sequences())
def test_the_same_commands_under_the_same_policy_give_the_same_events(
    sequence: list[Command],
) -> None:
    """Decisions depend only on commands, state and policy: a replay is identical."""
    assert all_events(replay(sequence)) == all_events(replay(sequence))
