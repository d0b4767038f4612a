"""The action table in docs/lifecycle.md is generated from the machine, and says what the
actions really do: every action is run in every lifecycle state and compared with its cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqm.domain.action_table import action_table, effect_in
from sqm.domain.events import DecisionRecorded, Event, LifecycleTransitioned, event_type
from sqm.domain.model import Action, FactValue, LifecycleState, Stage
from tests.fakes import S, supplier_in
from tests.unit.test_actions import BREACH, act, completed, decision

ROOT = Path(__file__).resolve().parents[2]

PARAMETERS: dict[Action, dict[str, FactValue]] = {
    Action.REMIND: {"reminder": "improvement_plan_due"},
    Action.ESCALATE: {"to": "procurement_director"},
    Action.NOTIFY: {"to": "supplier"},
}


def test_the_lifecycle_doc_ends_with_the_generated_action_table() -> None:
    """docs/lifecycle.md holds exactly what `sqm lifecycle --actions` prints; `make docs`."""
    doc = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert doc.endswith(action_table()), "stale action table: run `make docs`"


def test_the_table_has_a_row_for_every_action_and_a_column_for_every_state() -> None:
    """Nothing is left out: a new action or state appears at once."""
    rows = [line for line in action_table().splitlines() if line.startswith("| `")]
    assert sorted(re.findall(r"^\| `(\w+)`", "\n".join(rows), re.M)) == sorted(Action)
    assert all(row.count(" | ") == len(LifecycleState) + 1 for row in rows)


def run(action: Action, state: LifecycleState) -> list[Event]:
    """``action`` fired in ``state``, with what it needs where the state can have it."""
    supplier = supplier_in(state)
    if state is S.REMEDIATION and action is Action.VERIFY_REMEDIATION:
        supplier = completed(supplier)
    fired = decision(action, parameters=PARAMETERS.get(action))
    return act(supplier, fired, stage=Stage.MONITORING, breach=BREACH)


CASES = [(a, s) for a in Action for s in LifecycleState]


@pytest.mark.parametrize(
    ("action", "state"), CASES, ids=[f"{a.value}-in-{s.value}" for a, s in CASES]
)
def test_each_cell_says_what_the_action_records_and_where_it_moves(
    action: Action, state: LifecycleState
) -> None:
    """A *no effect* cell is a decision recorded as such; any other names every event and
    the trigger the action produced there.
    """
    cell = effect_in(action, state)
    events = run(action, state)
    if cell == "*no effect*":
        (recorded,) = events
        assert isinstance(recorded, DecisionRecorded)
        assert recorded.no_effect == f"no effect: {action} cannot apply in {state}"
        return
    for event in events[1:]:
        if isinstance(event, LifecycleTransitioned):
            assert f"→ {event.to_state} (" in cell
            assert f"`{event.trigger}`" in cell
        else:
            assert f"`{event_type(event)}`" in cell
