"""Listing suppliers by the standing of their latest scorecard reads on past pages that hold
none, stops at the limit, and counts only the latest scorecard.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from sqm.domain.errors import InvalidCommand
from sqm.domain.model import SupplierState
from sqm.domain.scorecard_records import (
    KpiMeasure,
    KpiSpec,
    Scorecard,
    ScorecardPeriod,
    ScorecardSpec,
    Standing,
)
from sqm.server.app import scorecards
from sqm.server.app.scorecards import latest_standing, require_standing, suppliers_in_standing
from tests.fakes import FakePolicy

START, END = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
SPEC = ScorecardSpec(
    ScorecardPeriod.MONTHLY,
    (KpiSpec("sla", "SLA", KpiMeasure.SLA_ATTAINMENT, 1.0),),
    (Standing("good", "Good", 75), Standing("fair", "Fair", 60), Standing("poor", "Poor", 0)),
)


def _card(standing: str) -> Scorecard:
    return Scorecard("2025-03", START, END, 50.0, standing, standing, (), "")


def _supplier(number: int, *standings: str) -> SupplierState:
    state = SupplierState(f"s-{number:03d}", f"S{number}", "software")
    return attrs.evolve(state, scorecards=tuple(_card(s) for s in standings))


SUPPLIERS = [
    _supplier(n, *(("poor",) if n % 7 == 0 else ("good",) if n % 2 else ())) for n in range(1, 50)
]


def _list_page(after: str, limit: int) -> list[SupplierState]:
    return [s for s in SUPPLIERS if s.supplier_id > after][:limit]


def test_matches_are_found_across_batches_in_id_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """With batches of 5, the poor suppliers (every 7th) are all found, in id order."""
    monkeypatch.setattr(scorecards, "STANDING_SCAN_BATCH", 5)

    found = suppliers_in_standing(_list_page, "poor", "", 100)

    assert [s.supplier_id for s in found] == [f"s-{n:03d}" for n in range(7, 50, 7)]


def test_a_page_stops_at_the_limit_and_resumes_after_its_last_supplier() -> None:
    """Two at a time: the second page starts after the first page's last match."""
    first = suppliers_in_standing(_list_page, "poor", "", 2)
    second = suppliers_in_standing(_list_page, "poor", first[-1].supplier_id, 2)

    assert [s.supplier_id for s in first + second] == ["s-007", "s-014", "s-021", "s-028"]


def test_only_the_latest_scorecard_counts_and_none_before_the_first() -> None:
    """Poor then good is good; no scorecard is no standing."""
    assert latest_standing(_supplier(1, "poor", "good")) == "good"
    assert latest_standing(_supplier(2)) == ""


def test_a_standing_the_policy_does_not_declare_is_refused_with_the_choices() -> None:
    """'terrible' is no standing of the pack: the field is named with the ones there are."""
    policy = FakePolicy(scorecard_spec=SPEC)

    require_standing(policy, "poor")
    with pytest.raises(InvalidCommand, match="expected one of: good, fair, poor") as refused:
        require_standing(policy, "terrible")
    assert refused.value.violations[0].field == "standing"


def test_no_standing_is_accepted_when_the_policy_declares_no_scorecard() -> None:
    """A pack without scorecards has no standings to list by."""
    with pytest.raises(InvalidCommand, match="declares no scorecard standings"):
        require_standing(FakePolicy(), "poor")
