"""The supplier's own commands: notices acknowledged once, service credits disputed once, and
the operator's decision, an accepted one reversing the credit in the ledger.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from sqm.domain.commands import (
    AcknowledgeNotice,
    ClaimCompensation,
    ConcludeReview,
    DecidePenaltyDispute,
    DisputeOutcome,
    DisputePenalty,
    OpenReview,
    RegisterSupplier,
    ReviewOutcome,
)
from sqm.domain.decide import decide
from sqm.domain.errors import InvalidCommand
from sqm.domain.events import (
    NoticeAcknowledged,
    PenaltyDisputed,
    PenaltyDisputeDecided,
    PenaltyReversed,
)
from sqm.domain.history import credited
from sqm.domain.model import Breach, Money, Severity, SupplierState
from sqm.domain.supplier_side import (
    NoticeAlreadyAcknowledged,
    NoticeNotFound,
    PenaltyAlreadyDisputed,
    PenaltyNotDisputed,
    credit_note,
)
from sqm.rules.model import CreditSchedule
from sqm.rules.penalties import quote_service_credit
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.memory import MemoryEventStore
from tests.fakes import (
    DAY,
    SID,
    T0,
    FakePolicy,
    S,
    measure,
    passing_evidence,
    run,
    sign,
    supplier_in,
)

AT = T0 + 10 * DAY
LATER = AT + DAY
GROUNDS = "the outage fell in the operator's announced maintenance window"


def with_credit() -> tuple[SupplierState, str]:
    """A contracted supplier with one service credit in its ledger, and the credit's id."""
    state = run(supplier_in(S.CONTRACTED), measure(98.5, AT))
    (credit,) = state.penalties
    assert credit.kind == "service_credit"
    return state, credit.penalty_id


def disputed() -> tuple[SupplierState, str]:
    """The supplier of :func:`with_credit`, its credit disputed."""
    state, credit = with_credit()
    return run(state, DisputePenalty(SID, credit, GROUNDS, AT)), credit


# --- notices ----------------------------------------------------------------------------


def test_a_notice_is_acknowledged_with_its_sequence_and_type() -> None:
    """The acknowledgement names the notice's event and is kept in the state."""
    command = AcknowledgeNotice(SID, 12, "ReminderIssued", AT)
    assert decide(command, supplier_in(S.CONTRACTED), FakePolicy()) == [
        NoticeAcknowledged(AT, 12, "ReminderIssued")
    ]
    assert run(supplier_in(S.CONTRACTED), command).acknowledged_notices == {12}


def test_a_notice_acknowledged_before_is_refused_the_second_time() -> None:
    """A second acknowledgement (another request) would say nothing new."""
    state = run(supplier_in(S.CONTRACTED), AcknowledgeNotice(SID, 12, "ReviewOpened", AT))
    with pytest.raises(NoticeAlreadyAcknowledged):
        decide(AcknowledgeNotice(SID, 12, "ReviewOpened", LATER), state, FakePolicy())


# --- disputes ---------------------------------------------------------------------------


def test_a_service_credit_is_disputed_with_the_grounds_given() -> None:
    """The dispute is recorded and the credit's dispute is open."""
    state, credit = with_credit()
    command = DisputePenalty(SID, credit, GROUNDS, AT)
    assert decide(command, state, FakePolicy()) == [PenaltyDisputed(AT, credit, GROUNDS)]
    assert run(state, command).penalty_disputes == {credit: "open"}


def test_disputing_an_unknown_penalty_names_penalty_id() -> None:
    """Only a credit of the ledger can be disputed."""
    state, _ = with_credit()
    with pytest.raises(InvalidCommand) as raised:
        decide(DisputePenalty(SID, f"{SID}/penalty-9", GROUNDS, AT), state, FakePolicy())
    assert [v.field for v in raised.value.violations] == ["penalty_id"]


def test_a_penalty_is_disputed_once() -> None:
    """A second dispute of the same credit is refused, open or decided."""
    state, credit = disputed()
    with pytest.raises(PenaltyAlreadyDisputed):
        decide(DisputePenalty(SID, credit, "again", LATER), state, FakePolicy())


def test_an_upheld_dispute_leaves_the_credit_standing() -> None:
    """Upheld: the decision is recorded and the ledger is unchanged."""
    state, credit = disputed()
    command = DecidePenaltyDispute(SID, credit, DisputeOutcome.UPHELD, LATER, "SLA breach stands")
    assert decide(command, state, FakePolicy()) == [
        PenaltyDisputeDecided(LATER, credit, DisputeOutcome.UPHELD, "SLA breach stands")
    ]
    after = run(state, command)
    assert after.penalties == state.penalties
    assert after.penalty_disputes == {credit: "upheld"}


def test_an_accepted_dispute_reverses_the_credit_with_a_credit_note() -> None:
    """Accepted: a credit note of the opposite amount in the same period nets the credit out."""
    state, credit = disputed()
    command = DecidePenaltyDispute(SID, credit, DisputeOutcome.ACCEPTED, LATER)
    (original,) = state.penalties
    assert decide(command, state, FakePolicy()) == [
        PenaltyDisputeDecided(LATER, credit, DisputeOutcome.ACCEPTED),
        PenaltyReversed(LATER, credit, credit_note(original, LATER)),
    ]
    after = run(state, command)
    note = after.penalties[-1]
    assert (note.penalty_id, note.period, note.amount.amount) == (
        f"{credit}/reversal",
        original.period,
        -original.amount.amount,
    )
    assert credited(after.penalties, "service_credit", original.period) == Decimal("0.00")
    assert credited(after.penalties, "service_credit") == Decimal("0.00")


def test_a_reversed_credit_no_longer_uses_up_the_period_cap() -> None:
    """The next breach's credit is quoted with the whole period cap free again."""
    state, credit = disputed()
    schedule = CreditSchedule(
        ((Severity.MINOR, Decimal(100)), (Severity.MAJOR, Decimal(100)),
         (Severity.CRITICAL, Decimal(100))),
        (Decimal(1),), Decimal(1), Decimal(100),
    )  # fmt: skip
    breach = Breach("availability", state.breaches[0].metric, Severity.MAJOR, 98.0, 99.9,
                    1.9, LATER, LATER)  # fmt: skip
    assert quote_service_credit(schedule, state, breach, LATER).amount.amount == 0
    reversed_ = run(state, DecidePenaltyDispute(SID, credit, DisputeOutcome.ACCEPTED, LATER))
    fee = reversed_.contract.monthly_fee.amount if reversed_.contract else Decimal(0)
    quoted = quote_service_credit(schedule, reversed_, breach, LATER).amount.amount
    assert quoted == (fee / 100).quantize(Decimal("0.01"))


def test_a_decision_on_an_undisputed_penalty_is_refused() -> None:
    """Never disputed, or already decided: there is no open dispute to decide."""
    state, credit = with_credit()
    with pytest.raises(PenaltyNotDisputed, match="never disputed"):
        decide(DecidePenaltyDispute(SID, credit, DisputeOutcome.UPHELD, AT), state, FakePolicy())
    decided, _ = disputed()
    decided = run(decided, DecidePenaltyDispute(SID, credit, DisputeOutcome.UPHELD, LATER))
    with pytest.raises(PenaltyNotDisputed, match="already decided"):
        decide(
            DecidePenaltyDispute(SID, credit, DisputeOutcome.ACCEPTED, LATER),
            decided,
            FakePolicy(),
        )


def test_a_credit_note_cannot_itself_be_disputed() -> None:
    """Only a credit assessed against the supplier is disputed, not its reversal."""
    state, credit = disputed()
    state = run(state, DecidePenaltyDispute(SID, credit, DisputeOutcome.ACCEPTED, LATER))
    with pytest.raises(InvalidCommand):
        decide(DisputePenalty(SID, f"{credit}/reversal", GROUNDS, LATER), state, FakePolicy())


def test_a_compensation_is_not_disputed_as_a_credit() -> None:
    """Compensation claims are settled, not disputed through this path."""
    state = run(
        supplier_in(S.CONTRACTED),
        ClaimCompensation(SID, Money(Decimal("10.00"), "CNY"), "loss", AT),
    )
    with pytest.raises(InvalidCommand):
        decide(DisputePenalty(SID, f"{SID}/penalty-1", GROUNDS, AT), state, FakePolicy())


# --- looking a notice up ------------------------------------------------------------------


def remediating() -> tuple[SupplierService, MemoryEventStore]:
    """A service whose supplier SID was put in remediation, and ``other-co`` registered."""
    store = MemoryEventStore()
    service = SupplierService(store, FakePolicy)
    commands = [
        RegisterSupplier(SID, "ACME", "software", T0),
        passing_evidence(),
        sign(),
        OpenReview(SID, "three breaches", T0 + 2 * DAY),
        ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, T0 + 3 * DAY),
        RegisterSupplier("other-co", "Other", "software", T0),
    ]
    for number, command in enumerate(commands):
        service.execute(command, RequestContext(f"r-{number}", "procurement"))
    return service, store


def test_a_notice_is_found_by_its_sequence_among_the_suppliers_own_events() -> None:
    """The plan required of the supplier is one of its notices."""
    service, store = remediating()
    (required,) = [e for e in store.read_all() if e.event_type == "ImprovementPlanRequired"]
    assert service.notice(SID, required.global_seq) == required


@pytest.mark.parametrize("which", ["not a notice", "another supplier's", "past the end", "zero"])
def test_anything_but_one_of_its_notices_is_not_found(which: str) -> None:
    """A registration, another supplier's notice or a sequence nobody has: NOTICE_NOT_FOUND."""
    service, store = remediating()
    events = store.read_all()
    required = next(e for e in events if e.event_type == "ImprovementPlanRequired")
    supplier, sequence = {
        "not a notice": (SID, events[0].global_seq),
        "another supplier's": ("other-co", required.global_seq),
        "past the end": (SID, events[-1].global_seq + 1),
        "zero": (SID, 0),
    }[which]
    with pytest.raises(NoticeNotFound):
        service.notice(supplier, sequence)
