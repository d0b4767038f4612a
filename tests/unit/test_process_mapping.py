"""Mapping the process methods: requests to commands, bad fields by API path, state to resources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from google.protobuf import descriptor, timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from sqm.domain import commands as cmd
from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import (
    Action,
    Certificate,
    Comparator,
    Contract,
    Decision,
    ImprovementPlan,
    LifecycleState,
    Milestone,
    Money,
    Penalty,
    Review,
    Severity,
    SlaObjective,
    SupplierState,
)
from sqm.domain.validation import validate
from sqm.server.api import mapping, measurement_upload, process_mapping
from sqm.server.api.proto_values import (
    Violations,
    amount_from_text,
    enum_from_proto,
    enum_to_proto,
    money_from_proto,
    set_time,
)
from sqm.server.api.resource_mapping import penalty_totals, supplier
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.memory import MemoryEventStore
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from tests.fakes import FakePolicy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=40)
NAME = "suppliers/acme"


def clock() -> datetime:
    """The fixed server time the mappers fall back on."""
    return T0


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _fields(mapper: Callable[[Any, Callable[[], datetime]], object], request: Any) -> set[str]:
    with pytest.raises(InvalidCommand) as raised:
        mapper(request, clock)
    return {v.field for v in raised.value.violations}


def _objective(**overrides: Any) -> pb.SlaObjective:
    fields: dict[str, Any] = {
        "objective_id": "availability",
        "metric": "availability",
        "comparator": pb.COMPARATOR_AT_LEAST,
        "target": 99.9,
        "warning": 99.95,
        "tolerance": 0.01,
        "grace_days": 7,
        "period_days": 30,
    }
    return pb.SlaObjective(**{**fields, **overrides})


DOMAIN_OBJECTIVE = SlaObjective(
    "availability", "availability", Comparator.AT_LEAST, 99.9, 99.95, 0.01, 7, 30
)


def _contract(**overrides: Any) -> pb.Contract:
    fields: dict[str, Any] = {
        "contract_id": "C-2026-001",
        "monthly_fee": pb.Money(amount="125000.00", currency_code="CNY"),
        "liability_limit": pb.Money(amount="1500000", currency_code="CNY"),
        "start_time": _stamp(T0),
        "end_time": _stamp(T0 + timedelta(days=365)),
        "objectives": [_objective()],
    }
    return pb.Contract(**{**fields, **overrides})


def _measurement(**overrides: Any) -> api.RecordMeasurementRequest:
    fields: dict[str, Any] = {
        "name": NAME,
        "objective_id": "availability",
        "value": 99.5,
        "unit": "percent",
        "period_start_time": _stamp(T0),
        "period_end_time": _stamp(T0 + timedelta(days=30)),
        "occur_time": _stamp(LATER),
        "request_id": "row-1",
    }
    return api.RecordMeasurementRequest(**{**fields, **overrides})


# --- good requests map to the right commands ----------------------------------------------

GOOD_REQUESTS: list[tuple[Callable[..., object], Any, object]] = [
    (
        process_mapping.blacklist_supplier,
        api.BlacklistSupplierRequest(name=NAME, reason="sanctions", occur_time=_stamp(LATER)),
        cmd.BlacklistSupplier("acme", "sanctions", LATER),
    ),
    (
        process_mapping.sign_contract,
        api.SignContractRequest(name=NAME, contract=_contract(), occur_time=_stamp(LATER)),
        cmd.SignContract(
            supplier_id="acme",
            contract_id="C-2026-001",
            occurred_at=LATER,
            monthly_fee=Money(Decimal("125000.00"), "CNY"),
            liability_limit=Money(Decimal("1500000.00"), "CNY"),
            starts_at=T0,
            ends_at=T0 + timedelta(days=365),
            objectives=(DOMAIN_OBJECTIVE,),
        ),
    ),
    (
        process_mapping.record_measurement,
        _measurement(),
        cmd.RecordMeasurement(
            "acme", "availability", 99.5, "percent", T0, T0 + timedelta(days=30), LATER
        ),
    ),
    (
        process_mapping.record_satisfaction_survey,
        api.RecordSatisfactionSurveyRequest(name=NAME, score=82.5, respondents=40, comment="ok"),
        cmd.RecordSatisfactionSurvey("acme", 82.5, T0, 40, "ok"),
    ),
    (
        process_mapping.record_inspection,
        api.RecordInspectionRequest(name=NAME, passed=False, findings="rust"),
        cmd.RecordInspection("acme", False, T0, "rust"),
    ),
    (
        process_mapping.submit_progress_report,
        api.SubmitProgressReportRequest(name=NAME, summary="on track"),
        cmd.SubmitProgressReport("acme", "on track", T0),
    ),
    (
        process_mapping.submit_self_check,
        api.SubmitSelfCheckRequest(name=NAME, passed=True, summary="clean"),
        cmd.SubmitSelfCheck("acme", True, T0, "clean"),
    ),
    (
        process_mapping.open_review,
        api.OpenReviewRequest(name=NAME, reason="outage"),
        cmd.OpenReview("acme", "outage", T0),
    ),
    (
        process_mapping.conclude_review,
        api.ConcludeReviewRequest(
            name=NAME, outcome=pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, note="fix it"
        ),
        cmd.ConcludeReview("acme", cmd.ReviewOutcome.REMEDIATION_REQUIRED, T0, "fix it"),
    ),
    (
        process_mapping.submit_improvement_plan,
        api.SubmitImprovementPlanRequest(name=NAME, measures=["spares", "drills"], owner="Li"),
        cmd.SubmitImprovementPlan("acme", ("spares", "drills"), "Li", T0),
    ),
    (
        process_mapping.complete_improvement_plan,
        api.CompleteImprovementPlanRequest(name=NAME, note="done"),
        cmd.CompleteImprovementPlan("acme", T0, "done"),
    ),
    (
        process_mapping.verify_remediation,
        api.VerifyRemediationRequest(name=NAME, note="clean window"),
        cmd.VerifyRemediation("acme", T0, "clean window"),
    ),
    (
        process_mapping.claim_compensation,
        api.ClaimCompensationRequest(
            name=NAME, amount=pb.Money(amount="5000.5", currency_code="CNY"), description="loss"
        ),
        cmd.ClaimCompensation("acme", Money(Decimal("5000.50"), "CNY"), "loss", T0),
    ),
    (
        process_mapping.record_market_research,
        api.RecordMarketResearchRequest(
            name=NAME,
            capability_summary="RAN",
            past_performance_summary="good",
            references=["CMCC", "CU"],
        ),
        cmd.RecordMarketResearch("acme", "RAN", "good", T0, ("CMCC", "CU")),
    ),
    (
        process_mapping.record_kick_off,
        api.RecordKickOffRequest(
            name=NAME,
            goals="go live",
            milestones=[pb.Milestone(name="cut-over", due_time=_stamp(LATER))],
            responsibilities="NOC",
        ),
        cmd.RecordKickOff("acme", "go live", T0, (Milestone("cut-over", LATER),), "NOC"),
    ),
    (
        process_mapping.submit_resource_plan,
        api.SubmitResourcePlanRequest(name=NAME, resources=["2 engineers"], summary="week 1"),
        cmd.SubmitResourcePlan("acme", ("2 engineers",), T0, "week 1"),
    ),
    (
        process_mapping.open_problem_ticket,
        api.OpenProblemTicketRequest(
            name=NAME, ticket_id="PT-1", summary="loss", severity=pb.SEVERITY_MAJOR
        ),
        cmd.OpenProblemTicket("acme", "PT-1", "loss", Severity.MAJOR, T0),
    ),
    (
        process_mapping.resolve_problem_ticket,
        api.ResolveProblemTicketRequest(name=NAME, ticket_id="PT-1", resolution="fixed"),
        cmd.ResolveProblemTicket("acme", "PT-1", "fixed", T0),
    ),
    (
        process_mapping.record_training,
        api.RecordTrainingRequest(name=NAME, topic="incidents", attendees=12),
        cmd.RecordTraining("acme", "incidents", 12, T0),
    ),
    (
        process_mapping.settle_compensation,
        api.SettleCompensationRequest(
            name=NAME,
            penalty_id="acme/penalty-1",
            amount=pb.Money(amount="100", currency_code="CNY"),
            note="paid",
        ),
        cmd.SettleCompensation("acme", "acme/penalty-1", Money(Decimal(100), "CNY"), T0, "paid"),
    ),
]


@pytest.mark.parametrize(
    ("mapper", "request_message", "expected"),
    GOOD_REQUESTS,
    ids=[type(expected).__name__ for _, _, expected in GOOD_REQUESTS],
)
def test_a_good_request_maps_to_its_command(
    mapper: Callable[..., object], request_message: Any, expected: object
) -> None:
    """Each process request maps to the command it stands for, field by field."""
    assert mapper(request_message, clock) == expected


@pytest.mark.parametrize(
    ("mapper", "request_message", "expected"),
    GOOD_REQUESTS,
    ids=[type(expected).__name__ for _, _, expected in GOOD_REQUESTS],
)
def test_a_malformed_supplier_name_is_named_by_every_mapper(
    mapper: Callable[..., object], request_message: Any, expected: object
) -> None:
    """A name that is not ``suppliers/{id}`` is refused by every process request as ``name``."""
    broken = type(request_message)()
    broken.CopyFrom(request_message)
    broken.name = "acme"
    assert _fields(mapper, broken) == {"name"}


def test_an_unset_occur_time_is_the_server_time() -> None:
    """Without occur_time the command happens at the server's time."""
    command = process_mapping.open_review(api.OpenReviewRequest(name=NAME, reason="x"), clock)
    assert command.occurred_at == T0


def test_unset_respondents_means_one_respondent() -> None:
    """Proto3 cannot tell 0 from unset; an unset respondent count is one, as in the domain."""
    request = api.RecordSatisfactionSurveyRequest(name=NAME, score=70)
    assert process_mapping.record_satisfaction_survey(request, clock).respondents == 1


def test_a_contract_without_terms_takes_the_domain_defaults() -> None:
    """No fee, limit, times or objectives: no amounts; the domain and policy defaults apply."""
    request = api.SignContractRequest(name=NAME, contract=pb.Contract(contract_id="C-1"))
    command = process_mapping.sign_contract(request, clock)
    assert command.monthly_fee == cmd.NO_AMOUNT
    assert command.liability_limit == cmd.NO_AMOUNT
    assert (command.starts_at, command.ends_at, command.objectives) == (None, None, ())


def test_a_contract_with_only_a_liability_limit_has_no_fee_in_the_same_currency() -> None:
    """The amount left out is zero in the currency of the one given, so the two agree."""
    terms = pb.Contract(
        contract_id="C-1", liability_limit=pb.Money(amount="10", currency_code="EUR")
    )
    command = process_mapping.sign_contract(
        api.SignContractRequest(name=NAME, contract=terms), clock
    )
    assert command.monthly_fee == Money(Decimal("0.00"), "EUR")
    validate(command)


# --- every bad field named by its API path ------------------------------------------------


def test_a_sign_contract_without_a_contract_names_contract() -> None:
    """The contract is required."""
    assert _fields(process_mapping.sign_contract, api.SignContractRequest(name=NAME)) == {
        "contract"
    }


def test_every_bad_part_of_a_contract_is_named_at_once() -> None:
    """Money, enums and times of a contract and its objectives are each named by their path."""
    contract = _contract(
        monthly_fee=pb.Money(amount="12.345", currency_code="cny"),
        liability_limit=pb.Money(amount="NaN", currency_code="CNY"),
        objectives=[
            _objective(),
            _objective(objective_id="mttr", metric="uptime", comparator=7),
        ],
    )
    contract.start_time.seconds = 2**62  # beyond year 9999
    request = api.SignContractRequest(name="nope", contract=contract, occur_time=_stamp(T0))
    assert _fields(process_mapping.sign_contract, request) == {
        "name",
        "contract.monthly_fee.amount",
        "contract.monthly_fee.currency_code",
        "contract.liability_limit.amount",
        "contract.start_time",
        "contract.objectives[1].comparator",
    }  # the metric is checked with the policy's catalogue (tests/unit/test_request_fields.py)


def test_a_measurement_without_its_period_names_both_times() -> None:
    """Period start and end are required and named as the API spells them."""
    request = _measurement()
    request.ClearField("period_start_time")
    request.ClearField("period_end_time")
    assert _fields(process_mapping.record_measurement, request) == {
        "period_start_time",
        "period_end_time",
    }


@pytest.mark.parametrize("outcome", [pb.REVIEW_OUTCOME_UNSPECIFIED, 42])
def test_a_review_outcome_must_be_one_the_api_defines(outcome: int) -> None:
    """Unspecified and unknown outcomes are refused, naming ``outcome``."""
    request = api.ConcludeReviewRequest(name=NAME, outcome=outcome)  # type: ignore[arg-type]
    assert _fields(process_mapping.conclude_review, request) == {"outcome"}


def test_a_claim_without_an_amount_names_amount() -> None:
    """Compensation needs an amount."""
    request = api.ClaimCompensationRequest(name=NAME, description="loss")
    assert _fields(process_mapping.claim_compensation, request) == {"amount"}


def test_a_claim_with_a_bad_amount_names_its_parts() -> None:
    """A malformed amount and currency are named inside ``amount``."""
    request = api.ClaimCompensationRequest(
        name=NAME, amount=pb.Money(amount="1e3", currency_code="RMB1"), description="loss"
    )
    assert _fields(process_mapping.claim_compensation, request) == {
        "amount.amount",
        "amount.currency_code",
    }


# --- domain paths spelled the API's way ------------------------------------------------


def _domain_fields(command: object) -> set[str]:
    with pytest.raises(InvalidCommand) as raised:
        validate(command)  # type: ignore[arg-type]
    return {v.field for v in mapping.in_api_terms(raised.value, command).violations}


def test_domain_problems_of_a_contract_are_named_inside_contract() -> None:
    """The domain's contract checks come back as ``contract.…`` paths."""
    objective = attrs.evolve(DOMAIN_OBJECTIVE, period_days=0, tolerance=-1.0)
    command = cmd.SignContract(
        supplier_id="acme",
        contract_id="",
        occurred_at=T0,
        monthly_fee=Money(Decimal("-1.00"), "CNY"),
        liability_limit=Money(Decimal("1.00"), "USD"),
        starts_at=LATER,
        ends_at=T0,
        objectives=(DOMAIN_OBJECTIVE, objective),
    )
    assert _domain_fields(command) == {
        "contract.contract_id",
        "contract.monthly_fee.amount",
        "contract.liability_limit.currency_code",
        "contract.end_time",
        "contract.objectives[1].objective_id",
        "contract.objectives[1].tolerance",
        "contract.objectives[1].period_days",
    }


def test_domain_problems_of_a_measurement_use_the_api_time_names() -> None:
    """``period_end`` and ``occurred_at`` become ``period_end_time`` and ``occur_time``."""
    command = cmd.RecordMeasurement(
        "Bad Id", "", float("nan"), "percent", LATER, T0, T0.replace(tzinfo=None)
    )
    assert _domain_fields(command) == {
        "name",
        "objective_id",
        "value",
        "period_end_time",
        "occur_time",
    }


def test_the_domain_currency_of_a_claim_is_the_api_currency_code() -> None:
    """``amount.currency`` (domain) is ``amount.currency_code`` (API)."""
    error = InvalidCommand([FieldViolation("amount.currency", "the contract is in CNY")])
    command = cmd.ClaimCompensation("acme", Money(Decimal(1), "USD"), "x", T0)
    assert mapping.in_api_terms(error, command).violations[0].field == "amount.currency_code"


def _path_exists(message: descriptor.Descriptor, path: str) -> bool:
    for part in path.split("."):
        field = message.fields_by_name.get(part.split("[")[0])
        if field is None:
            return False
        if field.message_type is not None:
            message = field.message_type
    return True


REQUEST_OF: dict[type, type] = {
    cmd.RegisterSupplier: api.RegisterSupplierRequest,
    cmd.SubmitQualificationEvidence: api.SubmitQualificationEvidenceRequest,
    cmd.BlacklistSupplier: api.BlacklistSupplierRequest,
    cmd.SignContract: api.SignContractRequest,
    cmd.RecordMeasurement: api.RecordMeasurementRequest,
    cmd.RecordSatisfactionSurvey: api.RecordSatisfactionSurveyRequest,
    cmd.RecordInspection: api.RecordInspectionRequest,
    cmd.SubmitProgressReport: api.SubmitProgressReportRequest,
    cmd.SubmitSelfCheck: api.SubmitSelfCheckRequest,
    cmd.OpenReview: api.OpenReviewRequest,
    cmd.ConcludeReview: api.ConcludeReviewRequest,
    cmd.SubmitImprovementPlan: api.SubmitImprovementPlanRequest,
    cmd.CompleteImprovementPlan: api.CompleteImprovementPlanRequest,
    cmd.VerifyRemediation: api.VerifyRemediationRequest,
    cmd.ClaimCompensation: api.ClaimCompensationRequest,
    cmd.RecordMarketResearch: api.RecordMarketResearchRequest,
    cmd.RecordKickOff: api.RecordKickOffRequest,
    cmd.SubmitResourcePlan: api.SubmitResourcePlanRequest,
    cmd.OpenProblemTicket: api.OpenProblemTicketRequest,
    cmd.ResolveProblemTicket: api.ResolveProblemTicketRequest,
    cmd.RecordTraining: api.RecordTrainingRequest,
    cmd.SettleCompensation: api.SettleCompensationRequest,
}


@pytest.mark.parametrize("command_type", list(REQUEST_OF), ids=lambda t: t.__name__)
def test_every_renamed_field_exists_in_its_request(command_type: type) -> None:
    """Each API spelling in API_FIELD_NAMES is a real field path of the command's request."""
    names = mapping.API_FIELD_NAMES[command_type]
    request = REQUEST_OF[command_type].DESCRIPTOR
    assert [p for p in names.values() if not _path_exists(request, p)] == []


@pytest.mark.parametrize("command_type", list(REQUEST_OF), ids=lambda t: t.__name__)
def test_every_command_field_is_a_field_of_its_request_or_renamed(command_type: type) -> None:
    """No domain field path can reach a caller in a spelling its request does not have."""
    names = mapping.API_FIELD_NAMES[command_type]
    request = REQUEST_OF[command_type].DESCRIPTOR
    for field in attrs.fields(command_type):
        path = mapping.api_field(field.name, names)
        in_contract = command_type is cmd.SignContract and path.startswith("contract.")
        assert in_contract or _path_exists(request, path), path


# --- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("125000.00", "125000.00"),
        ("125000", "125000.00"),
        ("0.5", "0.50"),
        ("007.10", "7.10"),
        ("-0", "0.00"),
        ("-12.30", "-12.30"),
        ("999999999999999.99", "999999999999999.99"),
    ],
)
def test_a_decimal_string_is_an_exact_amount_with_two_places(text: str, expected: str) -> None:
    """Amounts keep every digit and are normalised to exactly two decimal places."""
    bad = Violations()
    amount = amount_from_text(text, "amount", bad)
    assert bad.items == []
    assert amount is not None
    assert str(amount) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "required"),
        ("abc", "decimal string"),
        ("1e3", "no exponent"),
        ("1,000.00", "separators"),
        ("1_000", "separators"),
        (" 12", "spaces"),
        ("12 ", "spaces"),
        (".5", "decimal string"),
        ("5.", "decimal string"),
        ("+5", "decimal string"),
        ("١٢", "decimal string"),  # Arabic-Indic digits: Decimal would take them
        ("NaN", "NaN and Infinity"),
        ("-Infinity", "NaN and Infinity"),
        ("inf", "NaN and Infinity"),
        ("sNaN", "NaN and Infinity"),
        ("1.005", "at most 2 decimal places"),
        ("0.001", "at most 2 decimal places"),
        ("1234567890123456", "at most 15 digits"),
    ],
)
def test_anything_but_a_plain_decimal_with_two_places_is_refused(text: str, words: str) -> None:
    """Exponents, separators, spaces, NaN, Infinity and a third decimal place are refused."""
    bad = Violations()
    assert amount_from_text(text, "contract.monthly_fee.amount", bad) is None
    assert [v.field for v in bad.items] == ["contract.monthly_fee.amount"]
    assert words in bad.items[0].description


@pytest.mark.parametrize("code", ["", "cny", "CN", "CNYY", "C1Y", "ÇNY"])
def test_a_currency_must_be_three_upper_case_letters(code: str) -> None:
    """The currency is an ISO 4217-shaped code, named as ``currency_code``."""
    bad = Violations()
    assert money_from_proto(pb.Money(amount="1.00", currency_code=code), "fee", bad) is None
    assert [v.field for v in bad.items] == ["fee.currency_code"]


def test_a_bad_amount_and_a_bad_currency_are_both_named() -> None:
    """Both parts of one Money are reported together."""
    bad = Violations()
    money_from_proto(pb.Money(amount="x", currency_code="x"), "fee", bad)
    assert [v.field for v in bad.items] == ["fee.amount", "fee.currency_code"]


# --- enums ------------------------------------------------------------------------------

ENUMS = [
    (Comparator, pb.Comparator),
    (Severity, pb.Severity),
    (cmd.ReviewOutcome, pb.ReviewOutcome),
    (LifecycleState, pb.LifecycleState),
]


@pytest.mark.parametrize(("domain_enum", "proto_enum"), ENUMS, ids=[d.__name__ for d, _ in ENUMS])
def test_every_domain_member_round_trips_through_its_proto_enum(
    domain_enum: Any, proto_enum: Any
) -> None:
    """Each domain member has a proto value of the same name, and maps back to itself."""
    for member in domain_enum:
        bad = Violations()
        number = enum_to_proto(proto_enum, member)
        assert enum_from_proto(domain_enum, proto_enum, number, "field", bad) is member
        assert bad.items == []


def test_an_unspecified_enum_is_refused_listing_the_expected_names() -> None:
    """UNSPECIFIED is not a choice: the violation lists every name the API defines."""
    bad = Violations()
    field = "contract.objectives[0].comparator"
    assert enum_from_proto(Comparator, pb.Comparator, 0, field, bad) is None
    (violation,) = bad.items
    assert violation.field == field
    assert "COMPARATOR_AT_LEAST" in violation.description
    assert "COMPARATOR_AT_MOST" in violation.description
    assert "unspecified" in violation.description
    assert "COMPARATOR_UNSPECIFIED," not in violation.description


def test_an_unknown_enum_number_is_refused_naming_the_number() -> None:
    """A number the API does not define (a newer client, a bug) is refused, not guessed."""
    bad = Violations()
    assert enum_from_proto(Comparator, pb.Comparator, 9, "comparator", bad) is None
    assert "unknown value 9" in bad.items[0].description
    assert "COMPARATOR_AT_LEAST" in bad.items[0].description


# --- supplier resources -----------------------------------------------------------------

CONTRACT = Contract(
    contract_id="C-2026-001",
    signed_at=T0,
    starts_at=T0,
    ends_at=T0 + timedelta(days=365),
    monthly_fee=Money(Decimal("125000.00"), "CNY"),
    liability_limit=Money(Decimal("1500000.00"), "CNY"),
    objectives=(DOMAIN_OBJECTIVE,),
)


def _penalty(number: int, kind: str, amount: str) -> Penalty:
    return Penalty(
        f"acme/penalty-{number}", kind, "C-2026-001", Money(Decimal(amount), "CNY"),
        "2026-03", "sla.penalty", "", LATER, "availability",
    )  # fmt: skip


def test_a_supplier_resource_carries_contract_review_plan_and_blacklisting() -> None:
    """The API view includes the contract with its objectives, the review and the plan."""
    state = SupplierState(
        supplier_id="acme",
        name="ACME",
        category="network_services",
        lifecycle=LifecycleState.REMEDIATION,
        version=9,
        contract=CONTRACT,
        review=Review(LATER, "critical breach", "sla.critical", "availability", Severity.CRITICAL),
        plan=ImprovementPlan(LATER, LATER + timedelta(days=14), "availability", ("spares",), "Li"),
        blacklisted=True,
    )
    message = supplier(state)
    assert message.blacklisted
    assert message.contract.contract_id == "C-2026-001"
    assert message.contract.monthly_fee == pb.Money(amount="125000.00", currency_code="CNY")
    assert message.contract.sign_time.ToDatetime(tzinfo=UTC) == T0
    assert message.contract.end_time.ToDatetime(tzinfo=UTC) == T0 + timedelta(days=365)
    (objective,) = message.contract.objectives
    assert objective == _objective()
    assert message.review.severity == pb.SEVERITY_CRITICAL
    assert message.review.rule_id == "sla.critical"
    assert list(message.improvement_plan.measures) == ["spares"]
    assert message.improvement_plan.due_time.ToDatetime(tzinfo=UTC) == LATER + timedelta(days=14)
    assert not message.improvement_plan.HasField("submit_time")


def test_a_supplier_without_contract_review_or_plan_leaves_them_unset() -> None:
    """A candidate has no contract, review or plan in its API view."""
    message = supplier(SupplierState("acme", "ACME", "software"))
    assert not message.HasField("contract")
    assert not message.HasField("review")
    assert not message.HasField("improvement_plan")
    assert not message.blacklisted


def test_a_review_opened_by_hand_has_no_severity() -> None:
    """A review without a severity shows SEVERITY_UNSPECIFIED."""
    state = SupplierState("acme", "ACME", "software", review=Review(T0, "by hand"))
    assert supplier(state).review.severity == pb.SEVERITY_UNSPECIFIED


def test_penalty_totals_are_exact_sums_per_kind_in_the_contract_currency() -> None:
    """Totals add decimals exactly (0.10 + 0.20 is 0.30) and count each kind apart."""
    state = SupplierState(
        "acme", "ACME", "software", contract=CONTRACT,
        penalties=(
            _penalty(1, "service_credit", "0.10"),
            _penalty(2, "service_credit", "0.20"),
            _penalty(3, "compensation", "5000.00"),
        ),
    )  # fmt: skip
    totals = penalty_totals(state)
    assert totals["service_credit"] == Money(Decimal("0.30"), "CNY")
    assert totals["compensation"] == Money(Decimal("5000.00"), "CNY")


def test_a_supplier_without_a_contract_has_no_penalty_totals() -> None:
    """Without a contract there is no ledger currency: no totals."""
    assert penalty_totals(SupplierState("acme", "ACME", "software")) == {}


# --- upload rows ------------------------------------------------------------------------


def _rows(*measurements: api.RecordMeasurementRequest | None) -> list[Any]:
    return [
        api.UploadMeasurementsRequest(measurement=m) if m else api.UploadMeasurementsRequest()
        for m in measurements
    ]


def test_good_upload_rows_map_to_commands_with_their_own_request_ids() -> None:
    """Each row becomes a RecordMeasurement executed under the row's request id."""
    rows, problems = measurement_upload.map_rows(
        _rows(_measurement(request_id="a"), _measurement(request_id="b")), clock
    )
    assert problems == []
    assert [(r.index, r.request_id) for r in rows] == [(0, "a"), (1, "b")]
    assert rows[0].command == GOOD_REQUESTS[2][2]


def test_bad_upload_rows_are_named_by_index_and_field() -> None:
    """Mapping, domain and request-id problems of each row are named ``measurements[i].field``."""
    no_period = _measurement(request_id="c")
    no_period.ClearField("period_end_time")
    rows, problems = measurement_upload.map_rows(
        _rows(
            _measurement(request_id="a"),
            _measurement(request_id="", unit=""),
            no_period,
            _measurement(request_id="a"),
            None,
        ),
        clock,
    )
    assert [r.index for r in rows] == [0]
    named = {p.index: [v.field for v in p.violations] for p in problems}
    assert named == {
        1: ["measurements[1].unit", "measurements[1].request_id"],
        2: ["measurements[2].period_end_time"],
        3: ["measurements[3].request_id"],
        4: ["measurements[4]"],
    }
    assert "row 0 has the same request id" in problems[2].description
    assert {p.reason for p in problems} == {"INVALID_ARGUMENT"}


def _problem(index: int, description: str = "bad") -> measurement_upload.RowProblem:
    violation = FieldViolation(f"measurements[{index}].unit", description)
    return measurement_upload.RowProblem(index, "INVALID_ARGUMENT", (violation,))


def test_an_all_or_none_refusal_lists_a_bounded_number_of_rows() -> None:
    """A status travels in trailers: only the first rows are listed, with a count of the rest."""
    problems = [_problem(i) for i in range(measurement_upload.MAX_LISTED_ROWS + 5)]
    refusal = measurement_upload.refusal(problems)
    assert len(refusal.violations) == measurement_upload.MAX_LISTED_ROWS + 1
    assert refusal.violations[-1].field == "measurements"
    assert "5 more bad rows, from row 20" in refusal.violations[-1].description


def test_an_all_or_none_refusal_lists_rows_while_their_text_fits() -> None:
    """Long descriptions make fewer rows listed; the first bad row is always listed."""
    long_text = "x" * measurement_upload.MAX_REFUSAL_CHARACTERS
    refusal = measurement_upload.refusal([_problem(0, long_text), _problem(1, long_text)])
    assert [v.field for v in refusal.violations] == ["measurements[0].unit", "measurements"]


def _outcome(rejected: int, decisions: int) -> measurement_upload.UploadOutcome:
    decision = Decision(
        "PEN-001", "credit", "penalties.yaml", 3, "v" * 64, Action.ASSESS_PENALTY, True,
        "m" * 500, facts={f"fact_{n}": float(n) for n in range(20)},
    )  # fmt: skip
    problems = tuple(_problem(i, "d" * 1000) for i in range(rejected))
    return measurement_upload.UploadOutcome(10, problems, (decision,) * decisions)


def test_an_upload_answer_stays_under_the_message_limit() -> None:
    """Thousands of decisions are listed only while the answer fits the server's limit."""
    response = measurement_upload.upload_response(_outcome(rejected=3, decisions=10_000))
    assert response.ByteSize() <= measurement_upload.MAX_RESPONSE_BYTES
    assert 0 < len(response.decisions) < 10_000
    assert response.accepted_count == 10
    assert [r.index for r in response.rejected_rows] == [0, 1, 2]
    assert len(response.rejected_rows[0].description) == measurement_upload.MAX_ROW_DESCRIPTION


def test_a_small_upload_answer_lists_everything() -> None:
    """Under the limit, every rejected row and decision is listed in full."""
    response = measurement_upload.upload_response(_outcome(rejected=1, decisions=3))
    assert len(response.decisions) == 3
    assert list(response.rejected_rows[0].fields) == ["measurements[0].unit"]


# --- statuses stay small ------------------------------------------------------------------


def test_a_long_value_is_quoted_back_cut_short() -> None:
    """A megabyte resource name is not echoed whole in the violation."""
    bad = Violations()
    mapping.supplier_id_from_name("x" * 1_000_000, "name", bad)
    assert len(bad.items[0].description) < 200
    assert "1000000 characters" in bad.items[0].description


def test_long_domain_descriptions_are_clipped_in_api_terms() -> None:
    """Domain messages quoting a caller's value are cut to a bounded length."""
    error = InvalidCommand([FieldViolation("reason", "r" * 10_000)])
    command = cmd.OpenReview("acme", "r", T0)
    (violation,) = mapping.in_api_terms(error, command).violations
    assert len(violation.description) == mapping.MAX_DESCRIPTION_LENGTH


# --- running an upload against a memory store ---------------------------------------------


def _contracted_service() -> SupplierService:
    service = SupplierService(MemoryEventStore(), FakePolicy)
    licence = Certificate("business_licence", "BL-1", "SAMR", T0 - timedelta(days=1), LATER)
    commands = [
        cmd.RegisterSupplier("acme", "ACME", "software", T0),
        cmd.SubmitQualificationEvidence("acme", T0, {"capability": 90.0}, (licence,)),
        cmd.SignContract("acme", "C-1", T0, objectives=(DOMAIN_OBJECTIVE,)),
    ]
    for number, command in enumerate(commands):
        service.execute(command, RequestContext(f"setup-{number}", "test"))
    return service


def _upload_rows(*units: str) -> list[measurement_upload.Row]:
    rows = []
    for index, unit in enumerate(units):
        end = T0 + timedelta(days=index + 1)
        command = cmd.RecordMeasurement(
            "acme", "availability", 99.95, unit, end - timedelta(days=30), end, end
        )
        rows.append(measurement_upload.Row(index, command, f"row-{index}"))
    return rows


def _run(service: SupplierService, rows: list[Any], **options: Any) -> Any:
    return measurement_upload.run_upload(service, rows, (), actor="test", **options)


def test_a_row_the_domain_refuses_stops_an_all_or_none_upload_before_anything_is_stored() -> None:
    """The dry run finds the bad last row, so the good rows before it are not stored either."""
    service = _contracted_service()
    version = service.get("acme").version
    with pytest.raises(InvalidCommand) as raised:
        _run(service, _upload_rows("percent", "percent", "hours"), partial_acceptance=False)
    assert [v.field for v in raised.value.violations] == ["measurements[2].unit"]
    assert service.get("acme").version == version


def test_partial_acceptance_stores_the_good_rows_and_rejects_the_bad() -> None:
    """Each row is executed on its own; a refused row is reported, the others stored."""
    service = _contracted_service()
    outcome = _run(service, _upload_rows("percent", "hours", "percent"), partial_acceptance=True)
    assert outcome.accepted == 2
    assert [(p.index, p.reason) for p in outcome.rejected] == [(1, "INVALID_ARGUMENT")]
    assert len(service.get("acme").measurements) == 2


def _abandoned_after(calls: int) -> Callable[[], bool]:
    asked: list[int] = []

    def abandoned() -> bool:
        asked.append(1)
        return len(asked) > calls

    return abandoned


def test_an_abandoned_partial_upload_stores_no_further_row() -> None:
    """Once the caller is gone, a partial upload stops between rows; stored rows stay."""
    service = _contracted_service()
    rows = _upload_rows(*["percent"] * 5)
    _run(service, rows, partial_acceptance=True, abandoned=_abandoned_after(2))
    assert len(service.get("acme").measurements) == 2


def test_an_upload_abandoned_during_its_dry_run_stores_nothing() -> None:
    """All or none: a caller gone before the dry run ends gets nothing stored."""
    service = _contracted_service()
    rows = _upload_rows(*["percent"] * 5)
    _run(service, rows, partial_acceptance=False, abandoned=_abandoned_after(2))
    assert service.get("acme").measurements == ()


def test_an_upload_abandoned_before_its_commit_stores_nothing() -> None:
    """All or none: every row decided, the caller gone before the commit: none is stored
    (a cut-off stream ends like a finished one, so its rows may be only part of it).
    """
    service = _contracted_service()
    rows = _upload_rows(*["percent"] * 5)
    _run(service, rows, partial_acceptance=False, abandoned=_abandoned_after(5))
    assert service.get("acme").measurements == ()


# --- the process records ----------------------------------------------------------------


@pytest.mark.parametrize("severity", [pb.SEVERITY_UNSPECIFIED, 99])
def test_a_problem_ticket_severity_must_be_one_the_api_defines(severity: int) -> None:
    """An unset or unknown severity is named ``severity``."""
    request = api.OpenProblemTicketRequest(name=NAME, ticket_id="PT-1", summary="x")
    request.severity = severity  # type: ignore[assignment]
    assert _fields(process_mapping.open_problem_ticket, request) == {"severity"}


def test_a_milestone_without_a_due_time_names_its_due_time() -> None:
    """Every kick-off milestone needs a due time, named by its index."""
    request = api.RecordKickOffRequest(
        name=NAME, goals="go live", milestones=[pb.Milestone(name="cut-over")]
    )
    assert _fields(process_mapping.record_kick_off, request) == {"milestones[0].due_time"}


def test_a_settlement_without_an_amount_names_amount() -> None:
    """The amount settled is required."""
    request = api.SettleCompensationRequest(name=NAME, penalty_id="acme/penalty-1")
    assert _fields(process_mapping.settle_compensation, request) == {"amount"}


def test_the_domain_currency_of_a_settlement_is_the_api_currency_code() -> None:
    """``amount.currency`` (domain) is ``amount.currency_code`` (API) for settlements too."""
    error = InvalidCommand([FieldViolation("amount.currency", "the compensation is in CNY")])
    command = cmd.SettleCompensation("acme", "acme/penalty-1", Money(Decimal(1), "USD"), T0)
    assert mapping.in_api_terms(error, command).violations[0].field == "amount.currency_code"


def test_domain_problems_of_a_training_use_the_api_names() -> None:
    """An empty topic and no attendees come back under their request field names."""
    assert _domain_fields(cmd.RecordTraining("acme", "", 0, T0)) == {"topic", "attendees"}


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))]
        ),
    )
)
def test_set_time_writes_what_protobufs_own_conversion_writes(moment: datetime) -> None:
    """The direct arithmetic gives the Timestamp ``FromDatetime`` gives, in any zone, before
    and after 1970.
    """
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment)
    written = timestamp_pb2.Timestamp()
    set_time(written, moment)
    assert written == expected


def test_set_time_leaves_a_missing_time_unset() -> None:
    """None is no time: the field stays unset, not the epoch."""
    message = pb.Supplier()
    set_time(message.register_time, None)
    assert not message.HasField("register_time")
