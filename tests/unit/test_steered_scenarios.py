"""The numbers a steered search reads from a pack, and the stories it tells with them."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings

from sqm.domain.model import Severity
from sqm.rules import default_pack_dir, load_pack
from sqm.simulation import scenarios as sc
from tests.commands import default_pack_variant

DEFAULT = load_pack(default_pack_dir())


def test_the_targets_are_the_packs_own_numbers() -> None:
    """Windows with their rule thresholds and the invariant's count, caps, deadlines, marks."""
    targets = sc.pack_targets(DEFAULT)

    assert targets.bursts == (
        sc.Burst(2, 30.0, Severity.CRITICAL),  # MON-012
        sc.Burst(3, 30.0, Severity.MAJOR),  # MON-002 and INV-006 agree
    )
    assert targets.grace_days == (0.0, 30.0, 90.0)
    assert dict(targets.credit_percents) == {
        Severity.MINOR: 2.0, Severity.MAJOR: 5.0, Severity.CRITICAL: 10.0,
    }  # fmt: skip
    assert targets.multipliers == (1.0, 1.5, 2.0)
    assert targets.period_percents == (20.0,)
    assert targets.contract_percents == (120.0,)
    assert dict(targets.plan_due_days) == {
        Severity.MINOR: 30.0, Severity.MAJOR: 14.0, Severity.CRITICAL: 7.0, None: 30.0,
    }  # fmt: skip
    assert targets.past_due_days == (-3.0, 0.0, 1.0)  # DL-001's 3 days before, INV-004's grace
    assert targets.clean_days == (30.0,)
    assert targets.pass_marks == (40.0, 70.0)
    assert targets.openers == ((Severity.MAJOR, 3), (Severity.CRITICAL, 1))
    assert targets.extension_days == (14.0,)  # improvement.corrective_actions


def test_an_edited_pack_moves_its_targets(tmp_path: Path) -> None:
    """Raise MON-002's count and the period cap: bursts and caps follow the edit."""
    folder = default_pack_variant(
        tmp_path / "a", "monitoring.yaml",
        '{fact: major_breaches_30d, op: ">=", value: 3}',
        '{fact: major_breaches_30d, op: ">=", value: 4}',
    )  # fmt: skip
    (folder / "penalties.yaml").write_text(
        (folder / "penalties.yaml")
        .read_text(encoding="utf-8")
        .replace("period_cap_percent: 20", "period_cap_percent: 30"),
        encoding="utf-8",
    )
    targets = sc.pack_targets(load_pack(folder))

    assert set(targets.bursts) == {
        sc.Burst(2, 30.0, Severity.CRITICAL),
        sc.Burst(3, 30.0, Severity.MAJOR), sc.Burst(4, 30.0, Severity.MAJOR),
    }  # fmt: skip
    assert targets.period_percents == (20.0, 30.0)  # the invariant's promise and the schedule's
    assert (Severity.MAJOR, 4) in targets.openers


def test_breaches_past_a_cap_count_the_repeat_multipliers() -> None:
    """10% then 15% of the fee: the second critical breach in a month passes a 20% cap."""
    assert sc._breaches_past(20.0, 10.0, (1.0, 1.5, 2.0)) == 2
    assert sc._breaches_past(30.0, 10.0, (1.0, 1.5, 2.0)) == 3
    assert sc._breaches_past(20.0, 2.0, (1.0, 1.5, 2.0)) == 6  # 2 + 3 + 4 + 4 + 4 + 4 = 21


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(sc.steered_scenarios(DEFAULT, max_steps=12))
def test_steered_scenarios_are_scenarios_within_the_step_bound(scenario: sc.Scenario) -> None:
    """Every steered story is a plain scenario: a profile, at most ``max_steps`` steps."""
    assert len(scenario.steps) <= 12
    assert all(step.after_days >= 0 for step in scenario.steps)
    assert 0 <= scenario.profile.score <= 100


def test_a_pack_missing_a_rule_still_steers(tmp_path: Path) -> None:
    """Without DL-003 (no clean days to count) the deadline stories are still drawn."""
    folder = default_pack_variant(
        tmp_path / "b", "deadlines.yaml",
        '{fact: clean_days_since_plan_completed, op: ">=", value: 30}',
        '{fact: plan_completed, op: "==", value: true}',
    )  # fmt: skip
    pack = load_pack(folder)
    assert sc.pack_targets(pack).clean_days == ()

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(sc.steered_scenarios(pack))
    def draws(scenario: sc.Scenario) -> None:
        assert isinstance(scenario, sc.Scenario)

    draws()


def test_a_pack_allowing_no_extension_steers_no_extension(tmp_path: Path) -> None:
    """Without ``max_extensions`` the deadline stories ask for none; without a limit in days
    they ask up to the plan's longest time.
    """
    line = "corrective_actions: {max_extensions: 2, max_extension_days: 14}"
    none = default_pack_variant(
        tmp_path / "none", "deadlines.yaml", line, "corrective_actions: {max_extensions: 0}"
    )
    unlimited = default_pack_variant(
        tmp_path / "unlimited", "deadlines.yaml", line, "corrective_actions: {max_extensions: 1}"
    )

    assert sc.pack_targets(load_pack(none)).extension_days == ()
    assert sc.pack_targets(load_pack(unlimited)).extension_days == (30.0,)


def test_deadline_stories_answer_some_plans_with_a_corrective_action_record() -> None:
    """Among the steered stories: a record submitted for the plan, an extension asked, and a
    record completed, verified and closed.
    """
    kinds: set[type] = set()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(sc.steered_scenarios(DEFAULT))
    def collect(scenario: sc.Scenario) -> None:
        kinds.update(type(step.intent) for step in scenario.steps)

    collect()

    assert {sc.SubmitCorrective, sc.RequestCorrectiveExtension, sc.CloseCorrective} <= kinds
