"""Commands: what a caller asks the domain to do. Imperative names, small frozen classes.

Every command carries ``occurred_at``, the domain time it happened; the domain never reads
the wall clock.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

import attrs

from domain.model import Certificate, ServiceCategory


@attrs.frozen
class RegisterSupplier:
    """Enter a supplier into the process as a candidate."""

    supplier_id: str
    name: str
    category: ServiceCategory
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
    """Record the contract signed with a qualified supplier."""

    supplier_id: str
    contract_id: str
    occurred_at: datetime


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


Command = (
    RegisterSupplier
    | SubmitQualificationEvidence
    | SignContract
    | OpenReview
    | ConcludeReview
    | VerifyRemediation
    | RecordMissedImprovementDeadline
)


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        RegisterSupplier,
        SubmitQualificationEvidence,
        SignContract,
        OpenReview,
        ConcludeReview,
        VerifyRemediation,
        RecordMissedImprovementDeadline,
    )
}
"""Every command by its class name: how tools (policy tests, event files) name a command."""
