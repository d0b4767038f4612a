"""Events: what happened, past tense, immutable. A supplier's state is their fold.

An event's type name is its class name; it is what the store records, so renaming an event
class is a schema change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from sqm.domain.commands import DisputeOutcome, ReviewOutcome
from sqm.domain.corrective_records import CorrectiveActionContent
from sqm.domain.model import (
    Breach,
    Certificate,
    Contract,
    Decision,
    ImprovementPlan,
    LifecycleState,
    Measurement,
    Milestone,
    Money,
    Observation,
    Penalty,
    Reminder,
    Review,
    Severity,
)
from sqm.domain.pack_catalogue import CategoryId, DocumentKindId
from sqm.domain.scorecard_records import Scorecard


@attrs.frozen
class SupplierRegistered:
    """A supplier entered the process as a candidate."""

    supplier_id: str
    name: str
    category: CategoryId
    occurred_at: datetime


@attrs.frozen
class QualificationEvidenceSubmitted:
    """Scores, certificates or a site-audit result were added to the supplier's file."""

    occurred_at: datetime
    scores: Mapping[str, float] = attrs.field(factory=dict)
    certificates: tuple[Certificate, ...] = ()
    site_audit_passed: bool | None = None


@attrs.frozen
class DecisionRecorded:
    """A rule was evaluated; the decision (fired or explained) is kept for the audit.

    ``no_effect`` is empty when the fired rule's action changed something (or the decision
    is an explanation of a rule that did not fire); otherwise it says why the action could
    not apply ("terminate cannot apply in contracted"). Events recorded before it existed
    read back with it empty, and an empty one is not written, so their bytes are unchanged.
    """

    occurred_at: datetime
    decision: Decision
    no_effect: str = ""

    @property
    def took_effect(self) -> bool:
        """True for a fired decision whose action changed something."""
        return self.decision.fired and not self.no_effect


@attrs.frozen
class LifecycleTransitioned:
    """The supplier moved from one lifecycle state to another; ``cause`` says why."""

    occurred_at: datetime
    trigger: str
    from_state: LifecycleState
    to_state: LifecycleState
    cause: str


@attrs.frozen
class SupplierBlacklisted:
    """The supplier was barred from qualification."""

    occurred_at: datetime
    reason: str


@attrs.frozen
class ContractSigned:
    """A contract was signed with the supplier, with its fee, liability limit and objectives."""

    occurred_at: datetime
    contract: Contract


@attrs.frozen
class ContractEnded:
    """The contract's term ran out (``ended_at``, its end date); it stays on file for claims."""

    occurred_at: datetime
    contract_id: str
    ended_at: datetime


@attrs.frozen
class MeasurementRecorded:
    """An SLA measurement was recorded against an objective."""

    occurred_at: datetime
    measurement: Measurement


@attrs.frozen
class BreachDetected:
    """A measurement missed its objective; the severity comes from the policy's tiers."""

    occurred_at: datetime
    breach: Breach


@attrs.frozen
class PenaltyAssessed:
    """A service credit or compensation was entered in the penalties ledger."""

    occurred_at: datetime
    penalty: Penalty
    basis: str


@attrs.frozen
class SatisfactionSurveyRecorded:
    """A customer satisfaction result was recorded."""

    occurred_at: datetime
    survey: Observation
    respondents: int
    comment: str = ""


@attrs.frozen
class InspectionRecorded:
    """An inspection was recorded, passed or failed."""

    occurred_at: datetime
    inspection: Observation
    findings: str = ""


@attrs.frozen
class ProgressReportSubmitted:
    """The supplier's periodic progress report arrived."""

    occurred_at: datetime
    summary: str


@attrs.frozen
class SelfCheckSubmitted:
    """The supplier's periodic self-check arrived."""

    occurred_at: datetime
    passed: bool
    summary: str = ""


@attrs.frozen
class ReviewOpened:
    """The supplier was put under review, by a rule or by hand."""

    occurred_at: datetime
    review: Review


@attrs.frozen
class ImprovementPlanRequired:
    """A review required an improvement plan by a deadline."""

    occurred_at: datetime
    plan: ImprovementPlan


@attrs.frozen
class ImprovementPlanSubmitted:
    """The supplier submitted its improvement plan."""

    occurred_at: datetime
    measures: tuple[str, ...]
    owner: str


@attrs.frozen
class ImprovementPlanCompleted:
    """The plan's measures are in place; the clean window starts."""

    occurred_at: datetime
    note: str = ""


@attrs.frozen
class CorrectiveActionSubmitted:
    """The supplier submitted its corrective-action record (8D), or revised it:
    ``revision`` counts from 1, and the earlier revisions stay in the record.
    """

    occurred_at: datetime
    content: CorrectiveActionContent
    revision: int = 1


@attrs.frozen
class CorrectiveActionItemCompleted:
    """The supplier reported one action of its corrective-action record done."""

    occurred_at: datetime
    action_id: str
    note: str = ""


@attrs.frozen
class CorrectiveActionItemVerified:
    """The operator verified a completed action: who, and on what evidence."""

    occurred_at: datetime
    action_id: str
    verified_by: str
    note: str = ""


@attrs.frozen
class CorrectiveActionExtensionRequested:
    """The supplier asked to move an action's due date to ``due_at``, for a reason."""

    occurred_at: datetime
    action_id: str
    due_at: datetime
    reason: str


@attrs.frozen
class CorrectiveActionExtensionDecided:
    """The operator approved (the action is due at ``due_at`` now) or refused an extension."""

    occurred_at: datetime
    action_id: str
    approved: bool
    due_at: datetime
    note: str = ""


@attrs.frozen
class CorrectiveActionsEscalated:
    """Overdue actions were escalated by a rule (once per action: a later tick does not
    escalate them again).
    """

    occurred_at: datetime
    rule_id: str
    action_ids: tuple[str, ...]


@attrs.frozen
class CorrectiveActionClosed:
    """The corrective-action record was closed (D8): every action verified; the plan is
    completed and its clean window starts.
    """

    occurred_at: datetime
    note: str = ""


@attrs.frozen
class ReminderIssued:
    """A reminder went out ahead of a deadline; ``key`` makes each one go out once."""

    occurred_at: datetime
    reminder: Reminder
    key: str
    message: str


@attrs.frozen
class ReviewConcluded:
    """A review ended with an outcome."""

    occurred_at: datetime
    outcome: ReviewOutcome
    note: str = ""


@attrs.frozen
class RemediationVerified:
    """The improvement plan was verified effective."""

    occurred_at: datetime
    note: str = ""


@attrs.frozen
class ImprovementDeadlineMissed:
    """The improvement plan was not delivered by its deadline."""

    occurred_at: datetime


@attrs.frozen
class TerminatedForCause:
    """A rule ended the contract for a cause other than a missed improvement deadline.

    ``rule_id`` names the rule and ``ground`` is what it said (its message with the facts
    in), so the record states why, not a deadline that had not passed.
    """

    occurred_at: datetime
    rule_id: str
    ground: str


@attrs.frozen
class Escalated:
    """A rule escalated the supplier's case to a named role (升级上报), with a message.

    Recorded on the supplier's stream so other systems following it (Watch) can act.
    """

    occurred_at: datetime
    rule_id: str
    to: str
    message: str


@attrs.frozen
class NotificationIssued:
    """A rule notified a named role or party of something about the supplier (通知)."""

    occurred_at: datetime
    rule_id: str
    to: str
    message: str


@attrs.frozen
class MarketResearchRecorded:
    """Market research on the supplier was recorded."""

    occurred_at: datetime
    capability_summary: str
    past_performance_summary: str
    references: tuple[str, ...] = ()


@attrs.frozen
class KickOffRecorded:
    """The delivery kick-off meeting was held."""

    occurred_at: datetime
    goals: str
    milestones: tuple[Milestone, ...] = ()
    responsibilities: str = ""


@attrs.frozen
class MilestoneCompleted:
    """The supplier reached a milestone agreed at kick-off."""

    occurred_at: datetime
    milestone: str
    note: str = ""


@attrs.frozen
class DeliverableAccepted:
    """The operator accepted a completed milestone's stage deliverable."""

    occurred_at: datetime
    milestone: str
    note: str = ""


@attrs.frozen
class ResourcePlanSubmitted:
    """The supplier submitted its resource plan."""

    occurred_at: datetime
    resources: tuple[str, ...]
    summary: str = ""


@attrs.frozen
class ProblemTicketOpened:
    """A problem ticket was opened against the supplier."""

    occurred_at: datetime
    ticket_id: str
    summary: str
    severity: Severity


@attrs.frozen
class ProblemTicketResolved:
    """An open problem ticket was resolved."""

    occurred_at: datetime
    ticket_id: str
    resolution: str


@attrs.frozen
class TicketResolutionMissed:
    """A ticket was resolved later than the policy's resolution target for its severity."""

    occurred_at: datetime
    ticket_id: str
    severity: Severity
    target_hours: float
    resolution_hours: float


@attrs.frozen
class TrainingRecorded:
    """Staff training was held."""

    occurred_at: datetime
    topic: str
    attendees: int


@attrs.frozen
class DocumentArchived:
    """A document was archived for the supplier; its bytes hash to ``sha256``."""

    occurred_at: datetime
    document_id: str
    filename: str
    media_type: str
    sha256: str
    size: int
    kind: DocumentKindId = "other"
    """``other`` for documents recorded before documents had kinds."""


@attrs.frozen
class CompensationSettled:
    """(Part of) a compensation in the ledger was paid."""

    occurred_at: datetime
    penalty_id: str
    amount: Money
    note: str = ""


@attrs.frozen
class NoticeAcknowledged:
    """The supplier confirmed it has read the notice recorded at ``notice_sequence``."""

    occurred_at: datetime
    notice_sequence: int
    notice_type: str


@attrs.frozen
class PenaltyDisputed:
    """The supplier disputed a service credit of its ledger."""

    occurred_at: datetime
    penalty_id: str
    grounds: str


@attrs.frozen
class PenaltyDisputeDecided:
    """The operator decided the supplier's dispute of a service credit."""

    occurred_at: datetime
    penalty_id: str
    outcome: DisputeOutcome
    note: str = ""


@attrs.frozen
class PenaltyReversed:
    """A disputed service credit was reversed: ``credit_note`` enters the ledger with the
    opposite amount, in the credit's period and contract, so it no longer counts against
    the period and contract caps.
    """

    occurred_at: datetime
    penalty_id: str
    credit_note: Penalty


@attrs.frozen
class ScorecardClosed:
    """A scorecard period ended: every KPI's value and score, and the supplier's standing."""

    occurred_at: datetime
    scorecard: Scorecard


Event = (
    SupplierRegistered
    | QualificationEvidenceSubmitted
    | SupplierBlacklisted
    | DecisionRecorded
    | LifecycleTransitioned
    | ContractSigned
    | ContractEnded
    | MeasurementRecorded
    | BreachDetected
    | PenaltyAssessed
    | SatisfactionSurveyRecorded
    | InspectionRecorded
    | ProgressReportSubmitted
    | SelfCheckSubmitted
    | ReviewOpened
    | ReviewConcluded
    | ImprovementPlanRequired
    | ImprovementPlanSubmitted
    | ImprovementPlanCompleted
    | CorrectiveActionSubmitted
    | CorrectiveActionItemCompleted
    | CorrectiveActionItemVerified
    | CorrectiveActionExtensionRequested
    | CorrectiveActionExtensionDecided
    | CorrectiveActionsEscalated
    | CorrectiveActionClosed
    | RemediationVerified
    | ImprovementDeadlineMissed
    | TerminatedForCause
    | Escalated
    | NotificationIssued
    | ReminderIssued
    | MarketResearchRecorded
    | KickOffRecorded
    | MilestoneCompleted
    | DeliverableAccepted
    | ResourcePlanSubmitted
    | ProblemTicketOpened
    | ProblemTicketResolved
    | TicketResolutionMissed
    | TrainingRecorded
    | CompensationSettled
    | DocumentArchived
    | NoticeAcknowledged
    | PenaltyDisputed
    | PenaltyDisputeDecided
    | PenaltyReversed
    | ScorecardClosed
)

EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        SupplierRegistered,
        QualificationEvidenceSubmitted,
        SupplierBlacklisted,
        DecisionRecorded,
        LifecycleTransitioned,
        ContractSigned,
        ContractEnded,
        MeasurementRecorded,
        BreachDetected,
        PenaltyAssessed,
        SatisfactionSurveyRecorded,
        InspectionRecorded,
        ProgressReportSubmitted,
        SelfCheckSubmitted,
        ReviewOpened,
        ReviewConcluded,
        ImprovementPlanRequired,
        ImprovementPlanSubmitted,
        ImprovementPlanCompleted,
        CorrectiveActionSubmitted,
        CorrectiveActionItemCompleted,
        CorrectiveActionItemVerified,
        CorrectiveActionExtensionRequested,
        CorrectiveActionExtensionDecided,
        CorrectiveActionsEscalated,
        CorrectiveActionClosed,
        RemediationVerified,
        ImprovementDeadlineMissed,
        TerminatedForCause,
        Escalated,
        NotificationIssued,
        ReminderIssued,
        MarketResearchRecorded,
        KickOffRecorded,
        MilestoneCompleted,
        DeliverableAccepted,
        ResourcePlanSubmitted,
        ProblemTicketOpened,
        ProblemTicketResolved,
        TicketResolutionMissed,
        TrainingRecorded,
        CompensationSettled,
        DocumentArchived,
        NoticeAcknowledged,
        PenaltyDisputed,
        PenaltyDisputeDecided,
        PenaltyReversed,
        ScorecardClosed,
    )
}


def event_type(event: object) -> str:
    """The stable name under which ``event`` is stored."""
    return type(event).__name__
