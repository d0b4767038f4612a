"""Policy sign-off in the pure domain: four eyes, effective times, cancelling, rolling back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sqm.domain.errors import InvalidCommand
from sqm.domain.policy_changes import (
    ApprovePolicy,
    CancelProposal,
    PolicyActivated,
    PolicyChangeCommand,
    PolicyChangePrecondition,
    PolicyChanges,
    PolicyRolledBack,
    ProposalNotFound,
    ProposalStatus,
    ProposePolicy,
    RecordPolicyActivation,
    RollBackPolicy,
    SameApprover,
    SchedulePolicy,
    decide_policy_change,
    fold_policy_changes,
    is_policy_stream,
)
from sqm.domain.serialization import (
    event_to_payload,
    policy_change_from_payload,
    policy_changes_from_dict,
    policy_changes_to_dict,
)

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
V1 = "a" * 64


def _run(*commands: PolicyChangeCommand, state: PolicyChanges | None = None) -> PolicyChanges:
    for command in commands:
        state = fold_policy_changes(decide_policy_change(command, state), state)
    assert state is not None
    return state


def _proposed(approvals: int = 2, effective_at: datetime | None = None) -> PolicyChanges:
    return _run(ProposePolicy("alice", V1, "telecom-default", approvals, T0, effective_at))


def test_a_proposal_is_numbered_and_pending_until_approved() -> None:
    """The first proposal is number 1 and waits for approval."""
    state = _proposed()
    proposal = state.proposal(1)
    assert proposal is not None
    assert (proposal.status, proposal.proposer, proposal.version) == (
        ProposalStatus.PENDING,
        "alice",
        V1,
    )
    assert state.version == 1


def test_the_proposer_cannot_approve_under_four_eyes() -> None:
    """With two approvals required, the proposer's own approval is refused as SAME_APPROVER."""
    with pytest.raises(SameApprover) as refused:
        decide_policy_change(ApprovePolicy("alice", 1, T0), _proposed())
    assert refused.value.reason == "SAME_APPROVER"
    assert refused.value.subject == "policyProposals/1"


def test_a_second_person_approves_and_it_takes_effect_upon_approval() -> None:
    """Without a stated time, an approved proposal takes effect when approved."""
    state = _run(ApprovePolicy("bob", 1, T0 + timedelta(minutes=5)), state=_proposed())
    proposal = state.proposal(1)
    assert proposal is not None
    assert proposal.status is ProposalStatus.APPROVED
    assert proposal.takes_effect_at == T0 + timedelta(minutes=5)


def test_with_one_approval_the_proposer_may_approve_their_own() -> None:
    """Small teams (approvals 1): the proposer's approval is enough."""
    state = _run(ApprovePolicy("alice", 1, T0), state=_proposed(approvals=1))
    proposal = state.proposal(1)
    assert proposal is not None
    assert proposal.status is ProposalStatus.APPROVED


def test_three_approvals_need_two_people_besides_the_proposer() -> None:
    """Each approver counts once; the proposal is approved at the third distinct person."""
    state = _run(ApprovePolicy("bob", 1, T0), state=_proposed(approvals=3))
    assert state.proposals[0].status is ProposalStatus.PENDING
    with pytest.raises(SameApprover):
        decide_policy_change(ApprovePolicy("bob", 1, T0), state)
    state = _run(ApprovePolicy("carol", 1, T0), state=state)
    assert state.proposals[0].status is ProposalStatus.APPROVED


def test_a_scheduled_proposal_is_due_at_its_time_and_not_before() -> None:
    """An approved proposal with a time is due exactly from that time."""
    at = T0 + timedelta(hours=2)
    state = _run(ApprovePolicy("bob", 1, T0), state=_proposed(effective_at=at))
    proposal = state.proposals[0]
    assert not proposal.due(at - timedelta(microseconds=1))
    assert proposal.due(at)
    with pytest.raises(PolicyChangePrecondition):
        decide_policy_change(RecordPolicyActivation(1, at - timedelta(seconds=1)), state)
    (event,) = decide_policy_change(RecordPolicyActivation(1, at), state)
    assert event == PolicyActivated(at, 1, V1)
    assert _run(RecordPolicyActivation(1, at), state=state).proposals[0].status is (
        ProposalStatus.ACTIVE
    )


def test_rescheduling_asks_for_the_approvals_again() -> None:
    """A new time withdraws the approvals given: the time is part of what was approved."""
    state = _run(ApprovePolicy("bob", 1, T0), state=_proposed(effective_at=T0 + timedelta(days=1)))
    later = T0 + timedelta(days=2)
    state = _run(SchedulePolicy("alice", 1, later, T0 + timedelta(hours=1)), state=state)
    proposal = state.proposals[0]
    assert (proposal.status, proposal.approvers, proposal.effective_at) == (
        ProposalStatus.PENDING,
        (),
        later,
    )


def test_a_time_in_the_past_is_refused_naming_the_field() -> None:
    """effective_time before now is the caller's error, named, with the empty actor."""
    command = ProposePolicy(" ", V1, "p", 0, T0, T0 - timedelta(seconds=1))
    with pytest.raises(InvalidCommand) as refused:
        decide_policy_change(command, None)
    fields = {v.field for v in refused.value.violations}
    assert fields == {"effective_time", "actor", "approvals_required"}


def test_a_pending_proposal_can_be_cancelled_and_then_not_approved() -> None:
    """Cancelling withdraws the proposal; approving it afterwards is refused."""
    state = _run(CancelProposal("alice", 1, T0), state=_proposed())
    assert state.proposals[0].status is ProposalStatus.CANCELLED
    with pytest.raises(PolicyChangePrecondition):
        decide_policy_change(ApprovePolicy("bob", 1, T0), state)


def test_a_proposal_in_effect_cannot_be_cancelled() -> None:
    """Once due, a proposal is rolled back, not cancelled."""
    state = _run(ApprovePolicy("bob", 1, T0), state=_proposed())
    with pytest.raises(PolicyChangePrecondition, match="roll the policy back"):
        decide_policy_change(CancelProposal("alice", 1, T0 + timedelta(seconds=1)), state)


def test_an_unknown_proposal_is_not_found() -> None:
    """Approving a number never proposed is POLICY_PROPOSAL_NOT_FOUND."""
    with pytest.raises(ProposalNotFound):
        decide_policy_change(ApprovePolicy("bob", 7, T0), _proposed())


def test_a_rollback_needs_an_earlier_version() -> None:
    """Rolling back with nothing before the active version is refused; else recorded."""
    with pytest.raises(PolicyChangePrecondition, match="nothing to roll back"):
        decide_policy_change(RollBackPolicy("alice", V1, "", T0), None)
    (event,) = decide_policy_change(RollBackPolicy("alice", V1, "b" * 64, T0), None)
    assert event == PolicyRolledBack(T0, V1, "b" * 64, "alice")


def test_events_and_state_survive_their_stored_form() -> None:
    """Payloads and snapshots round-trip through JSON-ready data."""
    state = _run(ApprovePolicy("bob", 1, T0), state=_proposed(effective_at=T0 + timedelta(hours=1)))
    assert policy_changes_from_dict(policy_changes_to_dict(state)) == state
    for event in decide_policy_change(ApprovePolicy("carol", 1, T0), _proposed()):
        assert policy_change_from_payload(type(event).__name__, event_to_payload(event)) == event


def test_the_stream_is_told_apart_from_suppliers_and_needs() -> None:
    """Only the policy stream's id is a policy stream."""
    assert is_policy_stream("~policy/changes")
    assert not is_policy_stream("huawei-nx")
    assert not is_policy_stream("~need/core-routers")
