"""Policy sign-off under any story of commands: four eyes always hold, nothing takes effect
before its time, and the state is always the fold of the events, snapshot included.
"""

from __future__ import annotations

from hypothesis import given

from sqm.domain.errors import DomainError
from sqm.domain.policy_changes import (
    PolicyChangeCommand,
    PolicyChangeEvent,
    PolicyChanges,
    Proposal,
    ProposalStatus,
    decide_policy_change,
    fold_policy_changes,
)
from sqm.domain.serialization import policy_changes_from_dict, policy_changes_to_dict
from tests.strategies import policy_change_commands

_SIGNED = (ProposalStatus.APPROVED, ProposalStatus.ACTIVE)


def _sign_off_holds(proposal: Proposal) -> None:
    assert len(set(proposal.approvers)) == len(proposal.approvers)
    if proposal.approvals_required > 1:
        assert proposal.proposer not in proposal.approvers
    if proposal.status in _SIGNED:
        assert proposal.approvers
        assert len({proposal.proposer, *proposal.approvers}) >= proposal.approvals_required


def _never_early(proposal: Proposal) -> None:
    if proposal.status is ProposalStatus.ACTIVE:
        assert proposal.activated_at is not None
        assert proposal.approved_at is not None
        assert proposal.activated_at >= proposal.approved_at
        if proposal.effective_at is not None:
            assert proposal.activated_at >= proposal.effective_at


@given(policy_change_commands())
def test_any_story_keeps_four_eyes_times_and_the_fold(commands: list[PolicyChangeCommand]) -> None:
    """Refused commands change nothing; accepted ones keep every proposal properly signed,
    never in effect before its time, and the state equal to its events folded and stored.
    """
    state: PolicyChanges | None = None
    accepted: list[PolicyChangeEvent] = []
    for command in commands:
        try:
            events = decide_policy_change(command, state)
        except DomainError:
            continue
        accepted.extend(events)
        state = fold_policy_changes(events, state)
        assert state == fold_policy_changes(accepted, None)
        assert policy_changes_from_dict(policy_changes_to_dict(state)) == state
        for proposal in state.proposals:
            _sign_off_holds(proposal)
            _never_early(proposal)
