"""Policy sign-off: a pack version is proposed, approved, and takes effect at a stated time.

Every change of the active policy made through sign-off is an event of one stream,
:data:`POLICY_STREAM`, in the same store and hash chain as the suppliers and needs: who
proposed which version for when, who approved it, when it took effect, who cancelled a
proposal or rolled the active version back. Its id starts with ``~``, like a need's, so no
supplier id can take it.

Four eyes (四眼原则): a proposal asks for ``approvals_required`` different people, its
proposer counted; with 2 (or more) the proposer cannot approve their own proposal. With 1,
one approval, the proposer's own included, is enough (small teams). The number is fixed
when the proposal is made.

A proposal states when it takes effect (``effective_at``; none: as soon as it is
approved, 生效时间). Changing the time (``SchedulePolicy``) withdraws the approvals given:
a time is part of what was approved.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from datetime import datetime

import attrs

from sqm.domain.errors import DomainError, FieldViolation, InvalidCommand

POLICY_STREAM_PREFIX = "~policy/"
POLICY_STREAM = POLICY_STREAM_PREFIX + "changes"
MAX_ACTOR = 200


def is_policy_stream(stream_id: str) -> bool:
    """True for the stream of policy changes."""
    return stream_id.startswith(POLICY_STREAM_PREFIX)


class ProposalStatus(enum.StrEnum):
    """Where a proposal stands."""

    PENDING = "pending"
    """Waiting for approvals."""
    APPROVED = "approved"
    """Approved; takes effect at its time (or took effect and is not yet recorded)."""
    ACTIVE = "active"
    """Took effect: its version became the active policy."""
    CANCELLED = "cancelled"
    """Withdrawn before it took effect."""


@attrs.frozen
class Proposal:
    """One proposed version, as the fold of its events."""

    number: int
    version: str
    pack_name: str
    proposer: str
    proposed_at: datetime
    approvals_required: int
    effective_at: datetime | None = None
    approvers: tuple[str, ...] = ()
    status: ProposalStatus = ProposalStatus.PENDING
    approved_at: datetime | None = None
    activated_at: datetime | None = None
    cancelled_by: str = ""

    @property
    def takes_effect_at(self) -> datetime | None:
        """When an approved proposal takes effect: its time, or its approval if later."""
        if self.approved_at is None:
            return None
        if self.effective_at is None or self.effective_at < self.approved_at:
            return self.approved_at
        return self.effective_at

    def due(self, now: datetime) -> bool:
        """True when the proposal is approved and its time has come."""
        at = self.takes_effect_at
        return self.status is ProposalStatus.APPROVED and at is not None and at <= now


@attrs.frozen
class PolicyChanges:
    """The stream of policy changes, folded: every proposal ever made."""

    version: int = 0
    proposals: tuple[Proposal, ...] = ()

    def proposal(self, number: int) -> Proposal | None:
        """Proposal ``number`` (1, 2, ...), if made."""
        if 1 <= number <= len(self.proposals):
            return self.proposals[number - 1]
        return None

    def scheduled(self) -> list[Proposal]:
        """The approved proposals not yet in effect, earliest first."""
        approved = [p for p in self.proposals if p.status is ProposalStatus.APPROVED]
        return sorted(approved, key=lambda p: (p.takes_effect_at, p.number))


# --- commands ----------------------------------------------------------------------------


@attrs.frozen
class ProposePolicy:
    """Propose an archived version to become the active policy (at ``effective_at``)."""

    actor: str
    version: str
    pack_name: str
    approvals_required: int
    occurred_at: datetime
    effective_at: datetime | None = None


@attrs.frozen
class ApprovePolicy:
    """Approve a pending proposal (审批)."""

    actor: str
    proposal: int
    occurred_at: datetime


@attrs.frozen
class SchedulePolicy:
    """Set when a proposal not yet in effect takes effect; its approvals are asked again."""

    actor: str
    proposal: int
    effective_at: datetime
    occurred_at: datetime


@attrs.frozen
class RecordPolicyActivation:
    """Record that an approved proposal took effect; ``occurred_at`` is its time."""

    proposal: int
    occurred_at: datetime


@attrs.frozen
class CancelProposal:
    """Withdraw a proposal that has not taken effect."""

    actor: str
    proposal: int
    occurred_at: datetime


@attrs.frozen
class RollBackPolicy:
    """Make the version active before the current one active again (回滚)."""

    actor: str
    from_version: str
    to_version: str
    occurred_at: datetime


PolicyChangeCommand = (
    ProposePolicy
    | ApprovePolicy
    | SchedulePolicy
    | RecordPolicyActivation
    | CancelProposal
    | RollBackPolicy
)


# --- events ------------------------------------------------------------------------------


@attrs.frozen
class PolicyProposed:
    """A version was proposed."""

    occurred_at: datetime
    proposal: int
    version: str
    pack_name: str
    proposer: str
    approvals_required: int
    effective_at: datetime | None = None


@attrs.frozen
class PolicyApproved:
    """A proposal was approved by ``approver``."""

    occurred_at: datetime
    proposal: int
    approver: str


@attrs.frozen
class PolicyScheduled:
    """A proposal's time was set; the approvals given before no longer count."""

    occurred_at: datetime
    proposal: int
    effective_at: datetime
    actor: str


@attrs.frozen
class PolicyActivated:
    """A proposal took effect at ``occurred_at``: its version became the active policy."""

    occurred_at: datetime
    proposal: int
    version: str


@attrs.frozen
class ProposalCancelled:
    """A proposal was withdrawn before it took effect."""

    occurred_at: datetime
    proposal: int
    actor: str


@attrs.frozen
class PolicyRolledBack:
    """The active version ``from_version`` was replaced by the one before it."""

    occurred_at: datetime
    from_version: str
    to_version: str
    actor: str


PolicyChangeEvent = (
    PolicyProposed
    | PolicyApproved
    | PolicyScheduled
    | PolicyActivated
    | ProposalCancelled
    | PolicyRolledBack
)

POLICY_CHANGE_EVENT_TYPES: dict[str, type[PolicyChangeEvent]] = {
    cls.__name__: cls
    for cls in (
        PolicyProposed,
        PolicyApproved,
        PolicyScheduled,
        PolicyActivated,
        ProposalCancelled,
        PolicyRolledBack,
    )
}


# --- errors ------------------------------------------------------------------------------


class ProposalNotFound(DomainError):
    """No proposal has this number."""

    reason = "POLICY_PROPOSAL_NOT_FOUND"

    def __init__(self, number: int) -> None:
        self.number = number
        super().__init__(f"policy proposal {number} does not exist")


class PolicyChangePrecondition(DomainError):
    """The proposal (or the policy) is not in a state that allows the request.

    ``subject`` names what is not ready (``policyProposals/3``, ``policy``).
    """

    reason = "POLICY_CHANGE_PRECONDITION"

    def __init__(self, subject: str, why: str) -> None:
        self.subject = subject
        super().__init__(why)


class SameApprover(PolicyChangePrecondition):
    """Four eyes: the approval must come from someone who has not yet signed the proposal."""

    reason = "SAME_APPROVER"


class SignoffRequired(PolicyChangePrecondition):
    """A direct activation on a server that asks for sign-off by more than one person."""

    reason = "SIGNOFF_REQUIRED"

    def __init__(self, approvals_required: int) -> None:
        super().__init__(
            "policy",
            f"this server asks {approvals_required} people to sign off a policy change;"
            " propose the pack (sqm policy propose) and have it approved instead",
        )


# --- validation --------------------------------------------------------------------------


def validate_policy_change(command: PolicyChangeCommand, *, now_checked: bool = False) -> None:
    """Raise ``InvalidCommand`` naming every malformed field; with ``now_checked``, an
    effective time before the command's own time too (a retry, replayed, is not refused
    for a time that has passed since).
    """
    problems = list(_violations(command, now_checked))
    if problems:
        raise InvalidCommand(problems)


def _violations(command: PolicyChangeCommand, now_checked: bool) -> Iterator[FieldViolation]:
    if command.occurred_at.tzinfo is None:
        yield FieldViolation("occurred_at", "must carry a time zone")
    actor = getattr(command, "actor", None)
    if actor is not None and not actor.strip():
        yield FieldViolation("actor", "must not be empty")
    if actor is not None and len(actor) > MAX_ACTOR:
        yield FieldViolation("actor", f"must be at most {MAX_ACTOR} characters")
    number = getattr(command, "proposal", None)
    if number is not None and number < 1:
        yield FieldViolation("proposal", f"must be a proposal number (1 or more); got {number}")
    if isinstance(command, ProposePolicy) and command.approvals_required < 1:
        yield FieldViolation("approvals_required", "must be at least 1")
    if isinstance(command, ProposePolicy | SchedulePolicy):
        yield from _time_ahead(command.effective_at, command.occurred_at, now_checked)


def _time_ahead(
    effective_at: datetime | None, now: datetime, now_checked: bool
) -> Iterator[FieldViolation]:
    if effective_at is None:
        return
    if effective_at.tzinfo is None:
        yield FieldViolation("effective_time", "must carry a time zone")
    elif now_checked and effective_at < now:
        yield FieldViolation(
            "effective_time", f"is in the past (now is {now.isoformat()}); give a later time"
        )


# --- decide and evolve -------------------------------------------------------------------


def decide_policy_change(
    command: PolicyChangeCommand, changes: PolicyChanges | None
) -> list[PolicyChangeEvent]:
    """The events ``command`` produces against the stream's state (None: nothing yet)."""
    validate_policy_change(command, now_checked=True)
    changes = changes or PolicyChanges()
    if isinstance(command, ProposePolicy):
        return [
            PolicyProposed(
                command.occurred_at,
                len(changes.proposals) + 1,
                command.version,
                command.pack_name,
                command.actor,
                command.approvals_required,
                command.effective_at,
            )
        ]
    if isinstance(command, RollBackPolicy):
        return [_rollback(command)]
    proposal = changes.proposal(command.proposal)
    if proposal is None:
        raise ProposalNotFound(command.proposal)
    if isinstance(command, ApprovePolicy):
        return [_approval(proposal, command)]
    if isinstance(command, RecordPolicyActivation):
        if not proposal.due(command.occurred_at):
            raise PolicyChangePrecondition(
                _subject(proposal), f"proposal {proposal.number} is not due at that time"
            )
        return [PolicyActivated(command.occurred_at, proposal.number, proposal.version)]
    _require_not_in_effect(proposal, command.occurred_at)
    if isinstance(command, SchedulePolicy):
        return [
            PolicyScheduled(
                command.occurred_at, proposal.number, command.effective_at, command.actor
            )
        ]
    return [ProposalCancelled(command.occurred_at, proposal.number, command.actor)]


def _subject(proposal: Proposal) -> str:
    return f"policyProposals/{proposal.number}"


def _approval(proposal: Proposal, command: ApprovePolicy) -> PolicyApproved:
    if proposal.status is not ProposalStatus.PENDING:
        raise PolicyChangePrecondition(
            _subject(proposal),
            f"proposal {proposal.number} is {proposal.status.value}; only a pending proposal"
            " can be approved",
        )
    if command.actor in proposal.approvers:
        raise SameApprover(
            _subject(proposal), f"{command.actor!r} has already approved proposal {proposal.number}"
        )
    if command.actor == proposal.proposer and proposal.approvals_required > 1:
        raise SameApprover(
            _subject(proposal),
            f"{command.actor!r} proposed {proposal.number} and cannot approve it: four eyes,"
            " another policy_admin must approve",
        )
    return PolicyApproved(command.occurred_at, proposal.number, command.actor)


def _require_not_in_effect(proposal: Proposal, now: datetime) -> None:
    if proposal.status is ProposalStatus.CANCELLED:
        raise PolicyChangePrecondition(
            _subject(proposal), f"proposal {proposal.number} is cancelled; propose it again"
        )
    if proposal.status is ProposalStatus.ACTIVE or proposal.due(now):
        raise PolicyChangePrecondition(
            _subject(proposal),
            f"proposal {proposal.number} has taken effect; roll the policy back instead",
        )


def _rollback(command: RollBackPolicy) -> PolicyRolledBack:
    if not command.to_version or command.to_version == command.from_version:
        raise PolicyChangePrecondition(
            "policy", "no earlier version was active: there is nothing to roll back to"
        )
    return PolicyRolledBack(
        command.occurred_at, command.from_version, command.to_version, command.actor
    )


def apply_policy_change(changes: PolicyChanges | None, event: PolicyChangeEvent) -> PolicyChanges:
    """The stream's state after ``event``."""
    changes = changes or PolicyChanges()
    proposals = list(changes.proposals)
    if isinstance(event, PolicyProposed):
        proposals.append(
            Proposal(
                number=event.proposal,
                version=event.version,
                pack_name=event.pack_name,
                proposer=event.proposer,
                proposed_at=event.occurred_at,
                approvals_required=event.approvals_required,
                effective_at=event.effective_at,
            )
        )
    elif not isinstance(event, PolicyRolledBack):
        index = event.proposal - 1
        proposals[index] = _evolve(proposals[index], event)
    return PolicyChanges(changes.version + 1, tuple(proposals))


def _evolve(proposal: Proposal, event: PolicyChangeEvent) -> Proposal:
    if isinstance(event, PolicyApproved):
        approvers = (*proposal.approvers, event.approver)
        signed = len({proposal.proposer, *approvers})
        if signed < proposal.approvals_required:
            return attrs.evolve(proposal, approvers=approvers)
        return attrs.evolve(
            proposal,
            approvers=approvers,
            status=ProposalStatus.APPROVED,
            approved_at=event.occurred_at,
        )
    if isinstance(event, PolicyScheduled):
        return attrs.evolve(
            proposal,
            effective_at=event.effective_at,
            approvers=(),
            status=ProposalStatus.PENDING,
            approved_at=None,
        )
    if isinstance(event, PolicyActivated):
        return attrs.evolve(proposal, status=ProposalStatus.ACTIVE, activated_at=event.occurred_at)
    if isinstance(event, ProposalCancelled):
        return attrs.evolve(proposal, status=ProposalStatus.CANCELLED, cancelled_by=event.actor)
    raise ValueError(f"{type(event).__name__} does not change a proposal")


def fold_policy_changes(
    events: Iterable[PolicyChangeEvent], changes: PolicyChanges | None
) -> PolicyChanges:
    """The stream's state after each of ``events`` in order."""
    for event in events:
        changes = apply_policy_change(changes, event)
    return changes or PolicyChanges()
