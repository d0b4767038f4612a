"""Each invariant kind against hand-built checkpoints: what keeps it, what breaks it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from sqm.domain.events import ContractSigned, LifecycleTransitioned, ReviewOpened
from sqm.domain.invariants import Checkpoint, Invariant, InvariantKind, violation
from sqm.domain.model import (
    Contract,
    ImprovementPlan,
    LifecycleState,
    Money,
    Penalty,
    Review,
    SupplierState,
)

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
S = LifecycleState
CONTRACT = Contract(
    "CT-1", T0, T0, T0 + timedelta(days=365),
    Money(Decimal("100000.00"), "CNY"), Money(Decimal("1000000.00"), "CNY"),
)  # fmt: skip
SUPPLIER = SupplierState("acme", "Acme", "software", contract=CONTRACT)


def _at(lifecycle: LifecycleState, **changes: object) -> SupplierState:
    return attrs.evolve(SUPPLIER, lifecycle=lifecycle, **changes)


def _moved(source: LifecycleState, target: LifecycleState) -> LifecycleTransitioned:
    return LifecycleTransitioned(T0, "trigger", source, target, "test")


def _check(kind: InvariantKind, checkpoint: Checkpoint, **parameters: object) -> str:
    return violation(Invariant("INV-X", "title", kind, parameters), checkpoint)  # type: ignore[arg-type]


def test_termination_needs_a_review_since_the_contract() -> None:
    """A review before the contract does not count; one after it does."""
    moved = _moved(S.REMEDIATION, S.TERMINATED)
    review = ReviewOpened(T0, Review(T0, "breaches"))
    signed = ContractSigned(T0, CONTRACT)
    before, after = _at(S.REMEDIATION), _at(S.TERMINATED)

    reviewed = Checkpoint(T0, "AdvanceTime", before, after, (moved,), [signed, review, moved])
    unreviewed = Checkpoint(T0, "AdvanceTime", before, after, (moved,), [review, signed, moved])

    assert _check(InvariantKind.REVIEW_BEFORE_TERMINATION, reviewed) == ""
    assert "without a review" in _check(InvariantKind.REVIEW_BEFORE_TERMINATION, unreviewed)


def _credit(amount: str, period: str) -> Penalty:
    return Penalty(
        "p", "service_credit", "CT-1", Money(Decimal(amount), "CNY"), period, "PEN-001", "", T0
    )


def test_service_credits_are_held_to_the_promised_caps() -> None:
    """20% of 100,000.00 a month: 20,000.00 keeps it, 20,000.01 breaks it."""
    at_cap = _at(
        S.CONTRACTED, penalties=(_credit("15000.00", "2027-03"), _credit("5000.00", "2027-03"))
    )
    over = _at(
        S.CONTRACTED, penalties=(_credit("15000.00", "2027-03"), _credit("5000.01", "2027-03"))
    )
    caps = {"period_percent": 20, "contract_percent": 120}

    kept = _check(
        InvariantKind.PENALTIES_WITHIN_CAPS, Checkpoint(T0, "X", None, at_cap, (), []), **caps
    )
    broken = _check(
        InvariantKind.PENALTIES_WITHIN_CAPS, Checkpoint(T0, "X", None, over, (), []), **caps
    )

    assert kept == ""
    assert "20000.01 in 2027-03 exceed 20000.00" in broken


def test_an_overdue_plan_must_not_outlast_the_grace() -> None:
    """Due at T0: a day later is within one day's grace, two days later is not."""
    plan = ImprovementPlan(T0 - timedelta(days=30), T0)
    pending = _at(S.REMEDIATION, plan=plan)

    def check(days: float) -> str:
        now = T0 + timedelta(days=days)
        checkpoint = Checkpoint(now, "AdvanceTime", pending, pending, (), [])
        return _check(InvariantKind.PLAN_DEADLINE_ENFORCED, checkpoint, grace_days=1)

    assert check(1) == ""
    assert "2.0 days after its plan was due" in check(2)
    completed = _at(S.REMEDIATION, plan=attrs.evolve(plan, completed_at=T0))
    done = Checkpoint(T0 + timedelta(days=9), "X", completed, completed, (), [])
    assert _check(InvariantKind.PLAN_DEADLINE_ENFORCED, done, grace_days=1) == ""


def test_a_return_from_remediation_needs_a_completed_plan() -> None:
    """Back to contracted with the plan still open breaks it."""
    moved = _moved(S.REMEDIATION, S.CONTRACTED)
    open_plan = _at(S.REMEDIATION, plan=ImprovementPlan(T0, T0 + timedelta(days=30)))
    done_plan = _at(S.REMEDIATION, plan=ImprovementPlan(T0, T0, completed_at=T0))
    after = _at(S.CONTRACTED)

    broken = Checkpoint(T0, "X", open_plan, after, (moved,), [moved])
    kept = Checkpoint(T0, "X", done_plan, after, (moved,), [moved])

    assert "without a completed plan" in _check(InvariantKind.VERIFIED_PLAN_BEFORE_RETURN, broken)
    assert _check(InvariantKind.VERIFIED_PLAN_BEFORE_RETURN, kept) == ""
