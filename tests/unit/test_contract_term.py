"""The contract's term: it ends on its end date at the next tick, and nothing is recorded
under it afterwards.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from sqm.domain.commands import (
    AdvanceTime,
    ClaimCompensation,
    CloseCorrectiveAction,
    Command,
    CompleteImprovementPlan,
    ConcludeReview,
    OpenProblemTicket,
    OpenReview,
    RecordDocument,
    RecordInspection,
    RecordMeasurement,
    RecordMissedImprovementDeadline,
    ResolveProblemTicket,
    ReviewOutcome,
    SignContract,
    SubmitImprovementPlan,
    SubmitSelfCheck,
    VerifyRemediation,
)
from sqm.domain.decide import decide
from sqm.domain.errors import ClaimOutsideWindow, ContractExpired, IllegalTransition
from sqm.domain.events import ContractEnded, LifecycleTransitioned, PenaltyAssessed
from sqm.domain.model import Money, Severity, SupplierState
from sqm.domain.ports import RecordedEvent
from sqm.domain.serialization import event_to_payload
from sqm.rules.pack_catalogue import default_catalogue
from sqm.simulation.backtest import command_from
from tests.fakes import (
    DAY,
    FEE,
    LIABILITY,
    SID,
    SIGNED_AT,
    FakePolicy,
    S,
    measure,
    run,
    supplier_in,
)

CLAIMED = Money(Decimal("1000.00"), "CNY")
ENDS_AT = SIGNED_AT + 365 * DAY
"""``sign()``'s contract runs a year from its signing."""


SHORT_END = SIGNED_AT + 90 * DAY
"""The end of a quarter's contract, well within the fake licence's validity."""


def ended(lifecycle: S = S.CONTRACTED) -> SupplierState:
    """A supplier in ``lifecycle`` whose contract was ended by the tick a day after its end."""
    return run(supplier_in(lifecycle), AdvanceTime(SID, ENDS_AT + DAY))


def quarter_ended() -> SupplierState:
    """A supplier whose quarter's contract (``ct-q``) ended at SHORT_END, ticked a day later."""
    quarter = SignContract(SID, "ct-q", SIGNED_AT, FEE, LIABILITY, ends_at=SHORT_END)
    return run(supplier_in(S.QUALIFIED), quarter, AdvanceTime(SID, SHORT_END + DAY))


@pytest.mark.parametrize("lifecycle", [S.CONTRACTED, S.UNDER_REVIEW, S.REMEDIATION])
def test_the_tick_after_the_end_returns_the_supplier_to_qualified(lifecycle: S) -> None:
    """ContractEnded, then expire_contract to qualified, from every state under contract."""
    events = decide(AdvanceTime(SID, ENDS_AT + DAY), supplier_in(lifecycle), FakePolicy())
    assert events[0] == ContractEnded(ENDS_AT + DAY, "ct-1", ENDS_AT)
    moved = events[1]
    assert isinstance(moved, LifecycleTransitioned)
    assert (moved.trigger, moved.from_state, moved.to_state) == (
        "expire_contract",
        lifecycle,
        S.QUALIFIED,
    )


def test_a_tick_before_the_end_leaves_the_contract_running() -> None:
    """A second before the end, nothing ends."""
    state = run(supplier_in(S.CONTRACTED), AdvanceTime(SID, ENDS_AT - DAY))
    assert state.lifecycle is S.CONTRACTED


def test_the_ended_contract_stays_on_file_and_its_review_and_plan_close() -> None:
    """The contract is kept (claims refer to it); the open review and plan end with it."""
    state = ended(S.REMEDIATION)
    assert state.contract is not None
    assert state.contract.contract_id == "ct-1"
    assert state.review is None
    assert state.plan is None


def test_a_measurement_of_a_period_past_the_end_is_refused_before_the_tick() -> None:
    """Still contracted (no tick yet), a period ending after the end date is CONTRACT_ENDED."""
    with pytest.raises(ContractExpired) as refused:
        decide(measure(99.0, ENDS_AT + DAY), supplier_in(S.CONTRACTED), FakePolicy())
    assert refused.value.reason == "CONTRACT_ENDED"
    assert refused.value.contract_id == "ct-1"


def test_a_measurement_within_the_term_is_still_recorded_before_the_tick() -> None:
    """A period ending on the end date belongs to the contract."""
    events = decide(measure(99.99, ENDS_AT), supplier_in(S.CONTRACTED), FakePolicy())
    assert type(events[0]).__name__ == "MeasurementRecorded"


@pytest.mark.parametrize(
    "command",
    [
        RecordMeasurement(
            SID,
            "availability",
            99.0,
            "percent",
            SHORT_END - 30 * DAY,
            SHORT_END,
            SHORT_END + 2 * DAY,
        ),
        RecordInspection(SID, True, SHORT_END + 2 * DAY),
        SubmitSelfCheck(SID, True, SHORT_END + 2 * DAY),
    ],
    ids=["late-measurement", "inspection", "self-check"],
)
def test_records_after_the_contract_ended_are_refused_as_contract_ended(
    command: object,
) -> None:
    """Once the contract ended, records about its delivery name the end, not the state."""
    with pytest.raises(ContractExpired):
        decide(command, quarter_ended(), FakePolicy())  # type: ignore[arg-type]


AFTER_END = ENDS_AT + DAY
"""A day past ``sign()``'s end date, before any tick has ended the contract."""


@pytest.mark.parametrize(
    ("lifecycle", "command"),
    [
        (S.CONTRACTED, OpenReview(SID, "late complaint", AFTER_END)),
        (S.UNDER_REVIEW, ConcludeReview(SID, ReviewOutcome.CLEARED, AFTER_END)),
        (S.UNDER_REVIEW, ConcludeReview(SID, ReviewOutcome.FAILED, AFTER_END)),
        (S.REMEDIATION, SubmitImprovementPlan(SID, ("more staff",), "ops", AFTER_END)),
        (S.REMEDIATION, CompleteImprovementPlan(SID, AFTER_END)),
        (S.REMEDIATION, VerifyRemediation(SID, AFTER_END)),
        (S.REMEDIATION, RecordMissedImprovementDeadline(SID, AFTER_END)),
        (S.REMEDIATION, CloseCorrectiveAction(SID, AFTER_END)),
    ],
    ids=[
        "open-review",
        "clear",
        "fail",
        "submit-plan",
        "complete-plan",
        "verify",
        "miss",
        "close-corrective-action",
    ],
)
def test_commands_on_the_contract_in_force_are_refused_after_its_end_before_the_tick(
    lifecycle: S, command: Command
) -> None:
    """A review or plan step past the end date is CONTRACT_ENDED, as a record would be,
    although no tick has ended the contract yet (nothing is recorded).
    """
    with pytest.raises(ContractExpired) as refused:
        decide(command, supplier_in(lifecycle), FakePolicy())
    assert refused.value.contract_id == "ct-1"


def test_a_review_opened_on_the_end_date_itself_is_still_within_the_term() -> None:
    """The term's last moment counts as within it, as for records."""
    events = decide(OpenReview(SID, "last day", ENDS_AT), supplier_in(S.CONTRACTED), FakePolicy())
    assert type(events[0]).__name__ == "ReviewOpened"


def test_after_the_end_the_lifecycle_answers_once_the_tick_ended_the_contract() -> None:
    """Once ended (qualified again), opening a review is an illegal move, not a term matter."""
    with pytest.raises(IllegalTransition):
        decide(OpenReview(SID, "late", AFTER_END + DAY), ended(), FakePolicy())


def test_what_follows_a_contract_is_still_accepted_after_its_end_before_the_tick() -> None:
    """Closing a ticket, archiving a document: kept, and the ticket not judged (no rules run,
    no missed target) since the contract it was about has ended.
    """
    opened = OpenProblemTicket(SID, "t-1", "link down", Severity.MAJOR, ENDS_AT - 10 * DAY)
    state = run(supplier_in(S.CONTRACTED), opened)
    resolved = decide(ResolveProblemTicket(SID, "t-1", "fixed", AFTER_END), state, FakePolicy())
    assert [type(e).__name__ for e in resolved] == ["ProblemTicketResolved"]
    document = RecordDocument(
        SID, "0" * 32, "handover.pdf", "application/pdf", "a" * 64, 10, AFTER_END
    )
    archived = decide(document, state, FakePolicy())
    assert [type(e).__name__ for e in archived] == ["DocumentArchived"]


def test_a_terminated_supplier_is_refused_by_the_lifecycle_not_the_term() -> None:
    """Termination ended the contract first: the refusal is ILLEGAL_TRANSITION as before."""
    with pytest.raises(IllegalTransition):
        decide(RecordInspection(SID, True, ENDS_AT + DAY), supplier_in(S.TERMINATED), FakePolicy())


def test_a_new_contract_after_the_end_is_signed_as_a_renewal() -> None:
    """The supplier is qualified again: a new contract makes it contracted."""
    renewal = SignContract(SID, "ct-2", SHORT_END + 2 * DAY, FEE, LIABILITY)
    state = run(quarter_ended(), renewal)
    assert state.lifecycle is S.CONTRACTED
    assert state.contract is not None
    assert state.contract.contract_id == "ct-2"


# --- the compensation claim window ------------------------------------------------------------


def claim(filed_at: datetime, loss_at: datetime | None = None) -> ClaimCompensation:
    """A claim for 1000.00 CNY filed at ``filed_at`` for a loss at ``loss_at``."""
    return ClaimCompensation(SID, CLAIMED, "outage", filed_at, loss_at)


def test_a_claim_within_the_window_after_the_contract_ended_is_assessed() -> None:
    """A loss in the term's last days, claimed after the end but within 90 days of it."""
    events = decide(claim(SHORT_END + 30 * DAY, SHORT_END - DAY), quarter_ended(), FakePolicy())
    assert [type(e).__name__ for e in events] == ["PenaltyAssessed"]


def test_a_claim_filed_after_the_window_is_refused_naming_the_deadline() -> None:
    """Filed 91 days after the loss: CLAIM_OUTSIDE_WINDOW on occurred_at, limit loss + 90."""
    loss = SHORT_END - DAY
    with pytest.raises(ClaimOutsideWindow) as refused:
        decide(claim(loss + 91 * DAY, loss), quarter_ended(), FakePolicy())
    assert refused.value.reason == "CLAIM_OUTSIDE_WINDOW"
    assert refused.value.field == "occurred_at"
    assert refused.value.limit == (loss + 90 * DAY).isoformat()
    assert "within 90 days" in str(refused.value)


def test_a_loss_outside_the_contract_term_is_refused_naming_the_loss_date() -> None:
    """A loss after the end date is not the contract's: refused on loss_at with the term."""
    with pytest.raises(ClaimOutsideWindow) as refused:
        decide(claim(SHORT_END + 5 * DAY, SHORT_END + DAY), quarter_ended(), FakePolicy())
    assert refused.value.field == "loss_at"
    assert "outside contract 'ct-q'" in str(refused.value)


def test_a_claim_without_a_loss_date_takes_the_loss_at_its_own_time() -> None:
    """No loss date: the claim's time is the loss's, so a claim after the end is refused."""
    with pytest.raises(ClaimOutsideWindow):
        decide(claim(SHORT_END + 5 * DAY), quarter_ended(), FakePolicy())


def test_a_claim_s_loss_time_is_kept_in_the_ledger_basis() -> None:
    """The basis names the loss time, so the claim can be replayed as it was made."""
    loss = SHORT_END - DAY
    (assessed,) = decide(claim(SHORT_END + 30 * DAY, loss), quarter_ended(), FakePolicy())
    assert isinstance(assessed, PenaltyAssessed)
    assert f"claimed 1000.00 CNY (loss at {loss.isoformat()});" in assessed.basis


def test_a_backtest_replays_a_claim_with_its_loss_time() -> None:
    """The command rebuilt from the ledger entry is the claim as it was made."""
    made = claim(SHORT_END + 30 * DAY, SHORT_END - DAY)
    (assessed,) = decide(made, quarter_ended(), FakePolicy())
    at = assessed.occurred_at
    recorded = RecordedEvent(
        1, SID, 9, "PenaltyAssessed", event_to_payload(assessed), at, at, "a", "r", "v", "", ""
    )
    assert command_from(SID, recorded, assessed, default_catalogue()) == made
