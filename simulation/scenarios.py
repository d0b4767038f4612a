"""Compliance scenarios, and hypothesis strategies that generate them (a public API).

A scenario is one supplier's story told as intents, not commands: "a major breach of the
second objective ten days later", "the review concludes with remediation", "the plan is
completed". The runner (:mod:`sqm.simulation.runner`) turns each intent into the command
the process would see at that moment, under whatever pack is being simulated, so the same
scenario means the same thing under every pack and shrinks to a readable story.

Analysts use the strategies in their own property tests::

    from hypothesis import given
    from sqm.simulation import run_scenario, scenarios

    @given(scenarios.scenarios())
    def test_no_termination_within_a_month_of_signing(scenario):
        outcome = run_scenario(policy, scenario)
        ...

See ``docs/simulation.md`` and ``tests/simulation/test_analyst_example.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import attrs
from hypothesis import strategies as st

from sqm.domain.commands import ReviewOutcome
from sqm.domain.model import ServiceCategory, Severity

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
"""When generated scenarios begin (a fixed instant: runs never read the clock)."""


@attrs.frozen
class SupplierProfile:
    """Who the supplier is when the story starts.

    ``score`` is given for every evaluation criterion of the pack being simulated;
    certificates of every kind are held from a year before the start, the earliest expiring
    ``certificates_valid_days`` after it.
    """

    supplier_id: str
    category: ServiceCategory
    score: float = 85.0
    site_audit_passed: bool = True
    certificates_valid_days: float = 730.0
    monthly_fee: Decimal = Decimal("100000.00")
    liability_limit: Decimal = Decimal("1000000.00")
    currency: str = "CNY"


# --- intents: what happens next, whatever the pack ----------------------------------------


@attrs.frozen
class Measure:
    """An SLA measurement of the contract's ``objective``-th objective (modulo their count),
    missing it with ``severity`` under the pack's tiers (None: met).
    """

    objective: int
    severity: Severity | None = None


@attrs.frozen
class Survey:
    """A customer satisfaction survey with ``score`` (0-100)."""

    score: float


@attrs.frozen
class Inspect:
    """An inspection, passed or failed."""

    passed: bool


@attrs.frozen
class Report:
    """The supplier's periodic progress report."""


@attrs.frozen
class SelfCheck:
    """The supplier's periodic self-check."""

    passed: bool = True


@attrs.frozen
class Conclude:
    """The open review concludes (refused when there is none)."""

    outcome: ReviewOutcome


@attrs.frozen
class SubmitPlan:
    """The supplier submits the improvement plan a review required."""


@attrs.frozen
class CompletePlan:
    """The supplier reports the plan's measures in place."""


@attrs.frozen
class Claim:
    """A compensation claim of ``share`` of the liability limit (it may exceed it)."""

    share: float


@attrs.frozen
class Wait:
    """Nothing but the passing of time (the scheduler ticks)."""


Intent = (
    Measure | Survey | Inspect | Report | SelfCheck | Conclude | SubmitPlan | CompletePlan | Claim
    | Wait
)  # fmt: skip


@attrs.frozen
class Step:
    """``intent`` happens ``after_days`` after the previous step (the scheduler ticks first)."""

    after_days: float
    intent: Intent


@attrs.frozen
class Scenario:
    """One supplier's story: qualified and contracted at ``start``, then ``steps``."""

    profile: SupplierProfile
    steps: tuple[Step, ...]
    start: datetime = START


# --- strategies -------------------------------------------------------------------------

SEVERITIES: Sequence[Severity | None] = (None, *Severity)


def intents() -> st.SearchStrategy[Intent]:
    """Any intent; measurements (the bulk of real traffic) most often."""
    # Breaches are what policies act on: a miss is as likely as a hit, objectives few.
    severity = st.one_of(st.none(), st.sampled_from(Severity))
    measure = st.builds(Measure, st.integers(0, 3), severity)
    return st.one_of(
        measure,
        measure,
        st.builds(Survey, st.floats(0, 100, allow_nan=False)),
        st.builds(Inspect, st.booleans()),
        st.just(Report()),
        st.builds(SelfCheck, st.booleans()),
        st.builds(Conclude, st.sampled_from(ReviewOutcome)),
        st.just(SubmitPlan()),
        st.just(CompletePlan()),
        st.builds(Claim, st.floats(0.01, 1.5, allow_nan=False)),
        st.just(Wait()),
    )


def steps(max_steps: int = 40, max_gap_days: float = 45.0) -> st.SearchStrategy[tuple[Step, ...]]:
    """Up to ``max_steps`` steps, each up to ``max_gap_days`` after the previous one."""
    # Mostly days apart, as daily and weekly records are; sometimes a long silence.
    short = st.floats(0, min(7.0, max_gap_days), allow_nan=False)
    gap = st.one_of(short, short, st.floats(0, max_gap_days, allow_nan=False))
    gap = gap.map(lambda d: round(d, 2))
    return st.lists(st.builds(Step, gap, intents()), max_size=max_steps).map(tuple)


def profiles(
    categories: Sequence[ServiceCategory] = tuple(ServiceCategory),
) -> st.SearchStrategy[SupplierProfile]:
    """Suppliers of ``categories``; most qualify, some fall short or hold expiring papers."""
    return st.builds(
        SupplierProfile,
        supplier_id=st.just("sim-supplier"),
        category=st.sampled_from(categories),
        score=st.one_of(st.just(85.0), st.floats(40, 100, allow_nan=False)),
        site_audit_passed=st.one_of(st.just(True), st.booleans()),
        certificates_valid_days=st.one_of(st.just(730.0), st.floats(1, 400, allow_nan=False)),
        monthly_fee=st.sampled_from([Decimal("50000.00"), Decimal("100000.00")]),
        liability_limit=st.sampled_from([Decimal("500000.00"), Decimal("1000000.00")]),
    )


def scenarios(
    categories: Sequence[ServiceCategory] = tuple(ServiceCategory),
    max_steps: int = 40,
    max_gap_days: float = 45.0,
) -> st.SearchStrategy[Scenario]:
    """Whole scenarios: a profile and a story of up to ``max_steps`` steps."""
    return st.builds(Scenario, profiles(categories), steps(max_steps, max_gap_days))
