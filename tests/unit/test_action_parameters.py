"""Actions with parameters in a rule file: escalate and notify name a role and may carry a
message; assess_penalty may state its amount. Each is checked at load, at its line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqm.domain.model import Action, Decision
from sqm.rules.tooling.explain_report import format_decision
from sqm.rules.tooling.reach import silences
from tests.unit.test_rules_pack_kinds import (
    MONITORING,
    errors_of,
    line_of,
    load,
    only_error,
    replaced,
)

WINDOW_RULE = "then: {action: open_review}"


def monitoring_then(then: str) -> str:
    """The test pack's monitoring file with MON-1 asking for ``then``."""
    return replaced(MONITORING, WINDOW_RULE, f"then: {then}")


def test_escalate_carries_its_role_and_message(tmp_path: Path) -> None:
    """``to`` and ``message`` are kept with the rule, in the order the language lists them."""
    then = '{action: escalate, to: procurement_director, message: "{major_breaches_30d} in 30d"}'
    rule = load(tmp_path, monitoring=monitoring_then(then)).rules[0]
    assert (rule.action, rule.parameters) == (
        Action.ESCALATE,
        (("to", "procurement_director"), ("message", "{major_breaches_30d} in 30d")),
    )
    assert "major_breaches_30d" in rule.fact_names


def test_notify_without_a_message_uses_none(tmp_path: Path) -> None:
    """The message is optional: without one the rule's own message is sent."""
    rule = load(tmp_path, monitoring=monitoring_then("{action: notify, to: supplier}")).rules[0]
    assert rule.parameters == (("to", "supplier"),)


def test_escalate_without_a_role_is_refused_at_its_line(tmp_path: Path) -> None:
    """Whom to escalate to is required."""
    monitoring = monitoring_then("{action: escalate}")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert error.line == line_of(monitoring, "{action: escalate}")
    assert "action 'escalate' needs 'to': a role name" in error.message


def test_a_role_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    """A role is a name other systems can route on, not a sentence."""
    monitoring = monitoring_then('{action: notify, to: "the NOC lead"}')
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert "expected a role name of letters, digits" in error.message
    assert "got 'the NOC lead'" in error.message


def test_a_message_naming_an_unknown_fact_is_refused(tmp_path: Path) -> None:
    """The message is a template like the rule's: its placeholders must be facts."""
    monitoring = monitoring_then('{action: escalate, to: director, message: "{breach_kount}"}')
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert "breach_kount" in error.message
    assert error.line == line_of(monitoring, "breach_kount")


def test_escalate_at_the_deadline_check_is_refused(tmp_path: Path) -> None:
    """On the deadline check an escalation would repeat at every tick."""
    monitoring = replaced(
        MONITORING,
        "{action: remind, reminder: improvement_plan_due}",
        "{action: escalate, to: director}",
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert "action 'escalate' is not allowed at stage 'deadlines'" in error.message
    assert "corrective_actions_overdue_unescalated" in error.message


def test_escalate_at_the_deadline_check_is_allowed_on_a_fact_counted_once(tmp_path: Path) -> None:
    """An escalation on the not-yet-escalated overdue actions marks them: it does not repeat."""
    monitoring = replaced(
        replaced(
            MONITORING,
            '{fact: days_until_plan_due, op: "<=", value: 3}',
            '{fact: corrective_actions_overdue_unescalated, op: ">=", value: 1}',
        ),
        "{action: remind, reminder: improvement_plan_due}",
        "{action: escalate, to: quality_director}",
    ).replace("{days_until_plan_due:.1f}", "{corrective_actions_overdue_unescalated}")
    (rule,) = [r for r in load(tmp_path, monitoring=monitoring).rules if r.id == "DL-1"]
    assert rule.action is Action.ESCALATE


def test_escalate_at_the_deadline_check_needs_the_fact_directly_under_all(tmp_path: Path) -> None:
    """Under an ``any``, the fact does not make every firing one an escalation of new cases."""
    monitoring = replaced(
        replaced(
            MONITORING,
            '      all:\n        - {fact: days_until_plan_due, op: "<=", value: 3}',
            '      any:\n        - {fact: corrective_actions_overdue_unescalated, op: ">=",'
            ' value: 1}\n        - {fact: days_until_plan_due, op: "<=", value: 3}',
        ),
        "{action: remind, reminder: improvement_plan_due}",
        "{action: escalate, to: quality_director}",
    )
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert "action 'escalate' is not allowed at stage 'deadlines'" in error.message


@pytest.mark.parametrize(
    ("amount", "parameter"),
    [
        ('{fixed: "5000.00"}', ("amount.fixed", "5000.00")),
        ('{fixed: "5000.00 CNY"}', ("amount.fixed", "5000.00 CNY")),
        ("{fixed: 800}", ("amount.fixed", "800")),
        ("{percent_of_monthly_fee: 2.5}", ("amount.percent_of_monthly_fee", "2.5")),
        ('{percent_of_monthly_fee: "0.1"}', ("amount.percent_of_monthly_fee", "0.1")),
    ],
)
def test_a_penalty_amount_is_kept_as_exact_decimal_text(
    tmp_path: Path, amount: str, parameter: tuple[str, str]
) -> None:
    """A fixed amount or a percentage of the fee, never a float."""
    monitoring = monitoring_then(f"{{action: assess_penalty, amount: {amount}}}")
    assert load(tmp_path, monitoring=monitoring).rules[0].parameters == (parameter,)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ('{fixed: "50.001"}', "at most two decimal places"),
        ('{fixed: "0.00"}', "above 0"),
        ('{fixed: "5000 yuan"}', "above 0"),
        ("{percent_of_monthly_fee: 0}", "a percentage above 0 and at most 100"),
        ("{percent_of_monthly_fee: 150}", "a percentage above 0 and at most 100"),
        ('{percent_of_monthly_fee: "lots"}', "a percentage above 0 and at most 100"),
    ],
)
def test_a_wrong_penalty_amount_is_refused_at_its_line(
    tmp_path: Path, amount: str, expected: str
) -> None:
    """Each wrong amount is located and says what an amount looks like."""
    monitoring = monitoring_then(f"{{action: assess_penalty, amount: {amount}}}")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert expected in error.message
    assert error.line == line_of(monitoring, "amount:")


def test_an_amount_with_two_bases_is_refused(tmp_path: Path) -> None:
    """Fixed or a percentage: not both."""
    then = '{action: assess_penalty, amount: {fixed: "10.00", percent_of_monthly_fee: 1}}'
    errors = errors_of(tmp_path, monitoring=monitoring_then(then))
    assert any("amount" in e.message for e in errors), [str(e) for e in errors]


def test_an_amount_on_another_action_is_refused(tmp_path: Path) -> None:
    """Only assess_penalty takes an amount."""
    monitoring = monitoring_then('{action: open_review, amount: {fixed: "10.00"}}')
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert "action 'open_review' has no parameter 'amount'; it takes none" in error.message


DEADLINE_REMIND = "{action: remind, reminder: improvement_plan_due}"


def test_a_penalty_on_the_deadline_check_must_state_its_amount(tmp_path: Path) -> None:
    """The schedule credits a breach, which a tick never brings: a located error says so."""
    monitoring = replaced(MONITORING, DEADLINE_REMIND, "{action: assess_penalty}")
    error = only_error(errors_of(tmp_path, monitoring=monitoring))
    assert "at stage 'deadlines' assess_penalty needs 'amount'" in error.message
    stated = replaced(MONITORING, DEADLINE_REMIND, '{action: assess_penalty, amount: {fixed: "9"}}')
    assert load(tmp_path / "ok", monitoring=stated).rules[1].parameters == (("amount.fixed", "9"),)


FAILED_INSPECTION = """\
  - id: PEN-9
    stage: monitoring
    title: A failed inspection costs a fixed amount
    when:
      all:
        - {fact: lifecycle, op: "==", value: contracted}
        - {fact: record_kind, op: "==", value: inspection}
        - {fact: inspection_passed, op: "==", value: false}
    then: THEN
    message: "Inspection failed"
"""


@pytest.mark.parametrize(
    ("then", "silent"),
    [
        ("{action: assess_penalty}", True),
        ('{action: assess_penalty, amount: {fixed: "800"}}', False),
    ],
)
def test_lint_finds_a_penalty_for_an_inspection_silent_only_without_an_amount(
    tmp_path: Path, then: str, silent: bool
) -> None:
    """By the schedule a credit needs a breach; with its amount stated an inspection will do."""
    rule = FAILED_INSPECTION.replace("THEN", then)
    pack = load(tmp_path, monitoring=MONITORING.replace("rules:\n", "rules:\n" + rule))
    found = [s.rule.id for s in silences(pack) if s.rule.id == "PEN-9"]
    assert found == (["PEN-9"] if silent else [])


def test_explain_shows_a_decisions_parameters_under_its_rule() -> None:
    """A fired escalation says whom it told and what, under the rule's line."""
    escalation = Decision(
        "MON-011", "escalate", "monitoring.yaml", 132, "v1", Action.ESCALATE, True,
        "escalated", parameters={"to": "procurement_director", "message": "2 in 30 days"},
    )  # fmt: skip
    lines = format_decision(escalation)
    assert lines[1] == "    then: to 'procurement_director', message '2 in 30 days'"
