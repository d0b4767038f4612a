"""`sqm policy test`: test files beside the rules, run through the real application path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqm.domain.commands import COMMAND_TYPES
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.loader import read_pack_files
from sqm.rules.tooling.testfile import parse_case_file
from sqm.server.app.policy_tests import coverage_line, report, run_pack_tests
from tests.policy_fixtures import write_pack

REGISTER = """\
      - type: RegisterSupplier
        name: 华为网络设备有限公司
        category: network_equipment
        occurred_at: 2026-03-02T09:00:00+08:00
"""
QUALIFYING_EVIDENCE = """\
      - type: SubmitQualificationEvidence
        occurred_at: 2026-03-02T10:00:00+08:00
        scores: {capability: 85, price: 78, delivery_lead_time: 80, quality_management: 90,
                 past_performance: 75}
        site_audit_passed: true
        certificates:
          - {kind: business_licence, number: BL-1, issuer: SAMR,
             valid_from: 2025-01-01T00:00:00Z, valid_until: 2028-01-01T00:00:00Z}
          - {kind: iso_9001, number: Q-1, issuer: BSI,
             valid_from: 2025-01-01T00:00:00Z, valid_until: 2028-01-01T00:00:00Z}
          - {kind: tl_9000, number: TL-1, issuer: QuEST Forum,
             valid_from: 2025-01-01T00:00:00Z, valid_until: 2028-01-01T00:00:00Z}
"""
FAILED_AUDIT = """\
      - type: SubmitQualificationEvidence
        occurred_at: 2026-03-03T10:00:00Z
        site_audit_passed: false
"""


def case(name: str, commands: str, expect: str) -> str:
    """One test case in YAML, for supplier ``huawei-nx``."""
    head = f"  - name: {name}\n    supplier: huawei-nx\n    commands:\n"
    return f"{head}{commands}    expect: {expect}\n"


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """The qualification pack of the policy-tooling tests, with an empty tests folder."""
    folder = write_pack(tmp_path / "pack")
    (folder / "tests").mkdir()
    return folder


def write_tests(pack: Path, *cases: str, name: str = "qualification.yaml") -> Path:
    """A test file in the pack's tests folder holding ``cases``."""
    path = pack / "tests" / name
    path.write_text("format: sqm.policy-test/v1\ncases:\n" + "".join(cases), encoding="utf-8")
    return path


def test_a_case_whose_expectations_hold_passes(pack: Path) -> None:
    """Register and submit qualifying evidence: qualified by QUAL-001, as expected."""
    write_tests(
        pack,
        case(
            "qualifies",
            REGISTER + QUALIFYING_EVIDENCE,
            "{state: qualified, fired: [QUAL-001], not_fired: [QUAL-002, QUAL-003]}",
        ),
    )

    run = run_pack_tests(pack)

    assert run.ok
    assert [(r.case.name, r.passed, r.fired) for r in run.results] == [
        ("qualifies", True, ("QUAL-001",))
    ]


def test_a_failing_case_shows_expected_against_actual_and_why_not(pack: Path) -> None:
    """Expecting qualification after a failed audit: a readable diff and QUAL-001's why-not."""
    write_tests(
        pack,
        case("wrongly hopeful", REGISTER + FAILED_AUDIT, "{state: qualified, fired: [QUAL-001]}"),
    )

    run = run_pack_tests(pack)
    (result,) = run.results

    assert not run.ok
    assert result.failures[:5] == (
        "state      expected qualified",
        "           actual   terminated",
        "fired      expected QUAL-001 (at least)",
        "           actual   QUAL-002",
        "           QUAL-001 was never explained (other rules fired, or it was not asked)",
    )
    lines = report(run)
    assert f"  FAIL  wrongly hopeful  ({pack / 'tests' / 'qualification.yaml'}:3)" in lines
    assert "1 case: 0 passed, 1 failed" in lines


def test_a_rule_that_fired_but_should_not_have_is_shown_with_its_message(pack: Path) -> None:
    """not_fired: QUAL-002 fired, and its message says why."""
    write_tests(pack, case("audit ignored", REGISTER + FAILED_AUDIT, "{not_fired: [QUAL-002]}"))

    (result,) = run_pack_tests(pack).results

    assert result.failures == (
        "not fired  expected QUAL-002",
        "           actual   QUAL-002",
        "           QUAL-002 fired: Disqualified: the site audit failed",
    )


def test_a_rule_that_did_not_fire_is_explained(pack: Path) -> None:
    """Partial evidence: QUAL-001 expected, and its recorded why-not message is shown."""
    partial = (
        "      - type: SubmitQualificationEvidence\n"
        "        occurred_at: 2026-03-03T09:00:00Z\n"
        "        scores: {capability: 90}\n"
    )
    write_tests(pack, case("too early", REGISTER + partial, "{fired: [QUAL-001]}"))

    (result,) = run_pack_tests(pack).results

    assert result.failures[2].startswith("           QUAL-001 did not fire: Not qualified yet")


def test_an_expected_refusal_passes_and_an_unexpected_one_fails(pack: Path) -> None:
    """expect_error matches the error's reason; a refusal nobody expected fails the case."""
    again = FAILED_AUDIT.replace("2026-03-03", "2026-03-04")
    write_tests(
        pack,
        case(
            "refusal expected",
            REGISTER + FAILED_AUDIT + again + "        expect_error: ILLEGAL_TRANSITION\n",
            "{state: terminated}",
        ),
        case("refusal unexpected", REGISTER + FAILED_AUDIT + again, "{state: terminated}"),
    )

    expected, unexpected = run_pack_tests(pack).results

    assert expected.passed
    assert unexpected.failures[0].startswith("command 3 (SubmitQualificationEvidence, line ")
    assert "was refused: ILLEGAL_TRANSITION" in unexpected.failures[0]


def test_no_test_cases_is_a_failed_run(pack: Path) -> None:
    """An empty tests folder is not a pass: the run is not ok and says where it looked."""
    run = run_pack_tests(pack)

    assert not run.ok
    assert report(run)[-2] == "no test cases found (looked in tests/*.yaml)"


def test_coverage_names_the_rules_no_case_fired(pack: Path) -> None:
    """Only QUAL-002 fires: QUAL-001 and QUAL-003 are not covered."""
    write_tests(pack, case("audit", REGISTER + FAILED_AUDIT, "{fired: [QUAL-002]}"))

    run = run_pack_tests(pack)

    assert run.ok
    assert coverage_line(run) == "covered 1/3 rules; not covered: QUAL-001, QUAL-003"
    assert report(run)[-1] == coverage_line(run)


def test_the_default_pack_tests_pass_and_cover_every_rule() -> None:
    """rules/packs/telecom-default/tests: every case passes and every rule fires somewhere."""
    run = run_pack_tests(default_pack_dir())

    assert run.ok, "\n".join(report(run))
    assert run.not_covered == ()
    assert coverage_line(run) == f"covered {len(run.pack.rules)}/{len(run.pack.rules)} rules"
    names = [r.case.supplier_id for r in run.results]
    assert "huawei-nx" in names  # the Chinese-named supplier


def test_an_expectation_naming_an_unknown_rule_is_a_located_problem(pack: Path) -> None:
    """QUAL-009 is not in the pack: the run reports where the test file names it."""
    write_tests(pack, case("typo", REGISTER + FAILED_AUDIT, "{fired: [QUAL-002, QUAL-009]}"))

    run = run_pack_tests(pack)

    (problem,) = run.problems
    assert (problem.line, problem.column) == (13, 21)
    assert "fired names QUAL-009, not a rule of pack telecom-default" in problem.message
    assert not run.ok


def test_problems_in_a_test_file_are_located_and_the_run_fails(pack: Path) -> None:
    """An unknown command type, a missing field and a naive time: each at its line and column."""
    bad = """\
      - type: RegisterSuplier
      - type: RegisterSupplier
        name: x
        category: software
      - type: SubmitQualificationEvidence
        occurred_at: 2026-03-02T10:00:00
        site_audit_passed: "yes"
"""
    write_tests(pack, case("broken", bad, "{state: candidate}"))

    run = run_pack_tests(pack)
    found = [(p.line, p.column, p.message) for p in run.problems]

    assert not run.ok
    assert found[0][:2] == (6, 15)
    assert found[0][2].startswith("cases[0].commands[0].type: unknown type 'RegisterSuplier'")
    assert "RegisterSupplier needs the field 'occurred_at'" in found[1][2]
    assert found[2][2].endswith(
        "occurred_at: time 2026-03-02T10:00:00 has no UTC offset; write it like"
        " 2026-03-02T09:00:00Z"
    )
    assert found[3][2].endswith("site_audit_passed: expected true or false, got the text 'yes'")


def test_every_command_type_is_known_to_test_files() -> None:
    """The runner is generic: any command type name can be written, none is special-cased."""
    for name in COMMAND_TYPES:
        parsed = parse_case_file(
            f"cases:\n  - name: x\n    commands:\n      - type: {name}\n"
            "    expect: {fired: []}\n",
            "t.yaml",
        )
        assert not any("unknown type" in p.message for p in parsed.problems), name


def test_the_tests_folder_is_not_part_of_the_packs_version(pack: Path) -> None:
    """Adding or editing tests changes nothing in the version; editing a rule file does."""
    before = load_pack(pack).version
    write_tests(pack, case("audit", REGISTER + FAILED_AUDIT, "{fired: [QUAL-002]}"))
    (pack / "tests" / "notes.yaml").write_text("cases: []\n", encoding="utf-8")

    assert load_pack(pack).version == before
    assert sorted(read_pack_files(pack)) == ["manifest.yaml", "qualification.yaml"]
    rules = pack / "qualification.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert load_pack(pack).version != before


TWO_CRITICAL_BREACHES = """\
format: sqm.policy-test/v1
cases:
  - name: escalated
    supplier: nx-critical
    start: {from: contracted, category: network_equipment, at: 2026-01-06T09:00:00Z}
    commands:
      - {type: RecordMeasurement, objective_id: availability, value: 99.0, unit: percent,
         period_start: 2026-02-01T00:00:00Z, period_end: 2026-03-01T00:00:00Z,
         occurred_at: 2026-03-01T12:00:00Z}
      - {type: RecordMeasurement, objective_id: availability, value: 99.0, unit: percent,
         period_start: 2026-03-01T00:00:00Z, period_end: 2026-03-10T00:00:00Z,
         occurred_at: 2026-03-10T12:00:00Z}
    expect: {escalated: [ESCALATED], notified: []}
"""


@pytest.mark.parametrize(
    ("escalated", "passes"),
    [("{rule_id: MON-012, to: procurement_director}", True), ("{to: ceo}", False)],
)
def test_a_case_checks_the_escalations_recorded(
    tmp_path: Path, escalated: str, passes: bool
) -> None:
    """``escalated`` lists the escalations in order, each given field matching."""
    path = tmp_path / "escalated.yaml"
    path.write_text(TWO_CRITICAL_BREACHES.replace("ESCALATED", escalated), encoding="utf-8")

    (result,) = run_pack_tests(default_pack_dir(), [path]).results

    assert result.passed is passes
    if not passes:
        assert result.failures[0] == "escalated  expected 1, actual 1"
        assert "expected to=ceo" in result.failures[1]
