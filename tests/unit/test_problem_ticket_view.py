"""A supplier's problem tickets (问题单) on the Supplier resource: open and resolved, with the
review a ticket led to, and due as the active policy's resolution target (解决时限) dates them;
only in the FULL view.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import attrs
from google.protobuf import timestamp_pb2

from sqm.client.cli_output import supplier_text
from sqm.domain.model import ProblemTicket, Severity, SupplierState
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.domain.segments import Segment
from sqm.rules.pack_catalogue import default_catalogue
from sqm.server.api import mapping
from sqm.server.api.resource_mapping import problem_ticket
from sqm.v1 import resources_pb2 as pb
from tests.fakes import DAY, SIGNED_AT, FakePolicy, S, supplier_in

HOUR = timedelta(hours=1)
OPENED = SIGNED_AT + 3 * DAY
OPEN = ProblemTicket("PT-2", Severity.CRITICAL, OPENED + 2 * HOUR)
RESOLVED = ProblemTicket("PT-1", Severity.MAJOR, OPENED, resolved_at=OPENED + 30 * HOUR)
REVIEWED = attrs.evolve(RESOLVED, review_opened_at=OPENED + 30 * HOUR)


@attrs.frozen
class Targets:
    """Active terms whose pack sets resolution targets for some severities only."""

    hours: Mapping[Severity, float]

    @property
    def catalogue(self) -> PackCatalogue:
        """The default pack's catalogue."""
        return default_catalogue()

    @property
    def segments(self) -> tuple[Segment, ...]:
        """No segments."""
        return ()

    def ticket_target_hours(self, severity: Severity) -> float | None:
        """The hours set for ``severity``, None for the others."""
        return self.hours.get(severity)


def at(stamp: timestamp_pb2.Timestamp) -> datetime:
    """A set Timestamp as an aware datetime."""
    return stamp.ToDatetime(tzinfo=UTC)


def with_tickets(*tickets: ProblemTicket) -> SupplierState:
    """A contracted supplier keeping ``tickets`` (oldest first, as the state keeps them)."""
    return attrs.evolve(
        supplier_in(S.CONTRACTED),
        tickets=tickets,
        open_tickets=frozenset(t.ticket_id for t in tickets if t.resolved_at is None),
    )


def test_an_open_ticket_has_its_open_time_and_due_time_and_no_resolve_time() -> None:
    """Critical: due 4 hours after it was opened under the fake policy's targets."""
    shown = problem_ticket(OPEN, FakePolicy())
    assert (shown.ticket_id, shown.severity) == ("PT-2", pb.SEVERITY_CRITICAL)
    assert at(shown.open_time) == OPEN.opened_at
    assert at(shown.resolution_due_time) == OPEN.opened_at + 4 * HOUR
    assert not shown.HasField("resolve_time")
    assert not shown.HasField("review_open_time")


def test_a_resolved_ticket_has_its_resolve_time_and_a_reviewed_one_its_review_time() -> None:
    """Major: due 24 hours after opening; resolved at 30 hours, past it."""
    resolved = problem_ticket(RESOLVED, FakePolicy())
    assert at(resolved.resolve_time) == OPENED + 30 * HOUR
    assert at(resolved.resolution_due_time) == OPENED + 24 * HOUR
    assert not resolved.HasField("review_open_time")
    reviewed = problem_ticket(REVIEWED, FakePolicy())
    assert at(reviewed.review_open_time) == OPENED + 30 * HOUR


def test_no_due_time_for_a_severity_the_pack_sets_no_target_for_nor_without_terms() -> None:
    """Only the major ticket's severity has a target here; without terms, no ticket has one."""
    terms = Targets({Severity.MAJOR: 8.0})
    assert at(problem_ticket(RESOLVED, terms).resolution_due_time) == OPENED + 8 * HOUR
    assert not problem_ticket(OPEN, terms).HasField("resolution_due_time")
    assert not problem_ticket(OPEN).HasField("resolution_due_time")


def test_the_full_view_lists_the_tickets_in_the_order_opened_and_the_basic_view_none() -> None:
    """Both tickets, open and resolved, oldest first; BASIC carries name, state, etag only."""
    state = with_tickets(REVIEWED, OPEN)
    full = mapping.supplier(state, pb.SUPPLIER_VIEW_FULL, FakePolicy())
    assert [t.ticket_id for t in full.problem_tickets] == ["PT-1", "PT-2"]
    assert [t.HasField("resolve_time") for t in full.problem_tickets] == [True, False]
    assert full.problem_tickets[1] == problem_ticket(OPEN, FakePolicy())
    basic = mapping.supplier(state, pb.SUPPLIER_VIEW_BASIC, FakePolicy())
    assert not basic.problem_tickets


def test_supplier_get_prints_the_tickets_marking_one_resolved_late() -> None:
    """One line a ticket under ``problem tickets:``; unset times print as ``-``."""
    state = with_tickets(REVIEWED, OPEN)
    text = supplier_text(mapping.supplier(state, pb.SUPPLIER_VIEW_FULL, Targets({})))
    assert "problem tickets:\n  TICKET  SEVERITY  OPENED" in text
    assert "  PT-2    critical  2025-03-05T11:00:00Z  -    -                     -" in text
    text = supplier_text(mapping.supplier(state, pb.SUPPLIER_VIEW_FULL, FakePolicy()))
    late = "2025-03-05T09:00:00Z  2025-03-06T09:00:00Z  2025-03-06T15:00:00Z late"
    assert f"  PT-1    major     {late}  2025-03-06T15:00:00Z" in text
    assert "problem tickets" not in supplier_text(mapping.supplier(supplier_in(S.CONTRACTED)))
