"""End to end: what rules' actions record, through a real ``sqm serve`` on a pack of our own.

A copy of the default pack, with the rules under test added, is served with
``--policy-dir``; the supplier is driven over gRPC and the record is read back as other
systems read it (ListSupplierEvents).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient
from sqm.rules import default_pack_dir
from sqm.v1 import audit_service_pb2, audit_service_pb2_grpc
from sqm.v1 import resources_pb2 as pb
from tests.e2e.process_flow import Timeline, availability_row, contracted
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

MID_MARCH = datetime(2030, 3, 10, 9, 0, tzinfo=UTC)
CRITICAL_MISS = 98.0  # 1.9 points under the 99.9% target: critical in the default tiers

REMEDIATE_ON_CRITICAL = """
  - id: MON-091
    stage: monitoring
    title: A critical breach under review requires remediation at once
    when:
      all:
        - {fact: lifecycle, op: "==", value: under_review}
        - {fact: breach_severity_rank, op: ">=", value: 3}
    then: {action: require_remediation}
    message: "Critical breach of {objective} under review: improvement plan required"
"""

TERMINATE_ON_CRITICAL = """
  - id: MON-090
    stage: monitoring
    title: A critical breach during remediation ends the contract
    when:
      all:
        - {fact: lifecycle, op: "==", value: remediation}
        - {fact: breach_severity_rank, op: ">=", value: 3}
    then: {action: terminate}
    message: "Critical breach of {objective} during remediation: contract terminated"
"""


def pack_with(tmp_path: Path, file: str, rules: str) -> Path:
    """A copy of the default pack with ``rules`` appended to ``file``'s rules."""
    pack = tmp_path / "pack"
    shutil.copytree(default_pack_dir(), pack)
    with (pack / file).open("a", encoding="utf-8") as out:
        out.write(rules)
    return pack


def in_remediation(client: SqmClient, supplier_id: str, timeline: Timeline) -> None:
    """A contracted supplier put under review by hand and required to improve."""
    contracted(client, supplier_id, timeline)
    client.open_review(supplier_id, "repeated outages", occur_time=timeline.step(2))
    client.conclude_review(
        supplier_id, pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, occur_time=timeline.step()
    )


def test_a_critical_breach_in_remediation_terminates_for_cause_not_as_a_missed_deadline(
    tmp_path: Path,
) -> None:
    """Days into the plan's time, the rule's termination is recorded for its cause."""
    pack = pack_with(tmp_path, "monitoring.yaml", TERMINATE_ON_CRITICAL)
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--policy-dir", str(pack)
    ).start()
    try:
        with SqmClient(server.address) as client:
            timeline = Timeline()
            in_remediation(client, "frail-net", timeline)
            ended = client.record_measurement(
                availability_row("frail-net", CRITICAL_MISS, timeline)
            )
            assert ended.supplier.state == pb.LIFECYCLE_STATE_TERMINATED
            events = list(client.list_supplier_events("frail-net"))
    finally:
        server.kill()
    types = [e.type for e in events]
    assert "ImprovementDeadlineMissed" not in types
    (cause,) = [e for e in events if e.type == "TerminatedForCause"]
    assert cause.payload["rule_id"] == "MON-090"
    assert "Critical breach of availability during remediation" in cause.payload["ground"]
    moves = [e for e in events if e.type == "LifecycleTransitioned"]
    (moved,) = [e for e in moves if e.payload["to_state"] == "terminated"]
    assert moved.payload["trigger"] == "terminate_for_cause"
    assert moved.payload["cause"] == "rule MON-090"


def watched(address: str, supplier_id: str, until: str) -> Iterator[pb.SupplierEvent]:
    """The supplier's events as a Watch subscriber sees them, up to the first of type ``until``."""
    request = audit_service_pb2.WatchRequest(supplier=f"suppliers/{supplier_id}")
    with grpc.insecure_channel(address) as channel:
        stream = audit_service_pb2_grpc.AuditServiceStub(channel).Watch(request, timeout=30)
        for item in stream:
            if item.HasField("event"):
                yield item.event
                if item.event.type == until:
                    stream.cancel()
                    return


def test_a_second_critical_breach_requires_remediation_and_is_escalated_to_a_role(
    tmp_path: Path,
) -> None:
    """Under review, a critical breach concludes the review with a plan (the pack's MON-091)
    and the default pack's MON-012 escalates it; a Watch subscriber sees the escalation.
    """
    pack = pack_with(tmp_path, "monitoring.yaml", REMEDIATE_ON_CRITICAL)
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--policy-dir", str(pack)
    ).start()
    try:
        with SqmClient(server.address) as client:
            timeline = Timeline()
            contracted(client, "shaky-net", timeline)
            timeline.step(2)
            first = client.record_measurement(
                availability_row("shaky-net", CRITICAL_MISS, timeline)
            )
            assert first.supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
            second = client.record_measurement(
                availability_row("shaky-net", CRITICAL_MISS, timeline)
            )
            assert second.supplier.state == pb.LIFECYCLE_STATE_REMEDIATION
            escalation = next(d for d in second.decisions if d.action == "escalate")
            assert escalation.parameters["to"] == "procurement_director"
            events = list(watched(server.address, "shaky-net", until="Escalated"))
    finally:
        server.kill()
    types = [e.type for e in events]
    assert types.index("ReviewConcluded") < types.index("ImprovementPlanRequired")
    (concluded,) = [e for e in events if e.type == "ReviewConcluded"]
    assert concluded.payload["outcome"] == "remediation_required"
    escalated = events[-1]
    assert escalated.type == "Escalated"
    notice = escalated.notice
    assert (notice.kind, notice.rule_id, notice.to) == (
        "escalated",
        "MON-012",
        "procurement_director",
    )
    assert "2 critical breaches in 30 days" in notice.message
    assert escalated.payload["to"] == "procurement_director"


def test_a_failed_inspection_costs_the_default_packs_fixed_amount_within_the_caps(
    tmp_path: Path,
) -> None:
    """PEN-002 enters 3000.00 CNY for a failed inspection; its credits and the breach credit
    share the period cap of 20% of the 125,000.00 CNY fee (25,000.00 CNY a month).
    """
    server = ServerProcess(tmp_path / "sqm.sqlite3", "--tick-seconds", "0").start()
    try:
        with SqmClient(server.address) as client:
            timeline = Timeline(MID_MARCH)  # one ledger month for everything below
            contracted(client, "dusty-net", timeline)
            timeline.step(2)
            client.record_measurement(availability_row("dusty-net", CRITICAL_MISS, timeline))
            for _ in range(5):
                client.record_inspection("dusty-net", False, occur_time=timeline.step(0.1))
            ledger = client.list_penalties("dusty-net")
    finally:
        server.kill()
    entered = [(p.rule_id, p.amount.amount, p.cap_applied) for p in ledger.penalties]
    assert entered == [
        ("PEN-001", "12500.00", ""),  # 10% of the fee for the critical breach
        ("PEN-002", "3000.00", ""),
        ("PEN-002", "3000.00", ""),
        ("PEN-002", "3000.00", ""),
        ("PEN-002", "3000.00", ""),
        ("PEN-002", "500.00", "period"),  # 24,500.00 credited: 500.00 left this month
    ]
