"""A request with several independent faults names every faulty field in one BadRequest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from hypothesis import given

from sqm.domain.errors import InvalidCommand
from sqm.rules.pack_catalogue import default_catalogue
from sqm.server.api import mapping, process_mapping
from sqm.server.api.errors import to_status
from sqm.server.api.servicer_base import ServicerBase
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from tests.strategies import fault_sets

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Fault = Callable[[Any], None]


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(moment)
    return value


def _objective(objective_id: str) -> pb.SlaObjective:
    return pb.SlaObjective(
        objective_id=objective_id,
        metric="availability",
        comparator=pb.COMPARATOR_AT_LEAST,
        target=99.9,
        warning=99.95,
        period_days=30,
    )


def _sound_contract_request() -> api.SignContractRequest:
    return api.SignContractRequest(
        name="suppliers/acme",
        request_id="r-1",
        contract=pb.Contract(
            contract_id="C-1",
            monthly_fee=pb.Money(amount="1000.00", currency_code="CNY"),
            liability_limit=pb.Money(amount="5000.00", currency_code="CNY"),
            start_time=_stamp(T0),
            end_time=_stamp(T0 + timedelta(days=365)),
            objectives=[_objective(f"o{index}") for index in range(6)],
        ),
    )


def _set(path: str, value: object) -> Fault:
    """A fault that sets the attribute at dotted ``path`` (``contract.objectives.2.target``)."""

    def inject(request: Any) -> None:
        *parents, last = path.split(".")
        target = request
        for part in parents:
            target = target[int(part)] if part.isdigit() else getattr(target, part)
        if isinstance(value, timestamp_pb2.Timestamp):
            getattr(target, last).CopyFrom(value)
        else:
            setattr(target, last, value)

    return inject


# Each fault: how to inject it, and the field the answer must name. Faults touch different
# fields, so any combination is a request with exactly those faults.
CONTRACT_FAULTS: dict[str, tuple[Fault, str]] = {
    "name": (_set("name", "acme"), "name"),
    "request_id": (_set("request_id", ""), "request_id"),
    "contract_id": (_set("contract.contract_id", "no spaces"), "contract.contract_id"),
    "fee": (_set("contract.monthly_fee.amount", "1.234"), "contract.monthly_fee.amount"),
    "currency": (
        _set("contract.liability_limit.currency_code", "cny"),
        "contract.liability_limit.currency_code",
    ),
    "end": (_set("contract.end_time", _stamp(T0 - timedelta(days=1))), "contract.end_time"),
    "range": (_set("contract.objectives.0.target", 150.0), "contract.objectives[0].target"),
    "direction": (
        _set("contract.objectives.1.comparator", pb.COMPARATOR_AT_MOST),
        "contract.objectives[1].comparator",
    ),
    "safe_side": (_set("contract.objectives.2.warning", 99.0), "contract.objectives[2].warning"),
    "comparator": (
        _set("contract.objectives.3.comparator", pb.COMPARATOR_UNSPECIFIED),
        "contract.objectives[3].comparator",
    ),
    "metric": (
        _set("contract.objectives.4.metric", ""),
        "contract.objectives[4].metric",
    ),
    "period": (_set("contract.objectives.5.period_days", 0), "contract.objectives[5].period_days"),
}

REGISTER_FAULTS: dict[str, tuple[Fault, str]] = {
    "supplier_id": (_set("supplier_id", "Not An Id"), "supplier_id"),
    "display_name": (_set("display_name", " "), "display_name"),
    "category": (_set("category", ""), "category"),
    "request_id": (_set("request_id", ""), "request_id"),
    "occur_time": (_set("occur_time", timestamp_pb2.Timestamp(seconds=-(10**12))), "occur_time"),
}


def _named_fields(mapper: Any, request: Any) -> set[str]:
    """The fields the servicers' first step names in the BadRequest of its answer."""
    service = SimpleNamespace(catalogue=default_catalogue)
    servicer = SimpleNamespace(_clock=lambda: T0, _service=service)
    with pytest.raises(InvalidCommand) as error:
        ServicerBase._prepare(servicer, mapper, request, None)  # type: ignore[arg-type]
    _, status = to_status(error.value)
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in status.details)
    return {violation.field for violation in bad_request.field_violations}


@given(fault_sets(tuple(CONTRACT_FAULTS)))
def test_sign_contract_names_every_injected_fault(faults: frozenset[str]) -> None:
    """Whatever mix of mapping and domain faults, each faulty field is in the answer."""
    request = _sound_contract_request()
    for fault in faults:
        CONTRACT_FAULTS[fault][0](request)
    named = _named_fields(process_mapping.sign_contract, request)
    assert {CONTRACT_FAULTS[fault][1] for fault in faults} <= named


@given(fault_sets(tuple(REGISTER_FAULTS)))
def test_register_supplier_names_exactly_the_injected_faults(faults: frozenset[str]) -> None:
    """A registration names exactly its faulty fields, no fewer and no more."""
    request = api.RegisterSupplierRequest(
        supplier_id="acme",
        display_name="ACME Networks",
        category="network_equipment",
        request_id="r-1",
    )
    for fault in faults:
        REGISTER_FAULTS[fault][0](request)
    named = _named_fields(mapping.register_supplier, request)
    assert named == {REGISTER_FAULTS[fault][1] for fault in faults}
