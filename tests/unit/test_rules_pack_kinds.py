"""The rule kinds beyond qualification: objectives, severity tiers, windows, action parameters,
penalties and improvement deadlines load into the typed model, and each broken one is refused
with a message at its line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import pytest

from sqm.domain.errors import PolicyError
from sqm.domain.model import Action, Comparator, Reminder, Severity, SlaObjective, Stage
from sqm.rules import CompiledPolicy, PackError, PackInvalid, default_pack_dir, load_pack
from sqm.rules.catalogue import CATALOGUE, FactType, facts_at, pack_specs
from sqm.rules.engine import MAX_MATCHES_PER_MESSAGE, RESERVED_CHAINS
from sqm.rules.model import ACTIONS_BY_STAGE, CriterionKind, PolicyPack, WindowKind, told_once
from sqm.rules.pack_catalogue import default_catalogue
from sqm.rules.selection import Candidate
from sqm.rules.sla import classify, shortfall

D = Decimal

MANIFEST = """\
format: sqm.policy/v1
name: kinds
title: Every rule kind
files: [sla.yaml, monitoring.yaml]
"""

_OTHER_TIERS = "".join(
    f"  {m}:\n    - {{severity: major, above: 0}}\n"
    for m in default_catalogue().metric_ids
    if m not in ("availability", "mean_time_to_restore")
)

SLA = (
    """\
format: sqm.policy/v1
objectives:
  all:
    - {id: satisfaction, metric: customer_satisfaction, comparator: ">=", target: 80, warning: 85}
  network_services:
    - {id: availability, metric: availability, comparator: ">=", target: 99.95, warning: 99.98}
    - {id: restore, metric: mean_time_to_restore, comparator: "<=", target: 4, warning: 3}
  field_services:
    - {id: satisfaction, metric: customer_satisfaction, comparator: ">=", target: 75, warning: 80}
severity_tiers:
  availability:
    - {severity: minor, above: 0, up_to: 0.1}
    - {severity: major, above: 0.1, up_to: 0.5}
    - {severity: critical, above: 0.5}
  mean_time_to_restore:
    - {severity: minor, above: 0, up_to: 1}
    - {severity: critical, above: 1}
"""
    + _OTHER_TIERS
)

MONITORING = """\
format: sqm.policy/v1
windows:
  - {id: major_breaches_30d, kind: breach_count, min_severity: major, days: 30}
  - {id: availability_misses, kind: consecutive_misses, metric: availability}
  - {id: restore_breaches_90d, kind: breach_count, days: 90, objective: restore}
penalties:
  service_credits:
    percent_of_monthly_fee: {minor: 2, major: 5, critical: 10}
    repeat_multipliers: [1, 1.5, 2]
    period_cap_percent: 20
    contract_cap_percent: 120
improvement:
  plan_due_days: {critical: 7, major: 14, minor: 30}
rules:
  - id: MON-1
    stage: monitoring
    title: Window
    when:
      all:
        - {fact: major_breaches_30d, op: ">=", value: 3}
    then: {action: open_review}
    message: "{major_breaches_30d} breaches of major or worse in 30 days"
  - id: DL-1
    stage: deadlines
    title: Remind
    when:
      all:
        - {fact: days_until_plan_due, op: "<=", value: 3}
    then: {action: remind, reminder: improvement_plan_due}
    message: "Plan due in {days_until_plan_due:.1f} days"
"""


def write_pack(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root`` and return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def load(tmp_path: Path, sla: str = SLA, monitoring: str = MONITORING) -> PolicyPack:
    """The pack of the given files."""
    files = {"manifest.yaml": MANIFEST, "sla.yaml": sla, "monitoring.yaml": monitoring}
    return load_pack(write_pack(tmp_path, files))


def errors_of(
    tmp_path: Path, sla: str = SLA, monitoring: str = MONITORING, **more: str
) -> tuple[PackError, ...]:
    """The problems of a pack that must fail to load."""
    manifest = MANIFEST.replace("monitoring.yaml]", ", ".join(["monitoring.yaml", *more]) + "]")
    files = {"manifest.yaml": manifest, "sla.yaml": sla, "monitoring.yaml": monitoring, **more}
    with pytest.raises(PackInvalid) as raised:
        load_pack(write_pack(tmp_path, files))
    return raised.value.errors


def only_error(errors: tuple[PackError, ...]) -> PackError:
    """The single problem of a load that had exactly one."""
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def line_of(text: str, needle: str) -> int:
    """The 1-based line of ``text`` where ``needle`` first occurs."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def replaced(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` (which must occur) replaced once by ``new``."""
    assert old in text, old
    return text.replace(old, new, 1)


# --- what loads -----------------------------------------------------------------------------


def test_a_pack_of_every_kind_loads_into_the_typed_model(tmp_path: Path) -> None:
    """Objectives, tiers, windows, the credit schedule and plan deadlines come out typed."""
    pack = load(tmp_path)
    availability = pack.tiers_for("availability")
    assert availability is not None
    assert [t.severity for t in availability.tiers] == list(Severity)
    assert [(w.id, w.kind, w.line) for w in pack.windows] == [
        ("major_breaches_30d", WindowKind.BREACH_COUNT, 3),
        ("availability_misses", WindowKind.CONSECUTIVE_MISSES, 4),
        ("restore_breaches_90d", WindowKind.BREACH_COUNT, 5),
    ]
    assert pack.windows[0].min_severity is Severity.MAJOR
    assert pack.credits is not None
    assert pack.credits.percent(Severity.MAJOR) == Decimal(5)
    assert [pack.credits.multiplier(n) for n in (1, 2, 3, 9)] == [
        Decimal(1),
        Decimal("1.5"),
        Decimal(2),
        Decimal(2),
    ]
    assert pack.improvement is not None
    assert [pack.improvement.due_days(s) for s in (*Severity, None)] == [30, 14, 7, 30]


def test_a_category_objective_replaces_the_common_one_with_the_same_id(tmp_path: Path) -> None:
    """Field services get their own satisfaction target; network services add two objectives."""
    objectives = load(tmp_path).objectives
    assert objectives.for_category("field_services") == (
        SlaObjective("satisfaction", "customer_satisfaction", Comparator.AT_LEAST, 75, 80),
    )
    assert [o.objective_id for o in objectives.for_category("network_services")] == [
        "satisfaction",
        "availability",
        "restore",
    ]
    assert objectives.for_category("network_services")[1].target == 99.95


def test_remind_carries_its_reminder_as_a_parameter(tmp_path: Path) -> None:
    """``then: {action: remind, reminder: ...}`` keeps the reminder with the rule."""
    (_, remind) = load(tmp_path).rules
    assert (remind.action, remind.parameters) == (
        Action.REMIND,
        (("reminder", Reminder.IMPROVEMENT_PLAN_DUE.value),),
    )


def test_windows_become_facts_of_monitoring_and_deadlines(tmp_path: Path) -> None:
    """A declared window is a fact of both later stages, typed by its kind, never of
    qualification.
    """
    specs = pack_specs(load(tmp_path))
    assert specs["major_breaches_30d"].type is FactType.INTEGER
    assert "major_breaches_30d" in facts_at(Stage.MONITORING, specs)
    assert "major_breaches_30d" in facts_at(Stage.DEADLINES, specs)
    assert "major_breaches_30d" not in facts_at(Stage.QUALIFICATION, specs)
    assert "major_breaches_30d" not in CATALOGUE


def test_the_default_pack_encodes_every_kind() -> None:
    """The telecom pack has objectives for every category, tiers for every metric, windows,
    a credit schedule, plan deadlines, and rules at all three stages.
    """
    pack = load_pack(default_pack_dir())
    for category in default_catalogue().category_ids:
        assert pack.objectives.for_category(category), category
    assert {t.metric for t in pack.tiers} == set(default_catalogue().metric_ids)
    network = {o.objective_id: o for o in pack.objectives.for_category("network_services")}
    assert network["availability"].target == 99.95
    assert network["mean_time_to_restore"].target == 4
    assert network["fault_response_time"].target == 30
    assert network["customer_satisfaction"].target == 80
    assert {w.id for w in pack.windows} >= {"major_breaches_30d", "satisfaction_90d"}
    assert pack.credits is not None
    assert pack.improvement is not None
    assert pack.improvement.due_days(Severity.CRITICAL) == 7
    assert {s: len(pack.rules_for(s)) > 0 for s in Stage} == dict.fromkeys(Stage, True)
    assert [c.kind for c in pack.criteria if c.id in ("price", "delivery_lead_time")] == [
        CriterionKind.COST,
        CriterionKind.COST,
    ]


def test_every_objective_of_the_default_pack_compares_the_natural_way() -> None:
    """Availability is at least its target, restore time at most: the pack never inverts one."""
    pack = load_pack(default_pack_dir())
    for category in default_catalogue().category_ids:
        for objective in pack.objectives.for_category(category):
            spec = pack.catalogue.metric(objective.metric)
            assert spec is not None
            assert objective.comparator is spec.direction


def test_every_stage_of_the_default_pack_stays_within_the_engine_limit() -> None:
    """Each stage's condition chains, with the adapter's own, stay at or under 64."""
    pack = load_pack(default_pack_dir())
    for stage in Stage:
        assert len(pack.rules_for(stage)) + RESERVED_CHAINS <= MAX_MATCHES_PER_MESSAGE


def test_the_default_pack_asks_only_for_actions_its_stages_allow() -> None:
    """Qualify only at qualification, penalties only at monitoring, and so on; escalations
    on the deadline check only on a fact that counts each case once.
    """
    for rule in load_pack(default_pack_dir()).rules:
        allowed = rule.action in ACTIONS_BY_STAGE[rule.stage]
        assert allowed or (rule.stage is Stage.DEADLINES and told_once(rule.when)), rule.id


# --- severity tiers --------------------------------------------------------------------------


def test_overlapping_tiers_are_refused(tmp_path: Path) -> None:
    """A tier starting below where the previous one ends is an overlap, at its ``above``."""
    sla = replaced(
        SLA,
        "{severity: major, above: 0.1, up_to: 0.5}",
        "{severity: major, above: 0.05, up_to: 0.5}",
    )
    error = only_error(errors_of(tmp_path, sla=sla))
    assert (error.file, error.line) == ("sla.yaml", line_of(sla, "above: 0.05"))
    assert "tiers overlap: the previous tier runs up to 0.1 but this one starts above 0.05" in (
        error.message
    )


def test_a_gap_between_tiers_is_refused(tmp_path: Path) -> None:
    """A tier starting above where the previous one ends leaves misses without a severity."""
    sla = replaced(SLA, "{severity: critical, above: 0.5}", "{severity: critical, above: 0.6}")
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "above: 0.6")
    assert "gap between tiers: the previous tier ends at 0.5 but this one starts above 0.6" in (
        error.message
    )


def test_tiers_not_starting_at_zero_are_refused(tmp_path: Path) -> None:
    """The first tier starts at 0: every miss, however small, has a severity."""
    sla = replaced(
        SLA, "{severity: minor, above: 0, up_to: 0.1}", "{severity: minor, above: 0.01, up_to: 0.1}"
    )
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "above: 0.01")
    assert "the first tier must start at 0 (above: 0), got above: 0.01" in error.message


def test_a_closed_top_tier_is_refused(tmp_path: Path) -> None:
    """The top tier is open-ended: a miss beyond every tier would have no severity."""
    sla = replaced(
        SLA, "{severity: critical, above: 0.5}", "{severity: critical, above: 0.5, up_to: 5}"
    )
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "up_to: 5}")
    assert "the top tier must be open-ended: leave out up_to (got 5)" in error.message


def test_tiers_out_of_severity_order_are_refused(tmp_path: Path) -> None:
    """Tiers rise from minor to critical; a minor tier above a major one is refused."""
    sla = replaced(SLA, "{severity: major, above: 0.1", "{severity: minor, above: 0.1")
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "{severity: minor, above: 0.1")
    assert "tiers rise from minor to critical: 'minor' cannot follow 'minor'" in error.message


def test_an_unknown_severity_is_refused(tmp_path: Path) -> None:
    """Severities are the domain's: minor, major, critical."""
    sla = replaced(SLA, "{severity: critical, above: 0.5}", "{severity: severe, above: 0.5}")
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "severe")
    assert "unknown severity 'severe'; expected one of: minor, major, critical" in error.message


def test_tiers_for_an_unknown_metric_are_refused(tmp_path: Path) -> None:
    """A tier list keyed by a metric the service does not measure is refused at the key."""
    sla = replaced(SLA, "  mean_time_to_restore:\n", "  mean_time_to_repair:\n")
    errors = errors_of(tmp_path, sla=sla)
    assert [(e.line, e.message.split(";")[0]) for e in errors] == [
        (line_of(sla, "severity_tiers:"), "severity_tiers: every metric needs severity tiers"),
        (
            line_of(sla, "mean_time_to_repair"),
            "severity_tiers.mean_time_to_repair: unknown metric 'mean_time_to_repair'",
        ),
    ]
    assert "missing: mean_time_to_restore" in errors[0].message


def test_objectives_without_tiers_are_refused(tmp_path: Path) -> None:
    """Misses could never be classified: objectives need the pack's tiers."""
    sla = SLA[: SLA.index("severity_tiers:")]
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "objectives:")
    assert "objectives need severity tiers to classify misses" in error.message


def test_tiers_defined_in_two_files_are_refused(tmp_path: Path) -> None:
    """Tiers are pack-wide, defined in one file; the second points at the first."""
    extra = "format: sqm.policy/v1\n" + SLA[SLA.index("severity_tiers:") :]
    error = only_error(errors_of(tmp_path, **{"more.yaml": extra}))
    assert (error.file, error.line) == ("more.yaml", 2)
    assert "severity_tiers are already defined at sla.yaml:" in error.message


# --- objectives --------------------------------------------------------------------------------


def test_an_unknown_metric_in_an_objective_is_refused(tmp_path: Path) -> None:
    """Metrics are the domain's; the error lists them."""
    sla = replaced(SLA, "metric: availability", "metric: uptime")
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "uptime")
    assert "unknown metric 'uptime'; expected one of: availability, mean_time_to_restore" in (
        error.message
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "target: 99.95, warning: 99.98",
            "target: 99.95, warning: 99.9",
            "warning 99.9 is below the target 99.95: for a '>=' objective the warning threshold"
            " is on the safe side, at or above the target",
        ),
        (
            "target: 4, warning: 3",
            "target: 4, warning: 5",
            "warning 5 is above the target 4: for a '<=' objective the warning threshold is on"
            " the safe side, at or below the target",
        ),
    ],
)
def test_a_warning_threshold_on_the_wrong_side_is_refused(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """The warning comes before the breach: on the safe side of the target, for both
    comparators.
    """
    sla = replaced(SLA, old, new)
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, new)
    assert expected in error.message


def test_an_objective_comparing_against_its_metric_is_refused(tmp_path: Path) -> None:
    """Availability at most 99.95% is a typo for at least: refused at the comparator."""
    sla = replaced(SLA, 'availability, comparator: ">="', 'availability, comparator: "<="')
    error = only_error(errors_of(tmp_path, sla=sla))
    assert "availability gets better as it rises: its objectives compare with '>='" in (
        error.message
    )


def test_a_target_outside_the_metric_range_is_refused(tmp_path: Path) -> None:
    """Availability is a percentage: a target of 999 is a typo."""
    sla = replaced(SLA, "target: 99.95, warning: 99.98", "target: 999, warning: 999.5")
    errors = errors_of(tmp_path, sla=sla)
    assert [e.message.split(": ", 1)[1] for e in errors] == [
        "target 999 is outside the range of availability: 0 to 100 percent",
        "warning 999.5 is outside the range of availability: 0 to 100 percent",
    ]


def test_a_negative_tolerance_is_refused(tmp_path: Path) -> None:
    """Tolerance widens the target; a negative one is a schema error at the value."""
    sla = replaced(SLA, "target: 4, warning: 3}", "target: 4, warning: 3, tolerance: -0.5}")
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "tolerance: -0.5")
    assert "expected a number >= 0, got -0.5" in error.message


def test_a_non_finite_target_is_refused(tmp_path: Path) -> None:
    """``.nan`` passes the schema's number type but is no target."""
    sla = replaced(SLA, "target: 4,", "target: .nan,")
    error = only_error(errors_of(tmp_path, sla=sla))
    assert "expected a finite number, got nan" in error.message


def test_an_objective_listed_twice_for_a_category_is_refused(tmp_path: Path) -> None:
    """Measurements name objectives by id: two with one id would be ambiguous."""
    sla = replaced(
        SLA, "{id: availability, metric: availability", "{id: restore, metric: availability"
    )
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "{id: restore, metric: mean_time_to_restore")
    assert "objective 'restore' is listed twice for network_services" in error.message


def test_objectives_for_an_unknown_category_are_refused(tmp_path: Path) -> None:
    """Categories are the domain's, or ``all``."""
    sla = replaced(SLA, "  field_services:", "  satellite:")
    error = only_error(errors_of(tmp_path, sla=sla))
    assert error.line == line_of(sla, "satellite:")
    assert "unknown service category 'satellite'; expected one of: all, network_equipment" in (
        error.message
    )


# --- windows -------------------------------------------------------------------------------------


def test_an_unknown_window_kind_is_refused(tmp_path: Path) -> None:
    """Window kinds are fixed: the error lists them."""
    monitoring = replaced(MONITORING, "kind: consecutive_misses", "kind: moving_average")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert (error.file, error.line) == ("monitoring.yaml", 4)
    assert (
        "unknown window kind 'moving_average'; expected one of: breach_count,"
        " consecutive_misses, satisfaction_mean, survey_count, failed_inspections"
    ) in error.message


def test_a_window_with_an_unknown_severity_is_refused(tmp_path: Path) -> None:
    """``min_severity`` names one of the domain's severities."""
    monitoring = replaced(MONITORING, "min_severity: major", "min_severity: serious")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == 3
    assert "unknown severity 'serious'; expected one of: minor, major, critical" in error.message


def test_a_window_key_that_does_not_apply_to_its_kind_is_refused(tmp_path: Path) -> None:
    """A breach count has no metric; a consecutive-misses window needs one."""
    monitoring = replaced(
        MONITORING,
        "kind: consecutive_misses, metric: availability",
        "kind: consecutive_misses, days: 30",
    )
    errors = errors_of(tmp_path, monitoring=monitoring)
    assert [(e.line, e.message) for e in errors] == [
        (4, "windows[availability_misses]: a consecutive_misses window needs 'metric'"),
        (
            4,
            "windows[availability_misses].days: 'days' does not apply to a consecutive_misses"
            " window; it takes: metric",
        ),
    ]


def test_a_window_on_an_undefined_objective_is_refused(tmp_path: Path) -> None:
    """A window counting one objective's breaches names one of the pack's objectives."""
    monitoring = replaced(MONITORING, "objective: restore", "objective: restoration")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == 5
    assert "objective 'restoration' is not one of the pack's objectives" in error.message


def test_a_window_named_like_a_catalogue_fact_is_refused(tmp_path: Path) -> None:
    """A window cannot shadow a fact of the service."""
    monitoring = replaced(MONITORING, "id: availability_misses", "id: shortfall")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == 4
    assert "window 'shortfall' has the name of a fact of the catalogue" in error.message


def test_a_window_declared_in_two_files_names_the_first(tmp_path: Path) -> None:
    """Window ids are unique across the pack."""
    extra = (
        "format: sqm.policy/v1\nwindows:\n"
        "  - {id: major_breaches_30d, kind: survey_count, days: 30}\n"
    )
    error = only_error(errors_of(tmp_path, **{"more.yaml": extra}))
    assert (error.file, error.line) == ("more.yaml", 3)
    assert "duplicate window 'major_breaches_30d'; first declared at monitoring.yaml:3" in (
        error.message
    )


def test_a_rule_on_an_undeclared_window_is_refused(tmp_path: Path) -> None:
    """A rule naming a window no file declares is told which facts and windows exist."""
    monitoring = replaced(
        MONITORING, "{fact: major_breaches_30d, op", "{fact: major_breaches_7d, op"
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "major_breaches_7d")
    assert "unknown fact 'major_breaches_7d' at stage 'monitoring'" in error.message
    assert "major_breaches_30d, availability_misses, restore_breaches_90d" in error.message
    assert "(or a window the pack declares under 'windows:')" in error.message


def test_a_window_in_a_qualification_rule_is_refused(tmp_path: Path) -> None:
    """Windows look at a contracted supplier's history: not a qualification fact."""
    monitoring = replaced(MONITORING, "stage: monitoring", "stage: qualification")
    errors = errors_of(tmp_path, monitoring=monitoring)
    assert "unknown fact 'major_breaches_30d' at stage 'qualification'" in errors[0].message


# --- actions and their parameters ----------------------------------------------------------


def test_remind_without_a_reminder_is_refused(tmp_path: Path) -> None:
    """``remind`` needs to say what about."""
    monitoring = replaced(
        MONITORING, "{action: remind, reminder: improvement_plan_due}", "{action: remind}"
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "{action: remind}")
    assert (
        "action 'remind' needs 'reminder': one of improvement_plan_due, certificate_expiry,"
        " progress_report_due"
    ) in error.message


def test_an_unknown_reminder_is_refused(tmp_path: Path) -> None:
    """Reminders are the domain's."""
    monitoring = replaced(MONITORING, "reminder: improvement_plan_due", "reminder: birthday")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert "unknown reminder 'birthday'; expected one of: improvement_plan_due" in error.message


def test_a_parameter_on_an_action_that_takes_none_is_refused(tmp_path: Path) -> None:
    """Only ``remind`` takes a parameter; a reminder on ``open_review`` is a mistake."""
    monitoring = replaced(
        MONITORING, "{action: open_review}", "{action: open_review, reminder: certificate_expiry}"
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "open_review, reminder")
    assert "action 'open_review' has no parameter 'reminder'; it takes none" in error.message


def test_an_unknown_action_parameter_is_refused(tmp_path: Path) -> None:
    """A parameter the language does not know is refused at its key, listing the known ones."""
    monitoring = replaced(
        MONITORING, "{action: open_review}", "{action: open_review, severity: major}"
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "severity: major}")
    assert (
        "unknown key 'severity'; expected one of: action, amount, message, reminder, to"
        in error.message
    )


@pytest.mark.parametrize(
    ("stage_line", "action", "allowed"),
    [
        ("stage: monitoring", "qualify", "open_review, assess_penalty, terminate, remind"),
        ("stage: deadlines", "disqualify", "revoke_qualification, open_review, assess_penalty"),
    ],
)
def test_an_action_not_allowed_at_its_stage_is_refused(
    tmp_path: Path, stage_line: str, action: str, allowed: str
) -> None:
    """Qualify and disqualify only at qualification."""
    index = MONITORING.index(stage_line)
    then = MONITORING.index("then: {action:", index)
    end = MONITORING.index("}", then)
    monitoring = MONITORING[:then] + f"then: {{action: {action}" + MONITORING[end:]
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, f"action: {action}")
    assert f"action {action!r} is not allowed at stage" in error.message
    assert allowed in error.message


# --- penalties and improvement -------------------------------------------------------------


def test_credits_falling_as_severity_rises_are_refused(tmp_path: Path) -> None:
    """A critical breach never earns less than a major one."""
    monitoring = replaced(MONITORING, "critical: 10}", "critical: 4}")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "critical: 4}")
    assert "a critical breach credits 4%, less than a major one (5%)" in error.message


def test_repeat_multipliers_that_fall_are_refused(tmp_path: Path) -> None:
    """A repeated breach never costs less than the one before."""
    monitoring = replaced(MONITORING, "[1, 1.5, 2]", "[1, 2, 1.5]")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "repeat_multipliers")
    assert "the multiplier of breach 3 (1.5) is below that of breach 2 (2)" in error.message


def test_a_plan_after_a_critical_breach_due_later_than_after_a_major_is_refused(
    tmp_path: Path,
) -> None:
    """The worse the breach, the sooner the plan."""
    monitoring = replaced(MONITORING, "{critical: 7, major: 14", "{critical: 21, major: 14")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "plan_due_days")
    assert "a plan after a critical breach cannot be due later than after a major one" in (
        error.message
    )


def test_a_credit_schedule_missing_a_severity_is_refused(tmp_path: Path) -> None:
    """Every severity has a credit."""
    monitoring = replaced(
        MONITORING, "{minor: 2, major: 5, critical: 10}", "{major: 5, critical: 10}"
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "percent_of_monthly_fee")
    assert "missing required key(s): 'minor'" in error.message


def test_many_new_faults_are_reported_at_once(tmp_path: Path) -> None:
    """Faults of every new kind, in two files, come in one PackInvalid, in file order."""
    sla = replaced(SLA, "metric: availability", "metric: uptime")
    monitoring = replaced(
        replaced(MONITORING, "kind: consecutive_misses", "kind: moving_average"),
        "{action: remind, reminder: improvement_plan_due}",
        "{action: remind}",
    )
    errors = errors_of(tmp_path, sla=sla, monitoring=monitoring)
    assert [(e.file, e.line) for e in errors] == [
        ("sla.yaml", line_of(sla, "uptime")),
        ("monitoring.yaml", 4),
        ("monitoring.yaml", line_of(monitoring, "{action: remind}")),
    ]


# --- classification by the default pack's tiers ---------------------------------------------


def network_objective(objective_id: str) -> SlaObjective:
    """The default pack's objective ``objective_id`` for network services."""
    objectives = load_pack(default_pack_dir()).objectives
    found = {o.objective_id: o for o in objectives.for_category("network_services")}
    return found[objective_id]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (99.97, None),
        (99.95, None),  # on the target: met
        (99.85, Severity.MINOR),  # 0.1 points short: the top of minor, exactly
        (99.84, Severity.MAJOR),
        (99.45, Severity.MAJOR),  # 0.5 short: the top of major
        (99.44, Severity.CRITICAL),
        (0.0, Severity.CRITICAL),
    ],
)
def test_availability_misses_fall_in_the_tier_the_pack_wrote(
    value: float, expected: Severity | None
) -> None:
    """Boundaries are exact decimals: 99.95 - 99.85 is 0.1, not 0.10000000000000853."""
    pack = load_pack(default_pack_dir())
    objective = network_objective("availability")
    assert classify(pack.tiers_for("availability"), objective, value) is expected


def test_tolerance_is_taken_off_before_the_tiers_apply() -> None:
    """Satisfaction 80 with tolerance 2: 78 is met, 77 a minor miss of 1, 63 a critical one."""
    pack = load_pack(default_pack_dir())
    objective = network_objective("customer_satisfaction")
    tiers = pack.tiers_for("customer_satisfaction")
    assert (objective.target, objective.tolerance) == (80, 2)
    assert [classify(tiers, objective, v) for v in (78.0, 77.0, 68.0, 63.0, 62.9)] == [
        None,
        Severity.MINOR,
        Severity.MAJOR,
        Severity.MAJOR,
        Severity.CRITICAL,
    ]


def test_an_at_most_objective_misses_above_its_target() -> None:
    """Restore time 4 h: 5 h is a minor miss, 8 h major, 8.5 h critical, 3 h met."""
    pack = load_pack(default_pack_dir())
    objective = network_objective("mean_time_to_restore")
    tiers = pack.tiers_for("mean_time_to_restore")
    assert [classify(tiers, objective, v) for v in (3.0, 5.0, 8.0, 8.5)] == [
        None,
        Severity.MINOR,
        Severity.MAJOR,
        Severity.CRITICAL,
    ]
    assert shortfall(objective, 5.5) == Decimal("1.5")


def test_a_non_finite_value_cannot_be_classified() -> None:
    """NaN is neither met nor missed: a ValueError, before any tier is consulted."""
    pack = load_pack(default_pack_dir())
    with pytest.raises(ValueError, match="finite"):
        classify(pack.tiers_for("availability"), network_objective("availability"), math.nan)


# --- the policy port, without the engine -----------------------------------------------------


class NoEngine:
    """An engine that registers anything and is never asked to evaluate here."""

    def register(self, name: str, definition: Mapping[str, object]) -> None:
        """Accept the ruleset."""

    def evaluate(self, name: str, message: Mapping[str, object]) -> frozenset[str]:
        """Never called by these tests."""
        raise AssertionError("no evaluation expected")


def offline(pack: PolicyPack) -> CompiledPolicy:
    """``pack`` compiled against an engine that is never asked anything."""
    return CompiledPolicy(pack, NoEngine())


def test_the_policy_answers_the_domain_from_its_pack() -> None:
    """Default objectives, classification and plan deadlines come from the pack's data."""
    policy = offline(load_pack(default_pack_dir()))
    objectives = policy.default_objectives("network_services")
    availability = next(o for o in objectives if o.metric == "availability")
    assert policy.classify(availability, 99.2) is Severity.CRITICAL
    assert policy.classify(availability, 99.96) is None
    assert [policy.plan_due_days(s) for s in (Severity.CRITICAL, None)] == [7, 30]


def test_a_pack_without_schedules_says_so_when_asked(tmp_path: Path) -> None:
    """A qualification-only pack has no objectives, and no credits or deadlines to quote."""
    monitoring = (
        MONITORING[: MONITORING.index("penalties:")] + MONITORING[MONITORING.index("rules:") :]
    )
    policy = offline(load(tmp_path, monitoring=monitoring))
    assert policy.default_objectives("software") == (
        SlaObjective("satisfaction", "customer_satisfaction", Comparator.AT_LEAST, 80, 85),
    )
    with pytest.raises(PolicyError, match="defines no improvement deadlines"):
        policy.plan_due_days(Severity.MAJOR)


def test_candidates_are_ranked_with_the_packs_weights_and_kinds() -> None:
    """Price and lead time are costs in the default pack: the cheaper, faster one wins."""
    policy = offline(load_pack(default_pack_dir()))
    common = {"capability": "80", "quality_management": "80", "past_performance": "80"}
    shortlist = [
        Candidate(
            "cheap", {**_decimals(common), "price": D("900000"), "delivery_lead_time": D("30")}
        ),
        Candidate(
            "dear", {**_decimals(common), "price": D("1200000"), "delivery_lead_time": D("60")}
        ),
    ]
    report = policy.rank_candidates(shortlist)
    assert [r.candidate_id for r in report.candidates] == ["cheap", "dear"]
    assert report.methods_agree
    assert {c.id: c.kind for c in report.criteria}["price"] == "cost"


def _decimals(values: Mapping[str, str]) -> dict[str, Decimal]:
    return {key: Decimal(value) for key, value in values.items()}


def test_a_claim_window_loads_and_a_pack_without_one_sets_none(tmp_path: Path) -> None:
    """``penalties.compensation.claim_window_days`` becomes the policy's claim window."""
    with_window = replaced(
        MONITORING,
        "    contract_cap_percent: 120\n",
        "    contract_cap_percent: 120\n  compensation:\n    claim_window_days: 60\n",
    )
    assert CompiledPolicy(load(tmp_path / "with", monitoring=with_window)).claim_window_days() == 60
    assert CompiledPolicy(load(tmp_path / "without")).claim_window_days() is None


def test_a_claim_window_of_zero_days_is_refused_at_its_line(tmp_path: Path) -> None:
    """A window must be at least a day: the error is located at the value."""
    monitoring = replaced(
        MONITORING,
        "    contract_cap_percent: 120\n",
        "    contract_cap_percent: 120\n  compensation:\n    claim_window_days: 0\n",
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "claim_window_days")
    assert "claim_window_days" in error.message or "minimum" in error.message


def test_business_reviews_are_scheduled_per_category_with_all_for_the_rest(
    tmp_path: Path,
) -> None:
    """``business_reviews.every_days``: a category's own interval, else the 'all' one."""
    monitoring = MONITORING + "business_reviews:\n  every_days: {all: 180, software: 60}\n"
    schedule = load(tmp_path, monitoring=monitoring).business_reviews
    assert schedule is not None
    assert schedule.days_for("software") == 60
    assert schedule.days_for("field_services") == 180


def test_a_business_review_for_an_unknown_category_is_refused_at_its_key(tmp_path: Path) -> None:
    """A misspelt category is named where it is written, with the choices."""
    monitoring = MONITORING + "business_reviews:\n  every_days: {all: 180, sofware: 60}\n"
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "sofware")
    assert "unknown service category 'sofware'" in error.message


def test_a_pack_may_require_contracts_to_be_signed_under_a_need(tmp_path: Path) -> None:
    """``contracts.require_need`` becomes the policy's answer; a pack silent on it says no."""
    monitoring = MONITORING + "contracts:\n  require_need: true\n"
    assert offline(load(tmp_path / "strict", monitoring=monitoring)).contract_requires_need()
    assert not offline(load(tmp_path / "lenient")).contract_requires_need()
