"""An analyst's own property test of a policy, written with SQM's public scenario strategies.

This file is the example docs/simulation.md points to: copy it beside your pack, change the
pack folder and the property. Run it with ``pytest``; hypothesis shrinks any failure to the
smallest story, which ``check.timeline_lines`` prints as a readable timeline.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings

from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.simulation import run_scenario, scenarios
from sqm.simulation.check import timeline_lines

PACK = load_pack(default_pack_dir())  # your pack folder here
POLICY = CompiledPolicy(PACK)


@settings(max_examples=100, deadline=None)
@given(scenarios.scenarios(categories=["network_equipment"], max_steps=25))
def test_no_service_credit_falls_in_an_objectives_grace_period(
    scenario: scenarios.Scenario,
) -> None:
    """Misses in an objective's first grace days are recorded, never charged."""
    outcome = run_scenario(POLICY, scenario, PACK.invariants, PACK.criterion_ids)

    state = outcome.state
    if state is None or state.contract is None:
        return  # never contracted: nothing could be charged
    for penalty in state.penalties:
        objective = state.contract.objective(penalty.objective_id)
        if penalty.kind != "service_credit" or objective is None:
            continue
        grace_ends = state.contract.starts_at + timedelta(days=objective.grace_days)
        assert penalty.assessed_at >= grace_ends, "\n".join(timeline_lines(outcome))


@settings(max_examples=100, deadline=None)
@given(scenarios.scenarios(max_steps=25))
def test_the_packs_own_invariants_hold(scenario: scenarios.Scenario) -> None:
    """The invariants the pack declares hold on every generated story."""
    outcome = run_scenario(POLICY, scenario, PACK.invariants, PACK.criterion_ids)

    assert outcome.broken is None, "\n".join(timeline_lines(outcome))
