"""Field validation: every bad field is named by its API path, all of them in one error."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given

from domain.commands import (
    Command,
    ConcludeReview,
    OpenReview,
    RecordMissedImprovementDeadline,
    RegisterSupplier,
    ReviewOutcome,
    SignContract,
    SubmitQualificationEvidence,
    VerifyRemediation,
)
from domain.errors import InvalidCommand
from domain.model import Certificate, CertificateKind, ServiceCategory
from domain.validation import MAX_NAME_LENGTH, SUPPLIER_ID, validate
from tests.strategies import commands, supplier_ids

T0 = datetime(2025, 3, 1, tzinfo=UTC)
NAIVE = datetime(2025, 3, 1)  # no time zone: the point of several tests
SID = "acme"


def register(supplier_id: str = SID, name: str = "Acme", at: datetime = T0) -> RegisterSupplier:
    """A registration, valid unless a field is overridden."""
    return RegisterSupplier(supplier_id, name, ServiceCategory.IT_SERVICES, at)


def certificate(
    number: str = "ISO-1",
    issuer: str = "中国质量认证中心",
    valid_from: datetime = T0,
    valid_until: datetime = T0 + timedelta(days=365),
) -> Certificate:
    """A certificate, valid unless a field is overridden."""
    return Certificate(CertificateKind.ISO_9001, number, issuer, valid_from, valid_until)


def evidence(
    scores: dict[str, float] | None = None, *certificates: Certificate
) -> SubmitQualificationEvidence:
    """Evidence with the given scores and certificates."""
    return SubmitQualificationEvidence(SID, T0, scores=scores or {}, certificates=certificates)


def violated_fields(command: Command) -> list[str]:
    """The field paths validate() names for ``command``, in order."""
    with pytest.raises(InvalidCommand) as raised:
        validate(command)
    return [v.field for v in raised.value.violations]


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


@pytest.mark.parametrize(
    "command",
    [
        register(at=NAIVE),
        SubmitQualificationEvidence(SID, NAIVE, scores={"price": 50.0}),
        SignContract(SID, "ct-1", NAIVE),
        OpenReview(SID, "reason", NAIVE),
        ConcludeReview(SID, ReviewOutcome.CLEARED, NAIVE),
        VerifyRemediation(SID, NAIVE),
        RecordMissedImprovementDeadline(SID, NAIVE),
    ],
    ids=lambda c: type(c).__name__,
)
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
