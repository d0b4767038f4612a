"""End to end: the default pack's selection rules on a real `sqm serve` (steps 1.1 and 1.2).

A need due soon and then overdue without an award is reminded of, then escalated, each once
(NEED-001, NEED-002), by AdminService.AdvanceTime as by the scheduler's tick; a supplier
shortlisted without market research is flagged to the buyer (MR-001), and one whose research
is more than a year old is refused (MR-002, SELECTION_REFUSED).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from sqm.client import SqmClient, SqmError
from tests.e2e.process_flow import Timeline, advance_time, qualified
from tests.e2e.server_process import ServerProcess, running_server

pytestmark = pytest.mark.e2e

NETWORK = "network_equipment"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One drill-mode server for the module: the tests advance time beyond the wall clock.
    Each test uses needs and suppliers of its own.
    """
    yield from running_server(tmp_path_factory.mktemp("selection") / "sqm.sqlite3", "--drill")


@pytest.fixture
def client(server: ServerProcess) -> Iterator[SqmClient]:
    """A client connected to the module's server."""
    with SqmClient(server.address, timeout=10) as connected:
        yield connected


def _research(client: SqmClient, supplier_id: str, at: datetime) -> None:
    client.record_market_research(
        supplier_id,
        "5G core and RAN, 300 field engineers (服务能力)",
        "on time for three provincial operators (过往业绩)",
        ["中国移动广东公司"],
        occur_time=at,
    )


def _refused(call: object) -> SqmError:
    try:
        call()  # type: ignore[operator]
    except SqmError as error:
        return error
    raise AssertionError("the call was accepted")


def test_a_need_due_soon_then_overdue_is_reminded_then_escalated_once_each(
    server: ServerProcess, client: SqmClient
) -> None:
    """17 days ahead nothing; 10 days ahead NEED-001 once; past the date NEED-002 once."""
    timeline = Timeline()
    start = timeline.now
    client.create_need(
        "due-need", "Core routers", NETWORK, required_by=start + timedelta(days=20),
        occur_time=start,
    )  # fmt: skip
    assert not advance_time(server.address, start + timedelta(days=3)).decisions
    reminded = advance_time(server.address, start + timedelta(days=10))
    assert [d.rule_id for d in reminded.decisions] == ["NEED-001"]
    assert not advance_time(server.address, start + timedelta(days=11)).decisions
    escalated = advance_time(server.address, start + timedelta(days=21))
    assert [d.rule_id for d in escalated.decisions] == ["NEED-002"]
    assert not advance_time(server.address, start + timedelta(days=22)).decisions

    notices = client.get_need("due-need").notices
    assert [n.rule_id for n in notices] == ["NEED-001", "NEED-002"]
    assert notices[0].parameters["reminder"] == "need_due"
    assert notices[1].parameters["to"] == "procurement_director"
    # each is a notification in the outbox too, for the webhooks (沟通规范)
    with sqlite3.connect(f"file:{server.database}?mode=ro", uri=True) as conn:
        outbox = conn.execute(
            "SELECT kind, recipient FROM outbox WHERE stream_id LIKE '%due-need' ORDER BY seq"
        ).fetchall()
    assert outbox == [("reminder", "buyer"), ("escalation", "procurement_director")]


def test_shortlisting_without_market_research_warns_the_buyer_and_fresh_research_does_not(
    client: SqmClient,
) -> None:
    """MR-001 escalates to the buyer beside the shortlisting; researched, nothing is added."""
    timeline = Timeline()
    for supplier_id in ("mr-none", "mr-fresh"):
        qualified(client, supplier_id, timeline)
    _research(client, "mr-fresh", timeline.step())
    client.create_need("mr-need", "Core routers", NETWORK, occur_time=timeline.step())

    warned = client.shortlist_supplier("mr-need", "mr-none", occur_time=timeline.step())
    assert [e.type for e in warned.events] == ["SupplierShortlisted", "NeedNoticeIssued"]
    (notice,) = warned.need.notices
    assert notice.rule_id == "MR-001"
    assert notice.parameters["to"] == "buyer"

    quiet = client.shortlist_supplier("mr-need", "mr-fresh", occur_time=timeline.step())
    assert [e.type for e in quiet.events] == ["SupplierShortlisted"]
    assert quiet.need.shortlist == ["suppliers/mr-none", "suppliers/mr-fresh"]


def test_market_research_older_than_a_year_refuses_the_shortlisting(client: SqmClient) -> None:
    """FAILED_PRECONDITION SELECTION_REFUSED naming MR-002; nothing is recorded."""
    timeline = Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(days=500))
    qualified(client, "mr-stale", timeline)
    _research(client, "mr-stale", timeline.step())
    client.create_need("stale-need", "Core routers", NETWORK, occur_time=timeline.step(400))

    error = _refused(
        lambda: client.shortlist_supplier("stale-need", "mr-stale", occur_time=timeline.step())
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SELECTION_REFUSED")
    assert "MR-002" in str(error)
    assert not client.get_need("stale-need").shortlist
