"""Random command sequences through decide/apply: the lifecycle table is never escaped, a
supplier's state is always the fold of its events, and the ledger and reminders stay sound.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import event, given

from sqm.domain import lifecycle as lifecycle_module
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
from sqm.domain.corrective_action import (
    ActionNotInState,
    ActionsNotVerified,
    CorrectiveActionClosedAlready,
    CorrectiveActionMissing,
    ExtensionLimitReached,
    ExtensionNotRequested,
    ExtensionTooLong,
)
from sqm.domain.decide import apply, decide, decide_and_fold, fold
from sqm.domain.errors import (
    ClaimOutsideWindow,
    ContractExpired,
    DomainError,
    IllegalTransition,
    InvalidCommand,
    SupplierAlreadyExists,
    SupplierNotFound,
)
from sqm.domain.events import (
    Event,
    LifecycleTransitioned,
    PenaltyAssessed,
    ReminderIssued,
    event_type,
)
from sqm.domain.lifecycle import TRANSITIONS, Trigger
from sqm.domain.model import LifecycleState, SupplierState
from sqm.domain.serialization import canonical_json, event_from_payload, event_to_payload
from sqm.domain.supplier_side import (
    NoticeAlreadyAcknowledged,
    PenaltyAlreadyDisputed,
    PenaltyNotDisputed,
)
from sqm.rules.pack_catalogue import default_catalogue
from tests.fakes import (
    BLACKLIST_CRITERION,
    BLACKLIST_SCORE,
    CLAIM_WINDOW_DAYS,
    EXTENSION_LIMITS,
    FakePolicy,
)
from tests.strategies import EARLIEST, command_sequences, commands

TABLE = {(trigger, source, dest) for trigger, source, dest in TRANSITIONS}
_TRIGGERS = {
    SignContract: Trigger.SIGN_CONTRACT,
    OpenReview: Trigger.OPEN_REVIEW,
    VerifyRemediation: Trigger.VERIFY_REMEDIATION,
    RecordMissedImprovementDeadline: Trigger.MISS_IMPROVEMENT_DEADLINE,
}
_REVIEW_TRIGGERS = {
    ReviewOutcome.CLEARED: Trigger.CLEAR_REVIEW,
    ReviewOutcome.REMEDIATION_REQUIRED: Trigger.REQUIRE_REMEDIATION,
    ReviewOutcome.FAILED: Trigger.FAIL_REVIEW,
}
_RECORDS = (
    RecordMeasurement,
    RecordSatisfactionSurvey,
    RecordInspection,
    SubmitProgressReport,
    SubmitSelfCheck,
)
S = LifecycleState
START = EARLIEST.replace(tzinfo=UTC)  # no drawn command is dated earlier
UNDER_CONTRACT = frozenset({S.CONTRACTED, S.UNDER_REVIEW, S.REMEDIATION})


@attrs.frozen
class Step:
    """One command decided against the state before it: its events, or the error it raised."""

    command: Command
    before: SupplierState | None
    after: SupplierState | None
    events: tuple[Event, ...] = ()
    error: DomainError | None = None


def replay(sequence: Sequence[Command]) -> list[Step]:
    """Decide each command against the current state and apply its events, as a service would."""
    policy = FakePolicy()
    state: SupplierState | None = None
    steps = []
    for command in sequence:
        try:
            produced = decide(command, state, policy)
        except DomainError as error:
            steps.append(Step(command, state, state, error=error))
            continue
        before = state
        for produced_event in produced:
            state = apply(state, produced_event)
        steps.append(Step(command, before, state, tuple(produced)))
    return steps


def all_events(steps: Sequence[Step]) -> list[Event]:
    """Every event produced by ``steps``, in order."""
    return [e for step in steps for e in step.events]


def round_tripped(events: Sequence[Event]) -> list[Event]:
    """``events`` as a store gives them back: type name plus canonical JSON payload."""
    return [
        event_from_payload(event_type(e), json.loads(canonical_json(event_to_payload(e))))
        for e in events
    ]


def lifecycle_trigger(command: Command) -> Trigger | None:
    """The trigger a lifecycle command fires; None for every other command."""
    if isinstance(command, ConcludeReview):
        return _REVIEW_TRIGGERS[command.outcome]
    return _TRIGGERS.get(type(command))


Refusal = type[DomainError] | None


def _refused_past_candidate_only_when_terminated(command: Any, before: SupplierState) -> Refusal:
    return IllegalTransition if before.lifecycle in lifecycle_module.TERMINAL_STATES else None


def _after_term(before: SupplierState, at: datetime) -> bool:
    """A record about ``at`` falls after the contract's end, or the contract has ended (the
    supplier is out of it but for termination, which the lifecycle guard answers).
    """
    contract = before.contract
    if contract is None or before.lifecycle is S.TERMINATED:
        return False
    return at > contract.ends_at or before.lifecycle not in UNDER_CONTRACT


def _record_refusal(command: Any, before: SupplierState) -> Refusal:
    contract = before.contract
    moment = command.period_end if isinstance(command, RecordMeasurement) else command.occurred_at
    if _after_term(before, moment):
        return ContractExpired
    if before.lifecycle not in UNDER_CONTRACT or contract is None:
        return IllegalTransition
    if isinstance(command, RecordMeasurement):
        objective = contract.objective(command.objective_id)
        spec = default_catalogue().metric(objective.metric) if objective else None
        if spec is None or command.unit != spec.unit:
            return InvalidCommand
        if not spec.minimum <= command.value <= spec.maximum:
            return InvalidCommand
    return None


def _submit_refusal(command: Any, before: SupplierState) -> Refusal:
    plan = before.plan
    pending = plan is not None and plan.completed_at is None
    # A corrective action answers the plan: it is revised, not replaced by a plain plan.
    open_to_it = pending and before.corrective_action is None
    return None if before.lifecycle is S.REMEDIATION and open_to_it else IllegalTransition


def _complete_refusal(command: Any, before: SupplierState) -> Refusal:
    plan = before.plan
    pending = plan is not None and plan.submitted_at is not None and plan.completed_at is None
    open_to_it = pending and before.corrective_action is None  # closing it completes the plan
    return None if before.lifecycle is S.REMEDIATION and open_to_it else IllegalTransition


def _corrective_refusal(command: Any, before: SupplierState) -> Refusal:
    """The record answers a pending plan in remediation; its actions are named by id."""
    plan = before.plan
    if before.lifecycle is not S.REMEDIATION or plan is None or plan.completed_at is not None:
        return IllegalTransition
    record = before.corrective_action
    if record is not None and record.closed_at is not None:
        return CorrectiveActionClosedAlready
    if isinstance(command, SubmitCorrectiveAction):
        return None if _answers(command, plan.due_at, record) else InvalidCommand
    if record is None:
        return CorrectiveActionMissing
    if isinstance(command, CloseCorrectiveAction):
        verified = all(a.verified_at is not None for a in record.actions)
        return None if verified else ActionsNotVerified
    action = next((a for a in record.actions if a.action_id == command.action_id), None)
    return InvalidCommand if action is None else _action_refusal(command, action)


def _answers(command: Any, plan_due: datetime, record: Any) -> bool:
    kept = {a.action_id: a for a in record.actions} if record is not None else {}
    stated = {i.action_id for i in command.content.actions}
    for item in command.content.actions:
        limit = kept[item.action_id].due_at if item.action_id in kept else plan_due
        if item.due_at > limit:
            return False
    return all(a.completed_at is None or a.action_id in stated for a in kept.values())


def _action_refusal(command: Any, action: Any) -> Refusal:
    done, waiting = action.completed_at is not None, action.pending_extension is not None
    if isinstance(command, CompleteCorrectiveActionItem):
        return ActionNotInState if done else None
    if isinstance(command, VerifyCorrectiveActionItem):
        return None if done and action.verified_at is None else ActionNotInState
    if isinstance(command, DecideCorrectiveActionExtension):
        return None if waiting else ExtensionNotRequested
    return ActionNotInState if done or waiting else _extension_refusal(command, action)


def _extension_refusal(command: Any, action: Any) -> Refusal:
    if command.due_at <= action.due_at:
        return InvalidCommand
    if action.extensions_granted >= EXTENSION_LIMITS.max_extensions:
        return ExtensionLimitReached
    too_far = command.due_at - action.due_at > timedelta(days=EXTENSION_LIMITS.max_extension_days)
    return ExtensionTooLong if too_far else None


def _claim_refusal(command: Any, before: SupplierState) -> Refusal:
    contract = before.contract
    if contract is None:
        return IllegalTransition
    if command.amount.currency != contract.liability_limit.currency:
        return InvalidCommand
    loss = command.loss_at or command.occurred_at
    in_term = contract.starts_at <= loss <= contract.ends_at
    in_time = command.occurred_at <= loss + timedelta(days=CLAIM_WINDOW_DAYS)
    return None if in_term and in_time else ClaimOutsideWindow


def _research_refusal(command: Any, before: SupplierState) -> Refusal:
    return None if before.lifecycle in {S.CANDIDATE, S.QUALIFIED} else IllegalTransition


def _contract_record_refusal(command: Any, before: SupplierState) -> Refusal:
    if _after_term(before, command.occurred_at):
        return ContractExpired
    if before.lifecycle not in UNDER_CONTRACT:
        return IllegalTransition
    if isinstance(command, OpenProblemTicket) and command.ticket_id in before.open_tickets:
        return InvalidCommand
    return None


def _milestone_refusal(command: Any, before: SupplierState) -> Refusal:
    refused = _contract_record_refusal(command, before)
    if refused is not None:
        return refused
    name = command.milestone
    if name not in {m.name for m in before.milestones}:
        return InvalidCommand
    if isinstance(command, CompleteMilestone):
        return InvalidCommand if name in before.milestones_completed else None
    done = name in before.milestones_completed and name not in before.deliverables_accepted
    return None if done else InvalidCommand


def _resolve_refusal(command: Any, before: SupplierState) -> Refusal:
    return None if command.ticket_id in before.open_tickets else InvalidCommand


def _settle_refusal(command: Any, before: SupplierState) -> Refusal:
    penalty = next((p for p in before.penalties if p.penalty_id == command.penalty_id), None)
    if penalty is None or penalty.kind != "compensation":
        return InvalidCommand
    if command.amount.currency != penalty.amount.currency:
        return InvalidCommand
    paid = before.settlements.get(penalty.penalty_id, 0)
    return InvalidCommand if paid + command.amount.amount > penalty.amount.amount else None


def _acknowledge_refusal(command: Any, before: SupplierState) -> Refusal:
    return (
        NoticeAlreadyAcknowledged
        if command.notice_sequence in before.acknowledged_notices
        else None
    )


def _disputable(penalty_id: str, before: SupplierState) -> bool:
    return any(
        p.penalty_id == penalty_id and p.kind == "service_credit" and p.amount.amount > 0
        for p in before.penalties
    )


def _dispute_refusal(command: Any, before: SupplierState) -> Refusal:
    if not _disputable(command.penalty_id, before):
        return InvalidCommand
    return PenaltyAlreadyDisputed if command.penalty_id in before.penalty_disputes else None


def _dispute_decision_refusal(command: Any, before: SupplierState) -> Refusal:
    if not _disputable(command.penalty_id, before):
        return InvalidCommand
    return None if before.penalty_disputes.get(command.penalty_id) == "open" else PenaltyNotDisputed


def _in_force_refusal(
    refusal: Callable[[Any, SupplierState], Refusal],
) -> Callable[[Any, SupplierState], Refusal]:
    """A review or plan step after the end date of the contract the supplier is still under
    (no tick has ended it) is CONTRACT_ENDED; otherwise ``refusal`` answers.
    """

    def refused(command: Any, before: SupplierState) -> Refusal:
        contract = before.contract
        under = before.lifecycle in UNDER_CONTRACT and contract is not None
        if under and command.occurred_at > contract.ends_at:
            return ContractExpired
        return refusal(command, before)

    return refused


def _lifecycle_refusal(command: Any, before: SupplierState) -> Refusal:
    trigger = lifecycle_trigger(command)
    assert trigger is not None
    if trigger not in lifecycle_module.allowed_triggers(before.lifecycle):
        return IllegalTransition
    plan = before.plan
    unfinished = plan is not None and plan.completed_at is None
    if isinstance(command, VerifyRemediation) and unfinished:
        return IllegalTransition
    if isinstance(command, RecordMissedImprovementDeadline) and plan is not None:
        not_overdue = plan.completed_at is not None or command.occurred_at <= plan.due_at
        return IllegalTransition if not_overdue else None
    if isinstance(command, SignContract) and before.blacklisted:
        return IllegalTransition
    return None


_ORACLE: dict[type, Callable[[Any, SupplierState], Refusal]] = {
    RegisterSupplier: lambda command, before: SupplierAlreadyExists,
    SubmitQualificationEvidence: _refused_past_candidate_only_when_terminated,
    BlacklistSupplier: _refused_past_candidate_only_when_terminated,
    **dict.fromkeys(_RECORDS, _record_refusal),
    SubmitImprovementPlan: _in_force_refusal(_submit_refusal),
    CompleteImprovementPlan: _in_force_refusal(_complete_refusal),
    ClaimCompensation: _claim_refusal,
    AdvanceTime: lambda command, before: None,
    # Never refused: outside ``qualified`` it records nothing.
    ReevaluateQualification: lambda command, before: None,
    RecordMarketResearch: _research_refusal,
    **dict.fromkeys(
        [RecordKickOff, SubmitResourcePlan, OpenProblemTicket, RecordTraining],
        _contract_record_refusal,
    ),
    CompleteMilestone: _milestone_refusal,
    AcceptDeliverable: _milestone_refusal,
    ResolveProblemTicket: _resolve_refusal,
    SettleCompensation: _settle_refusal,
    # A document joins the record in any state: a termination letter is kept too.
    RecordDocument: lambda command, before: None,
    AcknowledgeNotice: _acknowledge_refusal,
    DisputePenalty: _dispute_refusal,
    DecidePenaltyDispute: _dispute_decision_refusal,
    SignContract: _lifecycle_refusal,
    **dict.fromkeys(
        [
            SubmitCorrectiveAction,
            CompleteCorrectiveActionItem,
            VerifyCorrectiveActionItem,
            RequestCorrectiveActionExtension,
            DecideCorrectiveActionExtension,
            CloseCorrectiveAction,
        ],
        _in_force_refusal(_corrective_refusal),
    ),
    **dict.fromkeys(
        [OpenReview, ConcludeReview, VerifyRemediation, RecordMissedImprovementDeadline],
        _in_force_refusal(_lifecycle_refusal),
    ),
}


def expected_refusal(command: Command, before: SupplierState | None) -> Refusal:
    """The error the process calls for (None: accept), written from the process description
    independently of ``sqm.domain.decide``. Sequences never go back in time, so no refusal here
    is about time.
    """
    if before is None:
        return None if isinstance(command, RegisterSupplier) else SupplierNotFound
    return _ORACLE[type(command)](command, before)


def test_the_oracle_knows_every_command_type() -> None:
    """Every command type has a rule for when it is refused."""
    assert {cls.__name__ for cls in _ORACLE} == set(COMMAND_TYPES)


@given(command_sequences())
def test_random_sequences_only_move_along_the_lifecycle_table(sequence: list[Command]) -> None:
    """Every state reached is a LifecycleState, reached by transitions listed in TRANSITIONS.

    A tick past the contract's end moves the supplier back to qualified before its deadline
    rules run, and they may move it once more (a lapsed licence revoking the qualification):
    the moves then chain, and no evaluation acts on two moves at once.
    """
    for step in replay(sequence):
        if step.after is None:
            continue
        assert step.after.lifecycle in LifecycleState
        moves = [e for e in step.events if isinstance(e, LifecycleTransitioned)]
        decided = [m for m in moves if m.trigger != Trigger.EXPIRE_CONTRACT.value]
        assert len(decided) <= 1  # no evaluation acts on two lifecycle moves at once
        assert len(moves) - len(decided) <= 1  # a contract ends once
        reached = step.before.lifecycle if step.before is not None else None
        for move in moves:
            assert (Trigger(move.trigger), move.from_state, move.to_state) in TABLE
            assert step.before is not None
            assert move.from_state is reached
            reached = move.to_state
        if moves:
            assert reached is step.after.lifecycle
        if not moves and step.before is not None:
            assert step.after.lifecycle is step.before.lifecycle
        event(f"reached {step.after.lifecycle.value}")


@given(command_sequences())
def test_a_command_is_refused_exactly_when_the_process_forbids_it(sequence: list[Command]) -> None:
    """Registration, lookup, lifecycle and plan guards refuse a command iff the process says no."""
    for step in replay(sequence):
        command, before = step.command, step.before
        expected = expected_refusal(command, before)
        assert type(step.error) is (expected or type(None)), step
        if isinstance(step.error, IllegalTransition):
            assert before is not None
            assert step.error.current_state == before.lifecycle.value
        event(f"{type(command).__name__}: {type(step.error).__name__ if step.error else 'ok'}")


@given(command_sequences())
def test_a_command_yields_all_its_events_or_raises_with_none(sequence: list[Command]) -> None:
    """Accepted: events that all apply, stamped with the command's time. Refused: no change."""
    for step in replay(sequence):
        if step.error is not None:
            assert step.events == ()
            assert step.after == step.before
            continue
        previous_version = step.before.version if step.before else 0
        assert step.after is not None
        assert step.after.version == previous_version + len(step.events)
        if not step.events:  # only a tick may find nothing due
            assert isinstance(step.command, AdvanceTime)
            assert step.after == step.before
            continue
        assert all(e.occurred_at == step.command.occurred_at for e in step.events)
        assert step.after.updated_at == step.command.occurred_at


@given(command_sequences())
def test_the_state_is_always_the_fold_of_the_events_so_far(sequence: list[Command]) -> None:
    """After every step the state is the fold of the events so far, also as a store returns
    them (through canonical JSON); the version counts the events.
    """
    steps = replay(sequence)
    events = all_events(steps)
    stored = round_tripped(events)
    assert fold(events) == (steps[-1].after if steps else None)
    reloaded: SupplierState | None = None
    count = 0
    for step in steps:
        reloaded = fold(stored[count : count + len(step.events)], reloaded)
        count += len(step.events)
        assert reloaded == step.after
        assert (step.after.version if step.after else 0) == count


@given(command_sequences())
def test_terminated_is_absorbing_in_any_sequence(sequence: list[Command]) -> None:
    """Once terminated, a supplier stays terminated; only compensation still enters the ledger."""
    terminated_at: SupplierState | None = None
    for step in replay(sequence):
        if terminated_at is not None:
            assert step.after is not None
            assert step.after.lifecycle is S.TERMINATED
            assert all(
                isinstance(e, PenaltyAssessed) and e.penalty.kind == "compensation"
                for e in step.events
            )
            assert step.after.penalties[: len(terminated_at.penalties)] == terminated_at.penalties
            assert attrs.evolve(
                step.after, penalties=(), version=0, updated_at=None
            ) == attrs.evolve(terminated_at, penalties=(), version=0, updated_at=None)
        elif step.after is not None and step.after.lifecycle is S.TERMINATED:
            terminated_at = step.after


DISQUALIFIED: list[Command] = [
    RegisterSupplier("acme", "Acme", "software", START),
    SubmitQualificationEvidence("acme", START, scores={BLACKLIST_CRITERION: BLACKLIST_SCORE}),
]


@given(commands("acme"))
def test_no_command_moves_a_terminated_supplier(command: Command) -> None:
    """After disqualification, any command is refused or (a tick) changes nothing."""
    *_, disqualified, last = replay([*DISQUALIFIED, command])
    assert disqualified.after is not None
    assert disqualified.after.lifecycle is S.TERMINATED
    assert last.events == ()
    assert last.after == disqualified.after
    assert last.error is not None or isinstance(command, AdvanceTime)
    event(type(command).__name__)


@given(command_sequences())
def test_the_same_commands_under_the_same_policy_give_the_same_events(
    sequence: list[Command],
) -> None:
    """Decisions depend only on commands, state and policy: a replay is identical."""
    assert all_events(replay(sequence)) == all_events(replay(sequence))


# --- the ledger and reminders -----------------------------------------------------------------


@given(command_sequences())
def test_the_ledger_never_holds_a_negative_amount(sequence: list[Command]) -> None:
    """Service credits and compensation are never negative, whatever the sequence; the one
    negative entry is the credit note reversing a disputed credit: its exact opposite, once.
    """
    for step in replay(sequence):
        if step.after is not None:
            ledger = {p.penalty_id: p for p in step.after.penalties}
            assert len(ledger) == len(step.after.penalties)
            for entry in step.after.penalties:
                if entry.amount.amount < 0:
                    reversed_id = entry.penalty_id.removesuffix("/reversal")
                    assert ledger[reversed_id].amount.amount == -entry.amount.amount
            event(f"ledger entries: {min(len(step.after.penalties), 3)}+")


@given(command_sequences())
def test_every_penalty_is_assessed_against_the_suppliers_contract(sequence: list[Command]) -> None:
    """A PenaltyAssessed only follows a signed contract, and names that contract and currency."""
    for step in replay(sequence):
        for assessed in (e for e in step.events if isinstance(e, PenaltyAssessed)):
            assert step.before is not None
            contract = step.before.contract
            assert contract is not None
            assert assessed.penalty.contract_id == contract.contract_id
            assert assessed.penalty.amount.currency == contract.liability_limit.currency
            assert assessed.penalty.period == assessed.occurred_at.strftime("%Y-%m")
            event(f"penalty: {assessed.penalty.kind}")


@given(command_sequences())
def test_a_reminder_key_is_never_issued_twice(sequence: list[Command]) -> None:
    """Each deadline is reminded of at most once, across every tick of a sequence."""
    keys = [e.key for e in all_events(replay(sequence)) if isinstance(e, ReminderIssued)]
    assert len(keys) == len(set(keys))
    event(f"reminders: {min(len(keys), 2)}")


@given(command_sequences())
def test_deciding_and_folding_at_once_gives_the_events_and_state_of_decide_then_fold(
    sequence: list[Command],
) -> None:
    """decide_and_fold (each event folded once) answers what decide, then fold, answers."""
    policy = FakePolicy()
    for step in replay(sequence):
        if step.error is not None:
            continue
        events, after = decide_and_fold(step.command, step.before, policy)
        assert tuple(events) == step.events
        assert after == step.after
