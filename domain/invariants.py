"""Invariants: properties of the process a policy pack promises always to keep.

A pack declares invariants (``invariants:`` in a rule file) by picking a kind from
:data:`KINDS` and setting its parameters; simulations (``sqm simulate check``) then search
for scenarios that break them, and policy test cases can require them. Each kind is a pure
check of one :class:`Checkpoint` (the supplier just before and just after one command, the
events the command recorded, and the moment), so a check reads no clock and no store.

The parameters are the promise, independent of the pack's own settings: a pack whose
penalty schedule allows a 30% period cap breaks an invariant that promises 20%, which is
what an invariant is for.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from sqm.domain import lifecycle
from sqm.domain.events import (
    BreachDetected,
    ContractSigned,
    Event,
    LifecycleTransitioned,
    ReviewOpened,
)
from sqm.domain.history import breaches_within, credited
from sqm.domain.model import FactValue, LifecycleState, Severity, SupplierState


class InvariantKind(enum.StrEnum):
    """The invariants a pack can declare."""

    REVIEW_BEFORE_TERMINATION = "review_before_termination"
    PENALTIES_WITHIN_CAPS = "penalties_within_caps"
    COMPENSATION_WITHIN_LIABILITY = "compensation_within_liability"
    PLAN_DEADLINE_ENFORCED = "plan_deadline_enforced"
    VERIFIED_PLAN_BEFORE_RETURN = "verified_plan_before_return"
    REPEATED_BREACHES_REVIEWED = "repeated_breaches_reviewed"


@attrs.frozen
class Parameter:
    """One parameter of an invariant kind: its type, a default when optional, its meaning."""

    kind: type[int] | type[float] | type[str]
    description: str
    default: FactValue | None = None
    choices: tuple[str, ...] = ()


_SEVERITIES = tuple(s.value for s in Severity)

PARAMETERS: Mapping[InvariantKind, Mapping[str, Parameter]] = {
    InvariantKind.REVIEW_BEFORE_TERMINATION: {},
    InvariantKind.PENALTIES_WITHIN_CAPS: {
        "period_percent": Parameter(float, "service credits in a month, % of the monthly fee"),
        "contract_percent": Parameter(float, "service credits per contract, % of the fee"),
    },
    InvariantKind.COMPENSATION_WITHIN_LIABILITY: {},
    InvariantKind.PLAN_DEADLINE_ENFORCED: {
        "grace_days": Parameter(float, "days past the plan's due date a tick may leave it", 0),
    },
    InvariantKind.VERIFIED_PLAN_BEFORE_RETURN: {},
    InvariantKind.REPEATED_BREACHES_REVIEWED: {
        "breaches": Parameter(int, "this many breaches within the window open a review"),
        "days": Parameter(float, "the window, in days up to the breach"),
        "min_severity": Parameter(str, "the least severity counted", "minor", _SEVERITIES),
    },
}
"""Each kind's parameters by name; one without a default is required."""

DESCRIPTIONS: Mapping[InvariantKind, str] = {
    InvariantKind.REVIEW_BEFORE_TERMINATION: (
        "a supplier under contract is terminated only after a review opened since its contract"
    ),
    InvariantKind.PENALTIES_WITHIN_CAPS: (
        "service credits never exceed period_percent of the monthly fee in a month, nor"
        " contract_percent over the contract"
    ),
    InvariantKind.COMPENSATION_WITHIN_LIABILITY: (
        "compensation never exceeds the contract's liability limit"
    ),
    InvariantKind.PLAN_DEADLINE_ENFORCED: (
        "once time passes a pending improvement plan's due date by more than grace_days, the"
        " supplier is no longer in remediation"
    ),
    InvariantKind.VERIFIED_PLAN_BEFORE_RETURN: (
        "a supplier returns from remediation to contracted only with its plan completed"
    ),
    InvariantKind.REPEATED_BREACHES_REVIEWED: (
        "a contracted supplier's breach that brings its count of min_severity-or-worse"
        " breaches within days to breaches leaves it no longer contracted"
    ),
}


@attrs.frozen
class Invariant:
    """An invariant a pack declares, with where it was written."""

    id: str
    title: str
    kind: InvariantKind
    parameters: Mapping[str, FactValue] = attrs.field(factory=dict)
    file: str = ""
    line: int = 0

    def number(self, name: str) -> float:
        """A numeric parameter (its default when not given)."""
        value = self.parameters.get(name, PARAMETERS[self.kind][name].default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"invariant {self.id}: {name} is not a number: {value!r}")
        return float(value)

    def text(self, name: str) -> str:
        """A text parameter (its default when not given)."""
        return str(self.parameters.get(name, PARAMETERS[self.kind][name].default))


@attrs.frozen
class Checkpoint:
    """What an invariant looks at: one command's effect on one supplier.

    ``history`` is every event of the supplier up to and including ``events`` (the ones
    this command recorded); ``before`` is None for the command that registered it.
    """

    now: datetime
    command_type: str
    before: SupplierState | None
    after: SupplierState
    events: tuple[Event, ...]
    history: Sequence[Event]


def violation(invariant: Invariant, checkpoint: Checkpoint) -> str:
    """Why ``checkpoint`` breaks ``invariant``, or "" when it keeps it."""
    return _CHECKS[invariant.kind](invariant, checkpoint)


def _transitions(checkpoint: Checkpoint) -> list[LifecycleTransitioned]:
    return [e for e in checkpoint.events if isinstance(e, LifecycleTransitioned)]


def _review_before_termination(invariant: Invariant, checkpoint: Checkpoint) -> str:
    for moved in _transitions(checkpoint):
        if moved.to_state is not LifecycleState.TERMINATED:
            continue
        if moved.from_state not in lifecycle.UNDER_CONTRACT:
            continue  # a disqualified candidate was never under contract
        signed = _last_contract_index(checkpoint.history)
        reviewed = any(isinstance(e, ReviewOpened) for e in checkpoint.history[signed:])
        if not reviewed:
            return f"terminated from {moved.from_state} without a review since the contract"
    return ""


def _last_contract_index(history: Sequence[Event]) -> int:
    indexes = [i for i, e in enumerate(history) if isinstance(e, ContractSigned)]
    return indexes[-1] if indexes else 0


def _penalties_within_caps(invariant: Invariant, checkpoint: Checkpoint) -> str:
    supplier, contract = checkpoint.after, checkpoint.after.contract
    if contract is None or contract.monthly_fee.amount <= 0:
        return ""
    fee = contract.monthly_fee.amount
    credits = [
        p
        for p in supplier.penalties
        if p.kind == "service_credit" and p.contract_id == contract.contract_id
    ]
    period_cap = _percent_of(fee, invariant.number("period_percent"))
    for period in sorted({p.period for p in credits}):
        total = credited(credits, period=period)
        if total > period_cap:
            return f"service credits of {total} in {period} exceed {period_cap} (period cap)"
    contract_cap = _percent_of(fee, invariant.number("contract_percent"))
    total = credited(credits)
    if total > contract_cap:
        return f"service credits of {total} over the contract exceed {contract_cap}"
    return ""


def _percent_of(amount: Decimal, percent: float) -> Decimal:
    return (amount * Decimal(str(percent)) / 100).quantize(Decimal("0.01"))


def _compensation_within_liability(invariant: Invariant, checkpoint: Checkpoint) -> str:
    contract = checkpoint.after.contract
    if contract is None:
        return ""
    paid = credited(
        (p for p in checkpoint.after.penalties if p.contract_id == contract.contract_id),
        kind="compensation",
    )
    limit = contract.liability_limit.amount
    if limit > 0 and paid > limit:
        return f"compensation of {paid} exceeds the liability limit {limit}"
    return ""


def _plan_deadline_enforced(invariant: Invariant, checkpoint: Checkpoint) -> str:
    after = checkpoint.after
    plan = after.plan
    if after.lifecycle is not LifecycleState.REMEDIATION or plan is None:
        return ""
    if plan.completed_at is not None:
        return ""
    late = checkpoint.now - plan.due_at
    if late > timedelta(days=invariant.number("grace_days")):
        days = late.total_seconds() / 86400
        return f"still in remediation {days:.1f} days after its plan was due ({plan.due_at})"
    return ""


def _verified_plan_before_return(invariant: Invariant, checkpoint: Checkpoint) -> str:
    for moved in _transitions(checkpoint):
        if (moved.from_state, moved.to_state) != (
            LifecycleState.REMEDIATION,
            LifecycleState.CONTRACTED,
        ):
            continue
        plan = checkpoint.before.plan if checkpoint.before is not None else None
        if plan is None or plan.completed_at is None:
            return "returned from remediation to contracted without a completed plan"
    return ""


def _repeated_breaches_reviewed(invariant: Invariant, checkpoint: Checkpoint) -> str:
    before, after = checkpoint.before, checkpoint.after
    if before is None or before.lifecycle is not LifecycleState.CONTRACTED:
        return ""
    least = Severity(invariant.text("min_severity"))
    breaches = [
        e
        for e in checkpoint.events
        if isinstance(e, BreachDetected) and e.breach.severity.rank >= least.rank
    ]
    if not breaches or after.lifecycle is not LifecycleState.CONTRACTED:
        return ""
    count = breaches_within(after, checkpoint.now, invariant.number("days"), least)
    if count >= invariant.number("breaches"):
        return (
            f"{count} breaches of {least} or worse within {invariant.number('days'):g} days,"
            " and still contracted"
        )
    return ""


_CHECKS: Mapping[InvariantKind, Callable[[Invariant, Checkpoint], str]] = {
    InvariantKind.REVIEW_BEFORE_TERMINATION: _review_before_termination,
    InvariantKind.PENALTIES_WITHIN_CAPS: _penalties_within_caps,
    InvariantKind.COMPENSATION_WITHIN_LIABILITY: _compensation_within_liability,
    InvariantKind.PLAN_DEADLINE_ENFORCED: _plan_deadline_enforced,
    InvariantKind.VERIFIED_PLAN_BEFORE_RETURN: _verified_plan_before_return,
    InvariantKind.REPEATED_BREACHES_REVIEWED: _repeated_breaches_reviewed,
}
