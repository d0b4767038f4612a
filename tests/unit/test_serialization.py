"""Serialization: events and state survive JSON unchanged; canonical bytes never vary."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given

from sqm.domain.commands import DisputeOutcome, ReviewOutcome
from sqm.domain.events import (
    EVENT_TYPES,
    BreachDetected,
    CompensationSettled,
    ContractEnded,
    ContractSigned,
    CorrectiveActionClosed,
    CorrectiveActionExtensionDecided,
    CorrectiveActionExtensionRequested,
    CorrectiveActionItemCompleted,
    CorrectiveActionItemVerified,
    CorrectiveActionsEscalated,
    CorrectiveActionSubmitted,
    DecisionRecorded,
    DeliverableAccepted,
    DocumentArchived,
    Escalated,
    Event,
    ImprovementDeadlineMissed,
    ImprovementPlanCompleted,
    ImprovementPlanRequired,
    ImprovementPlanSubmitted,
    InspectionRecorded,
    KickOffRecorded,
    LifecycleTransitioned,
    MarketResearchRecorded,
    MeasurementRecorded,
    MilestoneCompleted,
    NoticeAcknowledged,
    NotificationIssued,
    PenaltyAssessed,
    PenaltyDisputed,
    PenaltyDisputeDecided,
    PenaltyReversed,
    ProblemTicketOpened,
    ProblemTicketResolved,
    ProgressReportSubmitted,
    QualificationEvidenceSubmitted,
    RemediationVerified,
    ReminderIssued,
    ResourcePlanSubmitted,
    ReviewConcluded,
    ReviewOpened,
    SatisfactionSurveyRecorded,
    ScorecardClosed,
    SelfCheckSubmitted,
    SupplierBlacklisted,
    SupplierRegistered,
    TerminatedForCause,
    TicketResolutionMissed,
    TrainingRecorded,
    event_type,
)
from sqm.domain.evolve import fold
from sqm.domain.model import (
    Action,
    Breach,
    Certificate,
    Comparator,
    ConditionOutcome,
    Contract,
    Decision,
    ImprovementPlan,
    LifecycleState,
    Measurement,
    Milestone,
    Money,
    Observation,
    Penalty,
    ProblemTicket,
    Reminder,
    Review,
    Severity,
    SlaObjective,
    SupplierState,
)
from sqm.domain.scorecard_records import KpiResult, Scorecard
from sqm.domain.serialization import (
    canonical_json,
    event_from_payload,
    event_to_payload,
    format_time,
    parse_time,
    state_from_dict,
    state_to_dict,
)
from sqm.domain.supplier_side import credit_note
from tests.corrective import corrective_content
from tests.strategies import offset_moments

T0 = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
LICENCE = Certificate(
    "business_licence",
    "91440300MA5ABCDE1X",
    "深圳市市场监督管理局",
    datetime(2024, 1, 1, tzinfo=CST),
    datetime(2029, 1, 1, tzinfo=CST),
)
DECISION = Decision(
    rule_id="qualification.threshold",
    rule_title="Weighted score at or above the threshold",
    rule_file="packs/telecom/qualification.yaml",
    rule_line=12,
    policy_version="3f2a9c",
    action=Action.QUALIFY,
    fired=False,
    message="加权得分 62.5 低于 70",
    facts={"weighted_score": 62.5, "site_audit_passed": True, "certificates": 2, "tier": "gold"},
    conditions=(
        ConditionOutcome("weighted_score", ">=", 70, 62.5, False),
        ConditionOutcome("site_audit_passed", "==", True, True, True),
    ),
)
AVAILABILITY = SlaObjective(
    "availability", "availability", Comparator.AT_LEAST, 99.9, 99.95, 0.01, 30, 30
)
RESTORE = SlaObjective("mttr", "mean_time_to_restore", Comparator.AT_MOST, 4.0, 3.0)
CONTRACT = Contract(
    "ct-2025-001",
    T0,
    T0 + timedelta(days=1),
    T0 + timedelta(days=366),
    Money(Decimal("120000.50"), "CNY"),
    Money(Decimal("1000000.00"), "CNY"),
    (AVAILABILITY, RESTORE),
)
MEASUREMENT = Measurement(
    "availability", "availability", 97.25, T0 - timedelta(days=30), T0, False, T0
)
BREACH = Breach("availability", "availability", Severity.MAJOR, 97.25, 99.9, 2.65, T0, T0)
PENALTY = Penalty(
    "acme/penalty-1",
    "service_credit",
    "ct-2025-001",
    Money(Decimal("2400.01"), "CNY"),
    "2025-03",
    "sla.major-credit",
    "period",
    T0,
    "availability",
)
REVIEW = Review(
    T0, "critical breach", "sla.critical-opens-review", "availability", Severity.CRITICAL
)
PLAN = ImprovementPlan(T0, T0 + timedelta(days=7), "availability")
TICKET_REVIEW = Review(T0, "three late tickets in 90 days", "MON-011", ticket_id="PT-7")
REMIND = attrs.evolve(
    DECISION, action=Action.REMIND, fired=True, parameters={"reminder": "improvement_plan_due"}
)
EXAMPLE_EVENTS: list[Event] = [
    SupplierRegistered("acme", "华为技术有限公司", "network_equipment", T0),
    QualificationEvidenceSubmitted(T0, {"capability": 81.5, "价格": 70.0}, (LICENCE,), True),
    QualificationEvidenceSubmitted(T0),
    SupplierBlacklisted(T0, "列入失信名单"),
    DecisionRecorded(T0, DECISION),
    DecisionRecorded(T0, REMIND),
    LifecycleTransitioned(
        T0, "qualify", LifecycleState.CANDIDATE, LifecycleState.QUALIFIED, "rule x"
    ),
    ContractSigned(T0, CONTRACT),
    ContractSigned(T0, attrs.evolve(CONTRACT, objectives=())),
    ContractEnded(T0, "C-2025-001", T0 - timedelta(days=1)),
    MeasurementRecorded(T0, MEASUREMENT),
    BreachDetected(T0, BREACH),
    PenaltyAssessed(T0, PENALTY, "3% of 120000.50 CNY, capped at the period cap"),
    SatisfactionSurveyRecorded(T0, Observation(T0, 72.5), 40, "慢"),
    InspectionRecorded(T0, Observation(T0, 0.0, False), "two racks unlabelled"),
    ProgressReportSubmitted(T0, "milestone 2 delivered"),
    SelfCheckSubmitted(T0, False, "backup test failed"),
    ReviewOpened(T0, REVIEW),
    ReviewOpened(T0, Review(T0, "late report")),
    ReviewOpened(T0, TICKET_REVIEW),
    ReviewConcluded(T0, ReviewOutcome.REMEDIATION_REQUIRED, "plan due in 14 days"),
    ImprovementPlanRequired(T0, PLAN),
    ImprovementPlanRequired(T0, attrs.evolve(PLAN, objective_id="", ticket_id="PT-7")),
    ImprovementPlanSubmitted(T0, ("add a standby link", "train the NOC"), "NOC lead"),
    ImprovementPlanCompleted(T0, "all measures in place"),
    RemediationVerified(T0, "clean 30-day window"),
    ImprovementDeadlineMissed(T0),
    TerminatedForCause(T0, "MON-009", "critical breach of availability during remediation"),
    Escalated(T0, "MON-011", "procurement_director", "两次严重违约 in 30 days"),
    NotificationIssued(T0, "MON-008", "supplier", "inspection failed"),
    ReminderIssued(
        T0, Reminder.IMPROVEMENT_PLAN_DUE, "improvement_plan_due:2025-03-08T09:30:15+00:00", "due"
    ),
    MarketResearchRecorded(T0, "5G core and RAN", "on time for 3 operators", ("CMCC", "联通")),
    MarketResearchRecorded(T0, "field crews", "no record"),
    KickOffRecorded(T0, "go live by Q3", (Milestone("cut-over", T0 + timedelta(days=30)),), "NOC"),
    MilestoneCompleted(T0, "cut-over", "on air"),
    DeliverableAccepted(T0, "cut-over", "验收通过"),
    ResourcePlanSubmitted(T0, ("2 engineers", "1 PM"), "staffed from week 1"),
    ProblemTicketOpened(T0, "PT-7", "packet loss in region 3", Severity.MAJOR),
    ProblemTicketResolved(T0, "PT-7", "replaced line card"),
    TicketResolutionMissed(T0, "PT-7", Severity.MAJOR, 24.0, 30.5),
    TrainingRecorded(T0, "incident handling", 12),
    CompensationSettled(T0, "acme/penalty-2", Money(Decimal("2500.50"), "CNY"), "first part"),
    DocumentArchived(T0, "0" * 32, "合同.pdf", "application/pdf", "a" * 64, 1024),
    NoticeAcknowledged(T0, 42, "ReminderIssued"),
    PenaltyDisputed(T0, "acme/penalty-1", "the outage was the operator's planned maintenance"),
    PenaltyDisputeDecided(T0, "acme/penalty-1", DisputeOutcome.ACCEPTED, "maintenance window"),
    PenaltyReversed(T0, "acme/penalty-1", credit_note(PENALTY, T0)),
    CorrectiveActionSubmitted(T0, corrective_content(T0 + timedelta(days=7)), 2),
    CorrectiveActionItemCompleted(T0, "A1", "all cables re-labelled"),
    CorrectiveActionItemVerified(T0, "A1", "质量部张工", "site photos checked"),
    CorrectiveActionExtensionRequested(T0, "A1", T0 + timedelta(days=14), "parts late"),
    CorrectiveActionExtensionDecided(T0, "A1", True, T0 + timedelta(days=14), "agreed"),
    CorrectiveActionsEscalated(T0, "CA-002", ("A1", "A2")),
    CorrectiveActionClosed(T0, "every action verified"),
    ScorecardClosed(
        T0,
        Scorecard(
            "2025-02",
            T0 - timedelta(days=28),
            T0,
            81.25,
            "good",
            "良好 (good)",
            (
                KpiResult(
                    "sla",
                    "SLA 达标率",
                    "sla_attainment",
                    86.67,
                    86.67,
                    40.0,
                    50.0,
                    True,
                    "13 of 15 measurements met their objective",
                ),
                KpiResult(
                    "inspections",
                    "检查",
                    "inspection_pass_rate",
                    0.0,
                    0.0,
                    20.0,
                    0.0,
                    False,
                    "no inspections in the period",
                ),
            ),
            "no data for inspections: their weight (20) was shared out",
        ),
    ),
]


def through_json(data: Any) -> Any:
    """``data`` as it comes back from a store: canonical JSON bytes, parsed again."""
    return json.loads(canonical_json(data))


def test_the_examples_cover_every_event_type() -> None:
    """Each stored event type has at least one round-trip example below."""
    assert {event_type(e) for e in EXAMPLE_EVENTS} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", EXAMPLE_EVENTS, ids=event_type)
def test_an_event_round_trips_through_its_payload(event: Event) -> None:
    """event_from_payload(event_to_payload(e)) gives back an equal event."""
    assert event_from_payload(event_type(event), event_to_payload(event)) == event


@pytest.mark.parametrize("event", EXAMPLE_EVENTS, ids=event_type)
def test_an_event_round_trips_through_canonical_json(event: Event) -> None:
    """A payload stored as canonical JSON and read back rebuilds an equal event."""
    payload = through_json(event_to_payload(event))
    assert event_from_payload(event_type(event), payload) == event


@pytest.mark.parametrize("event", EXAMPLE_EVENTS, ids=event_type)
def test_a_payload_is_a_fixed_point_of_the_round_trip(event: Event) -> None:
    """Re-serializing a rebuilt event gives the same canonical bytes: hashes stay stable."""
    payload = through_json(event_to_payload(event))
    rebuilt = event_from_payload(event_type(event), payload)
    assert canonical_json(event_to_payload(rebuilt)) == canonical_json(payload)


def test_a_payload_does_not_carry_the_type_name() -> None:
    """The type name is kept beside the payload, under the event's class name."""
    event = ContractSigned(T0, attrs.evolve(CONTRACT, objectives=(RESTORE,)))
    assert event_to_payload(event) == {
        "occurred_at": "2025-03-01T09:30:15.123456Z",
        "contract": {
            "contract_id": "ct-2025-001",
            "signed_at": "2025-03-01T09:30:15.123456Z",
            "starts_at": "2025-03-02T09:30:15.123456Z",
            "ends_at": "2026-03-02T09:30:15.123456Z",
            "monthly_fee": {"amount": "120000.50", "currency": "CNY"},
            "liability_limit": {"amount": "1000000.00", "currency": "CNY"},
            "objectives": [
                {
                    "objective_id": "mttr",
                    "metric": "mean_time_to_restore",
                    "comparator": "<=",
                    "target": 4.0,
                    "warning": 3.0,
                    "tolerance": 0.0,
                    "grace_days": 0,
                    "period_days": 30,
                }
            ],
        },
    }
    assert event_type(event) == "ContractSigned"


def test_money_travels_as_an_exact_decimal_string() -> None:
    """Amounts are strings in the payload, trailing zeros kept, and come back as equal Decimals."""
    payload = through_json(event_to_payload(PenaltyAssessed(T0, PENALTY, "basis")))
    assert payload["penalty"]["amount"] == {"amount": "2400.01", "currency": "CNY"}
    rebuilt = event_from_payload("PenaltyAssessed", payload)
    assert isinstance(rebuilt, PenaltyAssessed)
    assert rebuilt.penalty.amount.amount == Decimal("2400.01")
    assert str(rebuilt.penalty.amount.amount) == "2400.01"


def test_a_float_amount_in_a_stored_payload_is_refused() -> None:
    """A float has already lost the exact amount: reading one back is an error, not a guess."""
    payload = through_json(event_to_payload(PenaltyAssessed(T0, PENALTY, "basis")))
    payload["penalty"]["amount"]["amount"] = 2400.01
    with pytest.raises(cattrs.ClassValidationError):
        event_from_payload("PenaltyAssessed", payload)


def test_a_review_without_a_breach_keeps_no_severity() -> None:
    """A hand-opened review's severity is null in the payload and None when read back."""
    payload = through_json(event_to_payload(ReviewOpened(T0, Review(T0, "late report"))))
    assert payload["review"]["severity"] is None
    rebuilt = event_from_payload("ReviewOpened", payload)
    assert isinstance(rebuilt, ReviewOpened)
    assert rebuilt.review.severity is None


def test_a_review_recorded_before_ticket_ids_reads_back_naming_no_ticket() -> None:
    """An old ReviewOpened payload has no ticket_id: it reads back as "" and folds."""
    payload = through_json(
        event_to_payload(ReviewOpened(T0, attrs.evolve(REVIEW, ticket_id="PT-7")))
    )
    del payload["review"]["ticket_id"]
    rebuilt = event_from_payload("ReviewOpened", payload)
    assert isinstance(rebuilt, ReviewOpened)
    assert rebuilt.review.ticket_id == ""
    assert fold([rebuilt], RICH_STATE).review == REVIEW


def test_records_naming_no_ticket_are_written_as_before_ticket_ids() -> None:
    """No ticket_id or review_opened_at key when empty: old records hash the same."""
    review = event_to_payload(ReviewOpened(T0, REVIEW))["review"]
    plan = event_to_payload(ImprovementPlanRequired(T0, PLAN))["plan"]
    ticket = state_to_dict(attrs.evolve(RICH_STATE, review=REVIEW))["tickets"][0]
    assert "ticket_id" not in review
    assert "ticket_id" not in plan
    assert "review_opened_at" not in ticket


def test_fact_values_keep_their_json_types() -> None:
    """Booleans stay booleans and integers stay integers after a JSON round trip."""
    rebuilt = event_from_payload(
        "DecisionRecorded", through_json(event_to_payload(DecisionRecorded(T0, DECISION)))
    )
    assert isinstance(rebuilt, DecisionRecorded)
    facts = rebuilt.decision.facts
    assert facts["site_audit_passed"] is True
    assert type(facts["certificates"]) is int
    assert type(facts["weighted_score"]) is float


def test_an_unknown_event_type_is_an_error() -> None:
    """A type name the domain does not know is refused, named in the message."""
    with pytest.raises(ValueError, match="SupplierTeleported"):
        event_from_payload("SupplierTeleported", {"occurred_at": "2025-03-01T00:00:00Z"})


def test_a_payload_missing_a_field_is_an_error() -> None:
    """A stored payload without a required field is refused, not filled with a default."""
    with pytest.raises(cattrs.ClassValidationError):
        event_from_payload("ContractSigned", {"occurred_at": "2025-03-01T00:00:00.000000Z"})
    payload = through_json(event_to_payload(ContractSigned(T0, CONTRACT)))
    del payload["contract"]["liability_limit"]
    with pytest.raises(cattrs.ClassValidationError):
        event_from_payload("ContractSigned", payload)


def test_a_fact_value_that_is_not_a_scalar_is_an_error() -> None:
    """Facts are bool, number or string; a list in a stored decision is refused."""
    payload = through_json(event_to_payload(DecisionRecorded(T0, DECISION)))
    payload["decision"]["facts"]["weighted_score"] = [62.5]
    with pytest.raises(cattrs.ClassValidationError):
        event_from_payload("DecisionRecorded", payload)


RICH_STATE = SupplierState(
    supplier_id="acme",
    name="中兴通讯股份有限公司",
    category="network_services",
    lifecycle=LifecycleState.REMEDIATION,
    version=17,
    registered_at=T0,
    updated_at=T0 + timedelta(days=90),
    scores={"capability": 81.5, "price": 70.0},
    certificates=(LICENCE,),
    site_audit_passed=True,
    blacklisted=True,
    last_decisions=(DECISION, REMIND),
    contract=CONTRACT,
    measurements=(MEASUREMENT,),
    breaches=(BREACH,),
    penalties=(PENALTY,),
    surveys=(Observation(T0, 72.5),),
    inspections=(Observation(T0, 0.0, False),),
    last_progress_report_at=T0,
    last_self_check_at=T0 + timedelta(days=1),
    review=TICKET_REVIEW,
    plan=attrs.evolve(
        PLAN, measures=("train the NOC",), owner="NOC lead", submitted_at=T0, ticket_id="PT-7"
    ),
    tickets=(
        ProblemTicket("PT-6", Severity.MINOR, T0),
        ProblemTicket("PT-7", Severity.MAJOR, T0, T0 + timedelta(days=2), T0 + timedelta(days=2)),
    ),
    reminders_sent=frozenset({"b:2025-03-08", "a:2025-03-08"}),
    open_tickets=frozenset({"PT-2", "PT-1"}),
    settlements={"acme/penalty-1": Decimal("100.05")},
)
STATES = [RICH_STATE, SupplierState("new-one", "New", "software")]
STATE_IDS = ["rich", "defaults"]


@pytest.mark.parametrize("state", STATES, ids=STATE_IDS)
def test_a_state_round_trips_through_a_dict(state: SupplierState) -> None:
    """state_from_dict(state_to_dict(s)) gives back an equal state."""
    assert state_from_dict(state_to_dict(state)) == state


@pytest.mark.parametrize("state", STATES, ids=STATE_IDS)
def test_a_state_round_trips_through_a_dict_and_json(state: SupplierState) -> None:
    """A state stored as canonical JSON (a snapshot) and read back is equal to the original."""
    assert state_from_dict(through_json(state_to_dict(state))) == state


def test_reminders_sent_are_stored_as_a_sorted_list() -> None:
    """Sets serialise sorted, so the same state always gives the same snapshot bytes."""
    data = state_to_dict(RICH_STATE)
    assert data["reminders_sent"] == ["a:2025-03-08", "b:2025-03-08"]
    assert canonical_json(data) == canonical_json(state_to_dict(attrs.evolve(RICH_STATE)))


def test_canonical_json_sorts_keys_at_every_depth() -> None:
    """Keys are sorted in nested objects too, with no white space between tokens."""
    data = {"b": 1, "a": {"d": [1, 2], "c": None}}
    assert canonical_json(data) == b'{"a":{"c":null,"d":[1,2]},"b":1}'


def test_canonical_json_does_not_depend_on_insertion_order() -> None:
    """Two equal dicts built in different orders give the same bytes."""
    first = {"x": 1, "y": {"p": True, "q": "中"}}
    second = {"y": {"q": "中", "p": True}, "x": 1}
    assert canonical_json(first) == canonical_json(second)


def test_canonical_json_is_utf8_without_escapes() -> None:
    """Non-ASCII text is written as UTF-8 bytes, not as escape sequences."""
    encoded = canonical_json({"name": "华为"})
    assert encoded == '{"name":"华为"}'.encode()
    assert b"\\u" not in encoded


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_canonical_json_refuses_non_finite_numbers(value: float) -> None:
    """NaN and infinities have no JSON spelling; encoding them is an error."""
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"score": value})


def test_format_time_spells_an_instant_in_utc_with_microseconds() -> None:
    """One spelling per instant: UTC, six fractional digits, a trailing Z."""
    shanghai = datetime(2025, 3, 1, 17, 30, 15, 123456, tzinfo=CST)
    assert format_time(shanghai) == "2025-03-01T09:30:15.123456Z"
    assert format_time(shanghai) == format_time(T0)
    assert format_time(datetime(2025, 3, 1, tzinfo=UTC)) == "2025-03-01T00:00:00.000000Z"


def test_format_time_refuses_a_naive_datetime() -> None:
    """A datetime without a time zone is not an instant; formatting it is an error."""
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2025, 3, 1))  # naive on purpose


def test_parse_time_accepts_any_offset_and_returns_utc() -> None:
    """RFC 3339 with Z or a numeric offset parses to the same UTC instant."""
    for text in ("2025-03-01T09:30:15.123456Z", "2025-03-01T17:30:15.123456+08:00"):
        parsed = parse_time(text)
        assert parsed == T0
        assert parsed.utcoffset() == timedelta(0)


def test_parse_time_refuses_a_time_without_an_offset() -> None:
    """Text without Z or an offset is not an instant; reading it must not depend on the host."""
    with pytest.raises(ValueError, match=r"offset|naive|zone"):
        parse_time("2025-03-01T09:30:15")


@given(offset_moments())
def test_format_then_parse_gives_back_the_same_instant(moment: datetime) -> None:
    """parse_time(format_time(t)) == t for any aware t, and the text is a fixed point."""
    text = format_time(moment)
    assert parse_time(text) == moment
    assert format_time(parse_time(text)) == text


def test_an_early_year_round_trips() -> None:
    """Years are always spelled with four digits, so every instant round-trips."""
    early = datetime(999, 1, 1, tzinfo=UTC)
    assert format_time(early) == "0999-01-01T00:00:00.000000Z"
    assert parse_time(format_time(early)) == early


def _decision_recorded(no_effect: str = "") -> Any:
    from sqm.domain.events import DecisionRecorded  # noqa: PLC0415 - only these tests
    from sqm.domain.model import Action, Decision  # noqa: PLC0415

    decision = Decision("MON-006", "t", "monitoring.yaml", 3, "v1", Action.TERMINATE, True, "m")
    return DecisionRecorded(datetime(2026, 3, 1, tzinfo=UTC), decision, no_effect)


def test_a_decision_that_took_effect_is_written_as_before_no_effect_existed() -> None:
    """No ``no_effect`` key when it is empty: old and new records hash the same."""
    payload = event_to_payload(_decision_recorded())
    assert "no_effect" not in payload
    assert event_from_payload("DecisionRecorded", payload) == _decision_recorded()


def test_a_decision_without_effect_keeps_its_reason_through_a_round_trip() -> None:
    """The reason is written, and read back."""
    event = _decision_recorded("no effect: terminate cannot apply in contracted")
    payload = event_to_payload(event)
    assert payload["no_effect"] == "no effect: terminate cannot apply in contracted"
    assert event_from_payload("DecisionRecorded", payload) == event
    assert not event.took_effect
