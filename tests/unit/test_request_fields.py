"""Every bad field of a request is named in one answer, by the API's name for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2

from sqm.domain.commands import SignContract
from sqm.domain.errors import InvalidCommand
from sqm.domain.validation import validate
from sqm.rules.pack_catalogue import default_catalogue
from sqm.server.api import mapping, process_mapping
from sqm.server.api.errors import to_status
from sqm.server.api.servicer_base import ServicerBase
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    """The fixed server time the mappers fall back on."""
    return T0


def stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp."""
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(moment)
    return value


def prepared_problems(mapper: Any, request: Any) -> dict[str, str]:
    """What the servicers' shared first step reports about ``request``, by API field."""
    service = SimpleNamespace(catalogue=default_catalogue)
    servicer = SimpleNamespace(_clock=clock, _service=service)
    with pytest.raises(InvalidCommand) as error:
        ServicerBase._prepare(servicer, mapper, request, None)  # type: ignore[arg-type]
    _, status = to_status(error.value)
    bad_request = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad_request) for d in status.details)
    return {v.field: v.description for v in bad_request.field_violations}


def availability(**changes: Any) -> pb.SlaObjective:
    """A sound availability objective (>= 99.9, warning at 99.95), with ``changes``."""
    fields = {
        "objective_id": "availability",
        "metric": "availability",
        "comparator": pb.COMPARATOR_AT_LEAST,
        "target": 99.9,
        "warning": 99.95,
        "period_days": 30,
    }
    return pb.SlaObjective(**{**fields, **changes})


def sign(**contract: Any) -> api.SignContractRequest:
    """A SignContract request for acme with a sound contract, with ``contract`` changed."""
    fields: dict[str, Any] = {
        "contract_id": "C-1",
        "monthly_fee": pb.Money(amount="1000.00", currency_code="CNY"),
        "liability_limit": pb.Money(amount="5000.00", currency_code="CNY"),
        "start_time": stamp(T0),
        "end_time": stamp(T0 + timedelta(days=365)),
        "objectives": [availability()],
    }
    return api.SignContractRequest(
        name="suppliers/acme", request_id="r-1", contract=pb.Contract(**{**fields, **contract})
    )


def test_a_sound_contract_request_passes() -> None:
    """The baseline request of these tests is valid, so each fault below is the only one."""
    command = process_mapping.sign_contract(sign(), clock)
    validate(command)
    assert isinstance(command, SignContract)


def test_objective_comparing_against_its_metrics_direction_is_refused() -> None:
    """Availability gets better as it rises: an AT_MOST availability objective is refused."""
    request = sign(objectives=[availability(comparator=pb.COMPARATOR_AT_MOST, warning=99.8)])
    problems = prepared_problems(process_mapping.sign_contract, request)
    assert set(problems) == {"contract.objectives[0].comparator"}
    assert "'>='" in problems["contract.objectives[0].comparator"]


def test_warning_on_the_wrong_side_of_the_target_is_refused() -> None:
    """A >= 99.9 objective warning at 99.5 would warn only after the miss: refused."""
    problems = prepared_problems(
        process_mapping.sign_contract, sign(objectives=[availability(warning=99.5)])
    )
    assert set(problems) == {"contract.objectives[0].warning"}
    assert "safe side" in problems["contract.objectives[0].warning"]


def test_register_supplier_names_id_display_name_category_and_request_id_together() -> None:
    """A bad id, an empty display name, no category and no request id: all four named."""
    request = api.RegisterSupplierRequest(supplier_id="Bad Id!", display_name="  ")
    problems = prepared_problems(mapping.register_supplier, request)
    assert set(problems) == {"supplier_id", "display_name", "category", "request_id"}


def test_sign_contract_names_money_and_enum_errors_with_the_domains_findings() -> None:
    """Money and enum errors come with contract id, end time, target range and period."""
    request = sign(
        contract_id="",
        monthly_fee=pb.Money(amount="1.234", currency_code="CNY"),
        liability_limit=pb.Money(amount="10", currency_code="cny"),
        end_time=stamp(T0 - timedelta(days=1)),
        objectives=[
            availability(target=120.0, warning=120.0),
            availability(objective_id="b", comparator=pb.COMPARATOR_UNSPECIFIED),
            availability(objective_id="c", period_days=0),
        ],
    )
    problems = prepared_problems(process_mapping.sign_contract, request)
    assert set(problems) == {
        "contract.contract_id",
        "contract.monthly_fee.amount",
        "contract.liability_limit.currency_code",
        "contract.end_time",
        "contract.objectives[0].target",
        "contract.objectives[0].warning",
        "contract.objectives[1].comparator",
        "contract.objectives[2].period_days",
    }
    assert problems["contract.end_time"] == "must be later than `contract.start_time`"


def test_measurement_period_is_named_as_the_api_names_it() -> None:
    """A period ending before it starts names period_end_time and period_start_time."""
    request = api.RecordMeasurementRequest(
        name="suppliers/acme",
        request_id="r-1",
        objective_id="availability",
        value=99.0,
        unit="percent",
        period_start_time=stamp(T0 - timedelta(days=1)),
        period_end_time=stamp(T0 - timedelta(days=2)),
    )
    problems = prepared_problems(process_mapping.record_measurement, request)
    assert problems == {"period_end_time": "must be later than `period_start_time`"}


def test_a_missing_measurement_period_end_still_reports_the_other_fields() -> None:
    """No period end and an empty unit: both named, and no made-up period error."""
    request = api.RecordMeasurementRequest(
        name="suppliers/acme",
        request_id="r-1",
        objective_id="availability",
        value=99.0,
        period_start_time=stamp(T0 - timedelta(days=1)),
    )
    problems = prepared_problems(process_mapping.record_measurement, request)
    assert set(problems) == {"period_end_time", "unit"}
