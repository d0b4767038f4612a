"""Field validation: every bad field is named by its API path, all of them in one error."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given

from sqm.domain.catalogue_checks import validate_ids
from sqm.domain.commands import (
    COMMAND_TYPES,
    AcceptDeliverable,
    AcknowledgeNotice,
    AdvanceTime,
    BlacklistSupplier,
    ClaimCompensation,
    CloseCorrectiveAction,
    Command,
    CompleteCorrectiveActionItem,
    CompleteImprovementPlan,
    CompleteMilestone,
    ConcludeReview,
    DecideCorrectiveActionExtension,
    DecidePenaltyDispute,
    DisputeOutcome,
    DisputePenalty,
    OpenProblemTicket,
    OpenReview,
    RecordDocument,
    RecordInspection,
    RecordKickOff,
    RecordMarketResearch,
    RecordMeasurement,
    RecordMissedImprovementDeadline,
    RecordSatisfactionSurvey,
    RecordTraining,
    ReevaluateQualification,
    RegisterSupplier,
    RequestCorrectiveActionExtension,
    ResolveProblemTicket,
    ReviewOutcome,
    SettleCompensation,
    SignContract,
    SubmitCorrectiveAction,
    SubmitImprovementPlan,
    SubmitProgressReport,
    SubmitQualificationEvidence,
    SubmitResourcePlan,
    SubmitSelfCheck,
    VerifyCorrectiveActionItem,
    VerifyRemediation,
)
from sqm.domain.errors import InvalidCommand
from sqm.domain.model import Certificate, Comparator, Money, Severity, SlaObjective
from sqm.domain.validation import (
    MAX_MEASURES,
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_TEXT_LENGTH,
    SUPPLIER_ID,
    validate,
)
from sqm.rules.pack_catalogue import default_catalogue
from tests.corrective import corrective_content
from tests.strategies import commands, supplier_ids

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
NAIVE = datetime(2025, 3, 1)  # no time zone: the point of several tests
SID = "acme"
CNY_100 = Money(Decimal("100.00"), "CNY")
AVAILABILITY = SlaObjective("availability", "availability", Comparator.AT_LEAST, 99.9, 99.95)


def register(supplier_id: str = SID, name: str = "Acme", at: datetime = T0) -> RegisterSupplier:
    """A registration, valid unless a field is overridden."""
    return RegisterSupplier(supplier_id, name, "it_services", at)


def certificate(
    number: str = "ISO-1",
    issuer: str = "中国质量认证中心",
    valid_from: datetime = T0,
    valid_until: datetime = T0 + timedelta(days=365),
) -> Certificate:
    """A certificate, valid unless a field is overridden."""
    return Certificate("iso_9001", number, issuer, valid_from, valid_until)


def evidence(
    scores: dict[str, float] | None = None, *certificates: Certificate
) -> SubmitQualificationEvidence:
    """Evidence with the given scores and certificates."""
    return SubmitQualificationEvidence(SID, T0, scores=scores or {}, certificates=certificates)


def violated_fields(command: Command) -> list[str]:
    """The field paths validate() names for ``command``, in order."""
    found = []
    for check in (validate, lambda c: validate_ids(c, default_catalogue())):
        try:
            check(command)
        except InvalidCommand as error:
            found.extend(v.field for v in error.violations)
    assert found, "expected violations"
    return found


@pytest.mark.parametrize(
    "supplier_id",
    ["", "Acme", "1acme", "-acme", "acme_networks", "acme networks", "供应商", "a" * 64],
)
def test_a_malformed_supplier_id_is_named(supplier_id: str) -> None:
    """Ids that are not a lower-case letter then up to 62 letters, digits or hyphens are refused."""
    assert violated_fields(register(supplier_id)) == ["supplier_id"]


@pytest.mark.parametrize("supplier_id", ["a", "a" * 63, "acme-networks-2", "z9-"])
def test_a_well_formed_supplier_id_is_accepted(supplier_id: str) -> None:
    """Ids from one to 63 characters of the allowed shape pass."""
    validate(register(supplier_id))


def test_a_supplier_id_with_a_trailing_newline_is_refused() -> None:
    """An id followed by a newline is not a resource id: the whole string must match."""
    assert violated_fields(register("acme\n")) == ["supplier_id"]


@given(supplier_ids())
def test_generated_supplier_ids_are_accepted_by_the_pattern(supplier_id: str) -> None:
    """The suite's supplier-id strategy draws only ids the domain accepts."""
    assert SUPPLIER_ID.fullmatch(supplier_id)
    validate(register(supplier_id))


@given(commands())
def test_every_generated_command_passes_validation(command: Command) -> None:
    """The command strategies draw only well-formed commands (legality is another matter)."""
    validate(command)


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_an_empty_name_is_named(name: str) -> None:
    """A blank name is refused as empty."""
    with pytest.raises(InvalidCommand) as raised:
        validate(register(name=name))
    (violation,) = raised.value.violations
    assert violation.field == "name"
    assert "empty" in violation.description


def test_a_too_long_name_is_named_with_its_length() -> None:
    """A name over the limit is refused and the description gives the actual length."""
    with pytest.raises(InvalidCommand) as raised:
        validate(register(name="x" * (MAX_NAME_LENGTH + 1)))
    (violation,) = raised.value.violations
    assert violation.field == "name"
    assert str(MAX_NAME_LENGTH + 1) in violation.description


@pytest.mark.parametrize("name", ["x" * MAX_NAME_LENGTH, "华" * MAX_NAME_LENGTH])
def test_a_name_at_the_limit_is_accepted_in_any_script(name: str) -> None:
    """The limit counts characters, not bytes: 200 Chinese characters are fine."""
    validate(register(name=name))


@pytest.mark.parametrize("score", [-0.1, 100.000001, -1e9, 1e9])
def test_a_score_out_of_range_is_named_by_its_criterion(score: float) -> None:
    """Scores must lie in [0, 100]; the path names the criterion."""
    with pytest.raises(InvalidCommand) as raised:
        validate(evidence({"price": score}))
    (violation,) = raised.value.violations
    assert violation.field == "scores['price']"
    assert repr(score) in violation.description


@pytest.mark.parametrize("score", [math.nan, math.inf, -math.inf])
def test_a_non_finite_score_is_named(score: float) -> None:
    """NaN and infinities are refused: they would poison means and canonical JSON."""
    assert violated_fields(evidence({"capability": score})) == ["scores['capability']"]


@pytest.mark.parametrize("score", [0.0, 100.0, 0, 100])
def test_scores_at_the_bounds_are_accepted(score: float) -> None:
    """0 and 100 are valid scores."""
    validate(evidence({"price": score}))


@pytest.mark.parametrize("criterion", ["", "  "])
def test_an_empty_criterion_is_named(criterion: str) -> None:
    """A score needs a criterion name."""
    with pytest.raises(InvalidCommand) as raised:
        validate(evidence({criterion: 50.0}))
    (violation,) = raised.value.violations
    assert violation.field == f"scores[{criterion!r}]"
    assert "criterion" in violation.description


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (certificate(number=""), "certificates[1].number"),
        (certificate(number="  "), "certificates[1].number"),
        (certificate(number="N" * 201), "certificates[1].number"),
        (certificate(issuer=""), "certificates[1].issuer"),
        (certificate(valid_until=T0), "certificates[1].valid_until"),
        (certificate(valid_until=T0 - timedelta(microseconds=1)), "certificates[1].valid_until"),
    ],
)
def test_a_bad_certificate_field_is_named_with_its_index(bad: Certificate, field: str) -> None:
    """Certificate violations name the certificate's index and the field."""
    assert violated_fields(evidence({}, certificate(), bad)) == [field]


def test_a_naive_certificate_time_is_named() -> None:
    """Certificate validity times must carry a time zone, as occurred_at must."""
    naive = certificate(valid_from=NAIVE, valid_until=NAIVE + timedelta(days=1))
    assert violated_fields(evidence({}, naive)) == [
        "certificates[0].valid_from",
        "certificates[0].valid_until",
    ]


def test_a_certificate_mixing_naive_and_aware_times_is_an_invalid_command() -> None:
    """A malformed certificate is a caller's error (InvalidCommand), never a crash."""
    mixed = certificate(valid_from=NAIVE)
    assert violated_fields(evidence({}, mixed)) == ["certificates[0].valid_from"]


NAIVE_COMMANDS: list[Command] = [
    register(at=NAIVE),
    SubmitQualificationEvidence(SID, NAIVE, scores={"price": 50.0}),
    BlacklistSupplier(SID, "fraud", NAIVE),
    SignContract(SID, "ct-1", NAIVE),
    RecordMeasurement(SID, "availability", 99.0, "percent", T0 - DAY, T0, NAIVE),
    RecordSatisfactionSurvey(SID, 80.0, NAIVE),
    RecordInspection(SID, True, NAIVE),
    SubmitProgressReport(SID, "on track", NAIVE),
    SubmitSelfCheck(SID, True, NAIVE),
    OpenReview(SID, "reason", NAIVE),
    ConcludeReview(SID, ReviewOutcome.CLEARED, NAIVE),
    SubmitImprovementPlan(SID, ("train staff",), "NOC lead", NAIVE),
    CompleteImprovementPlan(SID, NAIVE),
    VerifyRemediation(SID, NAIVE),
    RecordMissedImprovementDeadline(SID, NAIVE),
    ClaimCompensation(SID, CNY_100, "outage losses", NAIVE),
    AdvanceTime(SID, NAIVE),
    ReevaluateQualification(SID, NAIVE),
    RecordMarketResearch(SID, "capability", "past performance", NAIVE),
    RecordKickOff(SID, "goals", NAIVE),
    CompleteMilestone(SID, "cut-over", NAIVE),
    AcceptDeliverable(SID, "cut-over", NAIVE),
    SubmitResourcePlan(SID, ("2 engineers",), NAIVE),
    OpenProblemTicket(SID, "PT-1", "packet loss", Severity.MINOR, NAIVE),
    ResolveProblemTicket(SID, "PT-1", "fixed", NAIVE),
    RecordTraining(SID, "incident handling", 5, NAIVE),
    SettleCompensation(SID, "acme/penalty-1", CNY_100, NAIVE),
    RecordDocument(SID, "0" * 32, "contract.pdf", "application/pdf", "a" * 64, 1024, NAIVE),
    AcknowledgeNotice(SID, 7, "ReminderIssued", NAIVE),
    DisputePenalty(SID, "acme/penalty-1", "planned maintenance", NAIVE),
    DecidePenaltyDispute(SID, "acme/penalty-1", DisputeOutcome.ACCEPTED, NAIVE),
    SubmitCorrectiveAction(SID, corrective_content(T0 + DAY), NAIVE),
    CompleteCorrectiveActionItem(SID, "A1", NAIVE),
    VerifyCorrectiveActionItem(SID, "A1", "quality engineer", NAIVE),
    RequestCorrectiveActionExtension(SID, "A1", T0 + DAY, "parts late", NAIVE),
    DecideCorrectiveActionExtension(SID, "A1", True, NAIVE),
    CloseCorrectiveAction(SID, NAIVE),
]


def test_the_naive_time_examples_cover_every_command_type() -> None:
    """Each command type named in COMMAND_TYPES has an example below."""
    assert {type(c).__name__ for c in NAIVE_COMMANDS} == set(COMMAND_TYPES)


@pytest.mark.parametrize("command", NAIVE_COMMANDS, ids=lambda c: type(c).__name__)
def test_a_naive_occurred_at_is_named_for_every_command(command: Command) -> None:
    """Domain time must carry a time zone, whatever the command."""
    assert violated_fields(command) == ["occurred_at"]


def test_empty_evidence_is_named() -> None:
    """Evidence with no scores, no certificates and no audit result is refused."""
    with pytest.raises(InvalidCommand) as raised:
        validate(evidence())
    (violation,) = raised.value.violations
    assert violation.field == "scores"
    assert "empty" in violation.description


def test_a_site_audit_result_alone_is_enough_evidence() -> None:
    """A site-audit outcome, even a failed one, is evidence on its own."""
    validate(SubmitQualificationEvidence(SID, T0, site_audit_passed=False))


def test_several_violations_are_reported_together_in_one_error() -> None:
    """Every bad field of a command is named in one InvalidCommand, in field order."""
    with pytest.raises(InvalidCommand) as raised:
        validate(register("Bad ID", "", NAIVE))
    fields = [v.field for v in raised.value.violations]
    assert fields == ["supplier_id", "occurred_at", "name"]
    assert raised.value.reason == "INVALID_ARGUMENT"
    for field in fields:
        assert field in str(raised.value)


def test_several_evidence_violations_are_reported_together() -> None:
    """Scores and certificates are all checked; nothing stops at the first problem."""
    command = SubmitQualificationEvidence(
        "Bad ID",
        T0,
        scores={"price": 101.0, "": 50.0, "capability": math.nan},
        certificates=(certificate(number="", valid_until=T0), certificate(issuer=" ")),
    )
    assert violated_fields(command) == [
        "supplier_id",
        "scores['price']",
        "scores['']",
        "scores['capability']",
        "certificates[0].number",
        "certificates[0].valid_until",
        "certificates[1].issuer",
    ]


# --- contracts -----------------------------------------------------------------------------


def contract(**fields: Any) -> SignContract:
    """A contract with a fee and a liability limit in CNY, valid unless a field is overridden."""
    signed = SignContract(SID, "ct-2025/001_a.b", T0, CNY_100, Money(Decimal(1000), "CNY"))
    return attrs.evolve(signed, **fields)


def test_a_well_formed_contract_is_accepted() -> None:
    """Ids with dots, slashes and underscores, amounts in one currency, a term in order pass."""
    validate(contract(starts_at=T0, ends_at=T0 + DAY, objectives=(AVAILABILITY,)))
    validate(SignContract(SID, "c", T0))  # a framework agreement: zero amounts, no term


@pytest.mark.parametrize("contract_id", ["", "-ct", "ct 1", "合同-1", "c" * 64])
def test_a_malformed_contract_id_is_named(contract_id: str) -> None:
    """Contract ids are 1-63 letters, digits, dots, underscores, slashes or hyphens."""
    assert violated_fields(contract(contract_id=contract_id)) == ["contract_id"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"monthly_fee": Money(Decimal("-0.01"), "CNY")}, ["monthly_fee.amount"]),
        ({"monthly_fee": Money(Decimal("Infinity"), "CNY")}, ["monthly_fee.amount"]),
        ({"liability_limit": Money(Decimal("sNaN"), "CNY")}, ["liability_limit.amount"]),
        (
            {
                "monthly_fee": Money(Decimal(1), "RMB1"),
                "liability_limit": Money(Decimal(1), "RMB1"),
            },
            ["monthly_fee.currency", "liability_limit.currency"],
        ),
        ({"liability_limit": Money(Decimal(1), "EUR")}, ["liability_limit.currency"]),
        ({"starts_at": T0, "ends_at": T0 - DAY}, ["ends_at"]),
        ({"starts_at": NAIVE}, ["starts_at"]),
        ({"ends_at": NAIVE}, ["ends_at"]),
    ],
)
def test_bad_contract_terms_are_named(fields: dict[str, Any], expected: list[str]) -> None:
    """Amounts are finite and not negative, in one ISO 4217 currency; the term is in order."""
    assert violated_fields(contract(**fields)) == expected


def test_a_zero_fee_is_accepted() -> None:
    """Zero is a valid fee and liability limit (a framework agreement)."""
    validate(
        contract(monthly_fee=Money(Decimal(0), "CNY"), liability_limit=Money(Decimal(0), "CNY"))
    )


@pytest.mark.parametrize(
    ("objective", "field"),
    [
        (attrs.evolve(AVAILABILITY, objective_id=" "), "objectives[1].objective_id"),
        (AVAILABILITY, "objectives[1].objective_id"),  # a duplicate of the first
        (attrs.evolve(AVAILABILITY, objective_id="b", target=math.nan), "objectives[1].target"),
        (attrs.evolve(AVAILABILITY, objective_id="b", warning=math.inf), "objectives[1].warning"),
        (attrs.evolve(AVAILABILITY, objective_id="b", tolerance=-0.5), "objectives[1].tolerance"),
        (attrs.evolve(AVAILABILITY, objective_id="b", grace_days=-1), "objectives[1].grace_days"),
        (attrs.evolve(AVAILABILITY, objective_id="b", period_days=0), "objectives[1].period_days"),
    ],
)
def test_a_bad_objective_is_named_by_its_index(objective: SlaObjective, field: str) -> None:
    """Objectives need a unique id, finite numbers, no negative tolerance or grace, a period."""
    assert violated_fields(contract(objectives=(AVAILABILITY, objective))) == [field]


# --- monitoring records --------------------------------------------------------------------


def measurement(**fields: Any) -> RecordMeasurement:
    """A measurement over the day before T0, recorded at T0, valid unless overridden."""
    return attrs.evolve(
        RecordMeasurement(SID, "availability", 99.5, "percent", T0 - DAY, T0, T0), **fields
    )


def test_a_well_formed_measurement_is_accepted() -> None:
    """A measurement of a period that ended at or before it was recorded passes."""
    validate(measurement())
    validate(measurement(period_end=T0 - DAY / 2))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"objective_id": " "}, ["objective_id"]),
        ({"unit": ""}, ["unit"]),
        ({"value": math.nan}, ["value"]),
        ({"value": math.inf}, ["value"]),
        ({"period_start": T0}, ["period_end"]),
        ({"period_start": T0 + DAY, "period_end": T0 + DAY}, ["period_end", "period_end"]),
        ({"period_end": T0 + DAY}, ["period_end"]),
        ({"period_start": NAIVE - DAY}, ["period_start"]),
    ],
)
def test_bad_measurement_fields_are_named(fields: dict[str, Any], expected: list[str]) -> None:
    """Ids and units are needed, values finite, periods in order and over before recording."""
    assert violated_fields(measurement(**fields)) == expected


def test_a_period_that_ends_after_the_measurement_was_recorded_is_refused() -> None:
    """A period cannot be measured before it ends: period_end after occurred_at is named."""
    with pytest.raises(InvalidCommand) as raised:
        validate(measurement(period_end=T0 + timedelta(microseconds=1)))
    (violation,) = raised.value.violations
    assert violation.field == "period_end"
    assert "before it ends" in violation.description


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (RecordSatisfactionSurvey(SID, -1.0, T0), ["score"]),
        (RecordSatisfactionSurvey(SID, 100.5, T0), ["score"]),
        (RecordSatisfactionSurvey(SID, math.nan, T0), ["score"]),
        (RecordSatisfactionSurvey(SID, 80.0, T0, respondents=0), ["respondents"]),
        (RecordSatisfactionSurvey(SID, 80.0, T0, comment="x" * (MAX_NOTE_LENGTH + 1)), ["comment"]),
        (RecordInspection(SID, False, T0, findings="x" * (MAX_NOTE_LENGTH + 1)), ["findings"]),
        (SubmitProgressReport(SID, " ", T0), ["summary"]),
        (SubmitProgressReport(SID, "x" * (MAX_NOTE_LENGTH + 1), T0), ["summary"]),
        (BlacklistSupplier(SID, "", T0), ["reason"]),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, list) else "",
)
def test_bad_monitoring_fields_are_named(command: Command, expected: list[str]) -> None:
    """Scores lie in [0, 100], at least one respondent, texts within their limits."""
    assert violated_fields(command) == expected


@pytest.mark.parametrize(
    "command",
    [
        RecordSatisfactionSurvey(SID, 0.0, T0),
        RecordSatisfactionSurvey(SID, 100.0, T0, respondents=1, comment=""),
        RecordInspection(SID, False, T0),
        SubmitSelfCheck(SID, False, T0),
        SubmitProgressReport(SID, "华" * MAX_NOTE_LENGTH, T0),
    ],
    ids=lambda c: type(c).__name__,
)
def test_monitoring_records_at_their_limits_are_accepted(command: Command) -> None:
    """Bounds are inclusive; optional texts may be empty."""
    validate(command)


# --- improvement and liability -------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (SubmitImprovementPlan(SID, (), "NOC lead", T0), ["measures"]),
        (SubmitImprovementPlan(SID, ("a", " "), "NOC lead", T0), ["measures[1]"]),
        (SubmitImprovementPlan(SID, ("m",) * (MAX_MEASURES + 1), "o", T0), ["measures"]),
        (SubmitImprovementPlan(SID, ("m",), "", T0), ["owner"]),
        (SubmitImprovementPlan(SID, ("m",), "o" * (MAX_TEXT_LENGTH + 1), T0), ["owner"]),
        (ClaimCompensation(SID, Money(Decimal(0), "CNY"), "losses", T0), ["amount.amount"]),
        (ClaimCompensation(SID, Money(Decimal(-5), "CNY"), "losses", T0), ["amount.amount"]),
        (ClaimCompensation(SID, Money(Decimal(5), "yuan"), "losses", T0), ["amount.currency"]),
        (ClaimCompensation(SID, CNY_100, "", T0), ["description"]),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, list) else "",
)
def test_bad_plan_and_claim_fields_are_named(command: Command, expected: list[str]) -> None:
    """A plan needs 1-50 non-blank measures and an owner; a claim a positive amount and a reason."""
    assert violated_fields(command) == expected


def test_a_plan_at_the_measure_limit_is_accepted() -> None:
    """Fifty measures is the most a plan may list."""
    validate(SubmitImprovementPlan(SID, ("m",) * MAX_MEASURES, "NOC lead", T0))


@pytest.mark.parametrize("field", ["target", "warning"])
def test_an_objective_outside_its_metrics_range_is_named(field: str) -> None:
    """Availability is a percentage: a target or warning of 150 is refused by its path."""
    out_of_range: dict[str, Any] = {field: 150.0}
    objective = attrs.evolve(AVAILABILITY, **out_of_range)
    # A target of 150 also leaves the (in-range) warning below it, on the unsafe side.
    assert f"objectives[0].{field}" in violated_fields(contract(objectives=(objective,)))
