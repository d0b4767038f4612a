"""Field checks for commands, run before anything is decided or recorded.

Field paths use the command's field names (the API maps them to its own spelling), so a
caller is told exactly which field is wrong. Checks that need the supplier's state (does the
objective exist, is the unit the metric's) live with the command's decision logic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqm.domain.commands import (
    AcceptDeliverable,
    AcknowledgeNotice,
    BlacklistSupplier,
    ClaimCompensation,
    CloseCorrectiveAction,
    Command,
    CompleteCorrectiveActionItem,
    CompleteMilestone,
    DecideCorrectiveActionExtension,
    DecidePenaltyDispute,
    DisputeOutcome,
    DisputePenalty,
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
    VerifyCorrectiveActionItem,
)
from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import Money, SlaObjective, SupplierState

# AIP-122 style resource ids: lower-case letters, digits and hyphens, starting with a letter.
SUPPLIER_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")
DOCUMENT_ID = re.compile(r"[0-9a-f]{32}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
CONTRACT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,62}")
CURRENCY = re.compile(r"[A-Z]{3}")
MAX_NAME_LENGTH = 200
MAX_TEXT_LENGTH = 200
MAX_NOTE_LENGTH = 4000
MAX_FILENAME_LENGTH = 255
MAX_MEASURES = 50
MAX_ITEMS = 50
MAX_ATTENDEES = 100_000


def validate(command: Command) -> None:
    """Raise :class:`InvalidCommand` naming every bad field of ``command``."""
    violations = list(_violations(command))
    if violations:
        raise InvalidCommand(violations)


def validate_against(command: Command, state: SupplierState) -> None:
    """Checks that need the supplier: time only moves forward along a supplier's stream.

    A backdated command would be judged at a past instant (a licence that has since
    expired would count as valid), and replay would no longer follow recorded order.
    """
    if state.updated_at is not None and command.occurred_at < state.updated_at:
        raise InvalidCommand(
            [
                FieldViolation(
                    "occurred_at",
                    f"is earlier than the supplier's last recorded event"
                    f" ({state.updated_at.isoformat()}); events are recorded in time order",
                )
            ]
        )


def _violations(command: Command) -> Iterator[FieldViolation]:
    yield from _check_supplier_id(command.supplier_id)
    yield from check_aware("occurred_at", command.occurred_at)
    checker = _CHECKS.get(type(command))
    if checker is not None:
        yield from checker(command)


def _check_supplier_id(supplier_id: str) -> Iterator[FieldViolation]:
    if not SUPPLIER_ID.fullmatch(supplier_id):
        yield FieldViolation(
            "supplier_id",
            "expected 1-63 characters: a lower-case letter, then lower-case letters, digits"
            f" or hyphens; got {supplier_id!r}",
        )


def check_aware(field: str, moment: datetime | None) -> Iterator[FieldViolation]:
    """A time must carry its zone: replay must not depend on the machine's."""
    if moment is not None and moment.tzinfo is None:
        yield FieldViolation(field, "must carry a time zone")


def _check_text(field: str, value: str, max_length: int) -> Iterator[FieldViolation]:
    if not value.strip():
        yield FieldViolation(field, "must not be empty")
    elif len(value) > max_length:
        yield FieldViolation(field, f"must be at most {max_length} characters, got {len(value)}")


def _check_optional_text(field: str, value: str, max_length: int) -> Iterator[FieldViolation]:
    if len(value) > max_length:
        yield FieldViolation(field, f"must be at most {max_length} characters, got {len(value)}")


def _check_number(field: str, value: float, low: float, high: float) -> Iterator[FieldViolation]:
    if not isinstance(value, int | float) or isinstance(value, bool):
        yield FieldViolation(field, f"expected a number, got {type(value).__name__}")
    elif not math.isfinite(value) or not low <= value <= high:
        yield FieldViolation(field, f"expected a number from {low:g} to {high:g}, got {value!r}")


def _check_period(
    start_field: str, start: datetime, end_field: str, end: datetime
) -> Iterator[FieldViolation]:
    naive = [*check_aware(start_field, start), *check_aware(end_field, end)]
    yield from naive
    if not naive and end <= start:
        yield FieldViolation(end_field, f"must be later than `{start_field}`")


def check_money(field: str, money: Money, *, positive: bool = False) -> Iterator[FieldViolation]:
    """An amount is a finite decimal (not negative; positive if asked) in an ISO 4217 code."""
    if not CURRENCY.fullmatch(money.currency):
        yield FieldViolation(
            f"{field}.currency", f"expected an ISO 4217 code like CNY, got {money.currency!r}"
        )
    amount = money.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        yield FieldViolation(f"{field}.amount", f"expected a finite decimal amount, got {amount!r}")
    elif amount < 0 or (positive and amount == 0):
        yield FieldViolation(f"{field}.amount", f"must be {'above' if positive else 'at least'} 0")


def _register(c: RegisterSupplier) -> Iterator[FieldViolation]:
    yield from _check_text("name", c.name, MAX_NAME_LENGTH)


def _evidence(c: SubmitQualificationEvidence) -> Iterator[FieldViolation]:
    if not c.scores and not c.certificates and c.site_audit_passed is None:
        yield FieldViolation(
            "scores", "evidence is empty: give scores, certificates or a site-audit result"
        )
    for criterion, score in c.scores.items():
        field = f"scores[{criterion!r}]"
        if not criterion.strip():
            yield FieldViolation(field, "criterion name must not be empty")
        yield from _check_number(field, score, 0, 100)
    for index, certificate in enumerate(c.certificates):
        field = f"certificates[{index}]"
        yield from _check_text(f"{field}.number", certificate.number, MAX_TEXT_LENGTH)
        yield from _check_text(f"{field}.issuer", certificate.issuer, MAX_TEXT_LENGTH)
        yield from _check_period(
            f"{field}.valid_from", certificate.valid_from,
            f"{field}.valid_until", certificate.valid_until,
        )  # fmt: skip


def _blacklist(c: BlacklistSupplier) -> Iterator[FieldViolation]:
    yield from _check_text("reason", c.reason, MAX_NOTE_LENGTH)


def _contract(c: SignContract) -> Iterator[FieldViolation]:
    if not CONTRACT_ID.fullmatch(c.contract_id):
        yield FieldViolation(
            "contract_id", f"expected 1-63 letters, digits, . _ / -; got {c.contract_id!r}"
        )
    yield from check_money("monthly_fee", c.monthly_fee)
    yield from check_money("liability_limit", c.liability_limit)
    if c.monthly_fee.currency != c.liability_limit.currency:
        yield FieldViolation("liability_limit.currency", "must be the monthly fee's currency")
    if c.ends_at:
        # Without a start, the contract starts when it is signed.
        start_field = "starts_at" if c.starts_at else "occurred_at"
        yield from _check_period(start_field, c.starts_at or c.occurred_at, "ends_at", c.ends_at)
    else:
        yield from check_aware("starts_at", c.starts_at)
    yield from check_objectives("objectives", c.objectives)
    yield from _check_optional_text("need_id", c.need_id, MAX_TEXT_LENGTH)


def check_objectives(field: str, objectives: tuple[SlaObjective, ...]) -> Iterator[FieldViolation]:
    """Each objective's shape (numbers, tolerance, days), their ids unique; what depends on
    the metric is checked against the catalogue (``sqm.domain.catalogue_checks``).
    """
    seen: set[str] = set()
    for index, objective in enumerate(objectives):
        yield from _objective(f"{field}[{index}]", objective, seen)


def _objective(field: str, o: SlaObjective, seen: set[str]) -> Iterator[FieldViolation]:
    if not o.objective_id.strip():
        yield FieldViolation(f"{field}.objective_id", "must not be empty")
    elif o.objective_id in seen:
        yield FieldViolation(f"{field}.objective_id", f"duplicate objective {o.objective_id!r}")
    seen.add(o.objective_id)
    not_numbers = [
        FieldViolation(f"{field}.{key}", f"expected a number, got {type(value).__name__}")
        for key, value in (("target", o.target), ("warning", o.warning))
        if not isinstance(value, int | float) or isinstance(value, bool)
    ]
    yield from not_numbers
    # Metric, range, direction and the warning's side need the policy's catalogue:
    # sqm.domain.catalogue_checks.
    yield from _check_number(f"{field}.tolerance", o.tolerance, -1e12, 1e12)
    if o.tolerance < 0:
        yield FieldViolation(f"{field}.tolerance", "must not be negative")
    if o.grace_days < 0:
        yield FieldViolation(f"{field}.grace_days", "must not be negative")
    if o.period_days <= 0:
        yield FieldViolation(f"{field}.period_days", "must be at least 1")


def _measurement(c: RecordMeasurement) -> Iterator[FieldViolation]:
    yield from _check_text("objective_id", c.objective_id, MAX_TEXT_LENGTH)
    yield from _check_text("unit", c.unit, MAX_TEXT_LENGTH)
    yield from _check_number("value", c.value, -1e12, 1e12)
    yield from _check_period("period_start", c.period_start, "period_end", c.period_end)
    if c.period_end.tzinfo and c.occurred_at.tzinfo and c.period_end > c.occurred_at:
        yield FieldViolation("period_end", "a period cannot be measured before it ends")


def _survey(c: RecordSatisfactionSurvey) -> Iterator[FieldViolation]:
    yield from _check_number("score", c.score, 0, 100)
    if c.respondents < 1:
        yield FieldViolation("respondents", "must be at least 1")
    yield from _check_optional_text("comment", c.comment, MAX_NOTE_LENGTH)


def _inspection(c: RecordInspection) -> Iterator[FieldViolation]:
    yield from _check_optional_text("findings", c.findings, MAX_NOTE_LENGTH)


def _report(c: SubmitProgressReport) -> Iterator[FieldViolation]:
    yield from _check_text("summary", c.summary, MAX_NOTE_LENGTH)


def _review(c: OpenReview) -> Iterator[FieldViolation]:
    yield from _check_text("reason", c.reason, MAX_NOTE_LENGTH)


def _plan(c: SubmitImprovementPlan) -> Iterator[FieldViolation]:
    if not c.measures:
        yield FieldViolation("measures", "a plan needs at least one measure")
    if len(c.measures) > MAX_MEASURES:
        yield FieldViolation("measures", f"at most {MAX_MEASURES} measures")
    for index, measure in enumerate(c.measures):
        yield from _check_text(f"measures[{index}]", measure, MAX_NOTE_LENGTH)
    yield from _check_text("owner", c.owner, MAX_TEXT_LENGTH)


def _compensation(c: ClaimCompensation) -> Iterator[FieldViolation]:
    yield from check_money("amount", c.amount, positive=True)
    yield from _check_text("description", c.description, MAX_NOTE_LENGTH)
    yield from check_aware("loss_at", c.loss_at)


def _check_items(field: str, items: tuple[str, ...], *, required: bool) -> Iterator[FieldViolation]:
    if required and not items:
        yield FieldViolation(field, "needs at least one entry")
    if len(items) > MAX_ITEMS:
        yield FieldViolation(field, f"at most {MAX_ITEMS} entries")
    for index, item in enumerate(items):
        yield from _check_text(f"{field}[{index}]", item, MAX_NOTE_LENGTH)


def _check_ticket_id(ticket_id: str) -> Iterator[FieldViolation]:
    if not CONTRACT_ID.fullmatch(ticket_id):
        yield FieldViolation(
            "ticket_id", f"expected 1-63 letters, digits, . _ / -; got {ticket_id!r}"
        )


def _market_research(c: RecordMarketResearch) -> Iterator[FieldViolation]:
    yield from _check_text("capability_summary", c.capability_summary, MAX_NOTE_LENGTH)
    yield from _check_text("past_performance_summary", c.past_performance_summary, MAX_NOTE_LENGTH)
    yield from _check_items("references", c.references, required=False)


def _kick_off(c: RecordKickOff) -> Iterator[FieldViolation]:
    yield from _check_text("goals", c.goals, MAX_NOTE_LENGTH)
    if len(c.milestones) > MAX_ITEMS:
        yield FieldViolation("milestones", f"at most {MAX_ITEMS} entries")
    for index, milestone in enumerate(c.milestones):
        field = f"milestones[{index}]"
        yield from _check_text(f"{field}.name", milestone.name, MAX_TEXT_LENGTH)
        yield from check_aware(f"{field}.due_at", milestone.due_at)
        if any(m.name == milestone.name for m in c.milestones[:index]):
            yield FieldViolation(f"{field}.name", f"{milestone.name!r} is named twice")
    yield from _check_optional_text("responsibilities", c.responsibilities, MAX_NOTE_LENGTH)


def _resource_plan(c: SubmitResourcePlan) -> Iterator[FieldViolation]:
    yield from _check_items("resources", c.resources, required=True)
    yield from _check_optional_text("summary", c.summary, MAX_NOTE_LENGTH)


def _open_ticket(c: OpenProblemTicket) -> Iterator[FieldViolation]:
    yield from _check_ticket_id(c.ticket_id)
    yield from _check_text("summary", c.summary, MAX_NOTE_LENGTH)


def _resolve_ticket(c: ResolveProblemTicket) -> Iterator[FieldViolation]:
    yield from _check_ticket_id(c.ticket_id)
    yield from _check_text("resolution", c.resolution, MAX_NOTE_LENGTH)


def _training(c: RecordTraining) -> Iterator[FieldViolation]:
    yield from _check_text("topic", c.topic, MAX_TEXT_LENGTH)
    if not 1 <= c.attendees <= MAX_ATTENDEES:
        yield FieldViolation("attendees", f"expected 1 to {MAX_ATTENDEES}, got {c.attendees}")


def _document(c: RecordDocument) -> Iterator[FieldViolation]:
    if not DOCUMENT_ID.fullmatch(c.document_id):
        yield FieldViolation("document_id", f"expected 32 hex digits, got {c.document_id!r}")
    if not SHA256_HEX.fullmatch(c.sha256):
        yield FieldViolation("sha256", "expected 64 lower-case hex digits")
    yield from _check_text("filename", c.filename, MAX_FILENAME_LENGTH)
    yield from _check_text("media_type", c.media_type, MAX_TEXT_LENGTH)
    if c.size <= 0:
        yield FieldViolation("size", f"expected a positive number of bytes, got {c.size}")


def _settlement(c: SettleCompensation) -> Iterator[FieldViolation]:
    yield from _check_text("penalty_id", c.penalty_id, MAX_TEXT_LENGTH)
    yield from check_money("amount", c.amount, positive=True)
    yield from _check_optional_text("note", c.note, MAX_NOTE_LENGTH)


def _acknowledgement(c: AcknowledgeNotice) -> Iterator[FieldViolation]:
    if isinstance(c.notice_sequence, bool) or not isinstance(c.notice_sequence, int):
        yield FieldViolation("notice_sequence", "expected a whole number")
    elif c.notice_sequence <= 0:
        yield FieldViolation("notice_sequence", "expected the notice's event sequence, from 1")
    yield from _check_text("notice_type", c.notice_type, MAX_TEXT_LENGTH)


def _dispute(c: DisputePenalty) -> Iterator[FieldViolation]:
    yield from _check_text("penalty_id", c.penalty_id, MAX_TEXT_LENGTH)
    yield from _check_text("grounds", c.grounds, MAX_NOTE_LENGTH)


def _dispute_decision(c: DecidePenaltyDispute) -> Iterator[FieldViolation]:
    yield from _check_text("penalty_id", c.penalty_id, MAX_TEXT_LENGTH)
    if not isinstance(c.outcome, DisputeOutcome):
        yield FieldViolation("outcome", f"expected one of {', '.join(DisputeOutcome)}")
    yield from _check_optional_text("note", c.note, MAX_NOTE_LENGTH)


def _milestone_step(c: CompleteMilestone | AcceptDeliverable) -> Iterator[FieldViolation]:
    yield from _check_text("milestone", c.milestone, MAX_TEXT_LENGTH)
    yield from _check_optional_text("note", c.note, MAX_NOTE_LENGTH)


def _corrective_action(c: SubmitCorrectiveAction) -> Iterator[FieldViolation]:
    content = c.content
    yield from _check_items("content.team", content.team, required=True)
    yield from _check_text("content.problem", content.problem, MAX_NOTE_LENGTH)
    yield from _check_text("content.containment", content.containment, MAX_NOTE_LENGTH)
    yield from _check_items("content.root_causes", content.root_causes, required=True)
    yield from _check_optional_text("content.prevention", content.prevention, MAX_NOTE_LENGTH)
    if not content.actions:
        yield FieldViolation("content.actions", "needs at least one action")
    if len(content.actions) > MAX_ITEMS:
        yield FieldViolation("content.actions", f"at most {MAX_ITEMS} actions")
    seen: set[str] = set()
    for index, item in enumerate(content.actions):
        where = f"content.actions[{index}]"
        yield from _check_text(f"{where}.action_id", item.action_id, MAX_TEXT_LENGTH)
        if item.action_id in seen:
            yield FieldViolation(f"{where}.action_id", f"{item.action_id!r} is given twice")
        seen.add(item.action_id)
        yield from _check_text(f"{where}.description", item.description, MAX_NOTE_LENGTH)
        yield from _check_text(f"{where}.owner", item.owner, MAX_TEXT_LENGTH)
        yield from check_aware(f"{where}.due_at", item.due_at)
        aware = item.due_at.tzinfo is not None and c.occurred_at.tzinfo is not None
        if aware and item.due_at <= c.occurred_at:
            yield FieldViolation(f"{where}.due_at", "must be later than the submission")


def _action_step(
    c: CompleteCorrectiveActionItem | DecideCorrectiveActionExtension,
) -> Iterator[FieldViolation]:
    yield from _check_text("action_id", c.action_id, MAX_TEXT_LENGTH)
    yield from _check_optional_text("note", c.note, MAX_NOTE_LENGTH)


def _action_verification(c: VerifyCorrectiveActionItem) -> Iterator[FieldViolation]:
    yield from _check_text("action_id", c.action_id, MAX_TEXT_LENGTH)
    yield from _check_text("verified_by", c.verified_by, MAX_TEXT_LENGTH)
    yield from _check_optional_text("note", c.note, MAX_NOTE_LENGTH)


def _extension_request(c: RequestCorrectiveActionExtension) -> Iterator[FieldViolation]:
    yield from _check_text("action_id", c.action_id, MAX_TEXT_LENGTH)
    yield from check_aware("due_at", c.due_at)
    yield from _check_text("reason", c.reason, MAX_NOTE_LENGTH)


def _closure(c: CloseCorrectiveAction) -> Iterator[FieldViolation]:
    yield from _check_optional_text("note", c.note, MAX_NOTE_LENGTH)


_CHECKS: dict[type, Callable[[Any], Iterator[FieldViolation]]] = {
    RegisterSupplier: _register,
    SubmitQualificationEvidence: _evidence,
    BlacklistSupplier: _blacklist,
    SignContract: _contract,
    RecordMeasurement: _measurement,
    RecordSatisfactionSurvey: _survey,
    RecordInspection: _inspection,
    SubmitProgressReport: _report,
    OpenReview: _review,
    SubmitImprovementPlan: _plan,
    ClaimCompensation: _compensation,
    RecordMarketResearch: _market_research,
    RecordKickOff: _kick_off,
    CompleteMilestone: _milestone_step,
    AcceptDeliverable: _milestone_step,
    SubmitResourcePlan: _resource_plan,
    OpenProblemTicket: _open_ticket,
    ResolveProblemTicket: _resolve_ticket,
    RecordTraining: _training,
    SettleCompensation: _settlement,
    RecordDocument: _document,
    AcknowledgeNotice: _acknowledgement,
    DisputePenalty: _dispute,
    DecidePenaltyDispute: _dispute_decision,
    SubmitCorrectiveAction: _corrective_action,
    CompleteCorrectiveActionItem: _action_step,
    VerifyCorrectiveActionItem: _action_verification,
    RequestCorrectiveActionExtension: _extension_request,
    DecideCorrectiveActionExtension: _action_step,
    CloseCorrectiveAction: _closure,
}
