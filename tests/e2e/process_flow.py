"""Bring a supplier through the process for end-to-end tests: timeline, qualification, contract.

Times start a day ahead of the wall clock: a deadline scheduler ticking at the server's
clock skips suppliers whose last event is later than its tick, so it cannot interfere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import grpc
from google.protobuf import timestamp_pb2

from sqm.client import SqmClient, certificate, contract, measurement, money, sla_objective
from sqm.v1 import admin_service_pb2, admin_service_pb2_grpc
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from tests.e2e.evidence import GOOD_SCORES

MONTHLY_FEE = money("125000.00", "CNY")
LIABILITY_LIMIT = money("1500000.00", "CNY")
# No grace: a breach in these tests earns its service credit at once.
AVAILABILITY = sla_objective("availability", "availability", pb.COMPARATOR_AT_LEAST, 99.9, 99.95)
RESTORE = sla_objective(
    "restore", "mean_time_to_restore", pb.COMPARATOR_AT_MOST, 4.0, 3.0, tolerance=0.5
)
OBJECTIVES = (AVAILABILITY, RESTORE)


@attrs.define
class Timeline:
    """Domain times that only move forward, starting just ahead of the wall clock."""

    now: datetime = attrs.field(
        factory=lambda: (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    )

    def step(self, days: float = 1) -> datetime:
        """Move forward and return the new time."""
        self.now += timedelta(days=days)
        return self.now


def network_certificates(at: datetime) -> list[pb.Certificate]:
    """Business licence, ISO 9001 and TL 9000, valid from a year before ``at`` to two after."""
    kinds = {
        "business_licence": "SAMR",
        "iso_9001": "BSI",
        "tl_9000": "QuEST Forum",
    }
    start, end = at - timedelta(days=365), at + timedelta(days=730)
    return [certificate(kind, f"CERT-{kind}", issuer, start, end) for kind, issuer in kinds.items()]


def qualified(client: SqmClient, supplier_id: str, timeline: Timeline) -> pb.Supplier:
    """Register a network-equipment supplier and qualify it under the default pack."""
    client.register_supplier(
        supplier_id, supplier_id.upper(), "network_equipment",
        occur_time=timeline.now,
    )  # fmt: skip
    response = client.submit_qualification_evidence(
        supplier_id,
        scores=GOOD_SCORES,
        certificates=network_certificates(timeline.now),
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=timeline.step(),
        view=pb.SUPPLIER_VIEW_FULL,
    )
    assert response.supplier.state == pb.LIFECYCLE_STATE_QUALIFIED, response.decisions
    return response.supplier


def the_contract(
    timeline: Timeline, objectives: tuple[pb.SlaObjective, ...] = OBJECTIVES
) -> pb.Contract:
    """A year's contract from the timeline's next day, at 125,000.00 CNY a month."""
    start = timeline.now + timedelta(days=1)
    return contract(
        "C-2026-001", monthly_fee=MONTHLY_FEE, liability_limit=LIABILITY_LIMIT,
        start_time=start, end_time=start + timedelta(days=365), objectives=objectives,
    )  # fmt: skip


def contracted(client: SqmClient, supplier_id: str, timeline: Timeline) -> api.ProcessResult:
    """A qualified supplier with a contract on :data:`OBJECTIVES`."""
    qualified(client, supplier_id, timeline)
    return client.sign_contract(
        supplier_id, the_contract(timeline), occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
    )


def availability_row(
    supplier_id: str, value: float, timeline: Timeline, request_id: str = "", **changes: object
) -> api.RecordMeasurementRequest:
    """An availability measurement over the 30 days up to the timeline's next day."""
    end = timeline.step()
    row = measurement(
        supplier_id, "availability", value, "percent",
        period_start=end - timedelta(days=30), period_end=end, occur_time=end,
        request_id=request_id,
    )  # fmt: skip
    for name, value_ in changes.items():
        setattr(row, name, value_)
    return row


def event_count(client: SqmClient, supplier_id: str) -> int:
    """How many events the supplier's stream holds."""
    return len(list(client.list_supplier_events(supplier_id)))


def advance_time(address: str, moment: datetime) -> admin_service_pb2.AdvanceTimeResponse:
    """Advance the server's clock to ``moment`` through AdminService.AdvanceTime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    with grpc.insecure_channel(address) as channel:
        stub = admin_service_pb2_grpc.AdminServiceStub(channel)
        return stub.AdvanceTime(admin_service_pb2.AdvanceTimeRequest(time=stamp), timeout=30)
