"""End to end: the process steps driven by time and by the pack on a real ``--drill`` server:
the contract's end, the compensation claim window, milestones, self-checks and reviews.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient, SqmError, contract, money
from sqm.v1 import resources_pb2 as pb
from tests.e2e.process_flow import (
    AVAILABILITY,
    LIABILITY_LIMIT,
    MONTHLY_FEE,
    OBJECTIVES,
    Timeline,
    advance_time,
    availability_row,
    contracted,
    qualified,
)
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def drill(database: Path) -> Iterator[ServerProcess]:
    """A server whose clock may be advanced ahead of the wall clock (``--drill``)."""
    server = ServerProcess(database, "--drill").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def drill_client(drill: ServerProcess) -> Iterator[SqmClient]:
    """A client of the drill server."""
    with SqmClient(drill.address, timeout=10) as connected:
        yield connected


def short_contract(client: SqmClient, supplier_id: str, timeline: Timeline, days: int) -> datetime:
    """Qualify ``supplier_id`` and sign a contract of ``days`` from the next day; its end."""
    qualified(client, supplier_id, timeline)
    start = timeline.now + timedelta(days=1)
    end = start + timedelta(days=days)
    terms = contract(
        "C-SHORT", monthly_fee=MONTHLY_FEE, liability_limit=LIABILITY_LIMIT,
        start_time=start, end_time=end, objectives=OBJECTIVES,
    )  # fmt: skip
    client.sign_contract(supplier_id, terms, occur_time=timeline.step())
    return end


def refused(call: object) -> SqmError:
    """The SqmError a zero-argument ``call`` raises."""
    with pytest.raises(SqmError) as raised:
        call()  # type: ignore[operator]
    return raised.value


# --- the contract's end ---------------------------------------------------------------------


def test_a_contract_that_ends_takes_the_supplier_out_of_contracted_and_refuses_a_measurement(
    drill: ServerProcess, drill_client: SqmClient
) -> None:
    """The tick after the end date: ContractEnded, qualified; a later measurement is refused
    FAILED_PRECONDITION with reason CONTRACT_ENDED naming the contract.
    """
    timeline = Timeline()
    end = short_contract(drill_client, "ending-co", timeline, days=20)

    advance_time(drill.address, end + timedelta(hours=1))

    supplier = drill_client.get_supplier("ending-co")
    assert supplier.state == pb.LIFECYCLE_STATE_QUALIFIED
    events = [e.type for e in drill_client.list_supplier_events("ending-co")]
    assert events[-2:] == ["ContractEnded", "LifecycleTransitioned"]
    timeline.now = end + timedelta(days=2)
    error = refused(
        lambda: drill_client.record_measurement(availability_row("ending-co", 99.0, timeline))
    )
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "CONTRACT_ENDED"
    assert error.metadata["contract_id"] == "C-SHORT"


def test_a_review_opened_after_the_end_date_is_refused_before_the_tick_ends_the_contract(
    drill: ServerProcess, drill_client: SqmClient
) -> None:
    """Past the end date but before any tick, the supplier is still contracted on record, yet
    OpenReview is FAILED_PRECONDITION CONTRACT_ENDED, as a record would be; the tick then
    ends the contract.
    """
    timeline = Timeline()
    end = short_contract(drill_client, "late-review-co", timeline, days=20)

    error = refused(
        lambda: drill_client.open_review(
            "late-review-co", "complaint after the end", occur_time=end + timedelta(days=1)
        )
    )

    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CONTRACT_ENDED")
    assert error.metadata["contract_id"] == "C-SHORT"
    assert drill_client.get_supplier("late-review-co").state == pb.LIFECYCLE_STATE_CONTRACTED
    advance_time(drill.address, end + timedelta(days=1))
    assert drill_client.get_supplier("late-review-co").state == pb.LIFECYCLE_STATE_QUALIFIED


def test_an_upload_rejects_a_row_measured_after_the_contract_ended(
    drill: ServerProcess, drill_client: SqmClient
) -> None:
    """With partial acceptance, the row of a period past the end is rejected CONTRACT_ENDED,
    naming its period end; the row within the term is stored.
    """
    timeline = Timeline()
    end = short_contract(drill_client, "upload-end-co", timeline, days=40)
    timeline.now = end - timedelta(days=2)
    inside = availability_row("upload-end-co", 99.97, timeline)
    timeline.now = end + timedelta(days=3)
    after = availability_row("upload-end-co", 99.97, timeline)

    response = drill_client.upload_measurements([inside, after], partial_acceptance=True)

    assert response.accepted_count == 1
    (rejected,) = response.rejected_rows
    assert (rejected.index, rejected.reason) == (1, "CONTRACT_ENDED")
    assert list(rejected.fields) == ["measurements[1].period_end_time"]


# --- the compensation claim window -------------------------------------------------------------


def test_a_claim_outside_the_window_is_refused_with_the_field_and_limit(
    drill: ServerProcess, drill_client: SqmClient
) -> None:
    """A loss after the contract's end, and a claim 91 days after a loss in the term: both
    FAILED_PRECONDITION, reason CLAIM_OUTSIDE_WINDOW, naming the field and its limit; a claim
    in time after the end is assessed.
    """
    timeline = Timeline()
    end = short_contract(drill_client, "claim-co", timeline, days=20)
    advance_time(drill.address, end + timedelta(hours=1))
    loss = end - timedelta(days=2)

    late_loss = refused(
        lambda: drill_client.claim_compensation(
            "claim-co",
            money("1000.00", "CNY"),
            "outage after the end",
            occur_time=end + timedelta(days=3),
            loss_time=end + timedelta(days=1),
        )
    )
    in_time = drill_client.claim_compensation(
        "claim-co", money("1000.00", "CNY"), "outage in the last days",
        occur_time=end + timedelta(days=4), loss_time=loss,
    )  # fmt: skip
    late_claim = refused(
        lambda: drill_client.claim_compensation(
            "claim-co",
            money("1000.00", "CNY"),
            "outage claimed too late",
            occur_time=loss + timedelta(days=91),
            loss_time=loss,
        )
    )

    assert late_loss.code == grpc.StatusCode.FAILED_PRECONDITION
    assert late_loss.reason == "CLAIM_OUTSIDE_WINDOW"
    assert late_loss.metadata["field"] == "loss_time"
    assert [e.type for e in in_time.events] == ["PenaltyAssessed"]
    assert late_claim.reason == "CLAIM_OUTSIDE_WINDOW"
    assert late_claim.metadata["field"] == "occur_time"
    assert late_claim.metadata["limit"].startswith((loss + timedelta(days=90)).date().isoformat())
    assert "within 90 days" in late_claim.message


# --- self-checks ---------------------------------------------------------------------------------


def test_a_failed_self_check_requires_rectification(drill_client: SqmClient) -> None:
    """MON-010 opens a review on a failed self-check; concluding it requires a plan (the
    rectification) with its deadline.
    """
    timeline = Timeline()
    contracted(drill_client, "self-check-co", timeline)

    failed = drill_client.submit_self_check(
        "self-check-co", False, summary="backup drill failed", occur_time=timeline.step(),
        view=pb.SUPPLIER_VIEW_FULL,
    )  # fmt: skip
    rectify = drill_client.conclude_review(
        "self-check-co", pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, note="rectify the backups",
        occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL,
    )  # fmt: skip

    assert failed.supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
    assert [d.rule_id for d in failed.decisions if d.fired] == ["MON-010"]
    assert rectify.supplier.state == pb.LIFECYCLE_STATE_REMEDIATION
    assert "ImprovementPlanRequired" in [e.type for e in rectify.events]


# --- problem tickets ---------------------------------------------------------------------------


def test_late_tickets_are_credited_and_the_third_opens_a_review_naming_it(
    client: SqmClient,
) -> None:
    """PEN-003: a critical ticket (target 4 h) resolved in 6 h costs a fixed 1000.00, named
    by the rule in the answer and in the penalties ledger; one resolved in time costs nothing.
    MON-011: the third late ticket in 90 days opens a review, which names that ticket.
    """
    timeline = Timeline()
    contracted(client, "ticket-co", timeline)
    opened = timeline.step()
    client.open_problem_ticket(
        "ticket-co", "PT-LATE", "基站退服 (cell site down)", pb.SEVERITY_CRITICAL,
        occur_time=opened,
    )  # fmt: skip
    late = client.resolve_problem_ticket(
        "ticket-co", "PT-LATE", "replaced the power unit", occur_time=opened + timedelta(hours=6)
    )
    timeline.step()
    client.open_problem_ticket(
        "ticket-co", "PT-IN-TIME", "告警误报 (false alarms)", pb.SEVERITY_CRITICAL,
        occur_time=timeline.now,
    )  # fmt: skip
    in_time = client.resolve_problem_ticket(
        "ticket-co", "PT-IN-TIME", "alarm threshold fixed",
        occur_time=timeline.now + timedelta(hours=2),
    )  # fmt: skip

    assert "PEN-003" in [d.rule_id for d in late.decisions if d.fired]
    assert "PEN-003" not in [d.rule_id for d in in_time.decisions if d.fired]
    ledger = client.list_penalties("ticket-co")
    assert [(p.rule_id, p.amount.amount, p.amount.currency_code) for p in ledger.penalties] == [
        ("PEN-003", "1000.00", "CNY")
    ]

    for ticket in ("PT-LATE-2", "PT-LATE-3"):
        opened = timeline.step()
        client.open_problem_ticket(
            "ticket-co", ticket, "光缆中断 (fibre cut)", pb.SEVERITY_CRITICAL, occur_time=opened
        )
        third = client.resolve_problem_ticket(
            "ticket-co", ticket, "spliced", occur_time=opened + timedelta(hours=6)
        )
    assert "MON-011" in [d.rule_id for d in third.decisions if d.fired]
    supplier = client.get_supplier("ticket-co")
    assert supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
    assert (supplier.review.rule_id, supplier.review.ticket_id) == ("MON-011", "PT-LATE-3")


# --- kick-off milestones ---------------------------------------------------------------------


def test_an_overdue_milestone_opens_a_review_and_a_met_one_is_accepted(
    drill: ServerProcess, drill_client: SqmClient
) -> None:
    """A milestone kind the pack does not declare is refused naming the field and the pack's
    kinds, with the request's other faults. The survey is completed and its deliverable
    accepted through the API; the cut-over is not, and the tick two days after its due time
    opens a review by DL-012. GetSupplier shows each milestone's kind and deliverable.
    """
    timeline = Timeline()
    contracted(drill_client, "milestone-co", timeline)
    survey_due, cutover_due = timeline.now + timedelta(days=3), timeline.now + timedelta(days=6)
    bad = refused(lambda: drill_client.record_kick_off(
        "milestone-co", "",
        [("site survey", survey_due, "site_survey"), ("cut-over", cutover_due, "go_live")],
        occur_time=timeline.now,
    ))  # fmt: skip
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = {field.field: field.description for field in bad.bad_fields}
    assert set(fields) == {"goals", "milestones[1].kind"}
    assert "'go_live'" in fields["milestones[1].kind"]
    assert "site_survey, design, equipment_arrival" in fields["milestones[1].kind"]
    kicked_off = drill_client.record_kick_off(
        "milestone-co", "5G RAN roll-out",
        [("site survey", survey_due, "site_survey"), ("cut-over", cutover_due, "cutover")],
        occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL,
    )  # fmt: skip
    assert [m.deliverable_name_zh for m in kicked_off.supplier.milestones] == [
        "勘察报告",
        "割接报告",
    ]
    completed = drill_client.complete_milestone(
        "milestone-co", "site survey", "all sites surveyed", occur_time=timeline.step()
    )
    accepted = drill_client.accept_deliverable(
        "milestone-co", "site survey", "survey report accepted", occur_time=timeline.step()
    )

    advance_time(drill.address, cutover_due + timedelta(days=2))

    assert [e.type for e in completed.events] == ["MilestoneCompleted"]
    assert [e.type for e in accepted.events] == ["DeliverableAccepted"]
    supplier = drill_client.get_supplier("milestone-co")
    assert supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
    assert "cut-over" in supplier.review.reason
    shown = [
        (m.name, m.kind, m.deliverable_name_zh, m.deliverable_name_en, m.deliverable_accepted)
        for m in supplier.milestones
    ]
    assert shown == [
        ("site survey", "site_survey", "勘察报告", "Site survey report", True),
        ("cut-over", "cutover", "割接报告", "Cutover report", False),
    ]
    assert supplier.milestones[0].HasField("complete_time")
    assert not supplier.milestones[1].HasField("complete_time")


# --- scheduled business reviews ----------------------------------------------------------------


def test_a_scheduled_business_review_opens_by_itself_and_its_conclusion_is_recorded(
    drill: ServerProcess, drill_client: SqmClient
) -> None:
    """Half a year after the contract started, with reports and self-checks up to date, the
    tick opens a business review by DL-013; concluding it returns the supplier to contracted.
    """
    timeline = Timeline()
    signed = contracted(drill_client, "review-co", timeline)
    start = signed.supplier.contract.start_time.ToDatetime(tzinfo=timeline.now.tzinfo)
    timeline.now = start + timedelta(days=178)
    drill_client.submit_progress_report("review-co", "June report", occur_time=timeline.step())
    drill_client.submit_self_check("review-co", True, occur_time=timeline.step())

    advance_time(drill.address, start + timedelta(days=181))
    opened = drill_client.get_supplier("review-co")
    concluded = drill_client.conclude_review(
        "review-co", pb.REVIEW_OUTCOME_CLEARED, note="business review passed",
        occur_time=start + timedelta(days=182), view=pb.SUPPLIER_VIEW_FULL,
    )  # fmt: skip

    assert opened.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
    assert opened.review.rule_id == "DL-013"
    assert "Scheduled business review" in opened.review.reason
    assert concluded.supplier.state == pb.LIFECYCLE_STATE_CONTRACTED
    assert [e.type for e in concluded.events] == ["ReviewConcluded", "LifecycleTransitioned"]


# --- needs and the contract signed under the award ---------------------------------------------


def test_a_contract_signed_under_the_award_takes_the_needs_service_standard(
    drill_client: SqmClient,
) -> None:
    """The need's standard, quantity, budget and required-by date are kept; a contract naming
    the awarded need and no objectives gets the standard; the runner-up cannot sign under it.
    """
    timeline = Timeline()
    drill_client.create_need(
        "ran-2027", "5G RAN for the province", "network_equipment",
        objectives=[AVAILABILITY], quantity=120, budget=money("9000000.00", "CNY"),
        required_by=timeline.now + timedelta(days=200), occur_time=timeline.now,
    )  # fmt: skip
    for supplier_id in ("ran-first", "ran-second"):
        qualified(drill_client, supplier_id, timeline)
        drill_client.shortlist_supplier("ran-2027", supplier_id, occur_time=timeline.step())
    quotes = {
        "ran-first": {"price": 100000.0, "delivery_lead_time": 30.0},
        "ran-second": {"price": 150000.0, "delivery_lead_time": 60.0},
    }
    drill_client.rank_shortlist("ran-2027", quotes, occur_time=timeline.step())
    drill_client.award_need("ran-2027", "ran-first", occur_time=timeline.step())

    def under_award(supplier_id: str) -> pb.Supplier:
        terms = contract(
            "C-RAN", monthly_fee=MONTHLY_FEE, liability_limit=LIABILITY_LIMIT, need_id="ran-2027"
        )
        signed = drill_client.sign_contract(
            supplier_id, terms, occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
        )
        return signed.supplier

    runner_up = refused(lambda: under_award("ran-second"))
    signed = under_award("ran-first")

    need = drill_client.get_need("ran-2027")
    assert (need.quantity, need.budget.amount, list(need.objectives)) == (
        120, "9000000.00", [AVAILABILITY]
    )  # fmt: skip
    assert need.HasField("required_by_time")
    assert list(signed.contract.objectives) == [AVAILABILITY]
    assert signed.contract.need == "needs/ran-2027"
    assert runner_up.code == grpc.StatusCode.FAILED_PRECONDITION
    assert runner_up.reason == "NEED_PRECONDITION"


def test_the_scheduler_opens_a_due_business_review_without_being_asked(database: Path) -> None:
    """A supplier contracted 197 days ago, reports and self-checks up to date: the server's own
    tick (every half second here) opens the business review; nobody calls AdvanceTime.
    """
    server = ServerProcess(database, "--tick-seconds", "0.5").start()
    try:
        with SqmClient(server.address, timeout=10) as client:
            timeline = Timeline(now=datetime.now(UTC).replace(microsecond=0) - timedelta(days=200))
            contracted(client, "scheduled-co", timeline)
            recent = datetime.now(UTC) - timedelta(days=2)
            client.submit_progress_report("scheduled-co", "monthly report", occur_time=recent)
            client.submit_self_check("scheduled-co", True, occur_time=recent)
            supplier = _await_state(client, "scheduled-co", pb.LIFECYCLE_STATE_UNDER_REVIEW)
    finally:
        server.stop()
    assert supplier.review.rule_id == "DL-013"


def _await_state(
    client: SqmClient, supplier_id: str, state: pb.LifecycleState.ValueType
) -> pb.Supplier:
    give_up = time.monotonic() + 15
    while True:
        supplier = client.get_supplier(supplier_id)
        if supplier.state == state or time.monotonic() > give_up:
            return supplier
        time.sleep(0.2)
