"""The default pack's monitoring and deadlines rules on the real durable_rules engine.

Supplier states and decision contexts are built by hand (``attrs.evolve``), the way the
domain would build them after applying a record or advancing time: these tests depend on the
policy alone, not on ``sqm.domain.decide``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from sqm.domain.actions import act_on
from sqm.domain.events import PenaltyAssessed
from sqm.domain.model import (
    Action,
    Breach,
    Certificate,
    ConditionOutcome,
    Contract,
    ImprovementPlan,
    LifecycleState,
    Measurement,
    Money,
    Observation,
    Stage,
    SupplierState,
)
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId
from sqm.domain.ports import DecisionContext, Evaluation
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack, load_policy
from sqm.rules.catalogue import FAR_AWAY_DAYS, NO_SURVEY_SCORE, pack_specs
from sqm.rules.engine import (
    MAX_MATCHES_PER_MESSAGE,
    MAX_MESSAGE_PROPERTIES,
    RESERVED_CHAINS,
    EngineValue,
    rules_engine,
)
from sqm.rules.sla import shortfall
from tests.commands import default_pack_variant

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 15, 9, 0, tzinfo=UTC)
STARTED = datetime(2025, 1, 1, tzinfo=UTC)
REQUIRED = (
    "business_licence",
    "iso_9001",
    "operating_licence",
)


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    """The default telecom pack, compiled into the process's engine."""
    return load_policy(default_pack_dir())


def certificate(kind: CertificateKindId, valid_until: datetime) -> Certificate:
    """A certificate of ``kind`` valid from two years before NOW until ``valid_until``."""
    return Certificate(kind, f"{kind}-1", "CQC", NOW - timedelta(days=730), valid_until)


def contracted(policy: CompiledPolicy, **changes: Any) -> SupplierState:
    """A network services supplier under contract since January on the default objectives,
    certificates valid for a year, reports, self-checks and business reviews up to date, the
    signed contract archived.
    """
    terms = Contract(
        "C-1",
        STARTED,
        STARTED,
        STARTED + timedelta(days=365),
        Money(Decimal("100000.00"), "CNY"),
        Money(Decimal("1000000.00"), "CNY"),
        policy.default_objectives("network_services"),
    )
    state = SupplierState(
        "acme",
        "Acme Networks",
        "network_services",
        lifecycle=LifecycleState.CONTRACTED,
        contract=terms,
        certificates=tuple(certificate(k, NOW + timedelta(days=365)) for k in REQUIRED),
        last_progress_report_at=NOW - timedelta(days=5),
        last_self_check_at=NOW - timedelta(days=10),
        last_review_at=NOW - timedelta(days=20),
        contract_archived_at=STARTED + timedelta(days=1),
    )
    return attrs.evolve(state, **changes)


def measured(
    policy: CompiledPolicy,
    state: SupplierState,
    value: float,
    at: datetime = NOW,
    objective_id: str = "availability",
) -> tuple[SupplierState, DecisionContext]:
    """``state`` after a measurement of ``value`` for the month ending at ``at``, with its
    breach when the pack's tiers say it missed, and the monitoring context to judge it.
    """
    assert state.contract is not None
    objective = state.contract.objective(objective_id)
    assert objective is not None
    severity = policy.classify(objective, value)
    measurement = Measurement(
        objective_id, objective.metric, value, at - timedelta(days=30), at, severity is None, at
    )
    breach = None
    if severity is not None:
        missed_by = float(shortfall(objective, value))
        breach = Breach(
            objective_id, objective.metric, severity, value, objective.target, missed_by, at, at
        )
    state = attrs.evolve(
        state,
        measurements=(*state.measurements, measurement),
        breaches=(*state.breaches, *([breach] if breach else [])),
    )
    return state, DecisionContext(Stage.MONITORING, state, at, "measurement", measurement, breach)


def tick(state: SupplierState, now: datetime = NOW) -> DecisionContext:
    """The deadlines context of time having advanced to ``now``."""
    return DecisionContext(Stage.DEADLINES, state, now)


def fired(evaluation: Evaluation) -> dict[str, Action]:
    """The rules that fired, by id, with their actions."""
    return {d.rule_id: d.action for d in evaluation.fired}


def decision(evaluation: Evaluation, rule_id: str) -> Any:
    """The decision (fired or not) of ``rule_id``."""
    return next(d for d in evaluation.fired + evaluation.not_fired if d.rule_id == rule_id)


# --- monitoring --------------------------------------------------------------------------------


def test_a_critical_breach_opens_a_review_at_once_and_is_credited(policy: CompiledPolicy) -> None:
    """99.2% against 99.95% misses by 0.75 points: critical, MON-001 and PEN-001 fire."""
    _, context = measured(policy, contracted(policy), 99.2)
    evaluation = policy.evaluate(context)
    assert fired(evaluation) == {
        "MON-001": Action.OPEN_REVIEW,
        "PEN-001": Action.ASSESS_PENALTY,
    }
    review = decision(evaluation, "MON-001")
    assert review.conditions == (
        ConditionOutcome("lifecycle", "==", "contracted", "contracted", held=True),
        ConditionOutcome("breach_severity_rank", ">=", 3, 3, held=True),
    )
    assert review.message == (
        "Critical breach of availability: 99.2 percent against target 99.95 (shortfall"
        " 0.75): review opened at once"
    )
    assert (review.rule_file, review.policy_version) == ("monitoring.yaml", policy.version)


def test_the_third_major_breach_within_30_days_fires_the_window_rule(
    policy: CompiledPolicy,
) -> None:
    """Major breaches 20 days ago (availability), 10 days ago (restore time) and now: MON-002
    names the count and its threshold.
    """
    state = contracted(policy)
    state, _ = measured(policy, state, 99.7, NOW - timedelta(days=20))
    restore = NOW - timedelta(days=10)
    state, second = measured(policy, state, 6.0, restore, "mean_time_to_restore")
    state, third = measured(policy, state, 99.7)
    assert "MON-002" not in fired(policy.evaluate(second))
    evaluation = policy.evaluate(third)
    assert fired(evaluation) == {"MON-002": Action.OPEN_REVIEW, "PEN-001": Action.ASSESS_PENALTY}
    window = decision(evaluation, "MON-002")
    assert ConditionOutcome("major_breaches_30d", ">=", 3, 3, held=True) in window.conditions
    assert window.facts["major_breaches_30d"] == 3
    assert window.message.startswith(
        "3 breaches of major or worse in 30 days (threshold 3): review opened; latest major"
        " breach of availability: 99.7 percent against target 99.95"
    )


def test_breaches_older_than_the_window_do_not_count(policy: CompiledPolicy) -> None:
    """A major breach 31 days ago is outside the 30-day window: two in it, no review."""
    state = contracted(policy)
    state, _ = measured(policy, state, 99.7, NOW - timedelta(days=31))
    state, _ = measured(policy, state, 99.7, NOW - timedelta(days=10))
    state, context = measured(policy, state, 99.7)
    (why,) = policy.why_not(context, Action.OPEN_REVIEW)[1:2]
    assert why.rule_id == "MON-002"
    assert why.conditions[0] == ConditionOutcome("major_breaches_30d", ">=", 3, 2, held=False)
    assert why.message.startswith("2 breaches of major or worse in 30 days (threshold 3). Unmet:")


def test_a_breach_inside_the_grace_period_is_not_credited(policy: CompiledPolicy) -> None:
    """Ten days into a contract with 30 grace days, a minor breach earns no credit."""
    young = contracted(policy)
    assert young.contract is not None
    start = NOW - timedelta(days=10)
    young = attrs.evolve(young, contract=attrs.evolve(young.contract, starts_at=start))
    _, context = measured(policy, young, 99.9)
    evaluation = policy.evaluate(context)
    assert fired(evaluation) == {}
    why, inspection, ticket = policy.why_not(context, Action.ASSESS_PENALTY)
    assert (why.rule_id, inspection.rule_id, ticket.rule_id) == ("PEN-001", "PEN-002", "PEN-003")
    assert why.conditions[0] == ConditionOutcome("in_grace", "==", False, True, held=False)
    assert why.message.startswith("No service credit: breach severity minor, in grace true")


def test_the_same_breach_after_the_grace_period_is_credited(policy: CompiledPolicy) -> None:
    """Out of grace, PEN-001 fires and its message reads the breach."""
    _, context = measured(policy, contracted(policy), 99.9)
    evaluation = policy.evaluate(context)
    assert fired(evaluation) == {"PEN-001": Action.ASSESS_PENALTY}
    assert decision(evaluation, "PEN-001").message == (
        "minor breach of availability outside the grace period: 99.9 percent against target"
        " 99.95 (shortfall 0.05): service credit assessed"
    )


def test_a_met_objective_fires_nothing(policy: CompiledPolicy) -> None:
    """99.97% meets 99.95%: no breach, no rule."""
    _, context = measured(policy, contracted(policy), 99.97)
    assert context.breach is None
    assert policy.evaluate(context).fired == ()


def test_three_missed_availability_periods_in_a_row_open_a_review(policy: CompiledPolicy) -> None:
    """Minor misses three months running: MON-003, whatever their severity."""
    state = contracted(policy)
    for days in (60, 30):
        state, _ = measured(policy, state, 99.93, NOW - timedelta(days=days))
    _, context = measured(policy, state, 99.93)
    evaluation = policy.evaluate(context)
    assert set(fired(evaluation)) == {"MON-003", "PEN-001"}
    assert decision(evaluation, "MON-003").message == (
        "Availability missed its target 3 periods in a row (threshold 3), latest 99.93%"
        " against 99.95%: review opened"
    )


def surveyed(state: SupplierState, scores: list[float]) -> DecisionContext:
    """The monitoring context of the last of ``scores``, one survey every 20 days up to NOW."""
    surveys = tuple(
        Observation(NOW - timedelta(days=20 * (len(scores) - 1 - i)), score)
        for i, score in enumerate(scores)
    )
    return DecisionContext(Stage.MONITORING, attrs.evolve(state, surveys=surveys), NOW, "survey")


def test_low_satisfaction_over_90_days_opens_a_review_in_chinese(policy: CompiledPolicy) -> None:
    """Three surveys averaging 70 fire MON-004, its message in Chinese and English."""
    evaluation = policy.evaluate(surveyed(contracted(policy), [72.0, 68.0, 70.0]))
    assert fired(evaluation) == {"MON-004": Action.OPEN_REVIEW}
    review = decision(evaluation, "MON-004")
    assert review.rule_title.startswith("客户满意度持续偏低启动评审")
    assert review.message.startswith("客户满意度 90 天平均 70.0，共 3 次调查，低于 75：启动评审")


def test_one_unhappy_survey_is_not_a_trend(policy: CompiledPolicy) -> None:
    """A single survey of 40 does not open a review: MON-004 asks for three."""
    evaluation = policy.evaluate(surveyed(contracted(policy), [40.0]))
    assert "MON-004" not in fired(evaluation)
    assert decision(evaluation, "MON-004").facts["surveys_90d"] == 1


def test_a_failed_inspection_opens_a_review(policy: CompiledPolicy) -> None:
    """MON-005 fires on a failed inspection and counts the failures of the last 90 days;
    PEN-002 enters its fixed penalty.
    """
    inspections = (
        Observation(NOW - timedelta(days=40), 0.0, passed=False),
        Observation(NOW, 0.0, passed=False),
    )
    state = contracted(policy, inspections=inspections)
    evaluation = policy.evaluate(DecisionContext(Stage.MONITORING, state, NOW, "inspection"))
    assert fired(evaluation) == {"MON-005": Action.OPEN_REVIEW, "PEN-002": Action.ASSESS_PENALTY}
    assert decision(evaluation, "MON-005").message == (
        "Inspection failed (2 failed in the last 90 days): review opened"
    )


def test_review_triggers_do_not_fire_for_a_supplier_already_under_review(
    policy: CompiledPolicy,
) -> None:
    """Under review, a critical breach is still credited but opens no second review."""
    state = contracted(policy, lifecycle=LifecycleState.UNDER_REVIEW)
    _, context = measured(policy, state, 99.0)
    assert fired(policy.evaluate(context)) == {"PEN-001": Action.ASSESS_PENALTY}


# --- deadlines --------------------------------------------------------------------------------


def in_remediation(policy: CompiledPolicy, plan: ImprovementPlan) -> SupplierState:
    """A supplier in remediation with ``plan``."""
    return contracted(policy, lifecycle=LifecycleState.REMEDIATION, plan=plan)


def test_an_overdue_plan_terminates(policy: CompiledPolicy) -> None:
    """A plan due a day and a half ago and not completed: DL-002 terminates."""
    plan = ImprovementPlan(NOW - timedelta(days=15.5), NOW - timedelta(days=1.5), "availability")
    evaluation = policy.evaluate(tick(in_remediation(policy, plan)))
    assert fired(evaluation) == {"DL-002": Action.TERMINATE}
    assert decision(evaluation, "DL-002").message == (
        "Improvement plan overdue by 1.5 days: contract terminated (整改计划逾期 1.5 天，终止合同)"
    )


def test_a_plan_due_in_two_days_sends_a_reminder(policy: CompiledPolicy) -> None:
    """DL-001 fires with its reminder as a decision parameter."""
    plan = ImprovementPlan(NOW - timedelta(days=12), NOW + timedelta(days=2), "availability")
    evaluation = policy.evaluate(tick(in_remediation(policy, plan)))
    assert fired(evaluation) == {"DL-001": Action.REMIND}
    reminder = decision(evaluation, "DL-001")
    assert reminder.parameters == {"reminder": "improvement_plan_due"}
    assert reminder.message == "Improvement plan due in 2.0 days"
    assert ConditionOutcome("days_until_plan_due", "<=", 3, 2.0, held=True) in reminder.conditions


def test_a_plan_due_in_ten_days_is_left_alone(policy: CompiledPolicy) -> None:
    """Neither reminder nor termination a week and a half ahead."""
    plan = ImprovementPlan(NOW - timedelta(days=4), NOW + timedelta(days=10), "availability")
    assert policy.evaluate(tick(in_remediation(policy, plan))).fired == ()


def test_thirty_clean_days_after_completion_verify_the_remediation(
    policy: CompiledPolicy,
) -> None:
    """DL-003 fires once 30 days pass without a breach of the plan's objective."""
    completed = NOW - timedelta(days=30)
    plan = ImprovementPlan(
        NOW - timedelta(days=50), NOW - timedelta(days=36), "availability",
        submitted_at=NOW - timedelta(days=45), completed_at=completed,
    )  # fmt: skip
    evaluation = policy.evaluate(tick(in_remediation(policy, plan)))
    assert fired(evaluation) == {"DL-003": Action.VERIFY_REMEDIATION}
    assert decision(evaluation, "DL-003").message == (
        "Remediation verified: 30 clean days since the plan was completed (threshold 30)"
    )


def test_a_relapse_restarts_the_clean_window(policy: CompiledPolicy) -> None:
    """A breach of the plan's objective ten days ago leaves ten clean days: not verified."""
    plan = ImprovementPlan(
        NOW - timedelta(days=50), NOW - timedelta(days=36), "availability",
        submitted_at=NOW - timedelta(days=45), completed_at=NOW - timedelta(days=30),
    )  # fmt: skip
    state, _ = measured(policy, in_remediation(policy, plan), 99.9, NOW - timedelta(days=10))
    (why,) = policy.why_not(tick(state), Action.VERIFY_REMEDIATION)
    assert why.conditions[0] == ConditionOutcome(
        "clean_days_since_plan_completed", ">=", 30, 10.0, held=False
    )
    assert why.message.startswith("Not verified yet: 10.0 clean days since completion")


def with_operating_licence_until(state: SupplierState, until: datetime) -> SupplierState:
    """``state`` with its operating licence valid only until ``until``."""
    kept = [c for c in state.certificates if c.kind != "operating_licence"]
    licence = certificate("operating_licence", until)
    return attrs.evolve(state, certificates=(*kept, licence))


def test_an_expired_required_certificate_opens_a_review_when_contracted(
    policy: CompiledPolicy,
) -> None:
    """The operating licence expired yesterday: DL-005 opens a review."""
    state = with_operating_licence_until(contracted(policy), NOW - timedelta(days=1))
    evaluation = policy.evaluate(tick(state))
    assert fired(evaluation) == {"DL-005": Action.OPEN_REVIEW}
    assert decision(evaluation, "DL-005").message == (
        "1 required certificate(s) not valid now (operating_licence): review opened"
    )


def test_an_expired_required_certificate_revokes_a_qualification(
    policy: CompiledPolicy,
) -> None:
    """Qualified but not yet contracted: DL-006 revokes the qualification instead."""
    state = with_operating_licence_until(
        contracted(policy, lifecycle=LifecycleState.QUALIFIED, contract=None),
        NOW - timedelta(days=1),
    )
    evaluation = policy.evaluate(tick(state))
    assert fired(evaluation) == {"DL-006": Action.REVOKE_QUALIFICATION}


def test_a_certificate_expiring_within_30_days_sends_a_reminder(policy: CompiledPolicy) -> None:
    """DL-004 names the certificate and the days left."""
    state = with_operating_licence_until(contracted(policy), NOW + timedelta(days=20))
    evaluation = policy.evaluate(tick(state))
    assert fired(evaluation) == {"DL-004": Action.REMIND}
    reminder = decision(evaluation, "DL-004")
    assert reminder.parameters == {"reminder": "certificate_expiry"}
    assert reminder.message.startswith("Certificate operating_licence expires in 20 days")


def test_missed_reports_and_self_checks_open_reviews(policy: CompiledPolicy) -> None:
    """40 days without a progress report and 120 without a self-check: DL-008 and DL-009."""
    state = contracted(
        policy,
        last_progress_report_at=NOW - timedelta(days=40),
        last_self_check_at=NOW - timedelta(days=120),
    )
    evaluation = policy.evaluate(tick(state))
    assert fired(evaluation) == {"DL-008": Action.OPEN_REVIEW, "DL-009": Action.OPEN_REVIEW}
    assert decision(evaluation, "DL-009").message.startswith(
        "No self-check for 120 days (limit 100): review opened"
    )


def test_a_progress_report_falling_due_sends_a_reminder(policy: CompiledPolicy) -> None:
    """28 days since the last report: DL-007 reminds, nothing is missed yet."""
    state = contracted(policy, last_progress_report_at=NOW - timedelta(days=28))
    evaluation = policy.evaluate(tick(state))
    assert fired(evaluation) == {"DL-007": Action.REMIND}
    assert decision(evaluation, "DL-007").parameters == {"reminder": "progress_report_due"}


def test_a_supplier_in_good_standing_fires_nothing_when_time_advances(
    policy: CompiledPolicy,
) -> None:
    """No plan, certificates valid for a year, reports up to date: no deadline rule fires."""
    assert policy.evaluate(tick(contracted(policy))).fired == ()


# --- why not -------------------------------------------------------------------------------


def test_why_not_qualified_lists_the_failing_conditions_first(policy: CompiledPolicy) -> None:
    """A candidate without evidence: QUAL-001's unmet conditions come before the met one."""
    candidate = SupplierState("acme", "Acme", "software")
    context = DecisionContext(Stage.QUALIFICATION, candidate, NOW)
    (why,) = policy.why_not(context, Action.QUALIFY)
    assert why.rule_id == "QUAL-001"
    assert not why.fired
    assert [(c.fact, c.held) for c in why.conditions] == [
        ("weighted_score", False),
        ("criteria_missing", False),
        ("certificates_missing", False),
        ("site_audit_passed", False),
        ("blacklisted", True),
    ]


def test_why_not_is_empty_when_the_action_was_asked_for(policy: CompiledPolicy) -> None:
    """A rule with the action that fired is not explained: PEN-001 credited the breach, and
    only PEN-002 and PEN-003 (a failed inspection's and a late ticket's fixed penalties) are
    left to say why not.
    """
    _, context = measured(policy, contracted(policy), 99.2)
    why_not = policy.why_not(context, Action.ASSESS_PENALTY)
    assert [d.rule_id for d in why_not] == ["PEN-002", "PEN-003"]


# --- facts reaching the engine --------------------------------------------------------------


@attrs.define
class RecordingEngine:
    """The real engine, recording every message it is asked to evaluate."""

    messages: list[dict[str, EngineValue]] = attrs.field(factory=list)

    def register(self, name: str, definition: Mapping[str, Any]) -> None:
        """Register through the real engine."""
        rules_engine().register(name, definition)

    def evaluate(self, name: str, message: Mapping[str, EngineValue]) -> frozenset[str]:
        """Record ``message``, then evaluate it on the real engine."""
        self.messages.append(dict(message))
        return rules_engine().evaluate(name, message)


def test_messages_hold_only_finite_numbers_and_text(policy: CompiledPolicy) -> None:
    """Monitoring and deadlines messages of every kind carry no None, NaN, bool or infinity."""
    engine = RecordingEngine()
    recorded = CompiledPolicy(load_pack(default_pack_dir()), engine)
    state = contracted(policy)
    contexts = [
        measured(policy, state, 99.2)[1],
        surveyed(state, [90.0]),
        DecisionContext(Stage.MONITORING, state, NOW, "progress_report"),
        DecisionContext(Stage.MONITORING, state, NOW, "self_check"),
        tick(state),
        tick(
            contracted(policy, lifecycle=LifecycleState.QUALIFIED, contract=None, certificates=())
        ),
    ]
    for context in contexts:
        recorded.evaluate(context)
    assert len(engine.messages) == len(contexts)
    for message in engine.messages:
        for value in message.values():
            assert isinstance(value, int | float | str)
            assert not isinstance(value, bool)
            assert not isinstance(value, float) or math.isfinite(value)


def test_absent_deadlines_and_records_take_their_documented_neutral_values(
    policy: CompiledPolicy,
) -> None:
    """No plan: 99999 days to its deadline; a progress report: no breach, best satisfaction."""
    evaluation = policy.evaluate(tick(contracted(policy)))
    assert decision(evaluation, "DL-001").facts["days_until_plan_due"] == FAR_AWAY_DAYS
    report = DecisionContext(Stage.MONITORING, contracted(policy), NOW, "progress_report")
    monitoring = policy.evaluate(report)
    assert decision(monitoring, "PEN-001").facts["breach_severity"] == "none"
    assert decision(monitoring, "MON-004").facts["satisfaction_90d"] == NO_SURVEY_SCORE


# --- the engine's limit --------------------------------------------------------------------

LIMIT_MANIFEST = "format: sqm.policy/v1\nname: limit\ntitle: At the limit\nfiles: [many.yaml]\n"


def test_a_stage_at_the_engine_limit_fires_every_rule(tmp_path: Path) -> None:
    """63 rules all firing on one message, plus the adapter's own: 64 chains, no crash."""
    count = MAX_MATCHES_PER_MESSAGE - RESERVED_CHAINS
    rules = "".join(
        f"  - id: R-{i:02}\n    stage: monitoring\n    title: Always\n"
        '    when: {all: [{fact: breach_severity_rank, op: ">=", value: 0}]}\n'
        "    then: {action: remind, reminder: progress_report_due}\n"
        "    message: always\n"
        for i in range(count)
    )
    (tmp_path / "manifest.yaml").write_text(LIMIT_MANIFEST, encoding="utf-8")
    (tmp_path / "many.yaml").write_text("format: sqm.policy/v1\nrules:\n" + rules, encoding="utf-8")
    at_limit = load_policy(tmp_path)
    state = SupplierState("acme", "Acme", "software")
    evaluation = at_limit.evaluate(DecisionContext(Stage.MONITORING, state, NOW, "self_check"))
    assert len(evaluation.fired) == count


def test_a_stage_with_more_facts_than_a_message_holds_runs_on_the_facts_its_rules_compare(
    tmp_path: Path,
) -> None:
    """300 windows besides the catalogue's facts would be far over the engine's 254 message
    properties if all were posted; one rule compares two, so the evaluation runs and fires.
    """
    windows = "".join(
        f"  - {{id: breaches_{i}d, kind: breach_count, days: {i + 1}}}\n" for i in range(300)
    )
    rule = (
        "  - id: R-WIDE\n    stage: monitoring\n    title: Wide\n"
        '    when: {all: [{fact: breaches_299d, op: ">=", value: 0},'
        ' {fact: breach_severity_rank, op: ">=", value: 0}]}\n'
        "    then: {action: remind, reminder: progress_report_due}\n    message: wide\n"
    )
    (tmp_path / "manifest.yaml").write_text(LIMIT_MANIFEST, encoding="utf-8")
    (tmp_path / "many.yaml").write_text(
        "format: sqm.policy/v1\nwindows:\n" + windows + "rules:\n" + rule, encoding="utf-8"
    )
    wide = load_policy(tmp_path)
    assert len(pack_specs(wide.pack)) > MAX_MESSAGE_PROPERTIES
    state = SupplierState("acme", "Acme", "software")
    evaluation = wide.evaluate(DecisionContext(Stage.MONITORING, state, NOW, "self_check"))
    assert [d.rule_id for d in evaluation.fired] == ["R-WIDE"]


# --- penalty rates per category and metric ------------------------------------------------

NETWORK_AVAILABILITY_RATE = """
  - id: PEN-010
    stage: monitoring
    title: Network services pay 8% for an availability breach
    when:
      all:
        - {fact: category, op: "==", value: network_services}
        - {fact: metric, op: "==", value: availability}
        - {fact: breach_severity_rank, op: ">=", value: 1}
        - {fact: in_grace, op: "==", value: false}
    then: {action: assess_penalty, amount: {percent_of_monthly_fee: 8}}
    message: "Availability breach of a network service: 8% of the monthly fee"
"""


@pytest.mark.parametrize(
    ("category", "credits"),
    [
        ("network_services", [("PEN-010", "8000.00")]),
        ("software", [("PEN-001", "5000.00")]),
    ],
)
def test_a_penalty_rule_can_set_its_own_rate_for_a_category_and_metric(
    tmp_path: Path, category: CategoryId, credits: list[tuple[str, str]]
) -> None:
    """PEN-001 leaves network services' availability to PEN-010, whose rate is 8%; other
    categories keep the schedule's 5% for a major breach.
    """
    folder = default_pack_variant(
        tmp_path / "pack",
        "penalties.yaml",
        '        - {fact: lifecycle, op: "!=", value: terminated}\n',
        '        - {fact: lifecycle, op: "!=", value: terminated}\n'
        '        - {fact: category, op: "!=", value: network_services}\n',
    )
    with (folder / "penalties.yaml").open("a", encoding="utf-8") as out:
        out.write(NETWORK_AVAILABILITY_RATE)
    variant = load_policy(folder)
    _, context = measured(variant, contracted(variant, category=category), 99.7)
    events = act_on(variant.evaluate(context), context, variant)
    entered = [
        (e.penalty.rule_id, str(e.penalty.amount.amount))
        for e in events
        if isinstance(e, PenaltyAssessed)
    ]
    assert entered == credits
