"""No silent rules: a rule that matches where its action cannot apply is found by lint, is
recorded at run time with why it had no effect, and is explained against the state it saw.

Both cases are default-pack variants a policy team could write in good faith: "a critical
availability breach of a network-services supplier terminates at once" (terminate cannot
apply to a contracted supplier: only a review can end in termination) and "a failed
inspection costs a service credit" (a credit is for a breach, which only a measurement
brings).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqm.domain.decide import decide
from sqm.domain.events import DecisionRecorded, Event
from sqm.domain.evolve import fold
from sqm.domain.model import LifecycleState, Stage, SupplierState
from sqm.rules import CompiledPolicy, load_pack
from sqm.rules.tooling.explain_report import evaluate_at, format_recorded, replay_events
from sqm.rules.tooling.lint import Severity, lint_pack
from sqm.rules.tooling.testfile import Case, parse_case_file
from sqm.server.app.policy_tests import run_case
from tests.commands import default_pack_variant

RULES_START = "rules:\n  - id: MON-001\n"

TERMINATE_AT_ONCE = """\
rules:
  - id: MON-006
    stage: monitoring
    title: A critical availability breach of a network-services supplier terminates at once
    when:
      all:
        - {fact: lifecycle, op: "==", value: contracted}
        - {fact: category, op: "==", value: network_services}
        - {fact: metric, op: "==", value: availability}
        - {fact: breach_severity_rank, op: ">=", value: 3}
    then: {action: terminate}
    message: "Critical availability breach: {value}% against {target}%: terminated"

  - id: MON-001
"""

CREDIT_FOR_INSPECTION = """\
rules:
  - id: MON-007
    stage: monitoring
    title: A failed inspection costs a service credit
    when:
      all:
        - {fact: lifecycle, op: "==", value: contracted}
        - {fact: record_kind, op: "==", value: inspection}
        - {fact: inspection_passed, op: "==", value: false}
    then: {action: assess_penalty}
    message: "Inspection failed: service credit assessed"

  - id: MON-001
"""

TERMINATE_ANYWHERE = """\
rules:
  - id: MON-008
    stage: monitoring
    title: A critical breach under review fails the review
    when:
      all:
        - {fact: breach_severity_rank, op: ">=", value: 3}
    then: {action: terminate}
    message: "Critical breach: terminated"

  - id: MON-001
"""

START = """\
      - type: RegisterSupplier
        name: 中国电信网络服务
        category: network_services
        occurred_at: 2026-01-05T09:00:00Z
      - type: SubmitQualificationEvidence
        occurred_at: 2026-01-05T10:00:00Z
        scores: {capability: 85, price: 78, delivery_lead_time: 80, quality_management: 90,
                 past_performance: 75}
        site_audit_passed: true
        certificates:
          - {kind: business_licence, number: BL-1, issuer: SAMR,
             valid_from: 2025-01-01T00:00:00Z, valid_until: 2029-01-01T00:00:00Z}
          - {kind: iso_9001, number: ISO-1, issuer: BSI,
             valid_from: 2025-01-01T00:00:00Z, valid_until: 2029-01-01T00:00:00Z}
          - {kind: operating_licence, number: OL-1, issuer: MIIT,
             valid_from: 2025-01-01T00:00:00Z, valid_until: 2029-01-01T00:00:00Z}
      - type: SignContract
        contract_id: CT-1
        occurred_at: 2026-01-06T09:00:00Z
        monthly_fee: {amount: "100000.00", currency: CNY}
        liability_limit: {amount: "1000000.00", currency: CNY}
"""
"""A network-services supplier registered, qualified and contracted (default objectives)."""

CASES = """\
format: sqm.policy-test/v1
cases:
  - name: a critical availability breach
    supplier: ns-1
    commands:
      - *start
      - type: RecordMeasurement
        objective_id: availability
        value: 99.0
        unit: percent
        period_start: 2026-02-01T00:00:00Z
        period_end: 2026-03-01T00:00:00Z
        occurred_at: 2026-03-01T12:00:00Z
    expect:
      fired: [MON-006]
  - name: a failed inspection
    supplier: ns-2
    commands:
      - *start
      - type: RecordInspection
        passed: false
        findings: cabinet doors left open
        occurred_at: 2026-03-01T12:00:00Z
    expect:
      fired: [MON-007]
"""


def variant(tmp_path: Path, new_rules: str) -> Path:
    """The default pack with ``new_rules`` placed before MON-001."""
    return default_pack_variant(tmp_path / "pack", "monitoring.yaml", RULES_START, new_rules)


def case_named(name: str) -> Case:
    """The case called ``name`` of CASES, each starting with START."""
    # YAML aliases cannot splice a list into a list: the start is written out in each case.
    parsed = parse_case_file(CASES.replace("      - *start\n", START), "cases.yaml")
    assert parsed.problems == ()
    return next(c for c in parsed.cases if c.name == name)


def history(policy: CompiledPolicy, name: str) -> list[Event]:
    """Every event the case ``name`` records under ``policy``, decided by the domain."""
    events: list[Event] = []
    state: SupplierState | None = None
    for step in case_named(name).steps:
        new = decide(step.item, state, policy)
        events.extend(new)
        state = fold(new, state)
    return events


def no_effect(events: list[Event]) -> dict[str, str]:
    """Rule id -> why its decision had no effect."""
    return {
        e.decision.rule_id: e.no_effect
        for e in events
        if isinstance(e, DecisionRecorded) and e.no_effect
    }


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            TERMINATE_AT_ONCE,
            "rule MON-006 can never take effect: terminate applies only in under_review,"
            " remediation, and the rule fires only in contracted",
        ),
        (
            CREDIT_FOR_INSPECTION,
            "rule MON-007 can never take effect: assess_penalty needs a breach (a measurement)"
            " or an amount stated in the rule, and the rule fires only on inspection records",
        ),
    ],
    ids=["terminate-contracted", "credit-for-inspection"],
)
def test_lint_reports_a_rule_that_can_never_take_effect_as_an_error(
    tmp_path: Path, rules: str, message: str
) -> None:
    """The pack loads, but lint fails: the rule would match and do nothing, ever."""
    report = lint_pack(variant(tmp_path, rules))
    assert report.version is not None
    assert [(f.file, f.severity, f.message) for f in report.errors] == [
        ("monitoring.yaml", Severity.ERROR, message)
    ]


def test_lint_warns_of_a_rule_that_can_fire_where_its_action_cannot_apply(
    tmp_path: Path,
) -> None:
    """Terminate on any critical breach acts under review and in remediation, not contracted."""
    report = lint_pack(variant(tmp_path, TERMINATE_ANYWHERE))
    assert report.errors == ()
    assert [f.message for f in report.warnings] == [
        "rule MON-008 can fire in contracted, where terminate cannot apply (it applies in"
        " under_review, remediation); there it will only be recorded as having no effect"
        " (add a lifecycle or record_kind condition)"
    ]


def test_the_default_pack_has_no_silent_rule() -> None:
    """Every default rule acts wherever it can fire."""
    from sqm.rules import default_pack_dir  # noqa: PLC0415 - only this test needs it

    report = lint_pack(default_pack_dir())
    assert report.findings == ()


def test_a_termination_that_cannot_apply_is_recorded_with_why(tmp_path: Path) -> None:
    """MON-006 matched: its decision is kept, saying terminate cannot apply to a contracted
    supplier; MON-001 opened the review as usual.
    """
    policy = CompiledPolicy(load_pack(variant(tmp_path, TERMINATE_AT_ONCE)))
    events = history(policy, "a critical availability breach")
    assert no_effect(events) == {"MON-006": "no effect: terminate cannot apply in contracted"}
    assert fold(events, None).lifecycle is LifecycleState.UNDER_REVIEW  # type: ignore[union-attr]


def test_a_credit_for_an_inspection_is_recorded_with_why(tmp_path: Path) -> None:
    """MON-007 matched a failed inspection, which brings no breach to credit."""
    policy = CompiledPolicy(load_pack(variant(tmp_path, CREDIT_FOR_INSPECTION)))
    events = history(policy, "a failed inspection")
    assert no_effect(events) == {
        "MON-007": "no effect: assess_penalty needs a breach, and the inspection brought none"
    }
    recorded = replay_events(events).recorded
    assert "    no effect: assess_penalty needs a breach, and the inspection brought none" in (
        format_recorded(recorded)
    )


def test_the_pack_test_runner_says_why_an_expected_rule_did_nothing(tmp_path: Path) -> None:
    """Not "was never explained": the runner names the no-effect reason."""
    policy = CompiledPolicy(load_pack(variant(tmp_path, TERMINATE_AT_ONCE)))
    result = run_case(policy, case_named("a critical availability breach"))
    assert "MON-006" not in result.fired
    assert {"MON-001", "PEN-001"} <= set(result.fired)
    assert result.failures[-1] == (
        "           MON-006 matched but had no effect: terminate cannot apply in contracted"
    )


def test_explain_judges_the_record_against_the_state_the_rules_saw(tmp_path: Path) -> None:
    """At the breach's time the supplier was contracted when judged: MON-006 fired there
    (the review MON-001 opened came after), so explain does not blame the lifecycle.
    """
    policy = CompiledPolicy(load_pack(variant(tmp_path, TERMINATE_AT_ONCE)))
    replayed = replay_events(history(policy, "a critical availability breach"))
    assert replayed.state is not None
    assert replayed.state.lifecycle is LifecycleState.UNDER_REVIEW
    assert replayed.judged is not None
    assert replayed.judged.lifecycle is LifecycleState.CONTRACTED
    assert replayed.at is not None
    evaluation = evaluate_at(policy, replayed.judged, replayed.at, Stage.MONITORING)
    assert {d.rule_id for d in evaluation.fired} >= {"MON-001", "MON-006", "PEN-001"}


def test_explain_later_than_the_latest_decisions_uses_the_state_as_it_is(
    tmp_path: Path,
) -> None:
    """Asked about a later moment, nothing is being judged again: the state is current."""
    policy = CompiledPolicy(load_pack(variant(tmp_path, TERMINATE_AT_ONCE)))
    events = history(policy, "a critical availability breach")
    later = events[-1].occurred_at.replace(hour=13)
    replayed = replay_events(events, later)
    assert replayed.seen is None
    assert replayed.judged is replayed.state
