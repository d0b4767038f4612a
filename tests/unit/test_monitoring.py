"""Quality monitoring: measurements against the contract's objectives, breaches, surveys,
inspections, reports and self-checks, each recorded and then judged at the monitoring stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from sqm.domain.commands import (
    Command,
    ConcludeReview,
    RecordInspection,
    RecordMeasurement,
    RecordSatisfactionSurvey,
    ReviewOutcome,
    SubmitProgressReport,
    SubmitSelfCheck,
)
from sqm.domain.decide import decide
from sqm.domain.errors import IllegalTransition, InvalidCommand
from sqm.domain.events import (
    BreachDetected,
    DecisionRecorded,
    InspectionRecorded,
    LifecycleTransitioned,
    MeasurementRecorded,
    PenaltyAssessed,
    ProgressReportSubmitted,
    ReviewOpened,
    SatisfactionSurveyRecorded,
    SelfCheckSubmitted,
)
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Action,
    Breach,
    Comparator,
    LifecycleState,
    Measurement,
    Observation,
    Review,
    Severity,
    SlaObjective,
    Stage,
)
from sqm.domain.serialization import canonical_json, event_to_payload
from tests.fakes import (
    DAY,
    OPEN_REVIEW_RULE_ID,
    PENALTY_RULE_ID,
    SID,
    T0,
    FakePolicy,
    S,
    measure,
    run,
    sign,
    supplier_in,
)

AT = T0 + 40 * DAY
RESTORE = SlaObjective("mttr", "mean_time_to_restore", Comparator.AT_MOST, 4.0, 3.0)


def actions_recorded(events: Sequence[object]) -> list[Action]:
    """The actions of the decisions recorded among ``events``, in order."""
    return [e.decision.action for e in events if isinstance(e, DecisionRecorded)]


# --- measurements: checks against the contract -----------------------------------------------


def test_a_measurement_for_an_unknown_objective_names_objective_id_and_the_known_ones() -> None:
    """An objective the contract does not have is refused, listing the contract's objectives."""
    uptime = SlaObjective("uptime", "availability", Comparator.AT_LEAST, 99.9, 99.95)
    state = run(supplier_in(S.QUALIFIED), sign(RESTORE, uptime))
    policy = FakePolicy()
    with pytest.raises(InvalidCommand) as raised:
        decide(measure(99.0, AT, objective_id="availability"), state, policy)
    (violation,) = raised.value.violations
    assert violation.field == "objective_id"
    assert "mttr" in violation.description
    assert "uptime" in violation.description
    assert policy.contexts == []


def test_a_measurement_in_the_wrong_unit_names_unit_and_the_metrics_unit() -> None:
    """Units are not converted: availability in "ratio" is refused, naming "percent"."""
    with pytest.raises(InvalidCommand) as raised:
        decide(measure(0.999, AT, unit="ratio"), supplier_in(S.CONTRACTED), FakePolicy())
    (violation,) = raised.value.violations
    assert violation.field == "unit"
    assert "'percent'" in violation.description
    assert "'ratio'" in violation.description


@pytest.mark.parametrize("value", [-0.01, 100.01, 1e9])
def test_a_value_outside_the_metrics_range_is_refused(value: float) -> None:
    """Availability is a percentage: values outside [0, 100] name the value field."""
    with pytest.raises(InvalidCommand) as raised:
        decide(measure(value, AT), supplier_in(S.CONTRACTED), FakePolicy())
    (violation,) = raised.value.violations
    assert violation.field == "value"
    assert "0 to 100" in violation.description


def test_a_wrong_unit_and_an_impossible_value_are_reported_together() -> None:
    """Both state-dependent problems of one measurement come back in one error."""
    with pytest.raises(InvalidCommand) as raised:
        decide(measure(250.0, AT, unit="ratio"), supplier_in(S.CONTRACTED), FakePolicy())
    assert [v.field for v in raised.value.violations] == ["unit", "value"]


def test_a_period_ending_after_the_measurement_was_recorded_is_refused() -> None:
    """A period cannot be measured before it ends: period_end after occurred_at names period_end."""
    command = RecordMeasurement(SID, "availability", 99.95, "percent", AT - DAY, AT + DAY, AT)
    with pytest.raises(InvalidCommand) as raised:
        decide(command, supplier_in(S.CONTRACTED), FakePolicy())
    assert [v.field for v in raised.value.violations] == ["period_end"]


# --- measurements: met and missed ------------------------------------------------------------


@pytest.mark.parametrize("value", [99.9, 99.95, 100.0])
def test_a_met_measurement_is_recorded_without_a_breach(value: float) -> None:
    """At or above target: one MeasurementRecorded marked met, no breach, no decision."""
    events = decide(measure(value, AT), supplier_in(S.CONTRACTED), FakePolicy())
    assert events == [
        MeasurementRecorded(
            AT,
            Measurement("availability", "availability", value, AT - 30 * DAY, AT, True, AT),
        )
    ]


@pytest.mark.parametrize(
    ("value", "severity"),
    [(99.5, Severity.MINOR), (98.5, Severity.MAJOR), (94.0, Severity.CRITICAL)],
)
def test_a_missed_measurement_records_a_breach_with_the_policys_severity(
    value: float, severity: Severity
) -> None:
    """Below target: the measurement (not met), then BreachDetected with classify's severity."""
    events = decide(measure(value, AT), supplier_in(S.UNDER_REVIEW), FakePolicy())
    recorded, detected = events[:2]
    assert recorded == MeasurementRecorded(
        AT, Measurement("availability", "availability", value, AT - 30 * DAY, AT, False, AT)
    )
    assert isinstance(detected, BreachDetected)
    assert detected.breach == Breach(
        "availability",
        "availability",
        severity,
        value,
        99.9,
        detected.breach.shortfall,
        AT,
        AT,
    )
    assert detected.breach.shortfall == pytest.approx(99.9 - value)


def test_an_at_most_objective_breaches_above_its_target() -> None:
    """Restore time 4 h at most: 4 h is met, 6 h is a major breach by 2 h."""
    state = run(supplier_in(S.QUALIFIED), sign(RESTORE))
    met = decide(measure(4.0, AT, "mttr", "hours"), state, FakePolicy())
    assert [type(e) for e in met] == [MeasurementRecorded]
    missed = decide(measure(6.0, AT, "mttr", "hours"), state, FakePolicy())
    breach = next(e.breach for e in missed if isinstance(e, BreachDetected))
    assert (breach.severity, breach.shortfall, breach.target) == (Severity.MAJOR, 2.0, 4.0)


def test_the_monitoring_stage_sees_the_breach_and_a_state_that_already_holds_it() -> None:
    """The policy is asked once, with the measurement, its breach, and both already applied."""
    policy = FakePolicy()
    state = supplier_in(S.CONTRACTED)
    events = decide(measure(98.5, AT), state, policy)
    (context,) = policy.contexts
    breach = next(e.breach for e in events if isinstance(e, BreachDetected))
    assert (context.stage, context.now, context.record_kind) == (
        Stage.MONITORING,
        AT,
        "measurement",
    )
    assert context.measurement is not None
    assert context.measurement.value == 98.5
    assert context.breach == breach
    assert context.supplier.breaches == (breach,)
    assert context.supplier.measurements == (context.measurement,)
    assert context.supplier.version == state.version + 2


def test_a_met_measurement_is_still_judged_without_a_breach() -> None:
    """Met measurements reach the policy too (with no breach), for rules on consecutive periods."""
    policy = FakePolicy()
    decide(measure(100.0, AT), supplier_in(S.CONTRACTED), policy)
    (context,) = policy.contexts
    assert context.breach is None
    assert context.measurement is not None
    assert context.measurement.met


def test_measurements_and_breaches_accumulate_in_the_state() -> None:
    """Each measurement is kept; only the missed ones add a breach."""
    state = run(
        supplier_in(S.CONTRACTED),
        measure(100.0, T0 + 31 * DAY),
        measure(99.5, T0 + 61 * DAY),
        measure(99.95, T0 + 91 * DAY),
    )
    assert [m.met for m in state.measurements] == [True, False, True]
    assert [b.detected_at for b in state.breaches] == [T0 + 61 * DAY]


def test_an_integer_value_is_recorded_as_a_float_so_payloads_replay_to_the_same_bytes() -> None:
    """100 and 100.0 must record identically: the event's canonical bytes do not depend on it."""
    state = supplier_in(S.CONTRACTED)
    as_int = decide(measure(100, AT), state, FakePolicy())
    as_float = decide(measure(100.0, AT), state, FakePolicy())
    assert [canonical_json(event_to_payload(e)) for e in as_int] == [
        canonical_json(event_to_payload(e)) for e in as_float
    ]


# --- the open_review action on a breach -----------------------------------------------------


def test_a_critical_breach_opens_a_review_naming_the_objective_and_severity() -> None:
    """Contracted, a critical breach: the fired rule is recorded, then the review, then the move."""
    events = decide(measure(94.0, AT), supplier_in(S.CONTRACTED), FakePolicy())
    assert actions_recorded(events) == [Action.OPEN_REVIEW, Action.ASSESS_PENALTY]
    decision_index = next(
        i for i, e in enumerate(events)
        if isinstance(e, DecisionRecorded) and e.decision.rule_id == OPEN_REVIEW_RULE_ID
    )  # fmt: skip
    recorded, opened, moved = events[decision_index : decision_index + 3]
    assert isinstance(recorded, DecisionRecorded)
    assert opened == ReviewOpened(
        AT,
        Review(
            AT, recorded.decision.message, OPEN_REVIEW_RULE_ID, "availability", Severity.CRITICAL
        ),
    )
    assert moved == LifecycleTransitioned(
        AT,
        Trigger.OPEN_REVIEW.value,
        S.CONTRACTED,
        S.UNDER_REVIEW,
        f"rule {OPEN_REVIEW_RULE_ID}",
    )


@pytest.mark.parametrize("lifecycle", [S.UNDER_REVIEW, S.REMEDIATION])
def test_a_critical_breach_while_not_contracted_opens_no_review_and_says_why(
    lifecycle: LifecycleState,
) -> None:
    """A fired open_review that cannot act is recorded with why; no review or move; the
    penalty stays.
    """
    state = supplier_in(lifecycle)
    events = decide(measure(94.0, AT), state, FakePolicy())
    recorded = [e for e in events if isinstance(e, DecisionRecorded)]
    assert [(r.decision.action, r.no_effect) for r in recorded] == [
        (Action.OPEN_REVIEW, f"no effect: open_review cannot apply in {lifecycle}"),
        (Action.ASSESS_PENALTY, ""),
    ]
    assert not any(isinstance(e, ReviewOpened | LifecycleTransitioned) for e in events)
    after = run(state, measure(94.0, AT))
    assert (after.lifecycle, after.review) == (lifecycle, state.review)


def test_a_major_breach_does_not_open_a_review_under_the_fake_policy() -> None:
    """Only critical breaches open a review here: a major one is penalised and nothing moves."""
    events = decide(measure(98.5, AT), supplier_in(S.CONTRACTED), FakePolicy())
    assert actions_recorded(events) == [Action.ASSESS_PENALTY]
    assert [e.decision.rule_id for e in events if isinstance(e, DecisionRecorded)] == [
        PENALTY_RULE_ID
    ]


# --- other monitoring records ---------------------------------------------------------------

RECORDS = [
    (
        RecordSatisfactionSurvey(SID, 72, AT, respondents=40, comment="slow repairs"),
        SatisfactionSurveyRecorded(AT, Observation(AT, 72.0), 40, "slow repairs"),
        "survey",
    ),
    (
        RecordInspection(SID, False, AT, findings="unlabelled racks"),
        InspectionRecorded(AT, Observation(AT, 0.0, False), "unlabelled racks"),
        "inspection",
    ),
    (
        RecordInspection(SID, True, AT),
        InspectionRecorded(AT, Observation(AT, 1.0, True)),
        "inspection",
    ),
    (
        SubmitProgressReport(SID, "milestone 2 delivered", AT),
        ProgressReportSubmitted(AT, "milestone 2 delivered"),
        "progress_report",
    ),
    (
        SubmitSelfCheck(SID, False, AT, "backup restore failed"),
        SelfCheckSubmitted(AT, False, "backup restore failed"),
        "self_check",
    ),
]


@pytest.mark.parametrize(
    ("command", "expected", "kind"),
    RECORDS,
    ids=[f"{k}-{i}" for i, (_, _, k) in enumerate(RECORDS)],
)
def test_a_monitoring_record_is_recorded_and_judged_at_the_monitoring_stage(
    command: Command, expected: object, kind: str
) -> None:
    """The record is one event; the policy then sees it applied, with its kind and no breach."""
    policy = FakePolicy()
    state = supplier_in(S.CONTRACTED)
    assert decide(command, state, policy) == [expected]
    (context,) = policy.contexts
    assert (context.stage, context.now, context.record_kind) == (Stage.MONITORING, AT, kind)
    assert (context.measurement, context.breach) == (None, None)
    assert context.supplier.version == state.version + 1


def test_records_update_the_monitoring_history() -> None:
    """Surveys and inspections accumulate; reports and self-checks keep their latest time."""
    state = run(
        supplier_in(S.CONTRACTED),
        RecordSatisfactionSurvey(SID, 80.0, T0 + 10 * DAY),
        RecordSatisfactionSurvey(SID, 60.0, T0 + 20 * DAY),
        RecordInspection(SID, False, T0 + 21 * DAY),
        SubmitProgressReport(SID, "week 3", T0 + 22 * DAY),
        SubmitProgressReport(SID, "week 4", T0 + 29 * DAY),
        SubmitSelfCheck(SID, True, T0 + 30 * DAY),
    )
    assert [s.value for s in state.surveys] == [80.0, 60.0]
    assert [i.passed for i in state.inspections] == [False]
    assert state.last_progress_report_at == T0 + 29 * DAY
    assert state.last_self_check_at == T0 + 30 * DAY


MONITORING_COMMANDS = [
    (measure(99.95, AT), "record_measurement"),
    (RecordSatisfactionSurvey(SID, 80.0, AT), "record_satisfaction_survey"),
    (RecordInspection(SID, True, AT), "record_inspection"),
    (SubmitProgressReport(SID, "weekly", AT), "submit_progress_report"),
    (SubmitSelfCheck(SID, True, AT), "submit_self_check"),
]


@pytest.mark.parametrize("lifecycle", [S.CANDIDATE, S.QUALIFIED, S.TERMINATED])
@pytest.mark.parametrize(
    ("command", "action"), MONITORING_COMMANDS, ids=[a for _, a in MONITORING_COMMANDS]
)
def test_monitoring_records_are_only_for_suppliers_under_contract(
    lifecycle: LifecycleState, command: Command, action: str
) -> None:
    """Without a running contract a record is an IllegalTransition naming the state and action."""
    policy = FakePolicy()
    with pytest.raises(IllegalTransition) as raised:
        decide(command, supplier_in(lifecycle), policy)
    assert (raised.value.current_state, raised.value.trigger) == (lifecycle.value, action)
    assert policy.contexts == []


@pytest.mark.parametrize("lifecycle", [S.CONTRACTED, S.UNDER_REVIEW, S.REMEDIATION])
@pytest.mark.parametrize(
    ("command", "action"), MONITORING_COMMANDS, ids=[a for _, a in MONITORING_COMMANDS]
)
def test_monitoring_records_are_accepted_in_every_state_under_contract(
    lifecycle: LifecycleState, command: Command, action: str
) -> None:
    """Contracted, under review or in remediation, monitoring goes on."""
    assert decide(command, supplier_in(lifecycle), FakePolicy())


def test_a_terminated_contract_takes_no_more_measurements() -> None:
    """After a failed review the contract has ended: a measurement is an IllegalTransition."""
    state = run(supplier_in(S.UNDER_REVIEW), ConcludeReview(SID, ReviewOutcome.FAILED, AT))
    assert state.contract is not None
    with pytest.raises(IllegalTransition):
        decide(measure(99.95, AT + DAY), state, FakePolicy())


def test_breach_detection_time_is_the_command_time_not_the_period_end() -> None:
    """A late measurement of an old period: detected_at is when it was recorded."""
    recorded_at = datetime(2025, 6, 1, tzinfo=AT.tzinfo)
    command = RecordMeasurement(
        SID, "availability", 98.0, "percent", AT - 60 * DAY, AT - 30 * DAY, recorded_at
    )
    events = decide(command, supplier_in(S.CONTRACTED), FakePolicy())
    breach = next(e.breach for e in events if isinstance(e, BreachDetected))
    assert (breach.period_end, breach.detected_at) == (AT - 30 * DAY, recorded_at)


def test_a_penalty_follows_the_breach_in_the_same_command() -> None:
    """A missed measurement outside grace yields measurement, breach, decision, penalty."""
    events = decide(measure(99.5, AT), supplier_in(S.CONTRACTED), FakePolicy())
    assert [type(e) for e in events] == [
        MeasurementRecorded,
        BreachDetected,
        DecisionRecorded,
        PenaltyAssessed,
    ]
