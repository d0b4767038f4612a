"""Proto <-> domain for policy sign-off: proposal names and the API view of a proposal."""

from __future__ import annotations

import re

from sqm.domain.policy_changes import Proposal, ProposalStatus
from sqm.server.api.proto_values import Violations, set_time
from sqm.v1 import policy_service_pb2 as api

PROPOSAL_PREFIX = "policyProposals/"
_NAME = re.compile(r"policyProposals/([1-9][0-9]{0,17})")
_STATES = {
    ProposalStatus.PENDING: api.POLICY_PROPOSAL_STATE_PENDING,
    ProposalStatus.APPROVED: api.POLICY_PROPOSAL_STATE_APPROVED,
    ProposalStatus.ACTIVE: api.POLICY_PROPOSAL_STATE_ACTIVE,
    ProposalStatus.CANCELLED: api.POLICY_PROPOSAL_STATE_CANCELLED,
}


def proposal_number(name: str, field: str, bad: Violations) -> int:
    """The number ``policyProposals/{number}`` names; 0 (and a violation) otherwise."""
    found = _NAME.fullmatch(name)
    if found is None:
        bad.add(field, f"expected 'policyProposals/{{number}}' (a number from 1), got {name!r}")
        return 0
    return int(found.group(1))


def proposal(value: Proposal) -> api.PolicyProposal:
    """The API view of a proposal."""
    message = api.PolicyProposal(
        name=f"{PROPOSAL_PREFIX}{value.number}",
        number=value.number,
        version=value.version,
        pack_name=value.pack_name,
        state=_STATES[value.status],
        proposer=value.proposer,
        approvals_required=value.approvals_required,
        approvers=list(value.approvers),
        cancelled_by=value.cancelled_by,
    )
    set_time(message.propose_time, value.proposed_at)
    set_time(message.effective_time, value.effective_at)
    set_time(message.take_effect_time, value.activated_at or value.takes_effect_at)
    return message
