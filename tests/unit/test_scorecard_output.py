"""``sqm supplier scorecard`` text: latest first, the trend as an arrow with the change, the
oldest without one, and KPI titles in Chinese lined up as a terminal shows them.
"""

from __future__ import annotations

from sqm.client.scorecard_output import scorecards_text, trend
from sqm.v1 import resources_pb2 as pb


def _supplier() -> pb.Supplier:
    kpi = pb.ScorecardKpi(
        kpi_id="sla", title="SLA 达标率 (SLA attainment)", value=80, score=80, weight_used=100,
        has_data=True, basis="4 of 5 measurements met their objective",
    )  # fmt: skip
    latest = pb.Scorecard(
        period="2027-04", score=80, standing="good", standing_title="良好 (good)",
        kpis=[kpi], score_change=30,
    )  # fmt: skip
    oldest = pb.Scorecard(
        period="2027-03", score=50, standing="poor", standing_title="较差 (poor)",
        blocks_shortlisting=True,
    )  # fmt: skip
    return pb.Supplier(supplier_id="acme", display_name="ACME", scorecards=[latest, oldest])


def test_the_trend_reads_as_an_arrow_and_the_change() -> None:
    """Up, down, or steady within half a point."""
    assert [trend(4.5), trend(-2), trend(0.25), trend(0)] == ["↑ +4.5", "↓ -2", "→ +0.25", "→ 0"]


def test_scorecards_are_shown_latest_first_with_the_latest_kpis() -> None:
    """April above March; March, the oldest kept, has no trend; its effect is named."""
    lines = scorecards_text(_supplier()).splitlines()

    assert lines[1].split() == ["PERIOD", "SCORE", "TREND", "STANDING"]
    assert lines[2].split() == ["2027-04", "80", "↑", "+30", "良好", "(good)"]
    assert lines[3].split() == ["2027-03", "50", "-", "较差", "(poor)", "(blocks", "shortlisting)"]
    assert "4 of 5 measurements met their objective" in lines[-1]


def test_columns_line_up_after_chinese_titles() -> None:
    """Each Chinese character takes two columns: the VALUE column starts at one place."""
    lines = scorecards_text(_supplier()).splitlines()
    header = next(line for line in lines if line.startswith("KPI"))
    row = lines[-1]

    width = len(header[: header.index("VALUE")])
    shown = sum(2 if "\u4e00" <= c <= "\u9fff" else 1 for c in row[: row.index("80")])
    assert shown == width


def test_a_supplier_without_a_closed_scorecard_says_so() -> None:
    """Nothing closed yet: one line, no empty table."""
    assert scorecards_text(pb.Supplier(supplier_id="acme")) == "acme: no closed scorecard yet"
