"""The lifecycle machine: the transition table is the whole truth, and nothing else moves."""

from __future__ import annotations

import itertools

import pytest

from sqm.domain import lifecycle
from sqm.domain.errors import IllegalTransition
from sqm.domain.lifecycle import INITIAL_STATE, TERMINAL_STATES, TRANSITIONS, Trigger, fire
from sqm.domain.model import LifecycleState

LEGAL = {(trigger, source): dest for trigger, source, dest in TRANSITIONS}
ILLEGAL = [
    (state, trigger)
    for state, trigger in itertools.product(LifecycleState, Trigger)
    if (trigger, state) not in LEGAL
]


@pytest.mark.parametrize(
    ("trigger", "source", "dest"), TRANSITIONS, ids=[f"{t}:{s}" for t, s, _ in TRANSITIONS]
)
def test_every_listed_transition_leads_where_the_table_says(
    trigger: Trigger, source: LifecycleState, dest: LifecycleState
) -> None:
    """Firing a listed trigger from its source state yields exactly its destination."""
    assert fire(source, trigger) is dest


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL, ids=[f"{t}:{s}" for s, t in ILLEGAL])
def test_an_unlisted_trigger_raises_illegal_transition_with_state_and_allowed_triggers(
    state: LifecycleState, trigger: Trigger
) -> None:
    """An unlisted trigger raises, naming the current state and the triggers it allows."""
    with pytest.raises(IllegalTransition) as raised:
        fire(state, trigger)
    assert raised.value.current_state == state.value
    assert raised.value.trigger == trigger.value
    assert raised.value.allowed == tuple(t.value for t, source, _ in TRANSITIONS if source is state)
    assert state.value in str(raised.value)


def test_a_failed_trigger_does_not_disturb_the_next_one() -> None:
    """The shared cursor is reloaded on every call: a refused trigger leaves no trace."""
    with pytest.raises(IllegalTransition):
        fire(LifecycleState.TERMINATED, Trigger.QUALIFY)
    assert fire(LifecycleState.CANDIDATE, Trigger.QUALIFY) is LifecycleState.QUALIFIED


def test_allowed_triggers_lists_the_table_rows_of_a_state_in_definition_order() -> None:
    """allowed_triggers is the table filtered by source state, order kept."""
    for state in LifecycleState:
        expected = tuple(t for t, source, _ in TRANSITIONS if source is state)
        assert lifecycle.allowed_triggers(state) == expected


def test_the_machine_knows_only_the_named_triggers_and_no_to_state_shortcuts() -> None:
    """auto_transitions is off: the machine has no ``to_<state>`` events, only Trigger values."""
    assert set(lifecycle._machine.events) == {t.value for t in Trigger}
    for state in LifecycleState:
        assert not hasattr(lifecycle._cursor, f"to_{state.value}")


def test_all_six_states_are_in_the_machine_and_the_model() -> None:
    """The machine holds exactly the six lifecycle states of the process document."""
    expected = {"candidate", "qualified", "contracted", "under_review", "remediation", "terminated"}
    assert {s.value for s in LifecycleState} == expected
    assert set(lifecycle._machine.states) == expected


def test_every_state_is_reachable_from_the_initial_state() -> None:
    """No state in the enum is dead: each is reachable from candidate through the table."""
    reached = {INITIAL_STATE}
    frontier = [INITIAL_STATE]
    while frontier:
        state = frontier.pop()
        for trigger in lifecycle.allowed_triggers(state):
            dest = fire(state, trigger)
            if dest not in reached:
                reached.add(dest)
                frontier.append(dest)
    assert reached == set(LifecycleState)


def test_terminated_is_the_only_terminal_state_and_has_no_way_out() -> None:
    """Terminated is absorbing and every other state has at least one move."""
    assert frozenset({LifecycleState.TERMINATED}) == TERMINAL_STATES
    for state in LifecycleState:
        has_moves = bool(lifecycle.allowed_triggers(state))
        assert has_moves is (state not in TERMINAL_STATES)


def test_the_named_state_sets_follow_the_machine() -> None:
    """Ticked is every state between the initial and the terminal; none of the sets is terminal."""
    assert frozenset(LifecycleState) - {INITIAL_STATE} - TERMINAL_STATES == lifecycle.TICKED
    assert {target for trigger, _, target in TRANSITIONS if trigger is Trigger.SIGN_CONTRACT} < (
        lifecycle.UNDER_CONTRACT
    )
    for named in (lifecycle.UNDER_CONTRACT, lifecycle.SHORTLISTABLE, lifecycle.RESEARCHABLE):
        assert not named & TERMINAL_STATES


def test_mermaid_diagram_shows_every_state_and_every_trigger() -> None:
    """The generated diagram names all six states and labels an edge with every trigger
    (triggers sharing an edge are drawn on one arrow, joined by ``|``).
    """
    diagram = lifecycle.mermaid()
    assert "stateDiagram-v2" in diagram
    for state in LifecycleState:
        assert f'state "{state.value}"' in diagram
    edges: dict[str, set[str]] = {}
    for line in diagram.splitlines():
        arrow, _, labels = line.strip().partition(": ")
        if " --> " in arrow:
            edges.setdefault(arrow, set()).update(labels.split(" | "))
    for trigger, source, dest in TRANSITIONS:
        assert trigger.value in edges[f"{source.value} --> {dest.value}"]


def test_mermaid_diagram_documents_the_machine_not_one_supplier() -> None:
    """Styling for the active state is stripped: the diagram is the same whoever draws it."""
    diagram = lifecycle.mermaid()
    assert "classDef" not in diagram
    assert diagram == lifecycle.mermaid()
