"""End to end: the whole process over gRPC, decided by the default pack's rules.

One supplier goes candidate -> qualified -> contracted -> breaches (penalised) -> under review
(opened by the breach-window rule) -> remediation with a plan -> verified back to contracted
when time advances. A second misses its plan deadline and the server's own scheduler, with
nobody calling, terminates it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sqm.client import SqmClient
from sqm.v1 import resources_pb2 as pb
from tests.e2e.process_flow import Timeline, advance_time, availability_row, contracted
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

MAJOR_MISS = 99.6  # 0.3 points under the 99.9% target: a major breach in the default tiers
SCHEDULER_WAIT_SECONDS = 30.0


def _remediate(client: SqmClient, supplier_id: str, timeline: Timeline) -> None:
    client.conclude_review(
        supplier_id, pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, occur_time=timeline.step()
    )
    client.submit_improvement_plan(
        supplier_id, ["add a redundant uplink", "24x7 NOC staffing"], "NOC lead",
        occur_time=timeline.step(),
    )  # fmt: skip


def test_breaches_review_remediation_and_verification_follow_the_rules(database: Path) -> None:
    """Three major breaches open a review by rule; a completed plan is verified 30 clean days on."""
    server = ServerProcess(database, "--tick-seconds", "0", "--drill").start()
    try:
        with SqmClient(server.address) as client:
            timeline = Timeline()
            signed = contracted(client, "acme-net", timeline)
            assert signed.supplier.state == pb.LIFECYCLE_STATE_CONTRACTED
            timeline.step(2)  # into the contract's term
            results = [
                client.record_measurement(availability_row("acme-net", MAJOR_MISS, timeline))
                for _ in range(3)
            ]
            assert results[-1].supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
            window = next(d for d in results[-1].decisions if d.action == "open_review")
            counted = [c for c in window.conditions if c.actual.number_value == 3]
            assert counted, window
            assert counted[0].threshold.number_value == 3
            assert "3" in window.message

            ledger = client.list_penalties("acme-net")
            assert len(ledger.penalties) == 3
            assert all(p.kind == "service_credit" for p in ledger.penalties)
            assert Decimal(ledger.service_credit_total.amount) > 0
            assert ledger.service_credit_total.currency_code == "CNY"

            _remediate(client, "acme-net", timeline)
            done = client.complete_improvement_plan("acme-net", occur_time=timeline.step())
            assert done.supplier.state == pb.LIFECYCLE_STATE_REMEDIATION

            early = advance_time(server.address, timeline.step(10))
            assert client.get_supplier("acme-net").state == pb.LIFECYCLE_STATE_REMEDIATION
            assert not any(d.action == "verify_remediation" for d in early.decisions)

            later = advance_time(server.address, timeline.step(25))
            assert any(d.action == "verify_remediation" for d in later.decisions)
            assert client.get_supplier("acme-net").state == pb.LIFECYCLE_STATE_CONTRACTED
    finally:
        server.kill()


def test_the_scheduler_terminates_a_supplier_whose_plan_is_overdue(database: Path) -> None:
    """With nobody calling, the server's scheduler fires the overdue plan's deadline."""
    setup = ServerProcess(database, "--tick-seconds", "0", "--drill").start()
    try:
        with SqmClient(setup.address) as client:
            # Started two months ago, so the plan fell due before today's wall clock.
            timeline = Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(days=60))
            contracted(client, "slow-net", timeline)
            client.open_review("slow-net", "repeated outages", occur_time=timeline.step(2))
            _remediate(client, "slow-net", timeline)
            assert client.get_supplier("slow-net").state == pb.LIFECYCLE_STATE_REMEDIATION
    finally:
        setup.kill()

    ticking = ServerProcess(database, "--tick-seconds", "0.2").start()
    try:
        with SqmClient(ticking.address) as client:
            deadline = time.monotonic() + SCHEDULER_WAIT_SECONDS
            while client.get_supplier("slow-net").state != pb.LIFECYCLE_STATE_TERMINATED:
                assert time.monotonic() < deadline, "the scheduler never fired the deadline"
                time.sleep(0.2)
            events = list(client.list_supplier_events("slow-net"))
            missed = [e for e in events if e.type == "ImprovementDeadlineMissed"]
            assert len(missed) == 1
            assert missed[0].actor == "scheduler"
            fired = [e.decision.rule_id for e in events if e.type == "DecisionRecorded"]
            # The terminating tick may also remind of the unarchived contract (DL-019).
            assert "DL-002" in fired[-2:]
    finally:
        ticking.kill()
