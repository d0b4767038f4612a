"""End to end: the process records (market research, kick-off, resource plan, problem tickets,
training, compensation settlements) on a real server, each once and with one bad input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from sqm.client import SqmClient, SqmError, money
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from tests.e2e.process_flow import Timeline, contracted, qualified
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(database: Path) -> Iterator[ServerProcess]:
    """A running ``sqm serve`` whose scheduler never ticks: only the test moves time."""
    process = ServerProcess(database, "--tick-seconds", "0").start()
    try:
        yield process
    finally:
        process.kill()


def _types(result: api.ProcessResult) -> list[str]:
    return [e.type for e in result.events]


def _refused(call: Callable[[], object]) -> SqmError:
    with pytest.raises(SqmError) as raised:
        call()
    return raised.value


def _fields(error: SqmError) -> set[str]:
    return {f.field for f in error.bad_fields}


def test_market_research_is_recorded_and_blank_summaries_are_named(client: SqmClient) -> None:
    """A qualified supplier takes market research; blank summaries are INVALID_ARGUMENT."""
    timeline = Timeline()
    qualified(client, "research-co", timeline)
    result = client.record_market_research(
        "research-co", "5G RAN", "on time for 3 operators", ["CMCC"], occur_time=timeline.step()
    )
    assert _types(result) == ["MarketResearchRecorded"]
    error = _refused(lambda: client.record_market_research("research-co", "", " "))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == {"capability_summary", "past_performance_summary"}


def test_a_kick_off_is_recorded_and_a_nameless_milestone_is_named(client: SqmClient) -> None:
    """A contracted supplier's kick-off is recorded; a milestone needs a name."""
    timeline = Timeline()
    contracted(client, "kick-co", timeline)
    due = timeline.now + timedelta(days=30)
    result = client.record_kick_off(
        "kick-co", "go live by Q3", [("cut-over", due)], "NOC owns alarms",
        occur_time=timeline.step(),
    )  # fmt: skip
    assert _types(result) == ["KickOffRecorded"]
    error = _refused(lambda: client.record_kick_off("kick-co", "goals", [(" ", due)]))
    assert _fields(error) == {"milestones[0].name"}


def test_a_resource_plan_is_recorded_and_an_empty_one_is_refused(client: SqmClient) -> None:
    """A contracted supplier's resource plan is recorded; one without resources is named."""
    timeline = Timeline()
    contracted(client, "staff-co", timeline)
    result = client.submit_resource_plan(
        "staff-co", ["2 engineers", "1 PM"], "from week 1", occur_time=timeline.step()
    )
    assert _types(result) == ["ResourcePlanSubmitted"]
    error = _refused(lambda: client.submit_resource_plan("staff-co", []))
    assert _fields(error) == {"resources"}


def test_a_problem_ticket_is_opened_and_resolved_once(client: SqmClient) -> None:
    """Opening and resolving a ticket are recorded; resolving it again names ticket_id."""
    timeline = Timeline()
    contracted(client, "ticket-co", timeline)
    opened = client.open_problem_ticket(
        "ticket-co", "PT-1", "packet loss", pb.SEVERITY_MAJOR, occur_time=timeline.step()
    )
    assert _types(opened) == ["ProblemTicketOpened"]
    resolved = client.resolve_problem_ticket(
        "ticket-co", "PT-1", "line card replaced", occur_time=timeline.step()
    )
    assert _types(resolved) == ["ProblemTicketResolved"]
    error = _refused(
        lambda: client.resolve_problem_ticket(
            "ticket-co", "PT-1", "again", occur_time=timeline.step()
        )
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == {"ticket_id"}


def test_get_supplier_shows_its_problem_tickets_due_as_the_pack_dates_them(
    client: SqmClient,
) -> None:
    """FULL: both tickets in the order opened, the resolved one with its resolve time, each due
    its severity's target (default pack: major 24 h, critical 4 h) after it was opened; BASIC:
    none.
    """
    timeline = Timeline()
    contracted(client, "tickets-co", timeline)
    major_at, critical_at, resolved_at = timeline.step(), timeline.step(0.25), timeline.step(0.25)
    client.open_problem_ticket(
        "tickets-co", "PT-1", "packet loss", pb.SEVERITY_MAJOR, occur_time=major_at
    )
    client.open_problem_ticket(
        "tickets-co", "PT-2", "site down", pb.SEVERITY_CRITICAL, occur_time=critical_at
    )
    client.resolve_problem_ticket("tickets-co", "PT-1", "line card", occur_time=resolved_at)

    full = client.get_supplier("tickets-co", view=pb.SUPPLIER_VIEW_FULL)
    major, critical = full.problem_tickets
    assert (major.ticket_id, major.severity) == ("PT-1", pb.SEVERITY_MAJOR)
    assert _at(major.open_time) == major_at
    assert _at(major.resolve_time) == resolved_at
    assert _at(major.resolution_due_time) == major_at + timedelta(hours=24)
    assert (critical.ticket_id, critical.severity) == ("PT-2", pb.SEVERITY_CRITICAL)
    assert _at(critical.open_time) == critical_at
    assert not critical.HasField("resolve_time")
    assert _at(critical.resolution_due_time) == critical_at + timedelta(hours=4)
    assert not any(t.HasField("review_open_time") for t in full.problem_tickets)
    basic = client.get_supplier("tickets-co", view=pb.SUPPLIER_VIEW_BASIC)
    assert not basic.problem_tickets


def _at(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def test_a_problem_ticket_without_a_severity_is_refused(client: SqmClient) -> None:
    """An unset severity is named ``severity``."""
    timeline = Timeline()
    contracted(client, "sev-co", timeline)
    error = _refused(
        lambda: client.open_problem_ticket("sev-co", "PT-1", "loss", pb.SEVERITY_UNSPECIFIED)
    )
    assert _fields(error) == {"severity"}


def test_training_is_recorded_and_zero_attendees_are_named(client: SqmClient) -> None:
    """Training for a contracted supplier is recorded; nobody attending is refused."""
    timeline = Timeline()
    contracted(client, "train-co", timeline)
    result = client.record_training("train-co", "incident handling", 12, occur_time=timeline.step())
    assert _types(result) == ["TrainingRecorded"]
    error = _refused(lambda: client.record_training("train-co", "incident handling", 0))
    assert _fields(error) == {"attendees"}


def test_a_compensation_is_settled_and_settling_more_names_amount(client: SqmClient) -> None:
    """Part of a claimed compensation is settled; more than what is left is refused."""
    timeline = Timeline()
    contracted(client, "settle-co", timeline)
    claimed = client.claim_compensation(
        "settle-co", money("1000.00"), "outage losses", occur_time=timeline.step()
    )
    (penalty_id,) = [p.penalty_id for p in client.list_penalties("settle-co").penalties]
    assert _types(claimed) == ["PenaltyAssessed"]
    settled = client.settle_compensation(
        "settle-co", penalty_id, money("400.00"), "first part", occur_time=timeline.step()
    )
    assert _types(settled) == ["CompensationSettled"]
    error = _refused(
        lambda: client.settle_compensation(
            "settle-co", penalty_id, money("600.01"), occur_time=timeline.step()
        )
    )
    assert _fields(error) == {"amount"}
