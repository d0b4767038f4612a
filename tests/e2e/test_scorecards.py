"""End to end: a supplier's month is scored by the default pack when time passes its end.

Through a real ``sqm serve``: a contracted supplier misses two of four availability
measurements in March 2027 (both penalised); on 1 April the month closes as poor, which opens
a review (SC-001) and, once the review is cleared, still keeps the supplier off a need's
shortlist; April, without a breach, closes as excellent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient
from sqm.client.errors import SqmError
from sqm.v1 import resources_pb2 as pb
from tests.commands import sqm
from tests.e2e.process_flow import Timeline, advance_time, availability_row, contracted
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

MET, MAJOR_MISS = 99.95, 99.6
MARCH_CLOSED = datetime(2027, 4, 1, 1, tzinfo=UTC)
APRIL_CLOSED = datetime(2027, 5, 1, 1, tzinfo=UTC)


def _scored_supplier(client: SqmClient, address: str) -> pb.Supplier:
    timeline = Timeline(datetime(2027, 3, 1, 9, tzinfo=UTC))
    contracted(client, "acme-net", timeline)
    for value in (MET, MAJOR_MISS, MET, MAJOR_MISS):
        client.record_measurement(availability_row("acme-net", value, timeline))
    advance_time(address, MARCH_CLOSED)
    return client.get_supplier("acme-net", view=pb.SUPPLIER_VIEW_FULL)


def test_a_month_closes_with_its_kpis_and_a_poor_standing_blocks_shortlisting(
    database: Path,
) -> None:
    """March: 2 of 4 measurements met, 12.5% of the fee in credits: poor, reviewed, and not
    shortlisted even once the review is cleared.
    """
    server = ServerProcess(database, "--tick-seconds", "0", "--drill").start()
    try:
        with SqmClient(server.address) as client:
            supplier = _scored_supplier(client, server.address)
            (march,) = supplier.scorecards
            kpis = {k.kpi_id: k for k in march.kpis}
            assert march.period == "2027-03"
            assert (march.standing, march.blocks_shortlisting, march.blocks_award) == (
                "poor",
                True,
                True,
            )
            assert kpis["sla_attainment"].basis == "2 of 4 measurements met their objective"
            assert kpis["penalties"].value == 12.5
            assert not kpis["satisfaction"].has_data
            assert "no data for satisfaction, inspections" in march.weights_note
            assert 0 < march.score < 60
            assert supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
            assert any(d.rule_id == "SC-001" for d in supplier.latest_decisions)
            client.conclude_review("acme-net", pb.REVIEW_OUTCOME_CLEARED, occur_time=MARCH_CLOSED)

            client.create_need(
                "core-routers", "Core routers", "network_equipment",
                occur_time=MARCH_CLOSED,
            )  # fmt: skip
            with pytest.raises(SqmError) as refused:
                client.shortlist_supplier("core-routers", "acme-net", occur_time=MARCH_CLOSED)
            assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
            assert "standing is poor" in refused.value.message

            poor = [s.supplier_id for s in client.list_suppliers(standing="poor")]
            excellent = [s.supplier_id for s in client.list_suppliers(standing="excellent")]
            assert (poor, excellent) == (["acme-net"], [])
            with pytest.raises(SqmError) as unknown:
                list(client.list_suppliers(standing="terrible"))
            assert unknown.value.code == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        server.kill()


def test_the_terminal_shows_the_scorecards_latest_first_with_the_trend(database: Path) -> None:
    """``sqm supplier scorecard``: April (excellent, up) above March (poor), then April's KPIs.

    April's progress report keeps its reports KPI on time (the contract started 3 March).
    """
    server = ServerProcess(database, "--tick-seconds", "0", "--drill").start()
    try:
        with SqmClient(server.address) as client:
            _scored_supplier(client, server.address)
            client.submit_progress_report(
                "acme-net", "April", occur_time=datetime(2027, 4, 2, 9, tzinfo=UTC)
            )
            advance_time(server.address, APRIL_CLOSED)

        shown = sqm("supplier", "scorecard", "acme-net", "--server", server.address)

        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        april = next(i for i, line in enumerate(lines) if line.startswith("2027-04"))
        march = next(i for i, line in enumerate(lines) if line.startswith("2027-03"))
        assert april < march
        assert "↑ +" in lines[april]
        assert "优秀 (excellent)" in lines[april]
        assert "较差 (poor) (blocks shortlisting and award)" in lines[march]
        assert "2027-04: KPIs" in shown.stdout
        assert "no measurements in the period" in shown.stdout
    finally:
        server.kill()
