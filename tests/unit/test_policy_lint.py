"""`sqm policy lint`: every error of a broken pack, and each kind of warning, located."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqm.rules import default_pack_dir
from sqm.rules.tooling.lint import Finding, Severity, lint_pack
from tests.commands import default_pack_variant

MANIFEST = """\
format: sqm.policy/v1
name: lint-pack
title: A pack for lint tests
files:
  - qualification.yaml
"""

HEADER = """\
format: sqm.policy/v1
criteria:
  - {id: capability, weight: 60}
  - {id: price, weight: 40}
required_certificates:
  all: [business_licence]
  software: [tl_9000]
rules:
  - id: QUAL-001
    stage: qualification
    title: Qualify
    when:
      all:
        - {fact: weighted_score, op: ">=", value: 70}
        - {fact: certificates_missing, op: "==", value: 0}
    then: {action: qualify}
    message: "Qualified with {weighted_score}"
"""
# HEADER is 17 lines: a rule appended below starts on line 18, its first condition on 23.


def rule(rule_id: str, conditions: str, action: str = "disqualify", message: str = "No") -> str:
    """A rule in YAML whose 'when' is ``conditions`` (already indented under 'when:')."""
    return f"""\
  - id: {rule_id}
    stage: qualification
    title: Rule {rule_id}
    when:
{conditions}
    then: {{action: {action}}}
    message: "{message}"
"""


def write_pack(tmp_path: Path, rules: str = "", header: str = HEADER) -> Path:
    """A pack folder with the manifest and one rule file: ``header`` then ``rules``."""
    (tmp_path / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "qualification.yaml").write_text(header + rules, encoding="utf-8")
    return tmp_path


def warnings_of(pack: Path) -> list[Finding]:
    """The warnings lint finds in ``pack`` (which must load)."""
    report = lint_pack(pack)
    assert report.errors == (), report.errors
    return list(report.warnings)


def test_the_default_pack_lints_clean() -> None:
    """The shipped pack has no errors and no warnings."""
    report = lint_pack(default_pack_dir())

    assert report.findings == ()
    assert report.version is not None


def test_a_clean_pack_has_no_warnings(tmp_path: Path) -> None:
    """The header alone (one sensible rule) gives nothing to warn about."""
    assert warnings_of(write_pack(tmp_path)) == []


def test_every_error_of_an_invalid_pack_is_reported_with_its_position(tmp_path: Path) -> None:
    """A pack that does not load gives all of its errors, each at file:line:column."""
    broken = HEADER.replace("weighted_score, op", "weighted_scor, op").replace(
        "weight: 40", "weight: 30"
    )
    report = lint_pack(write_pack(tmp_path, header=broken))

    assert report.version is None
    assert [(f.line, f.severity) for f in report.errors] == [
        (2, Severity.ERROR),
        (14, Severity.ERROR),
    ]
    assert "weights must sum to exactly 100" in report.errors[0].message
    assert "unknown fact 'weighted_scor'" in report.errors[1].message
    assert report.errors[1].format("packs/x") == (
        f"packs/x/qualification.yaml:14:18: error: {report.errors[1].message}"
    )


def test_contradictory_conditions_make_a_rule_unreachable(tmp_path: Path) -> None:
    """X >= 70 and x < 40 in one 'all' group: the rule can never fire."""
    conditions = """\
      all:
        - {fact: weighted_score, op: ">=", value: 70}
        - {fact: weighted_score, op: "<", value: 40}
"""
    (found,) = warnings_of(write_pack(tmp_path, rule("QUAL-009", conditions)))

    assert (found.file, found.line, found.column) == ("qualification.yaml", 24, 11)
    assert found.message == (
        "rule QUAL-009 can never fire: weighted_score >= 70 (line 23) and"
        " weighted_score < 40 (line 24) cannot both hold"
    )


def test_a_condition_outside_the_facts_range_makes_a_rule_unreachable(tmp_path: Path) -> None:
    """A weighted score above 100 never happens; criteria_missing cannot exceed the criteria."""
    rules = rule(
        "QUAL-010", '      all:\n        - {fact: weighted_score, op: ">", value: 100}\n'
    ) + rule("QUAL-011", '      all:\n        - {fact: criteria_missing, op: ">=", value: 3}\n')
    first, second = warnings_of(write_pack(tmp_path, rules))

    assert first.message == (
        "rule QUAL-010 can never fire: weighted_score > 100 can never hold:"
        " weighted scores run from 0 to 100"
    )
    assert second.message == (
        "rule QUAL-011 can never fire: criteria_missing >= 3 can never hold:"
        " the pack has 2 criteria"
    )


def test_whole_number_facts_have_no_values_between_integers(tmp_path: Path) -> None:
    """criteria_missing > 0 and < 1 leaves no whole number: unreachable."""
    conditions = """\
      all:
        - {fact: criteria_missing, op: ">", value: 0}
        - {fact: criteria_missing, op: "<", value: 1}
"""
    (found,) = warnings_of(write_pack(tmp_path, rule("QUAL-012", conditions)))

    assert "can never fire" in found.message


def test_a_dead_alternative_of_an_any_group_is_reported(tmp_path: Path) -> None:
    """One branch of 'any' that can never hold is dead, though the rule can still fire."""
    conditions = """\
      any:
        - {fact: site_audit_failed, op: "==", value: true}
        - all:
            - {fact: category, op: "==", value: software}
            - {fact: category, op: "==", value: it_services}
"""
    (found,) = warnings_of(write_pack(tmp_path, rule("QUAL-013", conditions)))

    assert found.line == 26
    assert found.message == (
        "rule QUAL-013: category == 'software' (line 25) and category == 'it_services'"
        " (line 26) cannot both hold, so one of its alternatives never applies"
    )


def test_a_rule_implied_by_another_with_the_same_action_is_shadowed(tmp_path: Path) -> None:
    """Whenever the stricter rule holds the broader one does too: it adds nothing."""
    conditions = """\
      all:
        - {fact: weighted_score, op: ">=", value: 80}
        - {fact: certificates_missing, op: "==", value: 0}
        - {fact: site_audit_passed, op: "==", value: true}
"""
    (found,) = warnings_of(write_pack(tmp_path, rule("QUAL-014", conditions, "qualify")))

    assert (found.line, found.column) == (18, 5)
    assert found.message == (
        "rule QUAL-014 is shadowed by QUAL-001 (qualification.yaml:9): whenever QUAL-014's"
        " conditions hold, QUAL-001's hold too, and both ask to qualify; QUAL-014 adds nothing"
    )


def test_a_stricter_rule_with_another_action_is_not_shadowed(tmp_path: Path) -> None:
    """Shadowing needs the same action: a disqualify rule is never shadowed by a qualify one."""
    conditions = '      all:\n        - {fact: weighted_score, op: ">=", value: 90}\n'

    assert warnings_of(write_pack(tmp_path, rule("QUAL-015", conditions))) == []


def test_of_two_rules_with_the_same_conditions_the_later_is_reported(tmp_path: Path) -> None:
    """Equivalent rules: one warning, on the second, naming the first."""
    conditions = """\
      all:
        - {fact: certificates_missing, op: "==", value: 0}
        - {fact: weighted_score, op: ">=", value: 70.0}
"""
    (found,) = warnings_of(write_pack(tmp_path, rule("QUAL-016", conditions, "qualify")))

    assert found.message.startswith("rule QUAL-016 has the same conditions as QUAL-001")


def test_a_condition_implied_by_its_sibling_is_redundant(tmp_path: Path) -> None:
    """weighted_score >= 60 beside >= 70 adds nothing: reported where it is written."""
    header = HEADER.replace(
        '        - {fact: certificates_missing, op: "==", value: 0}\n',
        '        - {fact: certificates_missing, op: "==", value: 0}\n'
        '        - {fact: weighted_score, op: ">=", value: 60}\n',
    )
    (found,) = warnings_of(write_pack(tmp_path, header=header))

    assert (found.line, found.column) == (16, 11)
    assert found.message == (
        "rule QUAL-001: weighted_score >= 60 is implied by weighted_score >= 70 (line 14);"
        " it can be removed"
    )


def test_a_condition_that_always_holds_is_reported(tmp_path: Path) -> None:
    """criteria_missing >= 0 holds for every supplier."""
    header = HEADER.replace(
        '        - {fact: certificates_missing, op: "==", value: 0}\n',
        '        - {fact: certificates_missing, op: "==", value: 0}\n'
        '        - {fact: criteria_missing, op: ">=", value: 0}\n',
    )
    (found,) = warnings_of(write_pack(tmp_path, header=header))

    assert found.message == (
        "rule QUAL-001: criteria_missing >= 0 always holds (the pack has 2 criteria);"
        " it can be removed"
    )


def test_a_pack_where_nothing_can_qualify_is_reported_at_the_manifest(tmp_path: Path) -> None:
    """Qualification rules none of which qualifies: no candidate can ever be qualified."""
    header = HEADER.replace("then: {action: qualify}", "then: {action: disqualify}")
    (found,) = warnings_of(write_pack(tmp_path, header=header))

    assert (found.file, found.line) == ("manifest.yaml", 4)
    assert "no candidate can ever become qualified" in found.message


def test_a_category_repeating_a_common_certificate_is_reported(tmp_path: Path) -> None:
    """software: [business_licence] repeats what 'all' already requires."""
    header = HEADER.replace("software: [tl_9000]", "software: [tl_9000, business_licence]")
    (found,) = warnings_of(write_pack(tmp_path, header=header))

    assert (found.line, found.column) == (7, 23)
    assert found.message == (
        "required_certificates.software: business_licence is already required of every"
        " category ('all')"
    )


def test_a_message_quoting_an_old_threshold_is_reported(tmp_path: Path) -> None:
    """The threshold moved to 75 but the message still says '>= 70'."""
    header = HEADER.replace("value: 70}", "value: 75}").replace(
        '"Qualified with {weighted_score}"', '"Qualified: {weighted_score} >= 70"'
    )
    (found,) = warnings_of(write_pack(tmp_path, header=header))

    assert (found.line, found.column) == (17, 14)
    assert found.message == (
        "rule QUAL-001: its message says '>= 70' but no condition of the rule compares with"
        " 70 (its thresholds: weighted_score >= 75, certificates_missing == 0); update the"
        " text, or write the fact as a placeholder"
    )


@pytest.mark.parametrize(
    "message",
    [
        "Qualified: {weighted_score} >= 70",
        "Holds ISO 9001 and TL 9000; score at least 70",
        "Reviewed over 90 days: needs 70",
        "资格审查通过：加权得分不低于70",
    ],
)
def test_numbers_that_match_a_threshold_or_name_a_standard_are_not_reported(
    tmp_path: Path, message: str
) -> None:
    """Standards' numbers and the rule's own thresholds are fine in a message."""
    header = HEADER.replace('"Qualified with {weighted_score}"', f'"{message}"')

    assert warnings_of(write_pack(tmp_path, header=header)) == []


def test_findings_format_as_file_line_column_severity_message() -> None:
    """The one output format editors and CI understand; whole-file findings drop line:col."""
    located = Finding("q.yaml", 3, 7, Severity.WARNING, "hm")
    whole = Finding("q.yaml", 0, 0, Severity.ERROR, "missing")

    assert located.format() == "q.yaml:3:7: warning: hm"
    assert located.format("packs/p/") == "packs/p/q.yaml:3:7: warning: hm"
    assert whole.format("p") == "p/q.yaml: error: missing"


# --- penalty rules that charge twice for one record ----------------------------------------

FIXED_FOR_CRITICAL_AVAILABILITY = """\
  - id: PEN-009
    stage: monitoring
    title: A critical availability breach costs a fixed 50000.00
    when:
      all:
        - {fact: metric, op: "==", value: availability}
        - {fact: breach_severity_rank, op: ">=", value: 3}
    then: {action: assess_penalty, amount: {fixed: "50000.00"}}
    message: "Critical availability breach: fixed penalty of 50000.00"

"""
FAILED_INSPECTION_IN_REMEDIATION = """\
  - id: PEN-009
    stage: monitoring
    title: A failed inspection during remediation costs a fixed 5000.00
    when:
      all:
        - {fact: lifecycle, op: "==", value: remediation}
        - {fact: record_kind, op: "==", value: inspection}
        - {fact: inspection_passed, op: "==", value: false}
    then: {action: assess_penalty, amount: {fixed: "5000.00"}}
    message: "Inspection failed during remediation: fixed penalty of 5000.00"

"""
LOW_SATISFACTION = """\
  - id: PEN-009
    stage: monitoring
    title: A satisfaction survey under 60 costs a fixed 1000.00
    when:
      all:
        - {fact: record_kind, op: "==", value: survey}
        - {fact: satisfaction_score, op: "<", value: 60}
    then: {action: assess_penalty, amount: {fixed: "1000.00"}}
    message: "Satisfaction {satisfaction_score}: fixed penalty of 1000.00"

"""
SCHEDULE_FOR_CRITICAL_BREACHES = """\
  - id: PEN-009
    stage: monitoring
    title: A critical breach earns a service credit
    when:
      all:
        - {fact: breach_severity_rank, op: ">=", value: 3}
        - {fact: in_grace, op: "==", value: false}
        - {fact: lifecycle, op: "!=", value: terminated}
    then: {action: assess_penalty}
    message: "Critical breach of {objective}: service credit assessed"

"""
PEN_002 = "  - id: PEN-002\n"


def with_penalty_rule(tmp_path: Path, rule_yaml: str) -> Path:
    """The default pack with ``rule_yaml`` written before PEN-002 in penalties.yaml."""
    return default_pack_variant(tmp_path / "pack", "penalties.yaml", PEN_002, rule_yaml + PEN_002)


def test_a_fixed_fine_for_a_breach_beside_the_credit_schedule_is_a_double_charge(
    tmp_path: Path,
) -> None:
    """PEN-001 credits every breach outside grace: a fine stated for critical availability
    breaches fires on the same measurement, and the supplier pays twice for one breach.
    """
    (found,) = warnings_of(with_penalty_rule(tmp_path, FIXED_FOR_CRITICAL_AVAILABILITY))

    assert (found.file, found.line, found.column) == ("penalties.yaml", 50, 5)
    assert found.message == (
        "rule PEN-009 and PEN-001 (penalties.yaml:33) can both fire on the same measurement"
        " record, and each assesses a penalty: the supplier is charged twice for it. If that"
        " is not meant, add a condition that keeps one of them off the other's records"
    )


def test_a_second_fine_for_a_failed_inspection_is_a_double_charge(tmp_path: Path) -> None:
    """PEN-002 fines every failed inspection, in remediation too: the warning is on the
    later of the two (PEN-002, now after PEN-009) and names the other.
    """
    (found,) = warnings_of(with_penalty_rule(tmp_path, FAILED_INSPECTION_IN_REMEDIATION))

    assert found.line == 61
    assert found.message.startswith(
        "rule PEN-002 and PEN-009 (penalties.yaml:50) can both fire on the same inspection record"
    )


def test_penalty_rules_on_different_records_do_not_overlap(tmp_path: Path) -> None:
    """A survey is neither a measurement (PEN-001), an inspection (PEN-002) nor a ticket."""
    assert warnings_of(with_penalty_rule(tmp_path, LOW_SATISFACTION)) == []


def test_penalty_rules_for_different_lifecycle_states_do_not_overlap(tmp_path: Path) -> None:
    """Once PEN-002 fines only contracted suppliers, a fine for remediation is another case."""
    pack = with_penalty_rule(tmp_path, FAILED_INSPECTION_IN_REMEDIATION)
    penalties = pack / "penalties.yaml"
    text = penalties.read_text(encoding="utf-8")
    inspection = '        - {fact: record_kind, op: "==", value: inspection}\n'
    contracted = '        - {fact: lifecycle, op: "==", value: contracted}\n'
    last = text.rindex(inspection)  # PEN-002's, after PEN-009's
    penalties.write_text(text[:last] + contracted + text[last:], encoding="utf-8")

    assert warnings_of(pack) == []


def test_a_stricter_schedule_rule_is_reported_as_charging_twice_not_as_adding_nothing(
    tmp_path: Path,
) -> None:
    """Whenever PEN-009 holds PEN-001 does too; a shadowed penalty rule does not add nothing,
    it credits the same breach a second time.
    """
    (found,) = warnings_of(with_penalty_rule(tmp_path, SCHEDULE_FOR_CRITICAL_BREACHES))

    assert "charged twice" in found.message
    assert "adds nothing" not in found.message


RATE_FOR_NETWORK_AVAILABILITY = """\
  - id: PEN-010
    stage: monitoring
    title: An availability breach of network services costs 12%
    when:
      all:
        - {fact: category, op: "==", value: network_services}
        - {fact: metric, op: "==", value: availability}
        - {fact: breach_severity_rank, op: ">=", value: 1}
        - {fact: in_grace, op: "==", value: false}
        - {fact: lifecycle, op: "!=", value: terminated}
    then: {action: assess_penalty, amount: {percent_of_monthly_fee: 12}}
    message: "Availability breach of network services: 12% of the monthly fee"

"""
PEN_001_FOR_EVERY_BREACH = """\
        - {fact: lifecycle, op: "!=", value: terminated}
    then: {action: assess_penalty}
"""
PEN_001_BUT_NETWORK_AVAILABILITY = """\
        - {fact: lifecycle, op: "!=", value: terminated}
        - any:
            - {fact: category, op: "!=", value: network_services}
            - {fact: metric, op: "!=", value: availability}
    then: {action: assess_penalty}
"""


def test_the_guide_s_rate_by_category_warns_until_pen_001_leaves_those_breaches(
    tmp_path: Path,
) -> None:
    """The policy guide's recipe (docs/policy-guide.md, rates-by-category): its first edit
    alone credits a network availability breach twice; its second edit clears the warning.
    """
    pack = with_penalty_rule(tmp_path, RATE_FOR_NETWORK_AVAILABILITY)
    (found,) = warnings_of(pack)
    assert found.message.startswith("rule PEN-010 and PEN-001 (penalties.yaml:33)")

    penalties = pack / "penalties.yaml"
    text = penalties.read_text(encoding="utf-8")
    assert PEN_001_FOR_EVERY_BREACH in text
    edited = text.replace(PEN_001_FOR_EVERY_BREACH, PEN_001_BUT_NETWORK_AVAILABILITY, 1)
    penalties.write_text(edited, encoding="utf-8")

    assert warnings_of(pack) == []
