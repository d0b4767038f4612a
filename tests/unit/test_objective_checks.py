"""One check of an SLA objective's coherence, shared by the pack loader and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sqm.domain.catalogue_checks import validate_with_ids
from sqm.domain.commands import RegisterSupplier, SignContract
from sqm.domain.errors import InvalidCommand
from sqm.domain.model import Comparator, Money, SlaObjective
from sqm.domain.objectives import objective_problems
from sqm.domain.validation import validate
from sqm.rules.pack_catalogue import default_catalogue
from sqm.server.api import mapping
from sqm.v1 import supplier_service_pb2 as api

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CATALOGUE = default_catalogue()


def validate_all(command: object) -> None:
    """The command's own checks and its ids against the default catalogue, in one answer."""
    validate_with_ids(command, CATALOGUE, validate)


def test_contract_objectives_are_checked_with_the_policy_loaders_words() -> None:
    """The API and the pack loader run one check: same findings for the same objective."""
    objective = SlaObjective("mttr", "mean_time_to_restore", Comparator.AT_MOST, 4.0, 6.0)
    expected = {
        f"objectives[0].{key}": message for key, message in objective_problems(objective, CATALOGUE)
    }
    command = SignContract(
        "acme",
        "C-1",
        T0,
        Money(Decimal(0), "CNY"),
        Money(Decimal(0), "CNY"),
        objectives=(objective,),
    )
    with pytest.raises(InvalidCommand) as error:
        validate_all(command)
    assert {v.field: v.description for v in error.value.violations} == expected
    assert set(expected) == {"objectives[0].warning"}


@pytest.mark.parametrize(
    ("comparator", "target", "warning", "faults"),
    [
        (Comparator.AT_LEAST, 99.9, 99.95, set()),
        (Comparator.AT_LEAST, 99.9, 99.9, set()),  # a warning at the target is allowed
        (Comparator.AT_MOST, 99.9, 99.8, {"comparator"}),
        (Comparator.AT_LEAST, 99.9, 99.0, {"warning"}),
        (Comparator.AT_LEAST, 101.0, 101.0, {"target", "warning"}),
        (Comparator.AT_LEAST, float("nan"), 99.0, {"target"}),
    ],
)
def test_objective_problems_follow_range_direction_and_safe_side(
    comparator: Comparator, target: float, warning: float, faults: set[str]
) -> None:
    """Availability: 0-100, compared with >=, warned at or above the target."""
    objective = SlaObjective("a", "availability", comparator, target, warning)
    assert {key for key, _ in objective_problems(objective, CATALOGUE)} == faults


def test_a_faulty_request_hands_over_no_command() -> None:
    """The mapped command is only handed over when nothing is wrong."""
    command, problems = mapping.checked_command(
        mapping.register_supplier, validate_all, api.RegisterSupplierRequest(), lambda: T0
    )
    assert command is None
    assert {p.field for p in problems} == {"supplier_id", "display_name", "category"}


def test_a_sound_request_hands_over_its_command() -> None:
    """Without faults the command comes back and nothing is reported."""
    request = api.RegisterSupplierRequest(
        supplier_id="acme", display_name="ACME", category="network_equipment", request_id="r"
    )
    command, problems = mapping.checked_command(
        mapping.register_supplier, validate_all, request, lambda: T0
    )
    assert problems == []
    assert command == RegisterSupplier("acme", "ACME", "network_equipment", T0)
