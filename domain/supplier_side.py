"""The supplier's own part: acknowledging notices, disputing service credits, and the
operator's decision on a dispute. Pure, like the rest of ``decide``: guards first, then
events.

A dispute is open from ``PenaltyDisputed`` until ``PenaltyDisputeDecided``; each penalty
is disputed at most once. An accepted dispute reverses the credit with a credit note in
the ledger (``PenaltyReversed``): the same period and contract, the opposite amount, so
the caps count it no more. The breach itself stays on record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqm.domain.commands import (
    AcknowledgeNotice,
    DecidePenaltyDispute,
    DisputeOutcome,
    DisputePenalty,
)
from sqm.domain.errors import DomainError, FieldViolation, InvalidCommand
from sqm.domain.events import (
    Event,
    NoticeAcknowledged,
    PenaltyDisputed,
    PenaltyDisputeDecided,
    PenaltyReversed,
)
from sqm.domain.model import Money, Penalty, SupplierState
from sqm.domain.ports import Policy

NOTICE_TYPES = frozenset(
    {
        "ReminderIssued",
        "ReviewOpened",
        "PenaltyAssessed",
        "ImprovementPlanRequired",
        "PenaltyDisputeDecided",
        "CorrectiveActionExtensionDecided",
    }
)
"""Event types that are notices to the supplier: it reads them and acknowledges them."""

OPEN = "open"
SERVICE_CREDIT = "service_credit"


class NoticeNotFound(DomainError):
    """The sequence names no notice addressed to this supplier."""

    reason = "NOTICE_NOT_FOUND"

    def __init__(self, supplier_id: str, sequence: int) -> None:
        self.supplier_id = supplier_id
        self.sequence = sequence
        super().__init__(f"event {sequence} is not a notice to supplier {supplier_id!r}")


class SupplierSidePrecondition(DomainError):
    """A notice or a dispute is not in the state the request needs."""

    reason = "SUPPLIER_SIDE_PRECONDITION"

    def __init__(self, subject: str, message: str) -> None:
        self.subject = subject
        super().__init__(message)


class NoticeAlreadyAcknowledged(SupplierSidePrecondition):
    """The notice was acknowledged before (by another request)."""

    reason = "NOTICE_ALREADY_ACKNOWLEDGED"


class PenaltyAlreadyDisputed(SupplierSidePrecondition):
    """The penalty was disputed before: a penalty is disputed once."""

    reason = "PENALTY_ALREADY_DISPUTED"


class PenaltyNotDisputed(SupplierSidePrecondition):
    """A decision was asked for a penalty with no open dispute."""

    reason = "PENALTY_NOT_DISPUTED"


def acknowledge_notice(
    command: AcknowledgeNotice, state: SupplierState, policy: Policy
) -> list[Event]:
    """Record the acknowledgement, once per notice."""
    if command.notice_sequence in state.acknowledged_notices:
        raise NoticeAlreadyAcknowledged(
            f"notice {command.notice_sequence}",
            f"notice {command.notice_sequence} was already acknowledged",
        )
    return [NoticeAcknowledged(command.occurred_at, command.notice_sequence, command.notice_type)]


def dispute_penalty(command: DisputePenalty, state: SupplierState, policy: Policy) -> list[Event]:
    """Open a dispute of a service credit of the ledger, once per credit."""
    penalty = _penalty(state, command.penalty_id)
    if command.penalty_id in state.penalty_disputes:
        raise PenaltyAlreadyDisputed(
            command.penalty_id, f"{command.penalty_id!r} was already disputed"
        )
    return [PenaltyDisputed(command.occurred_at, penalty.penalty_id, command.grounds)]


def decide_dispute(
    command: DecidePenaltyDispute, state: SupplierState, policy: Policy
) -> list[Event]:
    """Decide an open dispute; an accepted one reverses the credit with a credit note."""
    penalty = _penalty(state, command.penalty_id)
    dispute = state.penalty_disputes.get(command.penalty_id)
    if dispute != OPEN:
        why = "was never disputed" if dispute is None else f"was already decided ({dispute})"
        raise PenaltyNotDisputed(command.penalty_id, f"{command.penalty_id!r} {why}")
    at = command.occurred_at
    decided: list[Event] = [
        PenaltyDisputeDecided(at, penalty.penalty_id, command.outcome, command.note)
    ]
    if command.outcome is DisputeOutcome.ACCEPTED:
        decided.append(PenaltyReversed(at, penalty.penalty_id, credit_note(penalty, at)))
    return decided


def credit_note(penalty: Penalty, at: datetime) -> Penalty:
    """The ledger entry that cancels ``penalty``: same period and contract, opposite amount."""
    return Penalty(
        penalty_id=f"{penalty.penalty_id}/reversal",
        kind=penalty.kind,
        contract_id=penalty.contract_id,
        amount=Money(-penalty.amount.amount, penalty.amount.currency),
        period=penalty.period,
        rule_id=penalty.rule_id,
        cap_applied="",
        assessed_at=at,
        objective_id=penalty.objective_id,
    )


def _penalty(state: SupplierState, penalty_id: str) -> Penalty:
    penalty = next((p for p in state.penalties if p.penalty_id == penalty_id), None)
    if penalty is None or penalty.kind != SERVICE_CREDIT or penalty.amount.amount <= 0:
        what = (
            "not in the ledger"
            if penalty is None
            else "not a service credit (compensation and credit notes are not disputed here)"
        )
        raise InvalidCommand([FieldViolation("penalty_id", f"{penalty_id!r} is {what}")])
    return penalty


HANDLERS: dict[type, Callable[[Any, SupplierState, Policy], list[Event]]] = {
    AcknowledgeNotice: acknowledge_notice,
    DisputePenalty: dispute_penalty,
    DecidePenaltyDispute: decide_dispute,
}
"""The supplier side's commands, for :func:`sqm.domain.decide.decide`."""
