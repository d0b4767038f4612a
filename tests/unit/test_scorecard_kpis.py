"""The scorecard KPIs on tickets, milestones and reports, quarterly periods, and the default
pack's scorecard covering every service category.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sqm.domain.commands import (
    AdvanceTime,
    CompleteMilestone,
    OpenProblemTicket,
    RecordKickOff,
    ResolveProblemTicket,
    SubmitProgressReport,
)
from sqm.domain.decide import decide
from sqm.domain.events import ScorecardClosed
from sqm.domain.model import LifecycleState, Milestone, Severity, SupplierState
from sqm.domain.scorecard_records import (
    KpiMeasure,
    KpiResult,
    KpiSpec,
    ReportKind,
    ScorecardPeriod,
    ScorecardSpec,
    Standing,
)
from sqm.domain.scorecards import scorecards_due
from sqm.rules import PackInvalid, default_pack_dir, load_pack, load_policy
from sqm.rules.pack_catalogue import default_catalogue
from tests.fakes import SID, FakePolicy, run, supplier_in
from tests.unit.test_scorecard_pack import SCORECARDS, _files

SPEC = ScorecardSpec(
    ScorecardPeriod.MONTHLY,
    (
        KpiSpec("tickets", "工单 (tickets)", KpiMeasure.TICKETS_ON_TIME, 40),
        KpiSpec("milestones", "里程碑 (milestones)", KpiMeasure.MILESTONES_ON_TIME, 30),
        KpiSpec(
            "reports",
            "报告 (reports)",
            KpiMeasure.REPORTS_ON_TIME,
            30,
            report=ReportKind.PROGRESS_REPORT,
            within_days=35,
        ),
    ),
    (Standing("good", "良好 (good)", 75), Standing("poor", "较差 (poor)", 0)),
)
POLICY = FakePolicy(scorecard_spec=SPEC)


def _on(day: int, month: int = 3, hour: int = 10) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def _kpis(state: SupplierState, now: datetime, policy: FakePolicy = POLICY) -> dict[str, KpiResult]:
    closed = [
        e for e in decide(AdvanceTime(SID, now), state, policy) if isinstance(e, ScorecardClosed)
    ]
    return {k.kpi_id: k for k in closed[-1].scorecard.kpis}


def _march(*commands: object) -> SupplierState:
    return run(supplier_in(LifecycleState.CONTRACTED), *commands, policy=POLICY)  # type: ignore[arg-type]


def test_tickets_count_as_the_share_resolved_in_the_period_within_their_target() -> None:
    """A critical ticket fixed in 2 hours (target 4) and a major one in 30 (target 24)."""
    state = _march(
        OpenProblemTicket(SID, "T-1", "link down", Severity.CRITICAL, _on(5)),
        ResolveProblemTicket(SID, "T-1", "restored", _on(5, hour=12)),
        OpenProblemTicket(SID, "T-2", "slow", Severity.MAJOR, _on(10)),
        ResolveProblemTicket(SID, "T-2", "tuned", _on(11, hour=16)),
        OpenProblemTicket(SID, "T-3", "open at the month's end", Severity.MINOR, _on(30)),
    )

    tickets = _kpis(state, _on(1, 4, 0))["tickets"]

    assert (tickets.value, tickets.score) == (50.0, 50.0)
    assert tickets.basis == "1 of 2 problem tickets resolved within their target hours"


def test_milestones_count_as_the_share_due_in_the_period_completed_by_their_due_time() -> None:
    """Due 10 March (done on the 9th), 20 March (done on the 22nd), 10 April: March 1 of 2."""
    plan = (
        Milestone("design", _on(10)),
        Milestone("build", _on(20)),
        Milestone("handover", _on(10, 4)),
    )
    state = _march(
        RecordKickOff(SID, "deliver", _on(3), milestones=plan),
        CompleteMilestone(SID, "design", _on(9)),
        CompleteMilestone(SID, "build", _on(22)),
    )

    milestones = _kpis(state, _on(1, 4, 0))["milestones"]

    assert milestones.value == 50.0
    assert milestones.basis == "1 of 2 milestones due in the period completed by their due time"
    assert state.milestone_completions["build"] == _on(22)


def test_a_report_on_time_scores_and_a_month_ending_with_one_overdue_counts_it_late() -> None:
    """Contract from 2 March: a report on 20 March is on time; by 1 May the next is 42 days
    late (limit 35), so April counts one late report; May's report on the 10th is late too.
    """
    state = _march(SubmitProgressReport(SID, "March", _on(20)))
    march = _kpis(state, _on(1, 4, 0))["reports"]
    april = _kpis(state, _on(1, 5, 0))["reports"]
    may = run(state, SubmitProgressReport(SID, "May", _on(10, 5)), policy=POLICY)

    assert (march.value, march.basis) == (
        100.0,
        "1 of 1 progress reports on time (each within 35 days of the one before)",
    )
    assert april.value == 0.0
    assert "0 of 1 progress reports" in april.basis
    assert "overdue at the period's end" in april.basis
    assert _kpis(may, _on(1, 6, 0))["reports"].basis.startswith("0 of 1 progress reports")


def test_a_month_without_tickets_milestones_or_a_due_report_has_no_data_for_them() -> None:
    """Nothing resolved, due or overdue: not rated rather than rated badly."""
    kpis = _kpis(_march(), _on(1, 4, 0))

    assert [k.has_data for k in kpis.values()] == [False, False, False]
    assert kpis["reports"].basis == (
        "no progress reports in the period and none overdue at its end"
    )


def test_a_quarter_closes_once_over_its_three_months_of_records() -> None:
    """Quarterly: one scorecard for April to June, holding the tickets of all three months."""
    quarterly = FakePolicy(scorecard_spec=attrs.evolve(SPEC, period=ScorecardPeriod.QUARTERLY))
    state = run(
        supplier_in(LifecycleState.CONTRACTED),
        AdvanceTime(SID, _on(1, 4, 0)),
        OpenProblemTicket(SID, "T-1", "a", Severity.MINOR, _on(2, 4)),
        ResolveProblemTicket(SID, "T-1", "fixed", _on(3, 4)),
        OpenProblemTicket(SID, "T-2", "b", Severity.CRITICAL, _on(2, 6)),
        ResolveProblemTicket(SID, "T-2", "fixed late", _on(3, 6)),
        policy=quarterly,
    )

    events = decide(AdvanceTime(SID, _on(1, 7, 0)), state, quarterly)

    (closed,) = [e for e in events if isinstance(e, ScorecardClosed)]
    tickets = {k.kpi_id: k for k in closed.scorecard.kpis}["tickets"]
    assert closed.scorecard.period == "2025-Q2"
    assert tickets.basis == "1 of 2 problem tickets resolved within their target hours"


def test_reports_on_time_needs_within_days_and_its_options_belong_to_it() -> None:
    """Both problems reported at their KPI, in one load."""
    text = SCORECARDS.replace("weight: 60}", "weight: 60, within_days: 30}") + "    # end\n"
    text = text.replace(
        "  standings:",
        "    - {id: rep, title: 报告 (reports), measure: reports_on_time, weight: 5}\n  standings:",
    )
    with pytest.raises(PackInvalid) as raised:
        load_pack(_files(text))

    messages = [e.message for e in raised.value.errors]
    assert any("'within_days' applies only to measure reports_on_time" in m for m in messages)
    assert any("reports_on_time needs within_days" in m for m in messages)


@pytest.mark.parametrize("category", default_catalogue().category_ids)
def test_every_category_of_the_default_pack_is_scored(category: str) -> None:
    """One scorecard covers every category: a contracted supplier of each closes its month
    with all seven KPIs and a standing.
    """
    policy = load_policy(default_pack_dir())
    state = attrs.evolve(supplier_in(LifecycleState.CONTRACTED), category=category)

    (closed,) = scorecards_due(state, policy, datetime(2025, 4, 1, tzinfo=UTC) + timedelta(hours=1))

    weights = {k.kpi_id: k.weight for k in closed.scorecard.kpis}
    assert len(weights) == 7
    assert sum(weights.values()) == 100
    assert weights["milestones"] == (15 if category == "field_services" else 5)
    assert closed.scorecard.standing


def test_a_categorys_weights_replace_the_declared_ones_for_its_suppliers_only() -> None:
    """Field services weigh milestones 15: their scorecard says so, software's does not."""
    spec = attrs.evolve(SPEC, weights_by_category=(("field_services", (("milestones", 60.0),)),))

    field = {k.id: k.weight for k in spec.for_category("field_services").kpis}
    assert field == {"tickets": 40, "milestones": 60, "reports": 30}
    assert spec.for_category("software") is spec


def test_weights_by_category_name_known_categories_and_kpis() -> None:
    """An unknown category and an unknown KPI: each reported at its key."""
    weights = "  weights_by_category:\n    spaceships: {sla: 10}\n    software: {uptime: 5}\n"
    text = SCORECARDS.replace("  standings:", weights + "  standings:")
    with pytest.raises(PackInvalid) as raised:
        load_pack(_files(text))

    found = sorted((e.line, e.message) for e in raised.value.errors)
    assert [line for line, _ in found] == [9, 10]
    assert "unknown service category 'spaceships'" in found[0][1]
    assert "'uptime' is not a KPI of the scorecard; expected one of: sla, fees" in found[1][1]


def test_a_standing_cannot_both_block_and_warn_on_the_same_act() -> None:
    """Blocks shortlisting and warns on it: refused at the warning's key."""
    text = SCORECARDS.replace(
        "blocks_shortlisting: true}", "blocks_shortlisting: true,\n       warns_shortlisting: true}"
    )
    with pytest.raises(PackInvalid) as raised:
        load_pack(_files(text))

    (error,) = raised.value.errors
    assert error.line == 11
    assert "a standing that blocks shortlisting cannot also warn on it" in error.message


def test_a_state_from_before_report_histories_counts_its_latest_report() -> None:
    """An older snapshot: no report history, only the latest report's time. The next report
    is judged against it, not against the contract's start.
    """
    old = attrs.evolve(_march(SubmitProgressReport(SID, "March", _on(20))), progress_reports=())
    april = run(old, SubmitProgressReport(SID, "April", _on(18, 4)), policy=POLICY)

    assert _kpis(april, _on(1, 5, 0))["reports"].basis.startswith("1 of 1 progress reports")


def test_a_milestone_completed_before_completion_times_were_kept_is_left_out() -> None:
    """Completed, but with no time on record (an older snapshot): neither on time nor late."""
    plan = (Milestone("design", _on(10)), Milestone("build", _on(20)))
    state = _march(
        RecordKickOff(SID, "deliver", _on(3), milestones=plan),
        CompleteMilestone(SID, "design", _on(9)),
        CompleteMilestone(SID, "build", _on(19)),
    )
    old = attrs.evolve(state, milestone_completions={"build": _on(19)})

    milestones = _kpis(old, _on(1, 4, 0))["milestones"]

    assert milestones.basis == "1 of 1 milestones due in the period completed by their due time"
