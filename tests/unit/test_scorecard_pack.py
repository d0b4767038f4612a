"""A pack's ``scorecards:`` section: the default pack declares one, lint shows it, and a broken
one fails to load with every problem at its file, line and column.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqm.domain.scorecard_records import KpiMeasure, ScorecardPeriod
from sqm.rules import PackError, PackInvalid, default_pack_dir, load_pack
from sqm.rules.tooling.diff import diff_packs
from sqm.rules.tooling.lint import lint_pack
from sqm.rules.tooling.scorecard_summary import scorecard_lines
from tests.commands import default_pack_variant
from tests.policy_fixtures import QUALIFICATION

MANIFEST = """\
format: sqm.policy/v1
name: scorecard-pack
title: A pack with a scorecard
files:
  - qualification.yaml
  - scorecards.yaml
"""

# Line numbers matter: tests replace text on a line and expect the error on that line.
SCORECARDS = """\
format: sqm.policy/v1
scorecards:
  period: monthly
  kpis:
    - {id: sla, title: SLA 达标率 (SLA attainment), measure: sla_attainment, weight: 60}
    - {id: fees, title: 扣款 (penalties), measure: penalties_share_of_fee, weight: 40,
       zero_at_percent: 10}
  standings:
    - {id: good, title: 良好 (good), min_score: 70}
    - {id: poor, title: 较差 (poor), min_score: 0, blocks_shortlisting: true}
"""


def _files(scorecards: str = SCORECARDS) -> dict[str, str]:
    return {
        "manifest.yaml": MANIFEST,
        "qualification.yaml": QUALIFICATION,
        "scorecards.yaml": scorecards,
    }


def _errors(scorecards: str) -> list[PackError]:
    with pytest.raises(PackInvalid) as raised:
        load_pack(_files(scorecards))
    return list(raised.value.errors)


def _where(errors: list[PackError]) -> list[tuple[str, int, int]]:
    return [(e.file, e.line, e.column) for e in errors]


def test_the_default_pack_scores_suppliers_monthly_and_poor_blocks_shortlisting() -> None:
    """Seven KPIs, one per measure, weighing 100 in all; the lowest standing blocks
    shortlisting, the fair one warns and has business reviews every 60 days.
    """
    spec = load_pack(default_pack_dir()).scorecard

    assert spec is not None
    assert spec.period is ScorecardPeriod.MONTHLY
    assert {k.measure for k in spec.kpis} == set(KpiMeasure)
    assert spec.total_weight == 100
    assert spec.standing_of(0).blocks_shortlisting
    assert not spec.standing_of(100).blocks_shortlisting
    fair = spec.standing_of(65)
    assert (fair.warns_shortlisting, fair.warns_award, fair.review_every_days) == (True, True, 60)


def test_a_valid_section_loads_with_its_options() -> None:
    """The penalties KPI keeps its zero point; standings keep their effect."""
    spec = load_pack(_files()).scorecard

    assert spec is not None
    assert [(k.id, k.weight, k.zero_at_percent) for k in spec.kpis] == [
        ("sla", 60.0, 100.0),
        ("fees", 40.0, 10.0),
    ]
    assert [s.blocks_shortlisting for s in spec.standings] == [False, True]


def test_an_unknown_measure_is_refused_at_its_position_with_the_choices() -> None:
    """The schema lists the measures the domain can compute."""
    (error,) = _errors(SCORECARDS.replace("measure: sla_attainment", "measure: uptime"))

    assert _where([error]) == [("scorecards.yaml", 5, 59)]
    assert "expected one of: sla_attainment, satisfaction_mean" in error.message


def test_an_option_of_another_measure_is_refused_at_its_key() -> None:
    """``zero_at_percent`` belongs to penalties_share_of_fee only."""
    text = SCORECARDS.replace("weight: 60}", "weight: 60, zero_at_percent: 5}")
    (error,) = _errors(text)

    assert (error.file, error.line) == ("scorecards.yaml", 5)
    assert "'zero_at_percent' applies only to measure penalties_share_of_fee" in error.message


def test_duplicate_ids_and_a_missing_zero_band_are_each_located() -> None:
    """Two KPIs named sla, and no standing from 0: both reported in one load."""
    text = SCORECARDS.replace("id: fees", "id: sla").replace("min_score: 0,", "min_score: 10,")
    errors = _errors(text)

    assert [(e.file, e.line) for e in errors] == [("scorecards.yaml", 6), ("scorecards.yaml", 8)]
    assert "'sla' is listed twice in kpis" in errors[0].message
    assert "no standing starts at min_score 0" in errors[1].message


def test_two_files_declaring_scorecards_are_refused() -> None:
    """Like the penalty schedule, a pack declares its scorecard in one file."""
    files = _files()
    files["manifest.yaml"] += "  - more.yaml\n"
    files["more.yaml"] = SCORECARDS
    with pytest.raises(PackInvalid) as raised:
        load_pack(files)

    (error,) = raised.value.errors
    assert error.file == "more.yaml"
    assert "scorecards are already defined at scorecards.yaml:2" in error.message


def test_lint_shows_the_default_packs_scorecard() -> None:
    """Lint reports the period, every KPI and every standing with its effect."""
    report = lint_pack(default_pack_dir())

    assert report.scorecard is not None
    lines = scorecard_lines(report.scorecard)
    assert lines[0] == "scorecards: monthly, 7 KPI(s), weights total 100"
    poor = "  standing poor (较差 (poor)): score 0 or more; blocks shortlisting; blocks an award"
    assert poor in lines


def test_policy_diff_names_a_changed_standing_as_the_file_writes_it(tmp_path: Path) -> None:
    """A band moved and its warning turned into a block: three lines, under ``scorecards``."""
    fair = "      min_score: 60\n      warns_shortlisting: true\n"
    stricter = "      min_score: 65\n      blocks_shortlisting: true\n"
    variant = default_pack_variant(tmp_path / "pack", "scorecards.yaml", fair, stricter)

    assert diff_packs(load_pack(default_pack_dir()), load_pack(variant)) == [
        "scorecards.standings[fair].min_score changed from 60 to 65",
        "scorecards.standings[fair].blocks_shortlisting changed from false to true",
        "scorecards.standings[fair].warns_shortlisting changed from true to false",
    ]
