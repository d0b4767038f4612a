"""Policy test cases may begin at a named starting point instead of a full command history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqm.domain.model import LifecycleState
from sqm.rules import default_pack_dir
from sqm.rules.tooling.testfile import Start, parse_case_file
from sqm.server.app.policy_tests import report, run_pack_tests
from tests.commands import default_pack_variant

CASES = """\
format: sqm.policy-test/v1
cases:
  - name: a contracted network-services supplier's critical breach opens a review
    supplier: ns-1
    start: {from: contracted, category: network_services, at: 2026-01-06T09:00:00Z}
    commands:
      - type: RecordMeasurement
        objective_id: availability
        value: 99.0
        unit: percent
        period_start: 2026-02-01T00:00:00Z
        period_end: 2026-03-01T00:00:00Z
        occurred_at: 2026-03-01T12:00:00Z
    expect:
      state: under_review
      fired: [MON-001, PEN-001]
      penalties:
        - {rule_id: PEN-001, amount: "10000.00 CNY"}
  - name: a qualified supplier is where the case begins
    supplier: ns-2
    start: {from: qualified, category: network_equipment, at: 2026-01-05T10:00:00Z}
    expect:
      state: qualified
      fired: [QUAL-001]
"""


def write_cases(folder: Path, text: str = CASES) -> Path:
    """``text`` as a test file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "start.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_start_is_parsed_with_its_defaults() -> None:
    """from, category and at are required; the fee and liability default to the usual ones."""
    parsed = parse_case_file(CASES, "start.yaml")
    assert parsed.problems == ()
    start = parsed.cases[0].start
    assert start == Start(
        LifecycleState.CONTRACTED,
        "network_services",
        datetime(2026, 1, 6, 9, tzinfo=UTC),
        line=5,
    )
    assert str(start.monthly_fee) == "100000.00 CNY"


def test_cases_starting_from_a_named_point_run_against_the_pack(tmp_path: Path) -> None:
    """Contracted with the category's default objectives, or qualified: both pass."""
    run = run_pack_tests(default_pack_dir(), [write_cases(tmp_path)])
    assert run.ok, "\n".join(report(run))


def test_a_bad_start_is_located() -> None:
    """An unknown point and a fee without its currency are problems at their lines."""
    text = CASES.replace("from: contracted", "from: under_review").replace(
        "at: 2026-01-05T10:00:00Z}", "at: 2026-01-05T10:00:00Z, monthly_fee: 5000}"
    )
    problems = [p.message for p in parse_case_file(text, "start.yaml").problems]
    assert problems == [
        "cases[0].start.from: a case can start from candidate, qualified, contracted, not"
        " under_review",
        "cases[1].start.monthly_fee: write an amount with its currency, like"
        " '100000.00 CNY', not 5000",
    ]


def test_a_pack_that_does_not_let_the_start_through_fails_the_case_saying_so(
    tmp_path: Path,
) -> None:
    """A qualification threshold above 100 keeps everyone a candidate: the start is missed."""
    pack = default_pack_variant(
        tmp_path / "pack",
        "qualification.yaml",
        '{fact: weighted_score, op: ">=", value: 70}',
        '{fact: weighted_score, op: ">=", value: 100.5}',
    )
    run = run_pack_tests(pack, [write_cases(tmp_path / "cases")], select="qualified")
    (result,) = run.results
    assert result.failures == (
        "the start (line 21) did not reach qualified: the supplier is candidate after it;"
        " the pack does not let a supplier with full marks, every required certificate and"
        " a passed audit through",
    )
