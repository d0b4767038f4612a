"""Simulation end to end through the ``sqm`` command: the invariant search, its counterexample
replayed by ``sqm policy test``, and a population run that is the same for the same seed.

The search at CI size finds each promise of the default pack broken by a pack edit: the
penalty caps (period and contract), the plan deadline and repeated breaches reviewed. Three
kinds no edit of a pack can break, because the domain keeps them whatever the rules ask:

- ``review_before_termination``: ``terminate`` only ends a review as failed or remediation
  as missed (``sqm.domain.actions.ACTION_TRIGGERS``), and both states are entered through a
  review opened since the contract; a rule terminating a contracted supplier has no effect.
- ``compensation_within_liability``: no pack setting reaches compensation; it is paid as
  claimed up to what is left of the contract's liability limit
  (``sqm.rules.penalties.quote_compensation``).
- ``verified_plan_before_return``: ``verify_remediation`` has no effect on a plan not
  completed (``sqm.domain.actions``), whatever a rule's conditions.

For the first and the last a test below edits the pack to try, and requires the search to
find no counterexample to that promise (the search does reach the edited rule: without the
domain's guard, each would break at once). Compensation has nothing to edit.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import attrs
import pytest
from hypothesis import Phase, find, settings

from sqm.domain.events import DecisionRecorded
from sqm.domain.invariants import InvariantKind
from sqm.domain.model import Action
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.simulation import run_scenario, scenarios
from sqm.simulation.check import check_pack
from sqm.simulation.impact import Rates, simulate
from sqm.simulation.scenario_file import ScenarioInvalid, load_rates
from tests.commands import default_pack_variant, sqm

pytestmark = pytest.mark.integration

# The acceptance run uses 2,000 examples (docs/simulation.md); CI keeps the suite quick.
CI_EXAMPLES = int(os.environ.get("SQM_SIMULATION_EXAMPLES", "300"))
BASELINE = Path(__file__).parents[2] / "docs" / "scenarios" / "baseline.yaml"


@pytest.fixture
def lax_deadline_pack(tmp_path: Path) -> Path:
    """The default pack with DL-002 waiting 30 days past a plan's due date: breaks INV-004."""
    return default_pack_variant(
        tmp_path / "lax",
        "deadlines.yaml",
        '{fact: days_until_plan_due, op: "<", value: 0}',
        '{fact: days_until_plan_due, op: "<", value: -30}',
    )


def test_the_default_packs_invariants_hold() -> None:
    """No generated scenario breaks an invariant the default pack declares."""
    result = check_pack(load_pack(default_pack_dir()), max_examples=CI_EXAMPLES, seed=20271)

    assert result.held, result.outcome
    assert result.examples >= CI_EXAMPLES
    assert len(result.pack.invariants) == 6


# Each edit breaks one promise of invariants.yaml and nothing else: (file, old, new, broken).
BROKEN_PROMISES = {
    "period-cap-raised": (
        "penalties.yaml", "period_cap_percent: 20", "period_cap_percent: 30", "INV-002",
    ),
    "contract-cap-raised": (
        "penalties.yaml", "contract_cap_percent: 120", "contract_cap_percent: 150", "INV-002",
    ),
    "plan-deadline-3-days-late": (
        "deadlines.yaml",
        '{fact: days_until_plan_due, op: "<", value: 0}',
        '{fact: days_until_plan_due, op: "<", value: -3}',
        "INV-004",
    ),
    "fourth-major-breach-reviewed": (
        "monitoring.yaml",
        '{fact: major_breaches_30d, op: ">=", value: 3}',
        '{fact: major_breaches_30d, op: ">=", value: 4}',
        "INV-006",
    ),
}  # fmt: skip


@pytest.mark.parametrize("edit", BROKEN_PROMISES, ids=list(BROKEN_PROMISES))
def test_the_search_at_ci_size_finds_each_broken_promise(edit: str, tmp_path: Path) -> None:
    """A pack edited past one promise fails the search at the CI example count, on that one."""
    file, old, new, promise = BROKEN_PROMISES[edit]
    pack = load_pack(default_pack_variant(tmp_path / edit, file, old, new))

    result = check_pack(pack, max_examples=CI_EXAMPLES, seed=0)

    assert result.outcome is not None, edit
    assert result.outcome.broken is not None
    assert result.outcome.broken.invariant.id == promise


def test_every_breakable_kind_of_the_default_pack_has_an_edit_breaking_it() -> None:
    """The edits above cover every kind the default pack declares but the three the domain
    keeps (see the module docstring).
    """
    pack = load_pack(default_pack_dir())
    kinds = {i.id: i.kind for i in pack.invariants}
    kept = {
        InvariantKind.REVIEW_BEFORE_TERMINATION,
        InvariantKind.COMPENSATION_WITHIN_LIABILITY,
        InvariantKind.VERIFIED_PLAN_BEFORE_RETURN,
    }
    broken = {kinds[promise] for *_, promise in BROKEN_PROMISES.values()}

    assert broken | kept == set(InvariantKind) == set(kinds.values())
    assert not broken & kept


KEPT_PROMISES = {
    "reviews-terminate-instead": (
        "monitoring.yaml", "then: {action: open_review}", "then: {action: terminate}", "INV-001",
        Action.TERMINATE,
    ),
    "pending-plan-verified": (
        "deadlines.yaml",
        '- {fact: plan_completed, op: "==", value: true}\n'
        '        - {fact: clean_days_since_plan_completed, op: ">=", value: 30}',
        '- {fact: plan_pending, op: "==", value: true}',
        "INV-005",
        Action.VERIFY_REMEDIATION,
    ),
}  # fmt: skip


@pytest.mark.parametrize("edit", KEPT_PROMISES, ids=list(KEPT_PROMISES))
def test_a_pack_edit_cannot_break_what_the_domain_keeps(edit: str, tmp_path: Path) -> None:
    """Rules that terminate without a review, or verify a plan still pending, have no effect:
    the search reaches the edited rule firing, and finds no story breaking the promise.
    """
    file, old, new, promise, action = KEPT_PROMISES[edit]
    pack = load_pack(default_pack_variant(tmp_path / edit, file, old, new))
    only = attrs.evolve(pack, invariants=tuple(i for i in pack.invariants if i.id == promise))
    policy = CompiledPolicy(pack)

    def fired_without_effect(scenario: scenarios.Scenario) -> bool:
        outcome = run_scenario(policy, scenario, (), pack.criterion_ids)
        return any(
            isinstance(event, DecisionRecorded) and event.decision.action is action
            for entry in outcome.timeline
            for event in entry.events
            if getattr(event, "no_effect", "")
        )

    reached = find(
        scenarios.steered_scenarios(pack),
        fired_without_effect,
        settings=settings(
            max_examples=CI_EXAMPLES, database=None, deadline=None, phases=(Phase.generate,)
        ),
        random=random.Random(0),
    )
    result = check_pack(only, max_examples=CI_EXAMPLES, seed=0)

    assert reached is not None
    assert result.held, result.outcome


def test_a_broken_pack_yields_a_shrunk_counterexample_policy_test_reproduces(
    lax_deadline_pack: Path, tmp_path: Path
) -> None:
    """The search fails the pack; the written case fails it too, and passes the fixed pack."""
    out = tmp_path / "found"
    checked = sqm(
        "simulate", "check", str(lax_deadline_pack), "--max-examples", "1000", "--seed", "1",
        "--max-steps", "20", "--out", str(out),
    )  # fmt: skip

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "breaks INV-004" in checked.stdout
    story = [line for line in checked.stdout.splitlines() if line[:5].strip().endswith(".")]
    assert len(story) <= 8  # shrunk: onboarding, the review, the overdue tick
    counterexample = out / "counterexample.yaml"
    replayed = sqm("policy", "test", str(lax_deadline_pack), str(counterexample))
    assert replayed.returncode == 1
    assert "broke INV-004" in replayed.stdout
    fixed = sqm("policy", "test", str(default_pack_dir()), str(counterexample))
    assert fixed.returncode == 0, fixed.stdout
    explained = sqm("policy", "explain", str(default_pack_dir()), "--events", str(counterexample))
    assert explained.returncode == 0, explained.stderr


@pytest.mark.parametrize("pack_kind", ["broken", "sound"])
def test_sqm_simulate_check_says_the_same_with_any_number_of_jobs(
    pack_kind: str, lax_deadline_pack: Path, tmp_path: Path
) -> None:
    """The search's parts run one after another or side by side: the same words, the same
    counterexample file, byte for byte.
    """
    directory = lax_deadline_pack if pack_kind == "broken" else default_pack_dir()
    runs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs-{jobs}"
        checked = sqm(
            "simulate", "check", str(directory), "--max-examples", "100", "--seed", "3",
            "--max-steps", "20", "--out", str(out), "--jobs", jobs,
        )  # fmt: skip
        assert checked.returncode == (1 if pack_kind == "broken" else 0), checked.stderr
        written = out / "counterexample.yaml"
        runs.append((checked.stdout, written.read_bytes() if written.exists() else b""))
    printed = [stdout.replace(str(tmp_path / f"jobs-{n}"), "OUT") for n, (stdout, _) in
               zip("12", runs, strict=True)]  # fmt: skip
    assert printed[0] == printed[1]
    assert runs[0][1] == runs[1][1]
    assert ("breaks INV-004" in printed[0]) == (pack_kind == "broken")


def test_the_same_seed_gives_the_same_run_byte_for_byte(tmp_path: Path) -> None:
    """Two runs with one seed write identical JSON; another seed writes other figures."""
    outputs = []
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        target = tmp_path / f"{name}.json"
        ran = sqm(
            "simulate", "run", str(default_pack_dir()), "--suppliers", "12", "--months", "3",
            "--seed", seed, "--json", str(target),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        outputs.append(target.read_bytes())

    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]
    result = json.loads(outputs[0])
    assert result["months_axis"] == ["2027-01", "2027-02", "2027-03"]
    assert sum(result["states_per_month"]["2027-03"].values()) == 12


def test_a_population_run_counts_what_happened() -> None:
    """States add up per month, every fired rule is a rule of the pack, totals agree."""
    pack = load_pack(default_pack_dir())
    result = simulate(pack, Rates(breach_rate=0.2), suppliers=20, months=6, seed=3)

    assert all(sum(month.values()) == 20 for month in result["states_per_month"].values())
    assert set(result["rules_fired"]) <= {rule.id for rule in pack.rules}
    assert result["totals"]["terminated"] == len(result["time_to_termination_days"])
    assert result["rules_fired"].get("PEN-001", 0) > 0  # a 20% breach rate is penalised
    standings = result["standings_per_period"]
    assert standings  # monthly scorecards closed
    assert list(standings) == sorted(standings)
    assert all(0 < sum(period.values()) <= 20 for period in standings.values())
    assert {s for period in standings.values() for s in period} <= set(result["standing_order"])


def test_the_baseline_scenario_file_is_the_default(tmp_path: Path) -> None:
    """docs/scenarios/baseline.yaml says exactly what a run without --scenario uses."""
    assert load_rates(BASELINE) == Rates()


def test_a_bad_scenario_file_is_refused_at_its_lines(tmp_path: Path) -> None:
    """Each bad key is named with its line; the command exits 2 and runs nothing."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "format: sqm.simulation-scenario/v1\nbreach_rate: 1.5\nsurvey_ratee: 0.2\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioInvalid) as raised:
        load_rates(bad)
    lines = sorted(problem.line for problem in raised.value.problems)
    assert lines == [2, 3]
    ran = sqm("simulate", "run", str(default_pack_dir()), "--scenario", str(bad))
    assert ran.returncode == 2
    assert "bad.yaml:3:1" in ran.stderr
