"""The process records that do not consult the policy: market research, kick-off, resource
plans, problem tickets, training and compensation settlements, as events on the stream.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from sqm.domain.commands import (
    ClaimCompensation,
    Command,
    OpenProblemTicket,
    RecordKickOff,
    RecordMarketResearch,
    RecordTraining,
    ResolveProblemTicket,
    SettleCompensation,
    SubmitResourcePlan,
)
from sqm.domain.decide import decide
from sqm.domain.errors import IllegalTransition, InvalidCommand
from sqm.domain.events import (
    CompensationSettled,
    KickOffRecorded,
    MarketResearchRecorded,
    ProblemTicketOpened,
    ProblemTicketResolved,
    ResourcePlanSubmitted,
    TrainingRecorded,
)
from sqm.domain.model import Milestone, Money, Severity, SupplierState
from tests.fakes import DAY, SID, T0, FakePolicy, S, measure, run, supplier_in

AT = T0 + 10 * DAY
CLAIMED = Money(Decimal("1000.00"), "CNY")
COMPENSATION_ID = f"{SID}/penalty-1"


def violated(command: Command, state: SupplierState) -> list[str]:
    """The field paths ``command`` is refused for against ``state``."""
    with pytest.raises(InvalidCommand) as raised:
        decide(command, state, FakePolicy())
    return [v.field for v in raised.value.violations]


def with_compensation() -> SupplierState:
    """A contracted supplier with a 1000.00 CNY compensation in its ledger."""
    return run(supplier_in(S.CONTRACTED), ClaimCompensation(SID, CLAIMED, "outage", AT))


def cny(amount: str) -> Money:
    """An exact amount in CNY."""
    return Money(Decimal(amount), "CNY")


# --- market research ------------------------------------------------------------------------


@pytest.mark.parametrize("lifecycle", [S.CANDIDATE, S.QUALIFIED])
def test_market_research_is_recorded_for_a_candidate_or_qualified_supplier(lifecycle: S) -> None:
    """Capability, past performance and references land in one MarketResearchRecorded."""
    command = RecordMarketResearch(SID, "5G RAN", "on time for 3 operators", AT, ("CMCC",))
    events = decide(command, supplier_in(lifecycle), FakePolicy())
    assert events == [MarketResearchRecorded(AT, "5G RAN", "on time for 3 operators", ("CMCC",))]


def test_market_research_on_a_contracted_supplier_is_an_illegal_transition() -> None:
    """Research belongs to selection: a supplier under contract refuses it."""
    command = RecordMarketResearch(SID, "5G RAN", "fine", AT)
    with pytest.raises(IllegalTransition):
        decide(command, supplier_in(S.CONTRACTED), FakePolicy())


def test_market_research_names_every_empty_summary_and_reference() -> None:
    """Blank summaries and a blank reference are each named by their field path."""
    command = RecordMarketResearch(SID, " ", "", AT, ("ok", ""))
    assert violated(command, supplier_in(S.CANDIDATE)) == [
        "capability_summary",
        "past_performance_summary",
        "references[1]",
    ]


# --- kick-off and resource plan -------------------------------------------------------------


def test_a_kick_off_is_recorded_with_its_milestones() -> None:
    """Goals, milestones with due dates and responsibilities become one KickOffRecorded."""
    milestones = (Milestone("cut-over", AT + 30 * DAY),)
    command = RecordKickOff(SID, "go live by Q3", AT, milestones, "NOC owns alarms")
    events = decide(command, supplier_in(S.CONTRACTED), FakePolicy())
    assert events == [KickOffRecorded(AT, "go live by Q3", milestones, "NOC owns alarms")]


def test_a_kick_off_for_a_qualified_supplier_is_an_illegal_transition() -> None:
    """Delivery starts with a contract."""
    with pytest.raises(IllegalTransition):
        decide(RecordKickOff(SID, "goals", AT), supplier_in(S.QUALIFIED), FakePolicy())


def test_a_kick_off_names_empty_goals_and_a_nameless_milestone() -> None:
    """Empty goals and a milestone without a name are both named."""
    command = RecordKickOff(SID, "", AT, (Milestone(" ", AT + DAY),))
    assert violated(command, supplier_in(S.CONTRACTED)) == ["goals", "milestones[0].name"]


def test_a_milestone_due_time_without_a_zone_is_named() -> None:
    """A naive due time is refused like a naive occurred_at."""
    naive = (AT + DAY).replace(tzinfo=None)
    command = RecordKickOff(SID, "goals", AT, (Milestone("cut-over", naive),))
    assert violated(command, supplier_in(S.CONTRACTED)) == ["milestones[0].due_at"]


def test_a_resource_plan_is_recorded_for_a_supplier_under_contract() -> None:
    """The resources and summary become one ResourcePlanSubmitted."""
    command = SubmitResourcePlan(SID, ("2 engineers", "1 PM"), AT, "from week 1")
    events = decide(command, supplier_in(S.UNDER_REVIEW), FakePolicy())
    assert events == [ResourcePlanSubmitted(AT, ("2 engineers", "1 PM"), "from week 1")]


def test_a_resource_plan_without_resources_is_an_invalid_command() -> None:
    """A plan needs at least one resource."""
    assert violated(SubmitResourcePlan(SID, (), AT), supplier_in(S.CONTRACTED)) == ["resources"]


# --- problem tickets ------------------------------------------------------------------------


def test_an_opened_ticket_is_kept_open_until_resolved() -> None:
    """Opening adds the ticket id to the open tickets; resolving removes it."""
    opened = OpenProblemTicket(SID, "PT-1", "packet loss", Severity.MAJOR, AT)
    state = run(supplier_in(S.CONTRACTED), opened)
    assert state.open_tickets == {"PT-1"}
    resolved = run(state, ResolveProblemTicket(SID, "PT-1", "line card replaced", AT))
    assert resolved.open_tickets == frozenset()


def test_opening_a_ticket_records_its_severity() -> None:
    """The event carries the ticket id, summary and severity."""
    command = OpenProblemTicket(SID, "PT-1", "packet loss", Severity.CRITICAL, AT)
    events = decide(command, supplier_in(S.CONTRACTED), FakePolicy())
    assert events == [ProblemTicketOpened(AT, "PT-1", "packet loss", Severity.CRITICAL)]


def test_opening_a_ticket_that_is_already_open_names_ticket_id() -> None:
    """The same ticket cannot be open twice."""
    opened = OpenProblemTicket(SID, "PT-1", "packet loss", Severity.MINOR, AT)
    assert violated(opened, run(supplier_in(S.CONTRACTED), opened)) == ["ticket_id"]


def test_opening_a_ticket_before_the_contract_is_an_illegal_transition() -> None:
    """Problem handling is part of monitoring a supplier under contract."""
    command = OpenProblemTicket(SID, "PT-1", "packet loss", Severity.MINOR, AT)
    with pytest.raises(IllegalTransition):
        decide(command, supplier_in(S.CANDIDATE), FakePolicy())


def test_a_malformed_ticket_id_is_an_invalid_command() -> None:
    """Ticket ids follow the contract id pattern: no spaces."""
    command = OpenProblemTicket(SID, "PT 1", "packet loss", Severity.MINOR, AT)
    assert violated(command, supplier_in(S.CONTRACTED)) == ["ticket_id"]


def test_resolving_an_unknown_ticket_names_ticket_id() -> None:
    """Only an open ticket can be resolved."""
    command = ResolveProblemTicket(SID, "PT-9", "fixed", AT)
    assert violated(command, supplier_in(S.CONTRACTED)) == ["ticket_id"]


def test_resolving_a_ticket_twice_names_ticket_id() -> None:
    """A resolved ticket is no longer open."""
    opened = OpenProblemTicket(SID, "PT-1", "packet loss", Severity.MINOR, AT)
    resolve = ResolveProblemTicket(SID, "PT-1", "fixed", AT)
    state = run(supplier_in(S.CONTRACTED), opened, resolve)
    assert violated(resolve, state) == ["ticket_id"]


def test_resolving_a_ticket_records_the_resolution() -> None:
    """The event carries the ticket id and resolution."""
    opened = OpenProblemTicket(SID, "PT-1", "packet loss", Severity.MINOR, AT)
    state = run(supplier_in(S.CONTRACTED), opened)
    events = decide(ResolveProblemTicket(SID, "PT-1", "fixed", AT), state, FakePolicy())
    assert events == [ProblemTicketResolved(AT, "PT-1", "fixed")]


# --- training -------------------------------------------------------------------------------


def test_training_is_recorded_with_its_attendees() -> None:
    """Topic and attendee count become one TrainingRecorded."""
    events = decide(
        RecordTraining(SID, "incident handling", 12, AT), supplier_in(S.REMEDIATION), FakePolicy()
    )
    assert events == [TrainingRecorded(AT, "incident handling", 12)]


def test_training_without_attendees_is_an_invalid_command() -> None:
    """At least one person attends a training."""
    command = RecordTraining(SID, "", 0, AT)
    assert violated(command, supplier_in(S.CONTRACTED)) == ["topic", "attendees"]


def test_training_for_a_terminated_supplier_is_an_illegal_transition() -> None:
    """Training is for suppliers under contract."""
    with pytest.raises(IllegalTransition):
        decide(RecordTraining(SID, "x", 1, AT), supplier_in(S.TERMINATED), FakePolicy())


# --- settlements ----------------------------------------------------------------------------


def test_a_settlement_is_recorded_and_counted_against_the_compensation() -> None:
    """Two part payments add up in the state's settlements."""
    state = with_compensation()
    first = SettleCompensation(SID, COMPENSATION_ID, cny("400.00"), AT, "first part")
    events = decide(first, state, FakePolicy())
    assert events == [CompensationSettled(AT, COMPENSATION_ID, cny("400.00"), "first part")]
    later = AT + timedelta(hours=1)
    settled = run(state, first, SettleCompensation(SID, COMPENSATION_ID, cny("600.00"), later))
    assert settled.settlements == {COMPENSATION_ID: Decimal("1000.00")}


def test_settling_more_than_is_outstanding_names_amount() -> None:
    """After 400.00 of 1000.00 is paid, 600.01 is too much."""
    state = run(with_compensation(), SettleCompensation(SID, COMPENSATION_ID, cny("400.00"), AT))
    command = SettleCompensation(SID, COMPENSATION_ID, cny("600.01"), AT)
    assert violated(command, state) == ["amount"]


def test_settling_an_unknown_penalty_names_penalty_id() -> None:
    """Only an entry of the ledger can be settled."""
    command = SettleCompensation(SID, "nope", cny("1.00"), AT)
    assert violated(command, with_compensation()) == ["penalty_id"]


def test_settling_a_service_credit_names_penalty_id() -> None:
    """Service credits are deducted from fees, not settled as compensation."""
    state = run(supplier_in(S.CONTRACTED), measure(98.5, AT))
    (credit,) = state.penalties
    assert credit.kind == "service_credit"
    command = SettleCompensation(SID, credit.penalty_id, cny("1.00"), AT)
    assert violated(command, state) == ["penalty_id"]


def test_settling_in_another_currency_names_the_amounts_currency() -> None:
    """The settlement is in the compensation's (the contract's) currency."""
    command = SettleCompensation(SID, COMPENSATION_ID, Money(Decimal("1.00"), "USD"), AT)
    assert violated(command, with_compensation()) == ["amount.currency"]


def test_a_settlement_of_nothing_is_an_invalid_command() -> None:
    """A settled amount is positive."""
    command = SettleCompensation(SID, COMPENSATION_ID, cny("0.00"), AT)
    assert violated(command, with_compensation()) == ["amount.amount"]
