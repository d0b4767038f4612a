"""End to end: a supplier, with its own token, submits, reads and acknowledges its notices
and disputes a service credit that the operator then decides, on a real `sqm serve`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from sqm.client import SqmClient, SqmError
from sqm.client.audit_client import AuditClient
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from tests.commands import sqm
from tests.e2e.process_flow import Timeline, availability_row, contracted
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

OPERATOR = "procurement-token-0123456789"
ACME = "acme-portal-token-0123456789"
GROUNDS = "the outage fell inside the operator's announced maintenance window"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server with an integration token and a supplier token bound to acme."""
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "tokens:\n"
        f"  - {{name: procurement, role: integration, token: {OPERATOR}}}\n"
        f"  - {{name: acme-portal, role: supplier, supplier: acme, token: {ACME}}}\n",
        encoding="utf-8",
    )
    tokens.chmod(0o600)
    running = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--tokens-file", str(tokens)
    ).start()
    try:
        yield running
    finally:
        running.kill()


@pytest.fixture
def timeline() -> Timeline:
    """Domain time for one test."""
    return Timeline()


@pytest.fixture
def operator(server: ServerProcess, timeline: Timeline) -> Iterator[SqmClient]:
    """The operator's integration client, acme under contract and one breach credited."""
    with SqmClient(server.address, token=OPERATOR) as client:
        contracted(client, "acme", timeline)
        yield client


@pytest.fixture
def portal(server: ServerProcess) -> Iterator[SqmClient]:
    """The supplier's own client, with acme's token."""
    with SqmClient(server.address, token=ACME) as client:
        yield client


def credit(operator: SqmClient, timeline: Timeline) -> str:
    """Record a breach of availability; the id of the service credit it earned."""
    operator.record_measurement(availability_row("acme", 98.5, timeline))
    ledger = operator.list_penalties("acme")
    return ledger.penalties[-1].penalty_id


def refused(call: object) -> SqmError:
    """The error a call (a no-argument callable) fails with."""
    with pytest.raises(SqmError) as raised:
        call()  # type: ignore[operator]
    return raised.value


def test_the_supplier_submits_its_own_reports_and_certificates_under_its_name(
    server: ServerProcess, operator: SqmClient, portal: SqmClient, timeline: Timeline
) -> None:
    """Self-check, progress report and a certificate document are recorded as acme-portal's."""
    portal.submit_self_check("acme", True, summary="backups tested", occur_time=timeline.step())
    portal.submit_progress_report("acme", "milestone 1 done", occur_time=timeline.step())
    with AuditClient(server.address, token=ACME) as archive:
        archive.archive_document(
            "acme", "iso9001.pdf", "application/pdf", b"%PDF-1.7 certificate",
            occur_time=timeline.step(),
        )  # fmt: skip
    events = list(portal.list_supplier_events("acme"))
    mine = {e.type: e.actor for e in events if e.actor == "acme-portal"}
    assert mine == {
        "SelfCheckSubmitted": "acme-portal",
        "ProgressReportSubmitted": "acme-portal",
        "DocumentArchived": "acme-portal",
    }


def test_the_supplier_answers_a_required_improvement_plan(
    operator: SqmClient, portal: SqmClient, timeline: Timeline
) -> None:
    """The plan a review required is a notice; the supplier's plan is recorded as its own."""
    operator.open_review("acme", "repeated outages", occur_time=timeline.step())
    operator.conclude_review(
        "acme", pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, occur_time=timeline.step()
    )
    assert "ImprovementPlanRequired" in {n.event.type for n in portal.list_notices("acme")}
    result = portal.submit_improvement_plan(
        "acme", ["add a standby link"], "NOC lead", occur_time=timeline.step()
    )
    assert [(e.type, e.actor) for e in result.events] == [
        ("ImprovementPlanSubmitted", "acme-portal")
    ]


def test_a_notice_is_listed_then_acknowledged_once(
    operator: SqmClient, portal: SqmClient, timeline: Timeline
) -> None:
    """The credit's notice is unread, then read; a retry replays, another request is refused."""
    credit(operator, timeline)
    (notice,) = [n for n in portal.list_notices("acme") if n.event.type == "PenaltyAssessed"]
    assert not notice.acknowledged
    sequence = notice.event.sequence
    at = timeline.step()
    first = portal.acknowledge_notice("acme", sequence, occur_time=at, request_id="ack-1")
    again = portal.acknowledge_notice("acme", sequence, occur_time=at, request_id="ack-1")
    assert [(e.type, e.actor) for e in first.events] == [("NoticeAcknowledged", "acme-portal")]
    assert first.events[0].payload["notice_sequence"] == sequence
    assert again.events[0].sequence == first.events[0].sequence
    read = [n for n in portal.list_notices("acme") if n.event.sequence == sequence]
    assert read[0].acknowledged
    error = refused(
        lambda: portal.acknowledge_notice(
            "acme", sequence, occur_time=timeline.step(), request_id="ack-2"
        )
    )
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOTICE_ALREADY_ACKNOWLEDGED",
    )


def test_only_a_notice_of_the_suppliers_own_can_be_acknowledged(
    operator: SqmClient, portal: SqmClient
) -> None:
    """An event that is not a notice (its registration) is NOT_FOUND."""
    registered = next(iter(portal.list_supplier_events("acme")))
    error = refused(lambda: portal.acknowledge_notice("acme", registered.sequence))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "NOTICE_NOT_FOUND")


def test_an_accepted_dispute_reverses_the_credit_in_the_ledger(
    operator: SqmClient, portal: SqmClient, timeline: Timeline
) -> None:
    """The supplier disputes, the operator accepts: a credit note nets the credit to zero, and
    the ledger shows the credit's dispute open, then accepted.
    """
    penalty_id = credit(operator, timeline)
    assert [p.dispute_status for p in portal.list_penalties("acme").penalties] == [""]
    disputed = portal.dispute_penalty("acme", penalty_id, GROUNDS, occur_time=timeline.step())
    assert [(e.type, e.actor) for e in disputed.events] == [("PenaltyDisputed", "acme-portal")]
    assert [p.dispute_status for p in portal.list_penalties("acme").penalties] == ["open"]
    decided = operator.decide_penalty_dispute(
        "acme", penalty_id, api.DISPUTE_OUTCOME_ACCEPTED, "confirmed", occur_time=timeline.step()
    )
    assert [(e.type, e.actor) for e in decided.events] == [
        ("PenaltyDisputeDecided", "procurement"),
        ("PenaltyReversed", "procurement"),
    ]
    ledger = portal.list_penalties("acme")
    assert ledger.penalties[-1].penalty_id == f"{penalty_id}/reversal"
    assert ledger.service_credit_total.amount == "0.00"
    assert [p.dispute_status for p in ledger.penalties] == ["accepted", ""]
    notices = {n.event.type for n in portal.list_notices("acme")}
    assert "PenaltyDisputeDecided" in notices


def test_dispute_errors_are_named(
    operator: SqmClient, portal: SqmClient, timeline: Timeline
) -> None:
    """Unknown penalty, a second dispute, a decision without a dispute; the supplier never
    decides its own dispute.
    """
    penalty_id = credit(operator, timeline)
    unknown = refused(
        lambda: portal.dispute_penalty(
            "acme", "acme/penalty-99", GROUNDS, occur_time=timeline.step()
        )
    )
    assert unknown.code == grpc.StatusCode.INVALID_ARGUMENT
    undisputed = refused(
        lambda: operator.decide_penalty_dispute(
            "acme", penalty_id, api.DISPUTE_OUTCOME_UPHELD, occur_time=timeline.step()
        )
    )
    assert undisputed.reason == "PENALTY_NOT_DISPUTED"
    portal.dispute_penalty("acme", penalty_id, GROUNDS, occur_time=timeline.step())
    twice = refused(
        lambda: portal.dispute_penalty("acme", penalty_id, "again", occur_time=timeline.step())
    )
    assert (twice.code, twice.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PENALTY_ALREADY_DISPUTED",
    )
    own = refused(
        lambda: portal.decide_penalty_dispute("acme", penalty_id, api.DISPUTE_OUTCOME_ACCEPTED)
    )
    assert own.code == grpc.StatusCode.PERMISSION_DENIED
    upheld = operator.decide_penalty_dispute(
        "acme", penalty_id, api.DISPUTE_OUTCOME_UPHELD, occur_time=timeline.step()
    )
    assert [e.type for e in upheld.events] == ["PenaltyDisputeDecided"]
    (entry,) = operator.list_penalties("acme").penalties
    assert (entry.penalty_id, entry.dispute_status) == (penalty_id, "upheld")


def test_the_command_line_lists_acknowledges_disputes_and_decides(server: ServerProcess) -> None:
    """`sqm notices list|ack`, `sqm penalty list|dispute|decide`: each caller with its own
    token; the ledger's listing shows each credit's dispute.
    """
    # In the past: the commands record at the server's clock, after these events.
    timeline = Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(days=20))
    with SqmClient(server.address, token=OPERATOR) as operator:
        contracted(operator, "acme", timeline)
        penalty_id = credit(operator, timeline)

    def run(token: str, *args: str) -> str:
        done = sqm(*args, "--server", server.address, "--token", token, "--output", "json")
        assert done.returncode == 0, done.stderr
        return done.stdout

    def credit_notices() -> list[dict[str, Any]]:
        listed = json.loads(run(ACME, "notices", "list", "acme"))["notices"]
        return [n for n in listed if n["event"]["type"] == "PenaltyAssessed"]

    (notice,) = credit_notices()
    assert not notice.get("acknowledged", False)
    run(ACME, "notices", "ack", "acme", str(notice["event"]["sequence"]))
    assert credit_notices()[0]["acknowledged"]
    run(ACME, "penalty", "dispute", "acme", penalty_id, "--grounds", GROUNDS)
    decided = json.loads(run(OPERATOR, "penalty", "decide", "acme", penalty_id, "accepted"))
    assert [e["type"] for e in decided["events"]] == ["PenaltyDisputeDecided", "PenaltyReversed"]
    ledger = json.loads(run(ACME, "penalty", "list", "acme"))
    assert [p.get("disputeStatus", "") for p in ledger["penalties"]] == ["accepted", ""]
    assert ledger["service_credit_total"]["amount"] == "0.00"
    text = sqm("penalty", "list", "acme", "--server", server.address, "--token", ACME).stdout
    assert "DISPUTE" in text.splitlines()[0]
    assert f"{penalty_id} " in text
    assert "accepted" in text


def test_a_supplier_watches_notifications_addressed_to_itself_and_no_one_else(
    server: ServerProcess, operator: SqmClient, timeline: Timeline
) -> None:
    """Its own notices come with their notifications; naming another recipient is refused."""
    operator.open_review("acme", "repeated outages", occur_time=timeline.step())
    with AuditClient(server.address, token=ACME) as audit:
        with audit.watch(supplier_id="acme", notification_recipients=["supplier:acme"]) as stream:
            first = next(iter(stream))
        assert {n.recipient for n in first.notifications} == {"supplier:acme"}
        for recipients in (["supplier:other"], ["quality_manager"]):
            with pytest.raises(SqmError) as refused:
                list(audit.watch(supplier_id="acme", notification_recipients=recipients))
            assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
