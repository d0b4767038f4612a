"""Proto messages to domain commands and domain state to proto messages, nothing else.

Every problem found while mapping a request is collected and raised as one
``InvalidCommand`` naming each field, so a caller fixes them all in one round trip. This
module holds what every method shares (resource names, request ids, etags, the API's field
names) and the selection requests; :mod:`sqm.server.api.process_mapping` maps the process methods'
requests, :mod:`sqm.server.api.resource_mapping` the responses (re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqm.domain.commands import (
    AcceptDeliverable,
    BlacklistSupplier,
    ClaimCompensation,
    CloseCorrectiveAction,
    CompleteCorrectiveActionItem,
    CompleteImprovementPlan,
    CompleteMilestone,
    ConcludeReview,
    DecideCorrectiveActionExtension,
    OpenProblemTicket,
    OpenReview,
    RecordDocument,
    RecordInspection,
    RecordKickOff,
    RecordMarketResearch,
    RecordMeasurement,
    RecordSatisfactionSurvey,
    RecordTraining,
    RegisterSupplier,
    RequestCorrectiveActionExtension,
    ResolveProblemTicket,
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
from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import Certificate
from sqm.domain.needs import NEED_ID, AwardNeed, OpenNeed, RankShortlist, ShortlistSupplier
from sqm.domain.validation import MAX_ITEMS
from sqm.server.api.proto_values import (
    IncompleteRequest,
    Violations,
    covered,
    required_time,
    shown,
    timestamp,
)
from sqm.server.api.resource_mapping import (
    VIEWS,
    decision,
    decisions,
    etag,
    process_result,
    supplier,
    supplier_event,
    supplier_name,
    supplier_view,
)
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

__all__ = [
    "API_FIELD_NAMES",
    "VIEWS",
    "Violations",
    "checked_command",
    "decision",
    "decisions",
    "etag",
    "expected_version",
    "in_api_terms",
    "need_id_from_name",
    "occur_time",
    "process_result",
    "register_supplier",
    "request_id",
    "submit_evidence",
    "supplier",
    "supplier_event",
    "supplier_id_from_name",
    "supplier_name",
    "supplier_view",
]

SUPPLIER_NAME = re.compile(r"^suppliers/(?P<id>[^/]+)$")
ETAG = re.compile(r"^v(?P<version>\d+)$")
QUOTED_FIELD = re.compile(r"`([a-z_][a-z0-9_.\[\]']*)`")
MAX_REQUEST_ID_LENGTH = 128
MAX_DESCRIPTION_LENGTH = 300

Clock = Callable[[], datetime]
C = TypeVar("C")

NEED_NAME = re.compile(r"needs/(?P<id>[^/]+)")
NEED_ID_RULE = "a lower-case letter, then lower-case letters, digits or hyphens, at most 63"


# --- shared by every request ------------------------------------------------------------


def supplier_id_from_name(name: str, field: str, bad: Violations) -> str:
    """The id in ``suppliers/{id}``; a malformed name is recorded as a violation."""
    match = SUPPLIER_NAME.match(name)
    if match is None:
        bad.add(field, f"expected a resource name 'suppliers/{{supplier}}', got {shown(name)}")
        return ""
    return match["id"]


def need_id_from_name(name: str, field: str, bad: Violations) -> str:
    """The id in ``needs/{id}``, checked as creation checks it; else a violation."""
    match = NEED_NAME.fullmatch(name)
    if match is None:
        bad.add(field, f"expected a resource name 'needs/{{need}}', got {shown(name)}")
        return ""
    if not NEED_ID.fullmatch(match["id"]):
        bad.add(field, f"{shown(match['id'])} is not a need id: {NEED_ID_RULE}")
        return ""
    return match["id"]


def request_id(value: str) -> str:
    """Check a mutating call's idempotency key."""
    problem = request_id_problem(value)
    if problem:
        raise InvalidCommand([FieldViolation("request_id", problem)])
    return value


def request_id_problem(value: str) -> str:
    """What is wrong with an idempotency key, or "" when nothing is."""
    if not value.strip():
        return "required on every mutating call"
    if len(value) > MAX_REQUEST_ID_LENGTH:
        return f"at most {MAX_REQUEST_ID_LENGTH} characters"
    return ""


def expected_version(etag: str) -> int | None:
    """The version an etag pins, or None when no etag was sent."""
    if not etag:
        return None
    match = ETAG.match(etag)
    if match is None:
        raise InvalidCommand(
            [FieldViolation("etag", f"not an etag this server issued: {shown(etag)}")]
        )
    return int(match["version"])


def checked_command(
    mapper: Callable[[Any, Clock], C],
    validator: Callable[[Any], None],
    request: Any,
    clock: Clock,
) -> tuple[C | None, list[FieldViolation]]:
    """``request`` mapped and checked by the domain: the command, or every bad field.

    A mapper that finds bad fields still hands over the command as far as it could build it
    (:class:`~sqm.server.api.proto_values.IncompleteRequest`), so the domain's checks (ids,
    names, ranges, periods, objectives) are reported in the same answer as the mapping's
    (resource names, enums, times, money).
    """
    problems: list[FieldViolation] = []
    try:
        command: C = mapper(request, clock)
    except IncompleteRequest as error:
        problems.extend(error.violations)
        partial, unchecked = error.partial, error.unchecked
    except InvalidCommand as error:
        return None, list(error.violations)
    else:
        partial, unchecked = command, frozenset()
    try:
        validator(partial)
    except InvalidCommand as error:
        found = in_api_terms(error, partial).violations
        problems.extend(v for v in found if not covered(v.field, unchecked))
    return (None if problems else command), problems


def occur_time(request: Any, clock: Clock, bad: Violations) -> datetime:
    """The request's ``occur_time``; the server's time when unset."""
    if not request.HasField("occur_time"):
        return clock()
    return timestamp(request.occur_time, "occur_time", bad) or clock()


# --- selection requests -----------------------------------------------------------------


def register_supplier(request: api.RegisterSupplierRequest, clock: Clock) -> RegisterSupplier:
    """Map a RegisterSupplier request; the request id is checked by :func:`request_id`.

    The category is an id of the active policy's catalogue, checked with the command.
    """
    bad = Violations()
    occurred_at = occur_time(request, clock, bad)
    command = RegisterSupplier(
        request.supplier_id, request.display_name, request.category, occurred_at
    )
    bad.raise_if_any(command)
    return command


def submit_evidence(
    request: api.SubmitQualificationEvidenceRequest, clock: Clock
) -> SubmitQualificationEvidence:
    """Map a SubmitQualificationEvidence request."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    certificates = tuple(
        cert
        for index, proto in enumerate(request.certificates)
        if (cert := _certificate(proto, f"certificates[{index}]", bad)) is not None
    )
    audit = _site_audit(request.site_audit_result, bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return SubmitQualificationEvidence(
        supplier_id, occurred_at, dict(request.scores), certificates, audit
    )


def _certificate(proto: pb.Certificate, field: str, bad: Violations) -> Certificate | None:
    # The kind is checked against the active policy's catalogue with the command.
    valid_from = required_time(proto, "valid_from", field, bad)
    valid_until = required_time(proto, "valid_until", field, bad)
    if valid_from is None or valid_until is None:
        return None
    return Certificate(proto.kind, proto.number, proto.issuer, valid_from, valid_until)


def _site_audit(value: int, bad: Violations) -> bool | None:
    if value == pb.SITE_AUDIT_RESULT_UNSPECIFIED:
        return None
    if value == pb.SITE_AUDIT_RESULT_PASSED:
        return True
    if value == pb.SITE_AUDIT_RESULT_FAILED:
        return False
    bad.add("site_audit_result", f"unknown value {value}; expected PASSED or FAILED")
    return None


# --- the API's spelling of domain field paths --------------------------------------------

_NAMED = {"occurred_at": "occur_time", "supplier_id": "name"}
_NEED_NAMED = {"occurred_at": "occur_time", "need_id": "name", "supplier_id": "supplier"}

# Domain field paths the API spells differently, per command. A key matches a path's
# beginning up to a "." or "[" (``objectives`` matches ``objectives[1].metric``); the
# longest matching key wins, so ``monthly_fee.currency`` beats ``monthly_fee``.
API_FIELD_NAMES: dict[type, dict[str, str]] = {
    RegisterSupplier: {"occurred_at": "occur_time", "name": "display_name"},
    SubmitQualificationEvidence: {**_NAMED, "site_audit_passed": "site_audit_result"},
    BlacklistSupplier: _NAMED,
    SignContract: {
        **_NAMED,
        "contract_id": "contract.contract_id",
        "monthly_fee": "contract.monthly_fee",
        "monthly_fee.currency": "contract.monthly_fee.currency_code",
        "liability_limit": "contract.liability_limit",
        "liability_limit.currency": "contract.liability_limit.currency_code",
        "starts_at": "contract.start_time",
        "ends_at": "contract.end_time",
        "objectives": "contract.objectives",
        "need_id": "contract.need",
    },
    RecordMeasurement: {
        **_NAMED,
        "period_start": "period_start_time",
        "period_end": "period_end_time",
    },
    RecordSatisfactionSurvey: _NAMED,
    RecordInspection: _NAMED,
    SubmitProgressReport: _NAMED,
    SubmitSelfCheck: _NAMED,
    OpenReview: _NAMED,
    ConcludeReview: _NAMED,
    SubmitImprovementPlan: _NAMED,
    CompleteImprovementPlan: _NAMED,
    VerifyRemediation: _NAMED,
    ClaimCompensation: {
        **_NAMED,
        "amount.currency": "amount.currency_code",
        "loss_at": "loss_time",
    },
    RecordMarketResearch: _NAMED,
    CompleteMilestone: _NAMED,
    AcceptDeliverable: _NAMED,
    RecordKickOff: _NAMED,  # due_at is always aware from the API: only .name and .kind are named
    SubmitResourcePlan: _NAMED,
    OpenProblemTicket: _NAMED,
    ResolveProblemTicket: _NAMED,
    RecordTraining: _NAMED,
    SettleCompensation: {**_NAMED, "amount.currency": "amount.currency_code"},
    OpenNeed: {
        "occurred_at": "occur_time",
        "title": "need.title",
        "category": "need.category",
        "required_certificates": "need.required_certificates",
        "objectives": "need.objectives",
        "quantity": "need.quantity",
        "budget": "need.budget",
        "budget.currency": "need.budget.currency_code",
        "required_by": "need.required_by_time",
    },
    ShortlistSupplier: _NEED_NAMED,
    RankShortlist: _NEED_NAMED,
    AwardNeed: _NEED_NAMED,
    RecordDocument: {"occurred_at": "occur_time", "supplier_id": "parent"},
    SubmitCorrectiveAction: {
        **_NAMED,
        "content": "corrective_action",
        # A key matches a path's beginning: each action's due date is named in full.
        **{
            f"content.actions[{i}].due_at": f"corrective_action.actions[{i}].due_time"
            for i in range(MAX_ITEMS + 1)
        },
    },
    CompleteCorrectiveActionItem: _NAMED,
    VerifyCorrectiveActionItem: _NAMED,
    RequestCorrectiveActionExtension: {**_NAMED, "due_at": "due_time"},
    DecideCorrectiveActionExtension: _NAMED,
    CloseCorrectiveAction: _NAMED,
}


def in_api_terms(error: InvalidCommand, command: object) -> InvalidCommand:
    """``error`` with each field path spelled as the API's request spells it."""
    return in_api_terms_of(error, type(command))


def in_api_terms_of(error: InvalidCommand, command_type: type) -> InvalidCommand:
    """``error`` with each field path spelled as the request for ``command_type`` spells it."""
    names = API_FIELD_NAMES.get(command_type, {})
    renamed = [
        FieldViolation(
            api_field(violation.field, names),
            _clipped(_quoted_fields_renamed(violation.description, names)),
        )
        for violation in error.violations
    ]
    return InvalidCommand(renamed)


def _quoted_fields_renamed(description: str, names: dict[str, str]) -> str:
    # A domain message names another field in backticks ("later than `starts_at`"); the
    # caller must read the request's name for it ("later than `contract.start_time`").
    return QUOTED_FIELD.sub(lambda m: f"`{api_field(m[1], names)}`", description)


def _clipped(description: str) -> str:
    # Domain messages may quote the caller's value; a status must stay small (it travels in
    # trailers, which gRPC limits to a few kilobytes).
    if len(description) <= MAX_DESCRIPTION_LENGTH:
        return description
    return description[: MAX_DESCRIPTION_LENGTH - 1] + "…"


def api_field(path: str, names: dict[str, str]) -> str:
    """``path`` with its longest renamed beginning replaced (see :data:`API_FIELD_NAMES`)."""
    for domain_name in sorted(names, key=len, reverse=True):
        rest = path.removeprefix(domain_name)
        if rest != path and (not rest or rest[0] in ".["):
            return names[domain_name] + rest
    return path
