"""Problem tickets against their resolution targets: a ticket's severity is its priority, and
the policy sets the hours each severity should be resolved in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqm.domain.events import TicketResolutionMissed
from sqm.domain.history import days_between
from sqm.domain.model import ProblemTicket, Severity, SupplierState
from sqm.domain.ports import Policy

SECONDS_PER_HOUR = 3600.0


def open_ticket(state: SupplierState, ticket_id: str) -> ProblemTicket | None:
    """The open ticket ``ticket_id`` as the state keeps it, if it is kept."""
    return next(
        (t for t in reversed(state.tickets) if t.ticket_id == ticket_id and t.resolved_at is None),
        None,
    )


def hours_between(earlier: datetime, later: datetime) -> float:
    """``later - earlier`` in hours."""
    return (later - earlier).total_seconds() / SECONDS_PER_HOUR


def missed_target(
    state: SupplierState, ticket_id: str, resolved_at: datetime, policy: Policy
) -> TicketResolutionMissed | None:
    """The miss of resolving ``ticket_id`` at ``resolved_at``, if it is past its target."""
    ticket = open_ticket(state, ticket_id)
    if ticket is None:
        return None  # opened before tickets were kept: its age is unknown
    target = policy.ticket_target_hours(ticket.severity)
    taken = hours_between(ticket.opened_at, resolved_at)
    if target is None or taken <= target:
        return None
    return TicketResolutionMissed(resolved_at, ticket_id, ticket.severity, target, taken)


def oldest_open_days(state: SupplierState, now: datetime) -> float:
    """Days the oldest open ticket has been open (0 when none is)."""
    opened = [t.opened_at for t in state.tickets if t.resolved_at is None]
    return max(days_between(min(opened), now), 0.0) if opened else 0.0


def overdue_open(
    state: SupplierState, now: datetime, target: Callable[[Severity], float | None]
) -> int:
    """Open tickets older at ``now`` than their severity's ``target`` hours."""
    return sum(
        1
        for t in state.tickets
        if t.resolved_at is None
        and (hours := target(t.severity)) is not None
        and hours_between(t.opened_at, now) > hours
    )


def last_resolved(state: SupplierState) -> ProblemTicket | None:
    """The ticket resolved most recently, if any is kept."""
    resolved = [t for t in state.tickets if t.resolved_at is not None]
    return max(resolved, key=lambda t: t.resolved_at or t.opened_at) if resolved else None


def misses_within(state: SupplierState, now: datetime, days: float) -> int:
    """Tickets resolved past their target in the ``days`` up to ``now``."""
    return sum(1 for at in state.ticket_misses if 0 <= days_between(at, now) <= days)
