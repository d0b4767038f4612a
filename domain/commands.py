"""Commands: what a caller asks the domain to do. Imperative names, small frozen classes.

Every command carries ``occurred_at``, the domain time it happened; the domain never reads
the wall clock.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from sqm.domain.corrective_records import CorrectiveActionContent
from sqm.domain.model import Certificate, Milestone, Money, Severity, SlaObjective
from sqm.domain.pack_catalogue import CategoryId, DocumentKindId

NO_AMOUNT = Money(Decimal("0.00"), "CNY")
"""A contract signed without fee or liability terms (a framework agreement) carries these."""


@attrs.frozen
class RegisterSupplier:
    """Enter a supplier into the process as a candidate."""

    supplier_id: str
    name: str
    category: CategoryId
    occurred_at: datetime


@attrs.frozen
class SubmitQualificationEvidence:
    """Add evaluation scores, certificates and a site-audit result; a candidate is then assessed.

    Scores and certificates accumulate across submissions: a later score for a criterion
    replaces the earlier one, a certificate replaces one of the same kind and number.
    """

    supplier_id: str
    occurred_at: datetime
    scores: Mapping[str, float] = attrs.field(factory=dict)
    certificates: tuple[Certificate, ...] = ()
    site_audit_passed: bool | None = None


@attrs.frozen
class SignContract:
    """Record the contract signed with a qualified supplier.

    With no ``objectives``, the policy's default SLA objectives for the supplier's category
    apply. The term runs from ``starts_at`` (default: signing) to ``ends_at`` (default: a
    year later).
    """

    supplier_id: str
    contract_id: str
    occurred_at: datetime
    monthly_fee: Money = NO_AMOUNT
    liability_limit: Money = NO_AMOUNT
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    objectives: tuple[SlaObjective, ...] = ()
    need_id: str = ""
    """The awarded need the contract is signed under; its service standard supplies the
    objectives when the contract names none (empty: signed without a need).
    """


@attrs.frozen
class BlacklistSupplier:
    """Bar a supplier from qualification (fraud, sanctions, a previous termination...)."""

    supplier_id: str
    reason: str
    occurred_at: datetime


@attrs.frozen
class RecordMeasurement:
    """An SLA measurement for one of the contract's objectives over a period."""

    supplier_id: str
    objective_id: str
    value: float
    unit: str
    period_start: datetime
    period_end: datetime
    occurred_at: datetime


@attrs.frozen
class RecordSatisfactionSurvey:
    """A customer satisfaction result (0-100) from surveys or interviews."""

    supplier_id: str
    score: float
    occurred_at: datetime
    respondents: int = 1
    comment: str = ""


@attrs.frozen
class RecordInspection:
    """A periodic inspection of the supplier's work, passed or failed."""

    supplier_id: str
    passed: bool
    occurred_at: datetime
    findings: str = ""


@attrs.frozen
class SubmitProgressReport:
    """The supplier's periodic progress report."""

    supplier_id: str
    summary: str
    occurred_at: datetime


@attrs.frozen
class SubmitSelfCheck:
    """The supplier's periodic self-check."""

    supplier_id: str
    passed: bool
    occurred_at: datetime
    summary: str = ""


@attrs.frozen
class SubmitImprovementPlan:
    """The improvement plan a review required: its measures and owner."""

    supplier_id: str
    measures: tuple[str, ...]
    owner: str
    occurred_at: datetime


@attrs.frozen
class CompleteImprovementPlan:
    """The plan's measures are in place; effectiveness is verified after a clean window."""

    supplier_id: str
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class SubmitCorrectiveAction:
    """The supplier's corrective-action record (8D) for the pending improvement plan, or a
    revision of it: the earlier revisions stay in the record.
    """

    supplier_id: str
    content: CorrectiveActionContent
    occurred_at: datetime


@attrs.frozen
class CompleteCorrectiveActionItem:
    """The supplier reports one action of the record done; the operator verifies it."""

    supplier_id: str
    action_id: str
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class VerifyCorrectiveActionItem:
    """The operator verifies a completed action: who verified it, and the evidence."""

    supplier_id: str
    action_id: str
    verified_by: str
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class RequestCorrectiveActionExtension:
    """The supplier asks to move an open action's due date, for a reason."""

    supplier_id: str
    action_id: str
    due_at: datetime
    reason: str
    occurred_at: datetime


@attrs.frozen
class DecideCorrectiveActionExtension:
    """The operator approves or refuses the extension an action waits for."""

    supplier_id: str
    action_id: str
    approved: bool
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class CloseCorrectiveAction:
    """Close the record (D8) once every action is verified; the plan is then completed and
    its effectiveness is verified by the clean window, as any plan's.
    """

    supplier_id: str
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class ClaimCompensation:
    """Compensation for the operator's documented losses caused by the supplier.

    ``loss_at`` is when the loss happened (the claim's own time when not given): within the
    contract's term, and the claim filed within the pack's claim window after it.
    """

    supplier_id: str
    amount: Money
    description: str
    occurred_at: datetime
    loss_at: datetime | None = None


@attrs.frozen
class AdvanceTime:
    """Time has reached ``occurred_at`` for this supplier: deadlines and reminders are due.

    Sent by the server's scheduler in production and by the virtual clock in simulation.
    """

    supplier_id: str
    occurred_at: datetime


@attrs.frozen
class ReevaluateQualification:
    """Evaluate a qualified supplier's recorded evidence again under the policy in force.

    Issued when a version that applies to suppliers already qualified takes effect: one
    that no longer passes goes back to candidate. Anything but a qualified supplier (a
    contracted one keeps its contract), or a policy whose qualification changes apply to
    new evaluations only, leaves the supplier as it is, and nothing is recorded.
    """

    supplier_id: str
    occurred_at: datetime


REEVALUATION_REQUEST = ":reevaluate:"
"""What the request id of every re-evaluation holds, so a replay of the record (a backtest)
knows the request for what it was."""


def reevaluation_request_id(activation: str, supplier_id: str) -> str:
    """The request id of ``supplier_id``'s re-evaluation when activation ``activation``
    (its request id) takes effect: the same on every try, so it is recorded once.
    """
    return f"{activation}{REEVALUATION_REQUEST}{supplier_id}"


def is_reevaluation_request(request_id: str) -> bool:
    """True for the request id of a re-evaluation (:func:`reevaluation_request_id`)."""
    return REEVALUATION_REQUEST in request_id


@attrs.frozen
class OpenReview:
    """Put a contracted supplier under review."""

    supplier_id: str
    reason: str
    occurred_at: datetime


class ReviewOutcome(enum.StrEnum):
    """How a review can end."""

    CLEARED = "cleared"
    REMEDIATION_REQUIRED = "remediation_required"
    FAILED = "failed"


@attrs.frozen
class ConcludeReview:
    """Close a review: cleared, remediation required, or failed (termination)."""

    supplier_id: str
    outcome: ReviewOutcome
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class VerifyRemediation:
    """Confirm an improvement plan was effective; the supplier returns to contracted."""

    supplier_id: str
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class RecordMissedImprovementDeadline:
    """An improvement plan was not delivered by its deadline; the contract is terminated."""

    supplier_id: str
    occurred_at: datetime


@attrs.frozen
class RecordMarketResearch:
    """Market research on a candidate or qualified supplier: capability, record, references."""

    supplier_id: str
    capability_summary: str
    past_performance_summary: str
    occurred_at: datetime
    references: tuple[str, ...] = ()


@attrs.frozen
class RecordKickOff:
    """The delivery kick-off meeting: goals, milestones with due dates, responsibilities."""

    supplier_id: str
    goals: str
    occurred_at: datetime
    milestones: tuple[Milestone, ...] = ()
    responsibilities: str = ""


@attrs.frozen
class CompleteMilestone:
    """Record that the supplier reached a milestone agreed at kick-off."""

    supplier_id: str
    milestone: str
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class AcceptDeliverable:
    """Accept the stage deliverable (阶段性成果) of a completed milestone."""

    supplier_id: str
    milestone: str
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class SubmitResourcePlan:
    """The resources the supplier commits to the delivery."""

    supplier_id: str
    resources: tuple[str, ...]
    occurred_at: datetime
    summary: str = ""


@attrs.frozen
class OpenProblemTicket:
    """A problem with the supplier's service, to be handled until resolved."""

    supplier_id: str
    ticket_id: str
    summary: str
    severity: Severity
    occurred_at: datetime


@attrs.frozen
class ResolveProblemTicket:
    """An open problem ticket was resolved."""

    supplier_id: str
    ticket_id: str
    resolution: str
    occurred_at: datetime


@attrs.frozen
class RecordTraining:
    """Staff training held for the supplier's service."""

    supplier_id: str
    topic: str
    attendees: int
    occurred_at: datetime


@attrs.frozen
class RecordDocument:
    """Put a document just archived (contract, inspection report, ...) on the supplier's record.

    The bytes are kept in the document archive under ``document_id``; the record keeps their
    SHA-256, so the hash chain vouches for the document too.
    """

    supplier_id: str
    document_id: str
    filename: str
    media_type: str
    sha256: str
    size: int
    occurred_at: datetime
    kind: DocumentKindId = "other"


@attrs.frozen
class SettleCompensation:
    """(Part of) a compensation in the penalties ledger was paid, in the contract's currency."""

    supplier_id: str
    penalty_id: str
    amount: Money
    occurred_at: datetime
    note: str = ""


@attrs.frozen
class AcknowledgeNotice:
    """The supplier confirms it has read a notice addressed to it (a reminder, a review...).

    ``notice_sequence`` is the notice event's global sequence; ``notice_type`` its type, as
    the record holds it (the application looks the notice up before deciding).
    """

    supplier_id: str
    notice_sequence: int
    notice_type: str
    occurred_at: datetime


@attrs.frozen
class DisputePenalty:
    """The supplier disputes a service credit in its ledger, on the grounds it states."""

    supplier_id: str
    penalty_id: str
    grounds: str
    occurred_at: datetime


class DisputeOutcome(enum.StrEnum):
    """How the operator decides a supplier's dispute of a service credit."""

    UPHELD = "upheld"  # the credit stands
    ACCEPTED = "accepted"  # the supplier is right: the credit is reversed


@attrs.frozen
class DecidePenaltyDispute:
    """The operator decides an open dispute; an accepted one reverses the credit."""

    supplier_id: str
    penalty_id: str
    outcome: DisputeOutcome
    occurred_at: datetime
    note: str = ""


Command = (
    RegisterSupplier
    | SubmitQualificationEvidence
    | BlacklistSupplier
    | SignContract
    | RecordMeasurement
    | RecordSatisfactionSurvey
    | RecordInspection
    | SubmitProgressReport
    | SubmitSelfCheck
    | OpenReview
    | ConcludeReview
    | SubmitImprovementPlan
    | CompleteImprovementPlan
    | SubmitCorrectiveAction
    | CompleteCorrectiveActionItem
    | VerifyCorrectiveActionItem
    | RequestCorrectiveActionExtension
    | DecideCorrectiveActionExtension
    | CloseCorrectiveAction
    | VerifyRemediation
    | RecordMissedImprovementDeadline
    | ClaimCompensation
    | AdvanceTime
    | ReevaluateQualification
    | RecordMarketResearch
    | RecordKickOff
    | CompleteMilestone
    | AcceptDeliverable
    | SubmitResourcePlan
    | OpenProblemTicket
    | ResolveProblemTicket
    | RecordTraining
    | SettleCompensation
    | RecordDocument
    | AcknowledgeNotice
    | DisputePenalty
    | DecidePenaltyDispute
)


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        RegisterSupplier,
        SubmitQualificationEvidence,
        BlacklistSupplier,
        SignContract,
        RecordMeasurement,
        RecordSatisfactionSurvey,
        RecordInspection,
        SubmitProgressReport,
        SubmitSelfCheck,
        OpenReview,
        ConcludeReview,
        SubmitImprovementPlan,
        CompleteImprovementPlan,
        SubmitCorrectiveAction,
        CompleteCorrectiveActionItem,
        VerifyCorrectiveActionItem,
        RequestCorrectiveActionExtension,
        DecideCorrectiveActionExtension,
        CloseCorrectiveAction,
        VerifyRemediation,
        RecordMissedImprovementDeadline,
        ClaimCompensation,
        AdvanceTime,
        ReevaluateQualification,
        RecordMarketResearch,
        RecordKickOff,
        CompleteMilestone,
        AcceptDeliverable,
        SubmitResourcePlan,
        OpenProblemTicket,
        ResolveProblemTicket,
        RecordTraining,
        SettleCompensation,
        RecordDocument,
        AcknowledgeNotice,
        DisputePenalty,
        DecidePenaltyDispute,
    )
}
"""Every command by its class name: how tools (policy tests, event files) name a command."""
