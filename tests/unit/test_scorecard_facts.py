"""The deadlines facts of the latest scorecard: neutral before the first, the period's score
and standing once closed, and ``scorecard_closed_now`` only on the tick that closed it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from sqm.domain.model import LifecycleState
from sqm.domain.scorecard_records import Scorecard
from sqm.rules.catalogue import NO_SCORECARD_SCORE, NONE_TEXT, check_facts
from sqm.rules.scorecard_facts import scorecard_facts
from tests.fakes import supplier_in

CLOSED_AT = datetime(2025, 4, 1, 1, tzinfo=UTC)
MARCH = Scorecard(
    "2025-03", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC), 41.5,
    "poor", "较差 (poor)", (), "", closed_at=CLOSED_AT,
)  # fmt: skip


def test_before_the_first_scorecard_the_facts_are_neutral() -> None:
    """No scorecard: score 100, standing 'none', nothing closed now; typed as the catalogue says."""
    facts = scorecard_facts(supplier_in(LifecycleState.CONTRACTED), CLOSED_AT)

    assert facts == {
        "scorecard_score": NO_SCORECARD_SCORE,
        "standing": NONE_TEXT,
        "scorecard_closed_now": False,
    }
    check_facts(facts)


def test_the_tick_that_closed_a_period_sees_it_as_closed_now() -> None:
    """At the closing tick: the score, the standing, and closed now; a later tick: not now."""
    supplier = attrs.evolve(supplier_in(LifecycleState.CONTRACTED), scorecards=(MARCH,))

    assert scorecard_facts(supplier, CLOSED_AT) == {
        "scorecard_score": 41.5,
        "standing": "poor",
        "scorecard_closed_now": True,
    }
    assert not scorecard_facts(supplier, datetime(2025, 4, 2, tzinfo=UTC))["scorecard_closed_now"]


def test_a_period_not_rated_keeps_the_neutral_score_and_standing() -> None:
    """No KPI had data: no standing, so the facts stay neutral (but it did close now)."""
    unrated = attrs.evolve(MARCH, score=0.0, standing="", standing_title="")
    supplier = attrs.evolve(supplier_in(LifecycleState.CONTRACTED), scorecards=(unrated,))

    facts = scorecard_facts(supplier, CLOSED_AT)

    assert (facts["scorecard_score"], facts["standing"]) == (NO_SCORECARD_SCORE, NONE_TEXT)
    assert facts["scorecard_closed_now"] is True
