"""Closing scorecard periods: KPIs computed from the period's records, weights shared out,
standings by score band, one ``ScorecardClosed`` per ended period and never two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs

from sqm.domain.calendar import Calendar
from sqm.domain.commands import AdvanceTime, RecordInspection, RecordSatisfactionSurvey
from sqm.domain.decide import decide, fold
from sqm.domain.events import ScorecardClosed
from sqm.domain.model import LifecycleState, Money, Penalty, SupplierState
from sqm.domain.scorecard_records import (
    KpiMeasure,
    KpiSpec,
    ScorecardPeriod,
    ScorecardSpec,
    Standing,
)
from sqm.domain.scorecards import close_period, period_bounds, period_label
from sqm.domain.serialization import (
    event_from_payload,
    event_to_payload,
    state_from_dict,
    state_to_dict,
)
from tests.fakes import FEE, SID, FakePolicy, measure, run, supplier_in

SPEC = ScorecardSpec(
    ScorecardPeriod.MONTHLY,
    (
        KpiSpec("sla", "SLA 达标率 (SLA attainment)", KpiMeasure.SLA_ATTAINMENT, 40),
        KpiSpec("satisfaction", "满意度 (satisfaction)", KpiMeasure.SATISFACTION_MEAN, 25),
        KpiSpec("inspections", "检查 (inspections)", KpiMeasure.INSPECTION_PASS_RATE, 20),
        KpiSpec("penalties", "扣款 (penalties)", KpiMeasure.PENALTIES_SHARE_OF_FEE, 15, "", 20.0),
    ),
    (
        Standing("good", "良好 (good)", 75),
        Standing("fair", "合格 (fair)", 60),
        Standing("poor", "较差 (poor)", 0, blocks_shortlisting=True),
    ),
)
MARCH_END = datetime(2025, 4, 1, tzinfo=UTC)
APRIL_15 = datetime(2025, 4, 15, tzinfo=UTC)


def _policy() -> FakePolicy:
    return FakePolicy(scorecard_spec=SPEC)


def _march_records() -> SupplierState:
    """Contracted on 2 March 2025: three availability measurements in March (one missed,
    penalised at 1% of the fee by the fake), one survey of 80, no inspection.
    """
    return run(
        supplier_in(LifecycleState.CONTRACTED),
        measure(99.95, datetime(2025, 3, 10, tzinfo=UTC)),
        measure(99.0, datetime(2025, 3, 20, tzinfo=UTC)),
        RecordSatisfactionSurvey(SID, 80.0, datetime(2025, 3, 25, tzinfo=UTC)),
        measure(99.97, MARCH_END),  # ends at midnight: still March's
        policy=_policy(),
    )


def _closed(events: list[object]) -> list[ScorecardClosed]:
    return [e for e in events if isinstance(e, ScorecardClosed)]


def test_the_tick_after_a_month_end_closes_the_month_with_every_kpi_and_its_basis() -> None:
    """March closes on 1 April: each KPI's value, score and a basis in words."""
    events = decide(AdvanceTime(SID, MARCH_END), _march_records(), _policy())

    (closed,) = _closed(events)
    card = closed.scorecard
    kpis = {k.kpi_id: k for k in card.kpis}
    assert (card.period, card.period_start, card.period_end) == (
        "2025-03",
        datetime(2025, 3, 1, tzinfo=UTC),
        MARCH_END,
    )
    assert kpis["sla"].basis == "2 of 3 measurements met their objective"
    assert kpis["sla"].value == 66.67
    assert kpis["satisfaction"].basis == "mean score of 1 survey: 80"
    assert kpis["penalties"].value == 1.0  # 1,000 CNY of a 100,000 CNY fee
    assert kpis["penalties"].score == 95.0  # 0 at 20%
    assert kpis["penalties"].basis.startswith("penalties of 1000.00 CNY against fees of")


def test_weights_of_kpis_without_data_are_shared_out_and_the_event_says_so() -> None:
    """No inspection in March: its 20 is shared over 80 of weight, so each is scaled by 1.25."""
    card = _closed(decide(AdvanceTime(SID, MARCH_END), _march_records(), _policy()))[0].scorecard
    used = {k.kpi_id: k.weight_used for k in card.kpis}

    assert used == {"sla": 50.0, "satisfaction": 31.25, "inspections": 0.0, "penalties": 18.75}
    assert card.weights_note.startswith("no data for inspections: their weight (20)")
    expected = (66.67 * 50 + 80 * 31.25 + 95 * 18.75) / 100
    assert abs(card.score - expected) < 0.01


def test_the_standing_is_the_highest_band_the_score_reaches() -> None:
    """A score of about 76 is good (75 or more); a band's minimum belongs to it."""
    card = _closed(decide(AdvanceTime(SID, MARCH_END), _march_records(), _policy()))[0].scorecard

    assert card.score >= 75
    assert (card.standing, card.standing_title) == ("good", "良好 (good)")
    assert SPEC.standing_of(60.0).id == "fair"
    assert SPEC.standing_of(59.99).id == "poor"


def test_a_second_tick_closes_nothing_twice_and_a_later_one_closes_every_month_missed() -> None:
    """Idempotent: March is closed once; on 1 June April and May close, oldest first."""
    state = run(_march_records(), AdvanceTime(SID, MARCH_END), policy=_policy())

    again = decide(AdvanceTime(SID, datetime(2025, 4, 20, tzinfo=UTC)), state, _policy())
    later = decide(AdvanceTime(SID, datetime(2025, 6, 1, tzinfo=UTC)), state, _policy())

    assert _closed(again) == []
    assert [c.scorecard.period for c in _closed(later)] == ["2025-04", "2025-05"]


def test_a_period_with_no_records_but_the_fee_is_rated_on_penalties_alone() -> None:
    """April has no measurement, survey or inspection: penalties (none) carry all the weight."""
    state = run(_march_records(), AdvanceTime(SID, MARCH_END), policy=_policy())
    card = _closed(decide(AdvanceTime(SID, datetime(2025, 5, 1, tzinfo=UTC)), state, _policy()))[
        0
    ].scorecard

    assert card.score == 100.0
    assert {k.kpi_id: k.weight_used for k in card.kpis}["penalties"] == 100.0


def test_inspections_count_as_the_share_passed() -> None:
    """One passed and one failed inspection in March: 50."""
    state = run(
        supplier_in(LifecycleState.CONTRACTED),
        RecordInspection(SID, True, datetime(2025, 3, 26, tzinfo=UTC)),
        RecordInspection(SID, False, datetime(2025, 3, 27, tzinfo=UTC)),
        policy=_policy(),
    )
    card = _closed(decide(AdvanceTime(SID, MARCH_END), state, _policy()))[0].scorecard

    inspections = next(k for k in card.kpis if k.kpi_id == "inspections")
    assert (inspections.value, inspections.basis) == (50.0, "1 of 2 inspections passed")


def test_a_qualified_supplier_has_no_scorecard_periods() -> None:
    """Scorecards belong to a contract: nothing closes before one is signed."""
    qualified = supplier_in(LifecycleState.QUALIFIED)

    assert _closed(decide(AdvanceTime(SID, MARCH_END), qualified, _policy())) == []


def test_a_policy_without_a_scorecard_closes_nothing() -> None:
    """Packs that declare no scorecards behave as before."""
    assert _closed(decide(AdvanceTime(SID, MARCH_END), _march_records(), FakePolicy())) == []


def test_penalties_beyond_the_zero_point_score_zero_not_less() -> None:
    """30% of the fee in penalties, zero at 20%: the KPI scores 0."""
    state = attrs.evolve(
        _march_records(),
        penalties=(
            Penalty(
                "p-9", "compensation", "ct-1", Money(Decimal("30000.00"), "CNY"), "2025-03",
                "", "", datetime(2025, 3, 21, tzinfo=UTC),
            ),
        ),
    )  # fmt: skip
    bounds = (datetime(2025, 3, 1, tzinfo=UTC), MARCH_END)
    card = close_period(state, SPEC, Calendar(), bounds)

    penalties = next(k for k in card.kpis if k.kpi_id == "penalties")
    assert (penalties.value, penalties.score) == (30.0, 0.0)
    assert FEE.amount == Decimal("100000.00")


def test_months_are_local_months_of_the_pack_calendar() -> None:
    """In Shanghai (UTC+8) April begins at 16:00 UTC on 31 March."""
    shanghai = Calendar("Asia/Shanghai")
    start, end = period_bounds(
        datetime(2025, 3, 31, 17, tzinfo=UTC), ScorecardPeriod.MONTHLY, shanghai
    )

    assert (start, end) == (
        datetime(2025, 3, 31, 16, tzinfo=UTC),
        datetime(2025, 4, 30, 16, tzinfo=UTC),
    )
    assert period_label(start, ScorecardPeriod.MONTHLY, shanghai) == "2025-04"


def test_quarters_start_in_january_april_july_and_october() -> None:
    """A moment in May falls in the second quarter, 1 April to 1 July."""
    start, end = period_bounds(
        datetime(2025, 5, 9, tzinfo=UTC), ScorecardPeriod.QUARTERLY, Calendar()
    )

    assert (start, end) == (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
    assert period_label(start, ScorecardPeriod.QUARTERLY, Calendar()) == "2025-Q2"


def test_the_closed_scorecard_is_folded_and_survives_serialisation() -> None:
    """The state keeps the scorecard; the event and the state round-trip through JSON."""
    events = decide(AdvanceTime(SID, MARCH_END), _march_records(), _policy())
    state = fold(events, _march_records())
    closed = _closed(events)[0]

    assert state.scorecards == (closed.scorecard,)
    assert event_from_payload("ScorecardClosed", event_to_payload(closed)) == closed
    assert state_from_dict(state_to_dict(state)) == state


def test_a_snapshot_written_before_scorecards_existed_reads_back_with_none() -> None:
    """Old snapshots have no ``scorecards`` key: they read back with an empty tuple."""
    data = state_to_dict(_march_records())
    del data["scorecards"]

    assert state_from_dict(data).scorecards == ()


def test_a_pack_moving_to_quarters_scores_the_rest_of_the_quarter_then_whole_quarters() -> None:
    """March and April closed monthly; quarterly from then on: May to June, then Q3."""
    state = run(
        _march_records(), AdvanceTime(SID, datetime(2025, 5, 1, tzinfo=UTC)), policy=_policy()
    )
    quarterly = FakePolicy(scorecard_spec=attrs.evolve(SPEC, period=ScorecardPeriod.QUARTERLY))

    events = decide(AdvanceTime(SID, datetime(2025, 10, 1, tzinfo=UTC)), state, quarterly)

    closed = [(c.scorecard.period, c.scorecard.period_start.month) for c in _closed(events)]
    assert [c.period for c in state.scorecards] == ["2025-03", "2025-04"]
    assert closed == [("2025-Q2", 5), ("2025-Q3", 7)]


def test_the_tick_that_ends_the_contract_scores_its_last_part_month_first() -> None:
    """A contract ending on 15 April: April's first half closes before the contract ends."""
    state = run(_march_records(), AdvanceTime(SID, MARCH_END), policy=_policy())
    assert state.contract is not None
    ending = attrs.evolve(state, contract=attrs.evolve(state.contract, ends_at=APRIL_15))

    events = decide(AdvanceTime(SID, APRIL_15), ending, _policy())

    names = [type(e).__name__ for e in events]
    assert names.index("ScorecardClosed") < names.index("ContractEnded")
    (april,) = _closed(events)
    assert (april.scorecard.period, april.scorecard.period_end) == ("2025-04", APRIL_15)
    assert (
        _closed(
            decide(
                AdvanceTime(SID, datetime(2025, 6, 1, tzinfo=UTC)), fold(events, ending), _policy()
            )
        )
        == []
    )
