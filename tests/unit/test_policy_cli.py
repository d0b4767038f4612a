"""`sqm policy ...` in process: output a policy team reads, and exit statuses CI relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqm.domain.commands import RegisterSupplier, SubmitQualificationEvidence
from sqm.rules import load_pack
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.policies import start_policy
from sqm.server.app.suppliers import SupplierService
from sqm.server.cli.main import main
from sqm.server.storage.sqlite import SqliteEventStore
from tests.policy_fixtures import QUALIFICATION, raise_threshold, write_pack

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

PASSING_TESTS = """\
cases:
  - name: a failed audit disqualifies
    supplier: acme
    commands:
      - {type: RegisterSupplier, name: ACME, category: software,
         occurred_at: 2026-03-02T09:00:00Z}
      - {type: SubmitQualificationEvidence, site_audit_passed: false,
         occurred_at: 2026-03-02T10:00:00Z}
    expect: {state: terminated, fired: [QUAL-002]}
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    """Run ``sqm`` with ``args``: exit status, stdout lines, stderr."""
    status = main(args)
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """The tooling tests' qualification pack."""
    return write_pack(tmp_path / "pack")


def test_lint_of_a_clean_pack_exits_zero_with_its_version(
    pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No findings: a summary line with the version and one with the grandfathering
    setting, exit 0.
    """
    status, lines, _ = run(["policy", "lint", str(pack)], capsys)

    assert status == 0
    assert lines == [
        f"{pack}: 0 error(s), 0 warning(s); version {load_pack(pack).version}",
        "qualification_changes_apply_to: new_evaluations (recorded qualifications stand)",
        "catalogue: none named; the legacy catalogue applies (legacy-catalogue.yaml)",
    ]


def test_lint_of_a_broken_pack_prints_every_error_and_exits_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each error as DIR/file:line:column: error: message."""
    broken = QUALIFICATION.replace("weighted_score, op", "weighted_scor, op")
    pack = write_pack(tmp_path / "broken", broken)

    status, lines, _ = run(["policy", "lint", str(pack)], capsys)

    assert status == 1
    assert lines[0].startswith(
        f"{pack}/qualification.yaml:43:18: error: rules[QUAL-001].when.all[0]"
    )
    assert lines[1].startswith(f"{pack}/qualification.yaml:71:18: error:")
    assert lines[-1] == f"{pack}: 2 error(s), 0 warning(s); the pack does not load"


def test_lint_strict_fails_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stale threshold in a message is a warning: exit 0, or 1 with --strict."""
    stale = QUALIFICATION.replace(
        '{fact: weighted_score, op: ">=", value: 70}', '{fact: weighted_score, op: ">=", value: 75}'
    )
    pack = write_pack(tmp_path / "stale", stale)

    status, lines, _ = run(["policy", "lint", str(pack)], capsys)
    strict, _, _ = run(["policy", "lint", "--strict", str(pack)], capsys)

    assert (status, strict) == (0, 1)
    assert lines[0].startswith(f"{pack}/qualification.yaml:")
    assert ": warning: rule QUAL-001: its description says 'at least 70'" in lines[0]


def test_a_missing_pack_folder_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tool could not run: exit 2 and one line on stderr."""
    status, _, err = run(["policy", "lint", str(tmp_path / "nowhere")], capsys)

    assert status == 2
    assert err.strip().endswith("no such pack folder")


def test_test_command_passes_and_prints_coverage(
    pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One passing case covering QUAL-002: exit 0 unless full coverage is required."""
    (pack / "tests").mkdir()
    (pack / "tests" / "audit.yaml").write_text(PASSING_TESTS, encoding="utf-8")

    status, lines, _ = run(["policy", "test", str(pack)], capsys)
    required, _, _ = run(["policy", "test", "--require-coverage", str(pack)], capsys)

    assert status == 0
    assert required == 1
    assert lines[-3:] == [
        "  PASS  a failed audit disqualifies",
        "1 case: 1 passed, 0 failed",
        "covered 1/3 rules; not covered: QUAL-001, QUAL-003",
    ]


def test_test_command_exits_one_when_a_case_fails(
    pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong expectation fails the run."""
    (pack / "tests").mkdir()
    wrong = PASSING_TESTS.replace("state: terminated", "state: qualified")
    (pack / "tests" / "audit.yaml").write_text(wrong, encoding="utf-8")

    status, lines, _ = run(["policy", "test", str(pack)], capsys)

    assert status == 1
    assert "        state      expected qualified" in lines


def test_test_command_exits_one_when_there_are_no_cases(
    pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No tests folder: an empty run is a failure, said plainly."""
    status, lines, _ = run(["policy", "test", str(pack)], capsys)

    assert status == 1
    assert lines[0].startswith("no test cases found")


def test_diff_prints_one_line_per_change(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Versions in the header, then the changes."""
    new = write_pack(tmp_path / "new", raise_threshold(QUALIFICATION, 70, 75))

    status, lines, _ = run(["policy", "diff", str(pack), str(new)], capsys)

    assert status == 0
    assert lines[0].startswith("telecom-default ")
    assert "QUAL-001: threshold for weighted_score changed from 70 to 75" in lines


def archive_with_history(database: Path, pack: Path) -> None:
    """A server's SQLite file: the pack activated at start, one supplier with evidence."""
    with SqliteEventStore(database) as store:
        active = start_policy(store, pack, T0)
        service = SupplierService(store, active)
        context = RequestContext("r1", "test")
        service.execute(RegisterSupplier("acme", "ACME 网络", "software", T0), context)
        evidence = SubmitQualificationEvidence(
            "acme", T0 + timedelta(hours=1), {"capability": 90, "price": 20}
        )
        service.execute(evidence, RequestContext("r2", "test"))


def test_explain_reads_a_servers_database_and_uses_its_active_version(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No pack given: the archived active version explains the supplier's history."""
    database = tmp_path / "sqm.sqlite3"
    archive_with_history(database, pack)

    status, lines, _ = run(
        ["policy", "explain", "--database", str(database), "--supplier", "acme", "--history"],
        capsys,
    )

    assert status == 0
    assert lines[0].startswith("supplier acme (ACME 网络), software, candidate;")
    assert (
        lines[1] == f"policy telecom-default version {load_pack(pack).version}; stage qualification"
    )
    assert "recorded decisions:" in lines
    assert "    unmet  criteria_missing == 0      actual 3" in lines


def test_versions_from_a_database_marks_the_active_one(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One archived version, active, activated once."""
    database = tmp_path / "sqm.sqlite3"
    archive_with_history(database, pack)

    status, lines, _ = run(["policy", "versions", "--database", str(database)], capsys)

    assert status == 0
    assert lines[1].startswith(
        f"* {load_pack(pack).version}  telecom-default  2026-03-02T09:00:00Z"
    )
    assert lines[1].endswith("  1")


def test_explain_of_an_events_file_needs_no_server(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A history file of commands is decided under the pack given, then explained."""
    history = tmp_path / "history.yaml"
    history.write_text(
        "supplier: acme\nevents:\n"
        "  - {type: RegisterSupplier, name: ACME, category: software,"
        " occurred_at: 2026-03-02T09:00:00Z}\n",
        encoding="utf-8",
    )

    status, lines, _ = run(["policy", "explain", str(pack), "--events", str(history)], capsys)

    assert status == 0
    assert lines[-1] == "0 fired, 3 did not fire"
