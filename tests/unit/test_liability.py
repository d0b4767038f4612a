"""Liability: service credits for breaches and compensation for losses, entered in the ledger
as the policy's schedule quotes them, against the supplier's contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest

from sqm.domain.commands import ClaimCompensation, ConcludeReview, ReviewOutcome
from sqm.domain.decide import decide
from sqm.domain.errors import IllegalTransition, InvalidCommand
from sqm.domain.events import DecisionRecorded, PenaltyAssessed
from sqm.domain.model import (
    Breach,
    LifecycleState,
    Money,
    Penalty,
    SupplierState,
)
from sqm.domain.ports import PenaltyQuote
from tests.fakes import (
    DAY,
    FAKE_OBJECTIVE,
    PENALTY_RULE_ID,
    SID,
    SIGNED_AT,
    FakePolicy,
    S,
    measure,
    run,
    sign,
    supplier_in,
)

AT = datetime(2025, 4, 10, 8, 0, tzinfo=UTC)  # some 40 days after T0, in April
CNY = "CNY"


def cny(amount: str) -> Money:
    """An exact amount in CNY."""
    return Money(Decimal(amount), CNY)


@attrs.define
class CappedPolicy(FakePolicy):
    """FakePolicy whose schedule caps every credit at 500.00 and every claim at 1000.00."""

    def quote_service_credit(
        self, supplier: SupplierState, breach: Breach, now: datetime
    ) -> PenaltyQuote:
        """500.00 CNY, capped per period."""
        return PenaltyQuote(cny("500.00"), "period", "2% of 100000.00 CNY, capped at 500.00")

    def quote_compensation(
        self, supplier: SupplierState, claimed: Money, now: datetime
    ) -> PenaltyQuote:
        """At most 1000.00 CNY, capped by the liability limit."""
        capped = min(claimed.amount, Decimal("1000.00"))
        cap = "liability_limit" if capped < claimed.amount else ""
        return PenaltyQuote(Money(capped, claimed.currency), cap, "up to the liability limit")


def penalties_in(events: Sequence[object]) -> list[PenaltyAssessed]:
    """The PenaltyAssessed events among ``events``."""
    return [e for e in events if isinstance(e, PenaltyAssessed)]


# --- service credits ------------------------------------------------------------------------


def test_a_breach_outside_grace_enters_a_service_credit_in_the_ledger() -> None:
    """A major breach: 2% of the 100000.00 CNY fee, for April, by the rule that fired."""
    events = decide(measure(98.5, AT), supplier_in(S.CONTRACTED), FakePolicy())
    (assessed,) = penalties_in(events)
    assert assessed == PenaltyAssessed(
        AT,
        Penalty(
            penalty_id=f"{SID}/penalty-1",
            kind="service_credit",
            contract_id="ct-1",
            amount=cny("2000.00"),
            period="2025-04",
            rule_id=PENALTY_RULE_ID,
            cap_applied="",
            assessed_at=AT,
            objective_id="availability",
        ),
        "2% of 100000.00 CNY",
    )
    recorded = events[events.index(assessed) - 1]
    assert isinstance(recorded, DecisionRecorded)
    assert recorded.decision.rule_id == PENALTY_RULE_ID


def test_the_amount_cap_and_basis_are_the_policys_quote() -> None:
    """The domain enters what the schedule quotes: amount, which cap applied, and why."""
    events = decide(measure(94.0, AT), supplier_in(S.CONTRACTED), CappedPolicy())
    (assessed,) = penalties_in(events)
    assert (assessed.penalty.amount, assessed.penalty.cap_applied) == (cny("500.00"), "period")
    assert assessed.basis == "2% of 100000.00 CNY, capped at 500.00"


def test_penalties_accumulate_in_the_ledger_with_numbered_ids() -> None:
    """Each credit gets the next id; the ledger keeps them in order with their periods."""
    state = run(
        supplier_in(S.CONTRACTED),
        measure(99.5, AT),
        measure(98.5, datetime(2025, 5, 10, tzinfo=UTC)),
    )
    assert [(p.penalty_id, p.amount, p.period) for p in state.penalties] == [
        (f"{SID}/penalty-1", cny("1000.00"), "2025-04"),
        (f"{SID}/penalty-2", cny("2000.00"), "2025-05"),
    ]


def test_a_breach_within_the_grace_period_is_recorded_but_not_penalised() -> None:
    """Grace of 30 days: a breach for a period ending on day 20 is kept, no credit follows."""
    graceful = attrs.evolve(FAKE_OBJECTIVE, grace_days=30)
    state = run(supplier_in(S.QUALIFIED), sign(graceful))
    early = decide(measure(98.5, SIGNED_AT + 20 * DAY), state, FakePolicy())
    assert penalties_in(early) == []
    assert not any(isinstance(e, DecisionRecorded) for e in early)
    late = decide(measure(98.5, SIGNED_AT + 30 * DAY), state, FakePolicy())
    assert len(penalties_in(late)) == 1


def test_a_penalty_is_assessed_in_every_state_under_contract() -> None:
    """Under review or in remediation, breaches still cost credits."""
    for lifecycle in (S.UNDER_REVIEW, S.REMEDIATION):
        assert penalties_in(decide(measure(99.5, AT), supplier_in(lifecycle), FakePolicy()))


# --- compensation ---------------------------------------------------------------------------


def test_a_compensation_claim_enters_the_quoted_amount_in_the_ledger() -> None:
    """A claim in the contract's currency: a compensation entry, no rule, basis with the claim."""
    policy = FakePolicy()
    claim = ClaimCompensation(SID, cny("8000.00"), "core outage on 3 April", AT)
    events = decide(claim, supplier_in(S.CONTRACTED), policy)
    assert events == [
        PenaltyAssessed(
            AT,
            Penalty(
                f"{SID}/penalty-1", "compensation", "ct-1", cny("8000.00"), "2025-04", "", "", AT
            ),
            "core outage on 3 April: claimed 8000.00 CNY; claimed amount",
        )
    ]
    assert policy.contexts == []  # compensation is priced, not judged by rules


def test_a_claim_above_the_liability_limit_is_capped_by_the_quote() -> None:
    """The schedule's cap applies and is named in the ledger."""
    claim = ClaimCompensation(SID, cny("2500000.00"), "fibre cut", AT)
    (assessed,) = decide(claim, supplier_in(S.CONTRACTED), CappedPolicy())
    assert isinstance(assessed, PenaltyAssessed)
    assert (assessed.penalty.amount, assessed.penalty.cap_applied) == (
        cny("1000.00"),
        "liability_limit",
    )
    assert "claimed 2500000.00 CNY" in assessed.basis


def test_compensation_is_only_in_the_contracts_currency() -> None:
    """A claim in USD against a CNY contract names amount.currency and the contract's currency."""
    claim = ClaimCompensation(SID, Money(Decimal("100.00"), "USD"), "losses", AT)
    with pytest.raises(InvalidCommand) as raised:
        decide(claim, supplier_in(S.CONTRACTED), FakePolicy())
    (violation,) = raised.value.violations
    assert violation.field == "amount.currency"
    assert CNY in violation.description


@pytest.mark.parametrize("lifecycle", [S.CANDIDATE, S.QUALIFIED, S.TERMINATED])
def test_compensation_needs_a_contract(lifecycle: LifecycleState) -> None:
    """Without a contract there is nothing to claim against: IllegalTransition with the state."""
    claim = ClaimCompensation(SID, cny("100.00"), "losses", AT)
    with pytest.raises(IllegalTransition) as raised:
        decide(claim, supplier_in(lifecycle), FakePolicy())
    assert raised.value.current_state == lifecycle.value
    assert raised.value.trigger == "claim_compensation (no contract)"


def test_losses_can_be_claimed_under_a_contract_that_ended_in_termination() -> None:
    """A failed review ends the contract, not the supplier's liability for losses it caused."""
    state = run(supplier_in(S.UNDER_REVIEW), ConcludeReview(SID, ReviewOutcome.FAILED, AT))
    assert state.lifecycle is S.TERMINATED
    claim = ClaimCompensation(SID, cny("100.00"), "losses before termination", AT + DAY)
    assert run(state, claim).penalties[-1].kind == "compensation"


def test_service_credits_and_compensation_share_one_numbered_ledger() -> None:
    """Ids count every entry, whatever its kind."""
    state = run(
        supplier_in(S.CONTRACTED),
        measure(99.5, AT),
        ClaimCompensation(SID, cny("10.00"), "losses", AT + DAY),
    )
    assert [(p.penalty_id, p.kind) for p in state.penalties] == [
        (f"{SID}/penalty-1", "service_credit"),
        (f"{SID}/penalty-2", "compensation"),
    ]
