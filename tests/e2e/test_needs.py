"""End to end: a need, its shortlist, a ranking kept as a record, and the award, over gRPC."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient, SqmError
from sqm.client.audit_client import AuditClient
from sqm.v1 import needs_pb2 as needs_api
from tests.e2e.process_flow import Timeline, advance_time, qualified
from tests.e2e.server_process import ServerProcess, running_server


@pytest.fixture
def server(database: Path) -> Iterator[ServerProcess]:
    """A drill-mode server: these tests advance time beyond the wall clock."""
    yield from running_server(database, "--drill")


pytestmark = pytest.mark.e2e

NEED = "core-routers-2027"
TL_9000 = "tl_9000"
# Cost criteria take raw values: price in CNY a month, lead time in days (lower is better).
QUOTES = {
    "huawei-core": {"price": 118000.0, "delivery_lead_time": 30.0},
    "zte-core": {"price": 131000.0, "delivery_lead_time": 45.0},
}


def _need_with_shortlist(client: SqmClient, timeline: Timeline) -> needs_api.Need:
    client.create_need(
        NEED, "Core routers for 2027", "network_equipment", [TL_9000],
        occur_time=timeline.now,
    )  # fmt: skip
    for supplier_id in QUOTES:
        qualified(client, supplier_id, timeline)
        client.shortlist_supplier(NEED, supplier_id, occur_time=timeline.step())
    return client.get_need(NEED)


def _failure(call: object) -> SqmError:
    assert isinstance(call, SqmError)
    return call


def test_a_need_is_shortlisted_ranked_on_record_and_awarded(
    server: ServerProcess, client: SqmClient
) -> None:
    """The ranking is kept (policy version, figures, raw values, report) and the award cites it."""
    timeline = Timeline()
    need = _need_with_shortlist(client, timeline)
    assert need.shortlist == ["suppliers/huawei-core", "suppliers/zte-core"]
    assert need.state == needs_api.NEED_STATE_OPEN
    assert not need.ranking_current

    ranked = client.rank_shortlist(NEED, QUOTES, occur_time=timeline.step())

    ranking = ranked.ranking
    assert ranking.number == 1
    assert len(ranking.policy_version) == 64
    assert next(c.supplier for c in ranking.candidates) == "suppliers/huawei-core"
    assert ranking.candidates[0].values["price"] == 118000.0
    assert any(line.startswith("1. huawei-core") for line in ranking.report)
    assert [e.type for e in ranked.events] == ["ShortlistRanked"]
    assert ranked.events[0].need == f"needs/{NEED}"
    assert not ranked.events[0].supplier

    awarded = client.award_need(NEED, "huawei-core", occur_time=timeline.step())

    assert awarded.need.state == needs_api.NEED_STATE_AWARDED
    assert awarded.need.awarded_supplier == "suppliers/huawei-core"
    kept = client.get_need(NEED)
    assert list(kept.rankings) == [ranking]
    assert [n.name for n in client.list_needs()] == [f"needs/{NEED}"]
    # Needs are not suppliers: listing suppliers, and advancing their clocks, skip them.
    assert [s.supplier_id for s in client.list_suppliers()] == ["huawei-core", "zte-core"]
    assert advance_time(server.address, timeline.step()).suppliers_checked == 2


def test_the_need_records_are_in_the_hash_chain_and_watched(server: ServerProcess) -> None:
    """Every need event is on the global sequence: the chain verifies and Watch delivers it."""
    timeline = Timeline()
    with SqmClient(server.address) as client:
        _need_with_shortlist(client, timeline)
        client.rank_shortlist(NEED, QUOTES, occur_time=timeline.step())
    with AuditClient(server.address) as audit:
        verdict = audit.verify_chain()
        with audit.watch(timeout=10) as stream:
            watched = [item.event for item in itertools.islice(stream, verdict.events_checked)]

    assert verdict.intact
    need_events = [e.type for e in watched if e.need == f"needs/{NEED}"]
    # Neither supplier has market research on file: MR-001 warns the buyer at each.
    assert need_events == [
        "NeedOpened",
        "SupplierShortlisted",
        "NeedNoticeIssued",
        "SupplierShortlisted",
        "NeedNoticeIssued",
        "ShortlistRanked",
    ]


def test_awarding_against_the_ranking_needs_a_reason(client: SqmClient) -> None:
    """The second-ranked supplier can be chosen only with the committee's reason on record."""
    timeline = Timeline()
    _need_with_shortlist(client, timeline)
    client.rank_shortlist(NEED, QUOTES, occur_time=timeline.step())

    with pytest.raises(SqmError) as refused:
        client.award_need(NEED, "zte-core", occur_time=timeline.step())
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f.field for f in refused.value.bad_fields] == ["reason"]

    awarded = client.award_need(
        NEED, "zte-core", reason="local spares depot", occur_time=timeline.step()
    )
    assert awarded.need.award_reason == "local spares depot"
    assert awarded.events[0].payload["weighted_rank"] == 2


def test_an_ineligible_supplier_is_refused_and_nothing_is_written(client: SqmClient) -> None:
    """A software supplier cannot join a network need; the reason names the mismatch."""
    timeline = Timeline()
    need = _need_with_shortlist(client, timeline)
    client.register_supplier("soft-co", "Soft Co", "software", occur_time=timeline.step())

    with pytest.raises(SqmError) as refused:
        client.shortlist_supplier(NEED, "soft-co", occur_time=timeline.step())

    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "NEED_PRECONDITION"
    assert "provides software" in refused.value.message
    assert client.get_need(NEED).etag == need.etag


def test_award_before_a_current_ranking_is_refused(client: SqmClient) -> None:
    """Shortlisting after a ranking makes it stale: the award waits for a new ranking."""
    timeline = Timeline()
    _need_with_shortlist(client, timeline)
    client.rank_shortlist(NEED, QUOTES, occur_time=timeline.step())
    qualified(client, "nokia-core", timeline)
    client.shortlist_supplier(NEED, "nokia-core", occur_time=timeline.step())

    with pytest.raises(SqmError) as refused:
        client.award_need(NEED, "huawei-core", occur_time=timeline.step())
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION

    # A cost criterion of a shortlisted supplier left out of the request is named by id.
    with pytest.raises(SqmError) as incomplete:
        client.rank_shortlist(NEED, QUOTES, occur_time=timeline.step())
    assert incomplete.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert any(f.field.startswith("candidates['nokia-core']") for f in incomplete.value.bad_fields)


def test_a_retried_request_is_recorded_once(client: SqmClient) -> None:
    """The same request id returns the first response and writes nothing more."""
    timeline = Timeline()
    _need_with_shortlist(client, timeline)
    moment = timeline.step()

    first = client.rank_shortlist(NEED, QUOTES, occur_time=moment, request_id="rank-1")
    again = client.rank_shortlist(NEED, QUOTES, occur_time=moment, request_id="rank-1")

    assert again.ranking == first.ranking
    assert [e.sequence for e in again.events] == [e.sequence for e in first.events]
    assert len(client.get_need(NEED).rankings) == 1


def test_bad_requests_name_their_fields(client: SqmClient) -> None:
    """Malformed names, ids and enums are named in API terms; unknown needs are NOT_FOUND."""
    with pytest.raises(SqmError) as bad:
        client.create_need("Bad Id", "", "")
    assert {f.field for f in bad.value.bad_fields} == {"need_id", "need.title", "need.category"}

    with pytest.raises(SqmError) as missing:
        client.get_need("nothing-here")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    assert missing.value.reason == "NEED_NOT_FOUND"
