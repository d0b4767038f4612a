"""RecordMeasurement answers with the measurement's figures against its objective."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sqm.domain.model import Comparator, Contract, Money, SlaObjective, SupplierState
from sqm.server.api.process_mapping import measurement_assessment
from sqm.v1 import resources_pb2 as pb

T0 = datetime(2026, 3, 2, tzinfo=UTC)
AVAILABILITY = SlaObjective("availability", "availability", Comparator.AT_LEAST, 99.9, 99.95)
RESTORE = SlaObjective("mttr", "mean_time_to_restore", Comparator.AT_MOST, 4.0, 3.0, 0.5)


def _contracted() -> SupplierState:
    fee = Money(Decimal("1000.00"), "CNY")
    contract = Contract("C-1", T0, T0, T0, fee, fee, (AVAILABILITY, RESTORE))
    return SupplierState("acme", "ACME", "network_equipment", contract=contract)


def test_a_met_availability_objective_answers_with_its_margin() -> None:
    """99.97 against >= 99.9: met, margin 0.07, no shortfall, above the warning."""
    figures = measurement_assessment(_contracted(), "availability", 99.97)
    assert figures is not None
    assert figures.met
    assert figures.shortfall == 0
    assert figures.margin == pytest.approx(0.07)
    assert not figures.in_warning
    assert figures.comparator == pb.COMPARATOR_AT_LEAST
    assert figures.target == 99.9


def test_a_met_but_warned_restore_time_reports_the_warning() -> None:
    """3.5 h against <= 4 h (warning at 3 h): met with a 0.5 h margin, in warning."""
    figures = measurement_assessment(_contracted(), "mttr", 3.5)
    assert figures is not None
    assert (figures.met, figures.margin, figures.in_warning) == (True, 0.5, True)
    assert figures.tolerance == 0.5


def test_a_missed_objective_answers_with_its_shortfall() -> None:
    """99.5 against >= 99.9: missed by 0.4, no margin."""
    figures = measurement_assessment(_contracted(), "availability", 99.5)
    assert figures is not None
    assert not figures.met
    assert figures.shortfall == pytest.approx(0.4)
    assert figures.margin == 0


def test_no_figures_without_the_objective() -> None:
    """An objective the contract does not have (or no contract) gives no figures."""
    assert measurement_assessment(_contracted(), "nope", 1.0) is None
    bare = SupplierState("acme", "ACME", "network_equipment")
    assert measurement_assessment(bare, "availability", 1.0) is None
