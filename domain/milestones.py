"""Delivery milestones agreed at kick-off: their completion, the acceptance of their stage
deliverables (阶段性成果), and what is due or overdue at a moment.

A milestone is met once the supplier completes it; it is overdue while it is not completed
after its due time. Accepting the deliverable is the operator's step after completion.
"""

from __future__ import annotations

from datetime import datetime

from sqm.domain import contract_term
from sqm.domain.commands import AcceptDeliverable, CompleteMilestone
from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.events import DeliverableAccepted, Event, MilestoneCompleted
from sqm.domain.history import days_between
from sqm.domain.model import Milestone, SupplierState
from sqm.domain.ports import Policy


def open_milestones(state: SupplierState) -> tuple[Milestone, ...]:
    """The kick-off's milestones not completed yet, earliest due first."""
    pending = (m for m in state.milestones if m.name not in state.milestones_completed)
    return tuple(sorted(pending, key=lambda m: m.due_at))


def overdue(state: SupplierState, now: datetime) -> tuple[Milestone, ...]:
    """The open milestones whose due time has passed at ``now``, most overdue first."""
    return tuple(m for m in open_milestones(state) if m.due_at < now)


def next_due(state: SupplierState, now: datetime) -> Milestone | None:
    """The earliest open milestone not yet due at ``now``, if any."""
    return next((m for m in open_milestones(state) if m.due_at >= now), None)


def days_overdue(state: SupplierState, now: datetime) -> float:
    """Days the most overdue open milestone is past its due time (0 when none is)."""
    late = overdue(state, now)
    return days_between(late[0].due_at, now) if late else 0.0


def _refused(why: str) -> InvalidCommand:
    return InvalidCommand([FieldViolation("milestone", why)])


def _known(state: SupplierState, name: str) -> None:
    if all(m.name != name for m in state.milestones):
        known = ", ".join(m.name for m in state.milestones) or "none (no kick-off milestones)"
        raise _refused(f"{name!r} is not a kick-off milestone; expected one of: {known}")


def complete(command: CompleteMilestone, state: SupplierState, policy: Policy) -> list[Event]:
    """``MilestoneCompleted``, for a kick-off milestone not completed yet."""
    contract_term.require_running(state, command.occurred_at, "complete_milestone")
    _known(state, command.milestone)
    if command.milestone in state.milestones_completed:
        raise _refused(f"{command.milestone!r} is already completed")
    return [MilestoneCompleted(command.occurred_at, command.milestone, command.note)]


def accept(command: AcceptDeliverable, state: SupplierState, policy: Policy) -> list[Event]:
    """``DeliverableAccepted``, for a completed milestone whose deliverable is not accepted."""
    contract_term.require_running(state, command.occurred_at, "accept_deliverable")
    _known(state, command.milestone)
    if command.milestone not in state.milestones_completed:
        raise _refused(f"{command.milestone!r} is not completed yet")
    if command.milestone in state.deliverables_accepted:
        raise _refused(f"{command.milestone!r}'s deliverable is already accepted")
    return [DeliverableAccepted(command.occurred_at, command.milestone, command.note)]
