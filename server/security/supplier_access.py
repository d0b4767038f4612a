"""What a ``supplier`` token may do: one table, every method of every SQM service in it.

A supplier's token is bound to one supplier id. For each method the table says whether the
supplier may call it and, if so, which request fields name a supplier: every one of them
must name the caller's own supplier (``suppliers/{id}``, or a resource under it such as
``suppliers/{id}/documents/{doc}``), else the call is PERMISSION_DENIED before its handler
runs. A method no field of which names a supplier may only be allowed as a listing whose
answer the servicer cuts down to the caller (``ListSuppliers``).

The table must name every method the services have (a unit test checks it against the
protos), so a method added later is a decision, not a leak; at run time a method the table
does not name is refused to suppliers all the same (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from sqm.domain.validation import SUPPLIER_ID

_SUPPLIER_RESOURCE = re.compile(r"suppliers/(?P<id>[^/]+)(?:/.*)?", re.DOTALL)


def _fields_or_listing(
    scope: Scope, _: attrs.Attribute[tuple[str, ...]], fields: tuple[str, ...]
) -> None:
    if scope.allowed and not fields and not scope.answer_cut_to_caller:
        raise ValueError("an allowed method must name its supplier fields or be cut to the caller")


@attrs.frozen
class Scope:
    """Whether a supplier may call a method, and the request fields that must name it."""

    allowed: bool
    fields: tuple[str, ...] = attrs.field(default=(), validator=_fields_or_listing)
    answer_cut_to_caller: bool = False
    """No request field names a supplier; the servicer answers with the caller's own only."""


DENIED = Scope(allowed=False)
LISTS_ONLY_ITSELF = Scope(allowed=True, answer_cut_to_caller=True)


def own(*fields: str) -> Scope:
    """Allowed when every one of ``fields`` names the caller's own supplier."""
    return Scope(allowed=True, fields=fields)


SupplierAccess = Mapping[str, Scope]

_S = "sqm.v1.SupplierService/"
_A = "sqm.v1.AuditService/"
_P = "sqm.v1.PolicyService/"
SUPPLIER_ACCESS: SupplierAccess = {
    # Its own standing and records.
    f"{_S}GetSupplier": own("name"),
    f"{_S}ListSuppliers": LISTS_ONLY_ITSELF,
    f"{_S}ListSupplierEvents": own("parent"),
    f"{_S}ListPenalties": own("parent"),
    # What the supplier itself submits.
    f"{_S}SubmitSelfCheck": own("name"),
    f"{_S}SubmitProgressReport": own("name"),
    f"{_S}SubmitImprovementPlan": own("name"),
    f"{_S}ListNotices": own("parent"),
    f"{_S}AcknowledgeNotice": own("name"),
    f"{_S}DisputePenalty": own("name"),
    f"{_S}DecidePenaltyDispute": DENIED,  # the operator decides, never the supplier
    # Its corrective action (8D): it submits and revises its own, reports actions done and
    # asks for extensions; verifying, deciding extensions and closing are the operator's.
    f"{_S}SubmitCorrectiveAction": own("name"),
    f"{_S}CompleteCorrectiveActionItem": own("name"),
    f"{_S}RequestCorrectiveActionExtension": own("name"),
    f"{_S}VerifyCorrectiveActionItem": DENIED,
    f"{_S}DecideCorrectiveActionExtension": DENIED,
    f"{_S}CloseCorrectiveAction": DENIED,
    # The operator's side of the process.
    f"{_S}RegisterSupplier": DENIED,
    f"{_S}SubmitQualificationEvidence": DENIED,  # scores are the evaluators' to give
    f"{_S}RankCandidates": DENIED,
    f"{_S}CreateNeed": DENIED,
    f"{_S}GetNeed": DENIED,
    f"{_S}ListNeeds": DENIED,
    f"{_S}ShortlistSupplier": DENIED,
    f"{_S}RankShortlist": DENIED,
    f"{_S}AwardNeed": DENIED,
    f"{_S}BlacklistSupplier": DENIED,
    f"{_S}SignContract": DENIED,
    f"{_S}RecordMeasurement": DENIED,
    f"{_S}UploadMeasurements": DENIED,
    f"{_S}RecordSatisfactionSurvey": DENIED,
    f"{_S}RecordInspection": DENIED,
    f"{_S}OpenReview": DENIED,
    f"{_S}ConcludeReview": DENIED,
    f"{_S}CompleteImprovementPlan": DENIED,
    f"{_S}VerifyRemediation": DENIED,
    f"{_S}ClaimCompensation": DENIED,
    f"{_S}RecordMarketResearch": DENIED,
    f"{_S}RecordKickOff": DENIED,
    f"{_S}SubmitResourcePlan": DENIED,
    # A supplier reports a milestone done; accepting its deliverable is the operator's.
    f"{_S}CompleteMilestone": own("name"),
    f"{_S}AcceptDeliverable": DENIED,
    f"{_S}OpenProblemTicket": DENIED,
    f"{_S}ResolveProblemTicket": DENIED,
    f"{_S}RecordTraining": DENIED,
    f"{_S}SettleCompensation": DENIED,
    # Its own events as they are written, and its documents (certificates and the like).
    f"{_A}Watch": own("supplier"),
    f"{_A}ArchiveDocument": own("parent"),
    f"{_A}GetDocument": own("name"),
    f"{_A}ListDocuments": own("parent"),
    f"{_A}VerifyAuditChain": DENIED,
    f"{_A}ExportSupplier": DENIED,
    f"{_P}ValidatePolicy": DENIED,
    f"{_P}ActivatePolicy": DENIED,
    f"{_P}ListPolicyVersions": DENIED,
    f"{_P}GetPolicyVersion": DENIED,
    f"{_P}ExplainSupplier": DENIED,
    f"{_P}ProposePolicy": DENIED,
    f"{_P}ApprovePolicy": DENIED,
    f"{_P}SchedulePolicy": DENIED,
    f"{_P}RollbackPolicy": DENIED,
    f"{_P}ListPolicyProposals": DENIED,
    "sqm.v1.AdminService/AdvanceTime": DENIED,
    # The outbox's undeliverable notifications are the operator's to see and retry.
    "sqm.v1.AdminService/ListUndeliverableNotifications": DENIED,
    "sqm.v1.AdminService/RetryUndeliverableNotifications": DENIED,
}
"""Every method of the SQM services, by full name, with what a supplier may do with it."""


def grants(access: SupplierAccess, method: str) -> bool:
    """Whether a supplier may call ``method`` (``pkg.Service/Method``) at all."""
    scope = access.get(method.lstrip("/"))
    return scope is not None and scope.allowed


def supplier_named(value: str) -> str | None:
    """The supplier id a resource name (``suppliers/{id}`` or below it) names, or None."""
    match = _SUPPLIER_RESOURCE.fullmatch(value)
    return match["id"] if match else None


def foreign_field(scope: Scope, request: object, supplier_id: str) -> str | None:
    """The first of the scope's fields in ``request`` that does not name ``supplier_id``
    (an empty or malformed one included), or None when all of them name it.
    """
    for field in scope.fields:
        if supplier_named(str(getattr(request, field, ""))) != supplier_id:
            return field
    return None


def supplier_id_problem(value: str) -> str:
    """Why ``value`` cannot be the supplier id a token is bound to; empty when it can."""
    if SUPPLIER_ID.fullmatch(value):
        return ""
    return (
        f"supplier {value!r} is not a supplier id: a lower-case letter, then lower-case"
        " letters, digits or hyphens, at most 63"
    )
