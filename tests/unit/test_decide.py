"""decide and apply: commands become events, events fold into state, guards run first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from sqm.domain.commands import (
    NO_AMOUNT,
    AdvanceTime,
    BlacklistSupplier,
    ClaimCompensation,
    Command,
    CompleteImprovementPlan,
    ConcludeReview,
    OpenReview,
    RecordInspection,
    RecordMeasurement,
    RecordMissedImprovementDeadline,
    RecordSatisfactionSurvey,
    RegisterSupplier,
    ReviewOutcome,
    SignContract,
    SubmitImprovementPlan,
    SubmitProgressReport,
    SubmitQualificationEvidence,
    SubmitSelfCheck,
    VerifyRemediation,
)
from sqm.domain.decide import apply, decide, fold
from sqm.domain.errors import (
    IllegalTransition,
    InvalidCommand,
    SupplierAlreadyExists,
    SupplierNotFound,
)
from sqm.domain.events import (
    ContractSigned,
    DecisionRecorded,
    Event,
    ImprovementDeadlineMissed,
    ImprovementPlanRequired,
    LifecycleTransitioned,
    QualificationEvidenceSubmitted,
    RemediationVerified,
    ReviewConcluded,
    ReviewOpened,
    SupplierBlacklisted,
    SupplierRegistered,
)
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import (
    Action,
    Comparator,
    Contract,
    ImprovementPlan,
    LifecycleState,
    Money,
    Review,
    SlaObjective,
    Stage,
)
from sqm.domain.pack_catalogue import CategoryId
from tests.fakes import (
    DAY,
    DISQUALIFY_RULE_ID,
    FAKE_OBJECTIVE,
    FEE,
    LIABILITY,
    PLAN_DUE_DAYS,
    QUALIFY_RULE_ID,
    SID,
    SIGNED_AT,
    T0,
    FakePolicy,
    S,
    licence,
    passing_evidence,
    run,
    sign,
    supplier_in,
)


def transitions_in(events: Sequence[Event]) -> list[LifecycleTransitioned]:
    """The lifecycle transitions among ``events``."""
    return [e for e in events if isinstance(e, LifecycleTransitioned)]


# --- registration and lookup ---------------------------------------------------------------


def test_registering_a_new_supplier_records_supplier_registered() -> None:
    """A registration with no prior state yields one SupplierRegistered carrying its fields."""
    command = RegisterSupplier(SID, "中兴通讯", "network_equipment", T0)
    events = decide(command, None, FakePolicy())
    assert events == [SupplierRegistered(SID, "中兴通讯", "network_equipment", T0)]


def test_a_registered_supplier_starts_as_a_candidate_at_version_one() -> None:
    """Folding the registration gives a candidate at version 1, registered at occurred_at."""
    state = supplier_in(S.CANDIDATE)
    assert state.supplier_id == SID
    assert state.lifecycle is S.CANDIDATE
    assert state.version == 1
    assert state.registered_at == state.updated_at == T0


def test_registering_an_existing_supplier_raises_supplier_already_exists() -> None:
    """A second registration for the same stream is refused and names the supplier."""
    command = RegisterSupplier(SID, "Other name", "software", T0 + DAY)
    with pytest.raises(SupplierAlreadyExists) as raised:
        decide(command, supplier_in(S.CANDIDATE), FakePolicy())
    assert raised.value.supplier_id == SID


@pytest.mark.parametrize(
    "command",
    [
        passing_evidence(),
        BlacklistSupplier(SID, "sanctions list", T0),
        SignContract(SID, "ct-1", T0),
        RecordMeasurement(SID, "availability", 99.0, "percent", T0 - DAY, T0, T0),
        RecordSatisfactionSurvey(SID, 80.0, T0),
        RecordInspection(SID, True, T0),
        SubmitProgressReport(SID, "on track", T0),
        SubmitSelfCheck(SID, True, T0),
        OpenReview(SID, "late report", T0),
        ConcludeReview(SID, ReviewOutcome.CLEARED, T0),
        SubmitImprovementPlan(SID, ("train staff",), "NOC lead", T0),
        CompleteImprovementPlan(SID, T0),
        VerifyRemediation(SID, T0),
        RecordMissedImprovementDeadline(SID, T0),
        ClaimCompensation(SID, FEE, "outage losses", T0),
        AdvanceTime(SID, T0),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_command_for_an_unknown_supplier_raises_supplier_not_found(command: Command) -> None:
    """Every command but registration needs an existing supplier."""
    with pytest.raises(SupplierNotFound) as raised:
        decide(command, None, FakePolicy())
    assert raised.value.supplier_id == SID


def test_an_invalid_command_is_refused_before_the_policy_is_consulted() -> None:
    """Validation runs first: a bad score raises InvalidCommand and the policy is not asked."""
    policy = FakePolicy()
    bad = SubmitQualificationEvidence(SID, T0, scores={"capability": 120.0})
    with pytest.raises(InvalidCommand):
        decide(bad, supplier_in(S.CANDIDATE), policy)
    assert policy.contexts == []


# --- qualification -------------------------------------------------------------------------


def test_evidence_meeting_the_policy_qualifies_a_candidate() -> None:
    """Passing evidence yields the evidence, a fired decision and candidate -> qualified."""
    policy = FakePolicy(version="pack-abc123")
    command = passing_evidence()
    events = decide(command, supplier_in(S.CANDIDATE), policy)

    submitted, recorded, moved = events
    assert submitted == QualificationEvidenceSubmitted(
        T0, {"capability": 90.0, "price": 80.0}, (licence(),), None
    )
    assert isinstance(recorded, DecisionRecorded)
    assert recorded.decision.fired
    assert recorded.decision.rule_id == QUALIFY_RULE_ID
    assert recorded.decision.policy_version == "pack-abc123"
    assert moved == LifecycleTransitioned(
        T0, Trigger.QUALIFY.value, S.CANDIDATE, S.QUALIFIED, f"rule {QUALIFY_RULE_ID}"
    )


def test_the_policy_judges_the_candidate_with_the_new_evidence_at_the_command_time() -> None:
    """The decision context holds the evidence just submitted and ``now`` is occurred_at."""
    policy = FakePolicy()
    later = T0 + 5 * DAY
    decide(passing_evidence(later), supplier_in(S.CANDIDATE), policy)
    (context,) = policy.contexts
    assert context.stage is Stage.QUALIFICATION
    assert context.now == later
    assert context.supplier.scores == {"capability": 90.0, "price": 80.0}
    assert context.supplier.certificates == (licence(),)


def test_a_qualified_supplier_keeps_the_decision_that_qualified_it() -> None:
    """After qualification the state shows the fired decision as its last decision."""
    state = supplier_in(S.QUALIFIED)
    assert [d.rule_id for d in state.last_decisions] == [QUALIFY_RULE_ID]
    assert state.version == 4


def test_failing_evidence_records_why_not_and_leaves_the_candidate_where_it_is() -> None:
    """Evidence below the threshold records a not-fired explanation with actual vs threshold."""
    command = SubmitQualificationEvidence(
        SID, T0, scores={"capability": 60.0, "price": 65.0}, certificates=(licence(),)
    )
    events = decide(command, supplier_in(S.CANDIDATE), FakePolicy(threshold=70.0))

    assert transitions_in(events) == []
    explanations = {
        e.decision.rule_id: e.decision for e in events if isinstance(e, DecisionRecorded)
    }
    qualify = explanations[QUALIFY_RULE_ID]
    assert not qualify.fired
    mean = next(c for c in qualify.conditions if c.fact == "mean_score")
    assert (mean.actual, mean.operator, mean.threshold, mean.held) == (62.5, ">=", 70.0, False)
    assert "mean_score" in qualify.message
    assert run(supplier_in(S.CANDIDATE), command).lifecycle is S.CANDIDATE


def test_a_certificate_expired_at_decision_time_does_not_count() -> None:
    """A licence whose validity ended at or before occurred_at leaves the candidate unqualified."""
    expired = licence(valid_from=T0 - 400 * DAY, valid_until=T0)  # [from, until): ends at T0
    command = SubmitQualificationEvidence(
        SID, T0, scores={"capability": 95.0}, certificates=(expired,)
    )
    events = decide(command, supplier_in(S.CANDIDATE), FakePolicy())
    assert transitions_in(events) == []
    qualify = next(
        e.decision
        for e in events
        if isinstance(e, DecisionRecorded) and e.decision.rule_id == QUALIFY_RULE_ID
    )
    assert qualify.facts["business_licence_valid"] is False


def test_a_certificate_not_yet_valid_at_decision_time_does_not_count() -> None:
    """A licence that starts after occurred_at does not qualify the candidate yet."""
    future = licence(valid_from=T0 + DAY, valid_until=T0 + 400 * DAY)
    command = SubmitQualificationEvidence(
        SID, T0, scores={"capability": 95.0}, certificates=(future,)
    )
    assert transitions_in(decide(command, supplier_in(S.CANDIDATE), FakePolicy())) == []


def test_a_certificate_counts_from_its_first_instant() -> None:
    """Validity is half-open: a licence valid from exactly occurred_at counts."""
    fresh = licence(valid_from=T0, valid_until=T0 + DAY)
    command = SubmitQualificationEvidence(
        SID, T0, scores={"capability": 95.0}, certificates=(fresh,)
    )
    (moved,) = transitions_in(decide(command, supplier_in(S.CANDIDATE), FakePolicy()))
    assert moved.to_state is S.QUALIFIED


def test_disqualify_beats_qualify_when_both_rules_fire() -> None:
    """When both rules fire the conservative move wins; qualify is kept as having no effect."""
    command = SubmitQualificationEvidence(
        SID, T0, scores={"capability": 100.0, "blacklisted": 100.0}, certificates=(licence(),)
    )
    events = decide(command, supplier_in(S.CANDIDATE), FakePolicy())

    recorded = [e for e in events if isinstance(e, DecisionRecorded)]
    assert [(r.decision.action, r.no_effect) for r in recorded] == [
        (Action.DISQUALIFY, ""),
        (Action.QUALIFY, "no effect: qualify cannot apply in terminated"),
    ]
    assert all(r.decision.fired for r in recorded)
    assert transitions_in(events) == [
        LifecycleTransitioned(
            T0, Trigger.DISQUALIFY.value, S.CANDIDATE, S.TERMINATED, f"rule {DISQUALIFY_RULE_ID}"
        )
    ]


def test_evidence_for_a_qualified_supplier_is_recorded_without_a_decision() -> None:
    """Past candidate, evidence is kept on file: one event, and the policy is not consulted."""
    policy = FakePolicy()
    renewal = SubmitQualificationEvidence(
        SID, T0 + 10 * DAY, certificates=(licence(number="BL-0002"),)
    )
    events = decide(renewal, supplier_in(S.QUALIFIED), policy)
    assert events == [QualificationEvidenceSubmitted(T0 + 10 * DAY, {}, renewal.certificates)]
    assert policy.contexts == []


def test_blacklisting_evidence_after_qualification_does_not_terminate() -> None:
    """Only candidates are judged: a contracted supplier's new evidence moves nothing."""
    state = supplier_in(S.CONTRACTED)
    evidence = SubmitQualificationEvidence(SID, T0 + 9 * DAY, scores={"blacklisted": 100.0})
    assert run(state, evidence).lifecycle is S.CONTRACTED


# --- lifecycle commands --------------------------------------------------------------------


def test_signing_a_contract_moves_a_qualified_supplier_to_contracted() -> None:
    """SignContract records the contract, then qualified -> contracted caused by the command."""
    at = T0 + 2 * DAY
    command = SignContract(SID, "ct-2025-001", at, FEE, LIABILITY)
    events = decide(command, supplier_in(S.QUALIFIED), FakePolicy())
    assert events == [
        ContractSigned(
            at,
            Contract("ct-2025-001", at, at, at + 365 * DAY, FEE, LIABILITY, (FAKE_OBJECTIVE,)),
        ),
        LifecycleTransitioned(
            at, Trigger.SIGN_CONTRACT.value, S.QUALIFIED, S.CONTRACTED, "command SignContract"
        ),
    ]


def test_opening_a_review_moves_a_contracted_supplier_under_review() -> None:
    """OpenReview records a review with its reason (no breach), then contracted -> under_review."""
    at = T0 + 4 * DAY
    command = OpenReview(SID, "critical breach: availability 97.1% < 99.9%", at)
    events = decide(command, supplier_in(S.CONTRACTED), FakePolicy())
    assert events == [
        ReviewOpened(at, Review(opened_at=at, reason=command.reason)),
        LifecycleTransitioned(
            at, Trigger.OPEN_REVIEW.value, S.CONTRACTED, S.UNDER_REVIEW, "command OpenReview"
        ),
    ]
    assert run(supplier_in(S.CONTRACTED), command).review == Review(at, command.reason)


@pytest.mark.parametrize(
    ("outcome", "trigger", "dest"),
    [
        (ReviewOutcome.CLEARED, Trigger.CLEAR_REVIEW, S.CONTRACTED),
        (ReviewOutcome.FAILED, Trigger.FAIL_REVIEW, S.TERMINATED),
    ],
)
def test_clearing_or_failing_a_review_moves_the_supplier_as_its_outcome_says(
    outcome: ReviewOutcome, trigger: Trigger, dest: LifecycleState
) -> None:
    """Cleared and failed reviews fire their own trigger, land in their state, require no plan."""
    at = T0 + 5 * DAY
    command = ConcludeReview(SID, outcome, at, note="panel of 3")
    events = decide(command, supplier_in(S.UNDER_REVIEW), FakePolicy())
    assert events == [
        ReviewConcluded(at, outcome, "panel of 3"),
        LifecycleTransitioned(at, trigger.value, S.UNDER_REVIEW, dest, "command ConcludeReview"),
    ]
    after = run(supplier_in(S.UNDER_REVIEW), command)
    assert (after.review, after.plan) == (None, None)


def test_requiring_remediation_moves_to_remediation_and_requires_a_plan() -> None:
    """remediation_required: the review ends, under_review -> remediation, and a plan is due."""
    at = T0 + 5 * DAY
    command = ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, at, note="panel of 3")
    events = decide(command, supplier_in(S.UNDER_REVIEW), FakePolicy())
    due = at + PLAN_DUE_DAYS[None] * DAY  # a hand-opened review has no breach severity
    assert events == [
        ReviewConcluded(at, ReviewOutcome.REMEDIATION_REQUIRED, "panel of 3"),
        LifecycleTransitioned(
            at,
            Trigger.REQUIRE_REMEDIATION.value,
            S.UNDER_REVIEW,
            S.REMEDIATION,
            "command ConcludeReview",
        ),
        ImprovementPlanRequired(at, ImprovementPlan(at, due)),
    ]


def test_verifying_remediation_of_a_completed_plan_returns_the_supplier_to_contracted() -> None:
    """VerifyRemediation records the verification, then remediation -> contracted, plan cleared."""
    at = T0 + 40 * DAY
    state = run(
        supplier_in(S.REMEDIATION),
        SubmitImprovementPlan(SID, ("add a standby link",), "NOC lead", T0 + 4 * DAY),
        CompleteImprovementPlan(SID, T0 + 10 * DAY),
    )
    events = decide(VerifyRemediation(SID, at, "clean window"), state, FakePolicy())
    assert events == [
        RemediationVerified(at, "clean window"),
        LifecycleTransitioned(
            at,
            Trigger.VERIFY_REMEDIATION.value,
            S.REMEDIATION,
            S.CONTRACTED,
            "command VerifyRemediation",
        ),
    ]
    after = fold(events, state)
    assert after is not None
    assert after.plan is None


def test_a_missed_improvement_deadline_terminates_the_supplier() -> None:
    """RecordMissedImprovementDeadline records the miss, then remediation -> terminated."""
    at = T0 + 40 * DAY
    events = decide(
        RecordMissedImprovementDeadline(SID, at), supplier_in(S.REMEDIATION), FakePolicy()
    )
    assert events == [
        ImprovementDeadlineMissed(at),
        LifecycleTransitioned(
            at,
            Trigger.MISS_IMPROVEMENT_DEADLINE.value,
            S.REMEDIATION,
            S.TERMINATED,
            "command RecordMissedImprovementDeadline",
        ),
    ]


ILLEGAL_COMMANDS = [
    (S.CANDIDATE, SignContract(SID, "ct-1", T0 + 9 * DAY), "sign_contract"),
    (S.CANDIDATE, OpenReview(SID, "why not", T0 + 9 * DAY), "open_review"),
    (S.QUALIFIED, OpenReview(SID, "no contract yet", T0 + 9 * DAY), "open_review"),
    (S.QUALIFIED, VerifyRemediation(SID, T0 + 9 * DAY), "verify_remediation"),
    (S.CONTRACTED, SignContract(SID, "ct-2", T0 + 9 * DAY), "sign_contract"),
    (S.CONTRACTED, ConcludeReview(SID, ReviewOutcome.CLEARED, T0 + 9 * DAY), "clear_review"),
    (S.UNDER_REVIEW, OpenReview(SID, "again", T0 + 9 * DAY), "open_review"),
    (
        S.UNDER_REVIEW,
        RecordMissedImprovementDeadline(SID, T0 + 9 * DAY),
        "miss_improvement_deadline",
    ),
    (S.REMEDIATION, ConcludeReview(SID, ReviewOutcome.FAILED, T0 + 9 * DAY), "fail_review"),
    (S.TERMINATED, SignContract(SID, "ct-3", T0 + 9 * DAY), "sign_contract"),
    (S.TERMINATED, VerifyRemediation(SID, T0 + 9 * DAY), "verify_remediation"),
    (S.TERMINATED, passing_evidence(T0 + 9 * DAY), "submit_qualification_evidence"),
    (S.TERMINATED, BlacklistSupplier(SID, "fraud", T0 + 9 * DAY), "blacklist"),
]


@pytest.mark.parametrize(
    ("lifecycle", "command", "trigger"),
    ILLEGAL_COMMANDS,
    ids=[f"{type(c).__name__}-in-{s.value}" for s, c, _ in ILLEGAL_COMMANDS],
)
def test_an_illegal_command_raises_illegal_transition_and_produces_nothing(
    lifecycle: LifecycleState, command: Command, trigger: str
) -> None:
    """A move the lifecycle forbids raises with the current state, and the policy is not asked."""
    state = supplier_in(lifecycle)
    policy = FakePolicy()
    with pytest.raises(IllegalTransition) as raised:
        decide(command, state, policy)
    assert raised.value.current_state == lifecycle.value
    assert raised.value.trigger == trigger
    assert policy.contexts == []


# --- apply and fold ------------------------------------------------------------------------


def test_apply_refuses_a_transition_from_a_state_the_supplier_is_not_in() -> None:
    """A LifecycleTransitioned whose from_state is not the current state is a corrupt stream."""
    stray = LifecycleTransitioned(T0, "sign_contract", S.QUALIFIED, S.CONTRACTED, "replayed")
    with pytest.raises(ValueError, match="qualified"):
        apply(supplier_in(S.CANDIDATE), stray)


def test_apply_refuses_a_transition_that_lands_somewhere_else_than_the_machine_says() -> None:
    """A stored transition with the wrong destination for its trigger is refused."""
    forged = LifecycleTransitioned(T0, "qualify", S.CANDIDATE, S.CONTRACTED, "forged")
    with pytest.raises(ValueError, match="contracted"):
        apply(supplier_in(S.CANDIDATE), forged)


def test_apply_refuses_a_transition_the_machine_does_not_allow() -> None:
    """Replaying a trigger the lifecycle forbids from the current state raises."""
    forged = LifecycleTransitioned(T0, "verify_remediation", S.CANDIDATE, S.CONTRACTED, "forged")
    with pytest.raises(IllegalTransition):
        apply(supplier_in(S.CANDIDATE), forged)


def test_only_a_registration_can_start_a_stream() -> None:
    """Applying any other event to no state raises, and a registration cannot come twice."""
    contract = supplier_in(S.CONTRACTED).contract
    assert contract is not None
    with pytest.raises(ValueError, match="cannot start a stream"):
        apply(None, ContractSigned(T0, contract))
    registration = SupplierRegistered(SID, "Acme", "software", T0)
    with pytest.raises(ValueError, match="can only start a stream"):
        apply(supplier_in(S.CANDIDATE), registration)


def test_every_event_bumps_the_version_and_the_update_time() -> None:
    """Each applied event adds one to the version and sets updated_at to its occurred_at."""
    state = supplier_in(S.CONTRACTED)
    at = T0 + 20 * DAY
    after = apply(state, ReviewOpened(at, Review(at, "late report")))
    assert after.version == state.version + 1
    assert after.updated_at == at
    assert after.registered_at == T0


def test_later_evidence_replaces_scores_and_same_certificates_and_keeps_the_rest() -> None:
    """Evidence merges: a later score wins; a same kind-and-number certificate is replaced."""
    old_iso = licence(number="ISO-1", kind="iso_9001", valid_until=T0 + DAY)
    renewed_iso = licence(number="ISO-1", kind="iso_9001", valid_until=T0 + 900 * DAY)
    other_iso = licence(number="ISO-2", kind="iso_9001")
    tl = licence(number="ISO-1", kind="tl_9000")
    first = SubmitQualificationEvidence(
        SID,
        T0,
        scores={"capability": 40.0, "price": 50.0},
        certificates=(old_iso, tl),
        site_audit_passed=False,
    )
    second = SubmitQualificationEvidence(
        SID, T0 + DAY, scores={"capability": 60.0}, certificates=(renewed_iso, other_iso)
    )
    state = run(supplier_in(S.CANDIDATE), first, second)

    assert state.scores == {"capability": 60.0, "price": 50.0}
    assert set(state.certificates) == {tl, renewed_iso, other_iso}
    assert len(state.certificates) == 3
    assert state.site_audit_passed is False  # None in the second submission keeps the first


def test_new_evidence_replaces_the_last_decisions() -> None:
    """last_decisions shows the decisions of the latest assessment only."""
    failing = SubmitQualificationEvidence(SID, T0, scores={"capability": 10.0})
    state = run(supplier_in(S.CANDIDATE), failing, failing)
    assert len(state.last_decisions) == 2  # one explanation per rule, from the second round
    assert {d.rule_id for d in state.last_decisions} == {QUALIFY_RULE_ID, DISQUALIFY_RULE_ID}


def test_fold_of_no_events_is_the_starting_state() -> None:
    """Folding nothing changes nothing."""
    state = supplier_in(S.QUALIFIED)
    assert fold([], state) is state
    assert fold([]) is None


def test_decide_is_deterministic_and_leaves_the_state_untouched() -> None:
    """The same command, state and policy give the same events; the state is not modified."""
    state = supplier_in(S.CANDIDATE)
    snapshot = attrs.evolve(state)
    first = decide(passing_evidence(), state, FakePolicy())
    second = decide(passing_evidence(), state, FakePolicy())
    assert first == second
    assert state == snapshot


def test_a_command_dated_before_the_suppliers_last_event_is_refused() -> None:
    """Domain time only moves forward in a stream: backdating cannot revive an expired licence."""
    lapsed = licence(valid_from=T0 - 400 * DAY, valid_until=T0 + DAY)
    state = run(
        supplier_in(S.CANDIDATE),
        SubmitQualificationEvidence(SID, T0 + 30 * DAY, scores={"capability": 20.0}),
    )
    backdated = SubmitQualificationEvidence(
        SID, T0, scores={"capability": 100.0}, certificates=(lapsed,)
    )
    with pytest.raises(InvalidCommand) as raised:
        decide(backdated, state, FakePolicy())
    assert [v.field for v in raised.value.violations] == ["occurred_at"]


# --- contracts -----------------------------------------------------------------------------


@attrs.define
class CategoryPolicy(FakePolicy):
    """FakePolicy whose default objective is named after the category it is asked for."""

    def default_objectives(self, category: CategoryId) -> tuple[SlaObjective, ...]:
        """One availability objective whose id is the category."""
        return (attrs.evolve(FAKE_OBJECTIVE, objective_id=category),)


def test_a_contract_without_objectives_gets_the_policys_defaults_for_the_category() -> None:
    """No objectives in the command: the policy's default objectives for the supplier's category."""
    state = run(supplier_in(S.QUALIFIED), sign(), policy=CategoryPolicy())
    assert state.contract is not None
    assert [o.objective_id for o in state.contract.objectives] == ["software"]


def test_explicit_objectives_replace_the_policys_defaults() -> None:
    """Objectives named in the command are the contract's, in their order; no default is added."""
    restore = SlaObjective("mttr", "mean_time_to_restore", Comparator.AT_MOST, 4.0, 3.0)
    uptime = attrs.evolve(FAKE_OBJECTIVE, objective_id="uptime", grace_days=30)
    state = run(supplier_in(S.QUALIFIED), sign(restore, uptime))
    assert state.contract is not None
    assert state.contract.objectives == (restore, uptime)
    assert state.contract.objective("mttr") == restore
    assert state.contract.objective("availability") is None


def test_a_signed_contract_is_the_suppliers_contract_with_its_terms() -> None:
    """After signing, the state holds the contract: id, signing time, fee and liability limit."""
    state = supplier_in(S.CONTRACTED)
    assert state.contract is not None
    assert state.contract.contract_id == "ct-1"
    assert state.contract.signed_at == SIGNED_AT
    assert (state.contract.monthly_fee, state.contract.liability_limit) == (FEE, LIABILITY)


def test_a_contract_signed_without_terms_carries_zero_amounts() -> None:
    """A framework agreement (no fee, no liability given) records 0.00 CNY for both."""
    command = SignContract(SID, "fw-1", T0 + 2 * DAY)
    state = run(supplier_in(S.QUALIFIED), command)
    assert state.contract is not None
    assert state.contract.monthly_fee == state.contract.liability_limit == NO_AMOUNT


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "term"),
    [
        (None, None, (T0 + 2 * DAY, T0 + 367 * DAY)),
        (T0 + 10 * DAY, None, (T0 + 10 * DAY, T0 + 375 * DAY)),
        (None, T0 + 100 * DAY, (T0 + 2 * DAY, T0 + 100 * DAY)),
        (T0 - 5 * DAY, T0 + 50 * DAY, (T0 - 5 * DAY, T0 + 50 * DAY)),
    ],
    ids=["defaults", "start-given", "end-given", "both-given"],
)
def test_the_term_starts_at_signing_and_runs_a_year_unless_given(
    starts_at: datetime | None, ends_at: datetime | None, term: tuple[datetime, datetime]
) -> None:
    """starts_at defaults to the signing time, ends_at to 365 days after the start."""
    command = SignContract(
        SID, "ct-1", T0 + 2 * DAY, FEE, LIABILITY, starts_at=starts_at, ends_at=ends_at
    )
    state = run(supplier_in(S.QUALIFIED), command)
    assert state.contract is not None
    assert (state.contract.starts_at, state.contract.ends_at) == term


BAD_TERMS = [
    ({"monthly_fee": Money(Decimal("-1.00"), "CNY")}, ["monthly_fee.amount"]),
    ({"monthly_fee": Money(Decimal("NaN"), "CNY")}, ["monthly_fee.amount"]),
    ({"liability_limit": Money(Decimal("-0.01"), "CNY")}, ["liability_limit.amount"]),
    (
        {"monthly_fee": Money(Decimal(1), "cny"), "liability_limit": Money(Decimal(1), "cny")},
        ["monthly_fee.currency", "liability_limit.currency"],
    ),
    ({"liability_limit": Money(Decimal(500), "USD")}, ["liability_limit.currency"]),
    ({"starts_at": T0 + 9 * DAY, "ends_at": T0 + 9 * DAY}, ["ends_at"]),
    ({"contract_id": "-no good"}, ["contract_id"]),
    ({"objectives": (FAKE_OBJECTIVE, FAKE_OBJECTIVE)}, ["objectives[1].objective_id"]),
]


@pytest.mark.parametrize(("terms", "fields"), BAD_TERMS, ids=lambda v: str(v)[:40])
def test_bad_contract_terms_are_refused_naming_each_field(
    terms: dict[str, Any], fields: list[str]
) -> None:
    """Negative or non-finite amounts, bad or mixed currencies, an empty term: InvalidCommand."""
    command = attrs.evolve(sign(at=T0 + 2 * DAY), **terms)
    with pytest.raises(InvalidCommand) as raised:
        decide(command, supplier_in(S.QUALIFIED), FakePolicy())
    assert [v.field for v in raised.value.violations] == fields


def test_a_contract_ending_before_it_is_signed_is_refused() -> None:
    """With starts_at defaulted to signing, an ends_at before signing is refused, naming ends_at."""
    command = SignContract(SID, "ct-1", T0 + 20 * DAY, FEE, LIABILITY, ends_at=T0 + 10 * DAY)
    with pytest.raises(InvalidCommand) as raised:
        decide(command, supplier_in(S.QUALIFIED), FakePolicy())
    assert [v.field for v in raised.value.violations] == ["ends_at"]


# --- blacklisting --------------------------------------------------------------------------


def test_blacklisting_a_candidate_disqualifies_it() -> None:
    """A blacklisted candidate is marked and moves candidate -> terminated by the command."""
    at = T0 + DAY
    events = decide(
        BlacklistSupplier(SID, "sanctions list", at), supplier_in(S.CANDIDATE), FakePolicy()
    )
    assert events == [
        SupplierBlacklisted(at, "sanctions list"),
        LifecycleTransitioned(
            at, Trigger.DISQUALIFY.value, S.CANDIDATE, S.TERMINATED, "command BlacklistSupplier"
        ),
    ]
    assert run(supplier_in(S.CANDIDATE), BlacklistSupplier(SID, "x", at)).blacklisted


@pytest.mark.parametrize("lifecycle", [S.QUALIFIED, S.CONTRACTED, S.REMEDIATION])
def test_blacklisting_past_candidate_marks_the_supplier_and_moves_nothing(
    lifecycle: LifecycleState,
) -> None:
    """Past candidate, blacklisting only bars a later re-qualification; the lifecycle stays."""
    at = T0 + 9 * DAY
    events = decide(BlacklistSupplier(SID, "fraud", at), supplier_in(lifecycle), FakePolicy())
    assert events == [SupplierBlacklisted(at, "fraud")]


def test_a_blacklisted_candidate_never_qualifies_even_when_the_qualify_rule_fires() -> None:
    """Blacklisted, then revoked to candidate: passing evidence fires qualify but moves nothing."""
    expiring = licence(valid_until=T0 + 30 * DAY)
    state = run(
        supplier_in(S.CANDIDATE),
        SubmitQualificationEvidence(SID, T0, scores={"capability": 90.0}, certificates=(expiring,)),
        BlacklistSupplier(SID, "fraud found after qualification", T0 + DAY),
        AdvanceTime(SID, T0 + 31 * DAY),
    )
    assert (state.lifecycle, state.blacklisted) == (S.CANDIDATE, True)

    renewed = licence(number="BL-0002", valid_from=T0 + 31 * DAY, valid_until=T0 + 900 * DAY)
    evidence = SubmitQualificationEvidence(
        SID, T0 + 32 * DAY, scores={"capability": 95.0}, certificates=(renewed,)
    )
    events = decide(evidence, state, FakePolicy())
    assert transitions_in(events) == []
    qualify = [e.decision for e in events if isinstance(e, DecisionRecorded)]
    assert [(d.rule_id, d.fired) for d in qualify] == [(QUALIFY_RULE_ID, True)]
    assert run(state, evidence).lifecycle is S.CANDIDATE


# --- time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        BlacklistSupplier(SID, "late", T0 + 2 * DAY),
        RecordMeasurement(SID, "availability", 99.95, "percent", T0, T0 + 2 * DAY, T0 + 2 * DAY),
        RecordSatisfactionSurvey(SID, 90.0, T0 + 2 * DAY),
        RecordInspection(SID, True, T0 + 2 * DAY),
        SubmitProgressReport(SID, "on track", T0 + 2 * DAY),
        SubmitSelfCheck(SID, True, T0 + 2 * DAY),
        ClaimCompensation(SID, FEE, "outage losses", T0 + 2 * DAY),
        AdvanceTime(SID, T0 + 2 * DAY),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_command_dated_before_the_last_event_is_refused_whatever_its_kind(
    command: Command,
) -> None:
    """Every command under contract is refused with occurred_at named if it predates the stream."""
    state = run(supplier_in(S.CONTRACTED), SubmitProgressReport(SID, "weekly", T0 + 5 * DAY))
    policy = FakePolicy()
    with pytest.raises(InvalidCommand) as raised:
        decide(command, state, policy)
    assert [v.field for v in raised.value.violations] == ["occurred_at"]
    assert policy.contexts == []


def test_a_command_at_the_same_instant_as_the_last_event_is_accepted() -> None:
    """Time may stand still: a command dated exactly at the last event is not backdated."""
    state = run(supplier_in(S.CONTRACTED), SubmitProgressReport(SID, "weekly", T0 + 5 * DAY))
    assert decide(SubmitSelfCheck(SID, True, T0 + 5 * DAY), state, FakePolicy())


@pytest.mark.parametrize("lifecycle", [S.CANDIDATE, S.TERMINATED])
def test_advancing_time_for_a_candidate_or_terminated_supplier_does_nothing(
    lifecycle: LifecycleState,
) -> None:
    """No deadline runs against these clocks: no events, and the policy is not consulted."""
    policy = FakePolicy()
    assert decide(AdvanceTime(SID, T0 + 400 * DAY), supplier_in(lifecycle), policy) == []
    assert policy.contexts == []


@pytest.mark.parametrize("lifecycle", [S.QUALIFIED, S.CONTRACTED, S.UNDER_REVIEW, S.REMEDIATION])
def test_advancing_time_asks_the_policy_about_deadlines_at_the_new_time(
    lifecycle: LifecycleState,
) -> None:
    """A tick evaluates the deadlines stage with the supplier as it is and now = occurred_at."""
    policy = FakePolicy()
    state = supplier_in(lifecycle)
    decide(AdvanceTime(SID, T0 + 4 * DAY), state, policy)
    (context,) = policy.contexts
    assert (context.stage, context.now, context.supplier) == (Stage.DEADLINES, T0 + 4 * DAY, state)
    assert (context.record_kind, context.measurement, context.breach) == ("", None, None)
