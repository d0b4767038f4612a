"""End to end: the process methods on a real server, from contract to remediation and liability."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sqm.client import SqmClient, SqmError, amount, money
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.process_flow import (
    OBJECTIVES,
    Timeline,
    availability_row,
    contracted,
    event_count,
    qualified,
    the_contract,
)
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def _types(result: api.ProcessResult) -> list[str]:
    return [e.type for e in result.events]


def _fields(error: SqmError) -> set[str]:
    return {f.field for f in error.bad_fields}


def _refused(call: Callable[[], object]) -> SqmError:
    with pytest.raises(SqmError) as raised:
        call()
    return raised.value


# --- selection -----------------------------------------------------------------------------


def test_signing_a_contract_with_explicit_objectives_makes_the_supplier_contracted(
    client: SqmClient,
) -> None:
    """The signed contract, its money and its objectives come back on the contracted supplier."""
    timeline = Timeline()
    result = contracted(client, "acme-net", timeline)

    supplier = result.supplier
    assert supplier.state == pb.LIFECYCLE_STATE_CONTRACTED
    assert supplier.contract.contract_id == "C-2026-001"
    assert supplier.contract.monthly_fee == pb.Money(amount="125000.00", currency_code="CNY")
    assert supplier.contract.liability_limit.amount == "1500000.00"
    assert list(supplier.contract.objectives) == list(OBJECTIVES)
    assert supplier.contract.sign_time.ToDatetime().date() == timeline.now.date()
    assert _types(result) == ["ContractSigned", "LifecycleTransitioned"]
    assert client.get_supplier("acme-net") == supplier


def test_signing_without_objectives_applies_the_policy_defaults(client: SqmClient) -> None:
    """A contract naming no objectives gets the active pack's defaults for the category."""
    timeline = Timeline()
    qualified(client, "default-co", timeline)
    terms = the_contract(timeline, objectives=())

    result = client.sign_contract(
        "default-co", terms, occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
    )

    objectives = result.supplier.contract.objectives
    if not objectives:
        pytest.skip("the active policy pack defines no default SLA objectives for this category")
    assert {o.metric for o in objectives} >= {"availability"}
    assert all(o.period_days >= 1 for o in objectives)


def test_blacklisting_a_candidate_disqualifies_it(client: SqmClient) -> None:
    """A blacklisted candidate is terminated and marked blacklisted."""
    client.register_supplier("shady", "Shady", "software")

    result = client.blacklist_supplier("shady", "sanctions list", view=pb.SUPPLIER_VIEW_FULL)

    assert result.supplier.blacklisted
    assert result.supplier.state == pb.LIFECYCLE_STATE_TERMINATED
    assert _types(result) == ["SupplierBlacklisted", "LifecycleTransitioned"]


def test_a_write_answers_the_basic_view_unless_the_full_one_is_asked(client: SqmClient) -> None:
    """A mutating call answers name, state and etag only by default, the whole supplier on
    request; reads answer the whole supplier unless asked for less.
    """
    timeline = Timeline()
    qualified(client, "view-co", timeline)
    terms = the_contract(timeline)

    basic = client.sign_contract("view-co", terms, occur_time=timeline.step())
    full = client.get_supplier("view-co")

    assert basic.supplier == pb.Supplier(
        name="suppliers/view-co", state=pb.LIFECYCLE_STATE_CONTRACTED, etag=full.etag
    )
    assert _types(basic) == ["ContractSigned", "LifecycleTransitioned"]
    assert full.contract.contract_id == "C-2026-001"
    assert client.get_supplier("view-co", view=pb.SUPPLIER_VIEW_BASIC) == basic.supplier
    listed = list(client.list_suppliers(view=pb.SUPPLIER_VIEW_BASIC))
    assert basic.supplier in listed
    asked = client.submit_self_check(
        "view-co", True, occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
    )
    assert asked.supplier == client.get_supplier("view-co")


def test_an_unknown_supplier_view_is_invalid_naming_view(client: SqmClient) -> None:
    """A view number the API does not define is refused, on a write and on a read."""
    client.register_supplier("odd-view", "Odd", "software")
    odd = 7  # not a SupplierView

    write = _refused(lambda: client.open_review("odd-view", "why", view=odd))  # type: ignore[arg-type]
    read = _refused(lambda: client.get_supplier("odd-view", view=odd))  # type: ignore[arg-type]

    assert write.code == read.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(write) == _fields(read) == {"view"}


# --- monitoring ----------------------------------------------------------------------------


def test_a_met_measurement_is_recorded_without_a_breach(client: SqmClient) -> None:
    """A measurement on the right side of its target records the measurement only."""
    timeline = Timeline()
    contracted(client, "met-co", timeline)

    result = client.record_measurement(availability_row("met-co", 99.97, timeline))

    assert _types(result) == ["MeasurementRecorded"]
    assert result.events[0].payload["measurement"]["met"] is True
    assert result.supplier.state == pb.LIFECYCLE_STATE_CONTRACTED


def test_a_missed_measurement_records_a_breach_and_its_service_credit(client: SqmClient) -> None:
    """A minor miss is a breach; outside the grace period it earns 2% of the monthly fee."""
    timeline = Timeline()
    contracted(client, "miss-co", timeline)

    result = client.record_measurement(availability_row("miss-co", 99.85, timeline))

    types = _types(result)
    assert types[:2] == ["MeasurementRecorded", "BreachDetected"]
    breach = result.events[1].payload["breach"]
    assert (breach["objective_id"], breach["severity"]) == ("availability", "minor")
    assert "PenaltyAssessed" in types
    assert any(d.fired and d.action == "assess_penalty" for d in result.decisions)
    ledger = client.list_penalties("miss-co")
    assert [(p.kind, p.amount.amount) for p in ledger.penalties] == [("service_credit", "2500.00")]


def test_surveys_inspections_reports_and_self_checks_are_recorded(client: SqmClient) -> None:
    """Each monitoring record is kept in the history of a contracted supplier."""
    timeline = Timeline()
    contracted(client, "watch-co", timeline)

    survey = client.record_satisfaction_survey(
        "watch-co", 91.5, respondents=120, comment="quick fixes", occur_time=timeline.step()
    )
    inspection = client.record_inspection(
        "watch-co", True, findings="racks labelled", occur_time=timeline.step()
    )
    report = client.submit_progress_report(
        "watch-co", "rollout 40% done", occur_time=timeline.step()
    )
    check = client.submit_self_check(
        "watch-co", True, summary="ok", occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
    )

    assert _types(survey)[0] == "SatisfactionSurveyRecorded"
    assert survey.events[0].payload["respondents"] == 120
    assert _types(inspection)[0] == "InspectionRecorded"
    assert _types(report)[0] == "ProgressReportSubmitted"
    assert _types(check)[0] == "SelfCheckSubmitted"
    assert check.supplier.state == pb.LIFECYCLE_STATE_CONTRACTED
    assert check.supplier.update_time == check.events[-1].occur_time


# --- review and improvement ----------------------------------------------------------------


def test_a_review_requiring_remediation_ends_contracted_once_verified(client: SqmClient) -> None:
    """Open by hand, conclude with remediation, plan, complete, verify: contracted again."""
    timeline = Timeline()
    contracted(client, "fix-co", timeline)

    opened = client.open_review(
        "fix-co", "repeated outages", occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
    )
    assert opened.supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
    assert opened.supplier.review.reason == "repeated outages"
    assert opened.supplier.review.rule_id == ""

    concluded = client.conclude_review(
        "fix-co", pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, note="plan needed",
        occur_time=timeline.step(), etag=opened.supplier.etag, view=pb.SUPPLIER_VIEW_FULL,
    )  # fmt: skip
    assert concluded.supplier.state == pb.LIFECYCLE_STATE_REMEDIATION
    assert not concluded.supplier.HasField("review")
    plan = concluded.supplier.improvement_plan
    assert plan.due_time.ToSeconds() > plan.require_time.ToSeconds()

    submitted = client.submit_improvement_plan(
        "fix-co",
        ["second power feed", "spares on site"],
        "Li Wei",
        occur_time=timeline.step(),
        view=pb.SUPPLIER_VIEW_FULL,
    )
    assert list(submitted.supplier.improvement_plan.measures) == [
        "second power feed",
        "spares on site",
    ]
    assert submitted.supplier.improvement_plan.owner == "Li Wei"

    completed = client.complete_improvement_plan(
        "fix-co", note="installed", occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
    )
    assert completed.supplier.improvement_plan.HasField("complete_time")

    verified = client.verify_remediation(
        "fix-co", note="no outage since", occur_time=timeline.step(),
        etag=completed.supplier.etag, view=pb.SUPPLIER_VIEW_FULL,
    )  # fmt: skip
    assert verified.supplier.state == pb.LIFECYCLE_STATE_CONTRACTED
    assert not verified.supplier.HasField("improvement_plan")
    assert _types(verified) == ["RemediationVerified", "LifecycleTransitioned"]


# --- liability -----------------------------------------------------------------------------


def test_compensation_and_service_credits_are_totalled_exactly(client: SqmClient) -> None:
    """The ledger lists each entry and totals each kind in the contract's currency."""
    timeline = Timeline()
    contracted(client, "pay-co", timeline)
    client.record_measurement(availability_row("pay-co", 99.85, timeline))

    claimed = client.claim_compensation(
        "pay-co", money(Decimal("4999.99")), "truck roll after outage", occur_time=timeline.step()
    )

    assert _types(claimed) == ["PenaltyAssessed"]
    ledger = client.list_penalties("pay-co")
    assert [p.kind for p in ledger.penalties] == ["service_credit", "compensation"]
    assert ledger.penalties[1].amount == pb.Money(amount="4999.99", currency_code="CNY")
    assert ledger.service_credit_total == pb.Money(amount="2500.00", currency_code="CNY")
    assert ledger.compensation_total == pb.Money(amount="4999.99", currency_code="CNY")
    assert amount(ledger.compensation_total) == Decimal("4999.99")


def test_the_penalties_ledger_pages_with_opaque_tokens(client: SqmClient) -> None:
    """Small pages return each entry once, in order, with the same totals on every page."""
    timeline = Timeline()
    contracted(client, "ledger-co", timeline)
    for cents in ("100.01", "100.02", "100.03"):
        client.claim_compensation("ledger-co", money(cents), "loss", occur_time=timeline.step())

    pages = list(client.list_penalty_pages("ledger-co", page_size=2))

    assert [len(p.penalties) for p in pages] == [2, 1]
    amounts = [p.amount.amount for page in pages for p in page.penalties]
    assert amounts == ["100.01", "100.02", "100.03"]
    assert {p.compensation_total.amount for p in pages} == {"300.06"}
    assert pages[0].next_page_token
    assert not pages[-1].next_page_token


def test_a_supplier_without_a_contract_has_an_empty_ledger_without_totals(
    client: SqmClient,
) -> None:
    """No contract, no ledger: no entries and no totals (there is no currency yet)."""
    client.register_supplier("new-co", "New", "software")
    ledger = client.list_penalties("new-co")
    assert ledger.penalties == ()
    assert ledger.service_credit_total == pb.Money()


# --- idempotency ---------------------------------------------------------------------------


def test_retrying_a_process_call_with_its_request_id_returns_the_same_response(
    client: SqmClient,
) -> None:
    """A retried SignContract and RecordMeasurement are answered again and recorded once."""
    timeline = Timeline()
    qualified(client, "retry-co", timeline)
    terms, signed_at = the_contract(timeline), timeline.step()
    first = client.sign_contract("retry-co", terms, occur_time=signed_at, request_id="sign-1")
    row = availability_row("retry-co", 99.0, timeline, request_id="measure-1")
    measured = client.record_measurement(row)
    count = event_count(client, "retry-co")

    again = client.sign_contract("retry-co", terms, occur_time=signed_at, request_id="sign-1")
    measured_again = client.record_measurement(row)

    assert again == first
    assert measured_again == measured
    assert event_count(client, "retry-co") == count


# --- bad input -----------------------------------------------------------------------------


def test_every_process_method_on_an_unknown_supplier_is_not_found(client: SqmClient) -> None:
    """Each process method names the supplier it could not find."""
    timeline = Timeline()
    calls: list[Callable[[], object]] = [
        lambda: client.blacklist_supplier("ghost", "x"),
        lambda: client.sign_contract("ghost", the_contract(timeline)),
        lambda: client.record_measurement(availability_row("ghost", 99.9, timeline)),
        lambda: client.record_satisfaction_survey("ghost", 80),
        lambda: client.record_inspection("ghost", True),
        lambda: client.submit_progress_report("ghost", "x"),
        lambda: client.submit_self_check("ghost", True),
        lambda: client.open_review("ghost", "x"),
        lambda: client.conclude_review("ghost", pb.REVIEW_OUTCOME_CLEARED),
        lambda: client.submit_improvement_plan("ghost", ["x"], "y"),
        lambda: client.complete_improvement_plan("ghost"),
        lambda: client.verify_remediation("ghost"),
        lambda: client.claim_compensation("ghost", money("1.00"), "x"),
        lambda: client.list_penalties("ghost"),
    ]
    for call in calls:
        error = _refused(call)
        assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "SUPPLIER_NOT_FOUND")
    assert list(client.list_suppliers()) == []


MUTATING_METHODS = [
    "BlacklistSupplier", "SignContract", "RecordMeasurement", "RecordSatisfactionSurvey",
    "RecordInspection", "SubmitProgressReport", "SubmitSelfCheck", "OpenReview",
    "ConcludeReview", "SubmitImprovementPlan", "CompleteImprovementPlan", "VerifyRemediation",
    "ClaimCompensation", "SubmitCorrectiveAction", "CompleteCorrectiveActionItem",
    "VerifyCorrectiveActionItem", "RequestCorrectiveActionExtension",
    "DecideCorrectiveActionExtension", "CloseCorrectiveAction",
]  # fmt: skip


def _bad_fields(error: grpc.RpcError) -> set[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: set[str] = set()
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update(v.field for v in bad_request.field_violations)
    return found


def test_every_process_method_names_a_missing_name_and_request_id(server: ServerProcess) -> None:
    """An empty request to any mutating method is INVALID_ARGUMENT naming name and request_id."""
    methods = api.DESCRIPTOR.services_by_name["SupplierService"].methods_by_name
    with grpc.insecure_channel(server.address) as channel:
        for method in MUTATING_METHODS:
            request_type = getattr(api, methods[method].input_type.name)
            call = channel.unary_unary(
                f"/sqm.v1.SupplierService/{method}",
                request_serializer=request_type.SerializeToString,
                response_deserializer=lambda data: data,
            )
            with pytest.raises(grpc.RpcError) as raised:
                call(request_type(), timeout=10)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
            assert {"name", "request_id"} <= _bad_fields(raised.value), method


def test_a_contract_with_bad_money_enums_and_objectives_names_every_field(
    server: ServerProcess, client: SqmClient
) -> None:
    """Each bad part of a contract is named by its API path, and nothing is written."""
    timeline = Timeline()
    qualified(client, "bad-terms", timeline)
    before = event_count(client, "bad-terms")
    terms = the_contract(timeline)
    terms.monthly_fee.amount = "125000.005"
    terms.liability_limit.currency_code = "rmb"
    terms.objectives[1].metric = "uptime"  # not in the active pack's catalogue

    error = _refused(lambda: client.sign_contract("bad-terms", terms, occur_time=timeline.step()))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == {
        "contract.monthly_fee.amount",
        "contract.liability_limit.currency_code",
        "contract.objectives[1].metric",
    }
    assert event_count(client, "bad-terms") == before

    terms.monthly_fee.amount = "NaN"
    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        request = api.SignContractRequest(name="suppliers/bad-terms", contract=terms)
        with pytest.raises(grpc.RpcError) as raised:
            stub.SignContract(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = raised.value.details() or ""
    assert "request_id" in details
    assert "contract.monthly_fee.amount" in details
    assert event_count(client, "bad-terms") == before


def test_domain_checks_of_a_contract_name_api_paths(client: SqmClient) -> None:
    """Duplicate objectives, a bad period and an empty id are named inside ``contract``."""
    timeline = Timeline()
    qualified(client, "dup-terms", timeline)
    before = event_count(client, "dup-terms")
    terms = the_contract(timeline)
    terms.contract_id = ""
    terms.objectives.add().CopyFrom(terms.objectives[0])
    terms.objectives[2].period_days = 0
    terms.end_time.CopyFrom(terms.start_time)

    error = _refused(lambda: client.sign_contract("dup-terms", terms, occur_time=timeline.step()))

    assert _fields(error) == {
        "contract.contract_id",
        "contract.end_time",
        "contract.objectives[2].objective_id",
        "contract.objectives[2].period_days",
    }
    assert event_count(client, "dup-terms") == before


def test_a_request_with_bad_fields_a_bad_request_id_and_a_bad_etag_names_them_all(
    server: ServerProcess,
) -> None:
    """One answer names every problem: mapping, domain checks, request id and etag."""
    request = api.OpenReviewRequest(name="suppliers/Not Valid", reason="", etag="W/1")
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as raised:
        api_grpc.SupplierServiceStub(channel).OpenReview(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = raised.value.details() or ""
    for field in ("name:", "reason:", "request_id:", "etag:"):
        assert field in details


def test_a_measurement_the_contract_does_not_know_is_refused_by_field(client: SqmClient) -> None:
    """An unknown objective, a wrong unit and an out-of-range value are each named."""
    timeline = Timeline()
    contracted(client, "unit-co", timeline)
    before = event_count(client, "unit-co")

    unknown = _refused(
        lambda: client.record_measurement(
            availability_row("unit-co", 99.9, timeline, objective_id="latency")
        )
    )
    wrong_unit = _refused(
        lambda: client.record_measurement(
            availability_row("unit-co", 140.0, timeline, unit="hours")
        )
    )
    backwards = availability_row("unit-co", 99.9, timeline)
    backwards.period_end_time.CopyFrom(backwards.period_start_time)
    no_period = _refused(lambda: client.record_measurement(backwards))

    assert _fields(unknown) == {"objective_id"}
    assert "availability" in unknown.bad_fields[0].description
    assert _fields(wrong_unit) == {"unit", "value"}
    assert _fields(no_period) == {"period_end_time"}
    assert event_count(client, "unit-co") == before


def _forbidden_moves(
    client: SqmClient, timeline: Timeline
) -> list[tuple[str, Callable[[], object]]]:
    at = timeline.step
    return [
        ("measure", lambda: client.record_measurement(availability_row("q-co", 99.9, timeline))),
        ("survey", lambda: client.record_satisfaction_survey("q-co", 80, occur_time=at())),
        ("inspect", lambda: client.record_inspection("q-co", True, occur_time=at())),
        ("report", lambda: client.submit_progress_report("q-co", "x", occur_time=at())),
        ("check", lambda: client.submit_self_check("q-co", True, occur_time=at())),
        ("review", lambda: client.open_review("q-co", "why not", occur_time=at())),
        (
            "conclude",
            lambda: client.conclude_review("q-co", pb.REVIEW_OUTCOME_CLEARED, occur_time=at()),
        ),
        ("plan", lambda: client.submit_improvement_plan("q-co", ["x"], "y", occur_time=at())),
        ("complete", lambda: client.complete_improvement_plan("q-co", occur_time=at())),
        ("verify", lambda: client.verify_remediation("q-co", occur_time=at())),
        ("claim", lambda: client.claim_compensation("q-co", money("1"), "x", occur_time=at())),
    ]


def test_moves_the_lifecycle_forbids_are_failed_precondition_with_the_state(
    client: SqmClient,
) -> None:
    """A qualified supplier cannot be measured, reviewed or claimed against: nothing is written."""
    timeline = Timeline()
    qualified(client, "q-co", timeline)
    before = event_count(client, "q-co")

    for name, call in _forbidden_moves(client, timeline):
        error = _refused(call)
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION, name
        assert error.metadata["current_state"] == "qualified", name

    assert event_count(client, "q-co") == before


def test_signing_twice_is_failed_precondition_naming_contracted(client: SqmClient) -> None:
    """A contracted supplier cannot sign a second contract."""
    timeline = Timeline()
    contracted(client, "twice-co", timeline)
    terms = the_contract(timeline)
    error = _refused(lambda: client.sign_contract("twice-co", terms, occur_time=timeline.step()))
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.metadata["current_state"] == "contracted"


def test_a_stale_etag_is_aborted_and_writes_nothing(client: SqmClient) -> None:
    """Etag-guarded methods refuse to act on a supplier that moved on since it was read."""
    timeline = Timeline()
    signed = contracted(client, "etag-co", timeline)
    client.record_inspection("etag-co", True, occur_time=timeline.step())
    stale = signed.supplier.etag
    before = event_count(client, "etag-co")

    calls: list[Callable[[], Any]] = [
        lambda: client.open_review("etag-co", "x", etag=stale),
        lambda: client.conclude_review("etag-co", pb.REVIEW_OUTCOME_CLEARED, etag=stale),
        lambda: client.verify_remediation("etag-co", etag=stale),
        lambda: client.blacklist_supplier("etag-co", "x", etag=stale),
        lambda: client.sign_contract("etag-co", the_contract(timeline), etag=stale),
    ]
    for call in calls:
        error = _refused(call)
        assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "STALE_VERSION")
    assert event_count(client, "etag-co") == before


def test_an_unspecified_review_outcome_is_invalid(client: SqmClient) -> None:
    """A review cannot be concluded without saying how."""
    error = _refused(lambda: client.conclude_review("any-co", pb.REVIEW_OUTCOME_UNSPECIFIED))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == {"outcome"}
    assert "REVIEW_OUTCOME_CLEARED" in error.bad_fields[0].description


def test_a_claim_in_another_currency_or_without_an_amount_is_refused(client: SqmClient) -> None:
    """The claim's currency must be the contract's; the amount must be positive and exact."""
    timeline = Timeline()
    contracted(client, "usd-co", timeline)
    before = event_count(client, "usd-co")

    foreign = _refused(
        lambda: client.claim_compensation(
            "usd-co", money("10.00", "USD"), "loss", occur_time=timeline.step()
        )
    )
    zero = _refused(lambda: client.claim_compensation("usd-co", money("0"), ""))
    missing = _refused(lambda: client.claim_compensation("usd-co", pb.Money(), "loss"))

    assert _fields(foreign) == {"amount.currency_code"}
    assert _fields(zero) == {"amount.amount", "description"}
    assert _fields(missing) == {"amount.amount", "amount.currency_code"}
    assert event_count(client, "usd-co") == before


def test_a_bad_penalties_page_token_is_invalid(server: ServerProcess, client: SqmClient) -> None:
    """A token from another list is refused, naming page_token."""
    client.register_supplier("tok-co", "Tok", "software")
    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        request = api.ListPenaltiesRequest(parent="suppliers/tok-co", page_token="e30")
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListPenalties(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in (raised.value.details() or "")
