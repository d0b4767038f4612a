"""Events: what happened, past tense, immutable. A supplier's state is their fold.

An event's type name is its class name; it is what the store records, so renaming an event
class is a schema change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from domain.commands import ReviewOutcome
from domain.model import Certificate, Decision, LifecycleState, ServiceCategory


@attrs.frozen
class SupplierRegistered:
    """A supplier entered the process as a candidate."""

    supplier_id: str
    name: str
    category: ServiceCategory
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
    """A rule was evaluated; the decision (fired or explained) is kept for the audit."""

    occurred_at: datetime
    decision: Decision


@attrs.frozen
class LifecycleTransitioned:
    """The supplier moved from one lifecycle state to another; ``cause`` says why."""

    occurred_at: datetime
    trigger: str
    from_state: LifecycleState
    to_state: LifecycleState
    cause: str


@attrs.frozen
class ContractSigned:
    """A contract was signed with the supplier."""

    occurred_at: datetime
    contract_id: str


@attrs.frozen
class ReviewOpened:
    """The supplier was put under review."""

    occurred_at: datetime
    reason: str


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


Event = (
    SupplierRegistered
    | QualificationEvidenceSubmitted
    | DecisionRecorded
    | LifecycleTransitioned
    | ContractSigned
    | ReviewOpened
    | ReviewConcluded
    | RemediationVerified
    | ImprovementDeadlineMissed
)

EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        SupplierRegistered,
        QualificationEvidenceSubmitted,
        DecisionRecorded,
        LifecycleTransitioned,
        ContractSigned,
        ReviewOpened,
        ReviewConcluded,
        RemediationVerified,
        ImprovementDeadlineMissed,
    )
}


def event_type(event: Event) -> str:
    """The stable name under which ``event`` is stored."""
    return type(event).__name__
