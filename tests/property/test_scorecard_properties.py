"""Whatever the records and the pack's KPIs: a score is within 0..100, the weights used add up
to the declared total over the KPIs with data, and closing is idempotent.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from sqm.domain.calendar import UTC_CALENDAR
from sqm.domain.commands import AdvanceTime
from sqm.domain.decide import decide, fold
from sqm.domain.events import ScorecardClosed
from sqm.domain.model import LifecycleState, Measurement, Money, Observation, Penalty, SupplierState
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.scorecards import close_period, due_periods
from tests.fakes import SID, T0, FakePolicy, supplier_in
from tests.strategies import scorecard_records, scorecard_specs

DAY = timedelta(days=1)
END_OF_RECORDS = datetime(2025, 10, 1, tzinfo=UTC)
CONTRACTED = supplier_in(LifecycleState.CONTRACTED)


def _with_records(records: dict[str, Any]) -> SupplierState:
    """The contracted supplier with the drawn records, days counted from T0 (1 March 2025)."""
    measurements = tuple(
        Measurement(
            "availability",
            "availability",
            99.95 if met else 99.0,
            T0 + (day - 1) * DAY,
            T0 + day * DAY,
            met,
            T0 + day * DAY,
        )
        for day, met in sorted(records["measurements"])
    )
    penalties = tuple(
        Penalty(
            f"p-{index}",
            "service_credit",
            "ct-1",
            Money(Decimal(amount), "CNY"),
            f"2025-{2 + month:02d}",
            "",
            "",
            T0,
        )
        for index, (month, amount) in enumerate(records["penalties"])
    )
    return attrs.evolve(
        CONTRACTED,
        measurements=measurements,
        surveys=tuple(Observation(T0 + d * DAY, score) for d, score in records["surveys"]),
        inspections=tuple(
            Observation(T0 + d * DAY, float(ok), ok) for d, ok in records["inspections"]
        ),
        penalties=penalties,
    )


@given(spec=scorecard_specs(), records=scorecard_records())
def test_scores_stay_within_0_and_100_and_weights_used_add_up_to_the_total(
    spec: ScorecardSpec, records: dict[str, Any]
) -> None:
    """Every closed period: score and KPI scores in 0..100; weights used sum to the declared
    total when any KPI had data (to 0 otherwise), and the standing is the score's band.
    """
    state = _with_records(records)
    for bounds in due_periods(state, spec, UTC_CALENDAR, END_OF_RECORDS):
        card = close_period(state, spec, UTC_CALENDAR, bounds)
        used = sum(k.weight_used for k in card.kpis)
        rated = any(k.has_data for k in card.kpis)

        assert 0 <= card.score <= 100
        assert all(0 <= k.score <= 100 for k in card.kpis)
        assert math.isclose(used, spec.total_weight if rated else 0, rel_tol=1e-9)
        assert card.standing == (spec.standing_of(card.score).id if rated else "")


@given(
    spec=scorecard_specs(),
    records=scorecard_records(),
    first=st.integers(0, 400),
    then=st.integers(0, 400),
)
def test_closing_is_idempotent_and_every_period_closes_once_in_order(
    spec: ScorecardSpec, records: dict[str, Any], first: int, then: int
) -> None:
    """A tick, then the same tick or a later one: no period is closed twice, and the periods
    closed by both follow on from one another with no gap.
    """
    policy = FakePolicy(scorecard_spec=spec)
    state = _with_records(records)
    first_at = T0 + 2 * DAY + first * DAY
    events = decide(AdvanceTime(SID, first_at), state, policy)
    after = fold(events, state)
    again = decide(AdvanceTime(SID, first_at), after, policy)
    later = decide(AdvanceTime(SID, first_at + then * DAY), after, policy)

    closed = [e.scorecard for e in events + later if isinstance(e, ScorecardClosed)]
    assert not [e for e in again if isinstance(e, ScorecardClosed)]
    assert all(a.period_end == b.period_start for a, b in itertools.pairwise(closed))
    assert len({c.period for c in closed}) == len(closed)
