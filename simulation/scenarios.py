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

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import attrs
from hypothesis import strategies as st

from sqm.domain.commands import ReviewOutcome
from sqm.domain.invariants import InvariantKind
from sqm.domain.model import Action, Severity, Stage
from sqm.domain.pack_catalogue import CategoryId
from sqm.rules.model import Operator, PolicyPack, Rule, Window, WindowKind
from sqm.rules.pack_catalogue import default_catalogue

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
    category: CategoryId
    score: float = 85.0
    site_audit_passed: bool = True
    certificates_valid_days: float = 730.0
    monthly_fee: Decimal = Decimal("100000.00")
    liability_limit: Decimal = Decimal("1000000.00")
    currency: str = "CNY"
    contract_days: float | None = None
    """How long the contract runs from the start (None: the domain's year); when it ends
    the supplier leaves ``contracted`` on the next tick and later records are refused."""
    researched: bool = False
    """Market research (市场调研) on the supplier is recorded before its contract."""


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
class Train:
    """The supplier's service staff are trained."""


@attrs.frozen
class OpenTicket:
    """A problem ticket of ``severity`` (its priority) is opened against the supplier."""

    severity: Severity


@attrs.frozen
class ResolveTicket:
    """The oldest open problem ticket is resolved (nothing when none is open)."""


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
class KickOff:
    """The delivery kick-off meeting, agreeing milestones due ``milestone_days`` after it."""

    milestone_days: tuple[float, ...]


@attrs.frozen
class FinishMilestone:
    """The supplier completes the ``index``-th milestone of the latest kick-off (modulo
    their count; nothing without one).
    """

    index: int


@attrs.frozen
class AcceptMilestone:
    """The operator accepts the ``index``-th milestone's deliverables (modulo their count;
    refused unless it was completed and not yet accepted).
    """

    index: int


@attrs.frozen
class Research:
    """Market research on the supplier is recorded (refused while it is under contract)."""


@attrs.frozen
class SubmitCorrective:
    """The supplier submits a corrective-action record (8D, 纠正措施) for the pending plan:
    ``actions`` actions ``A1``, ``A2``... due evenly up to ``days`` later (refused without a
    pending plan, with an action due after the plan's deadline, or revising a closed record;
    a second submission revises the open one).
    """

    actions: int
    days: float


@attrs.frozen
class CompleteCorrectiveItem:
    """The supplier reports the ``index``-th action of the record done (modulo their count;
    nothing without a record; refused once it is completed or the record closed).
    """

    index: int


@attrs.frozen
class VerifyCorrectiveItem:
    """The operator verifies the ``index``-th action of the record (modulo their count;
    nothing without a record; refused unless it was completed and not yet verified).
    """

    index: int


@attrs.frozen
class RequestCorrectiveExtension:
    """The supplier asks to move the ``index``-th action's due date ``days`` later (modulo
    their count; nothing without a record; refused once it is completed, while a request
    waits, or beyond the pack's extension limits).
    """

    index: int
    days: float


@attrs.frozen
class DecideCorrectiveExtension:
    """The operator approves or refuses the extension the ``index``-th action waits for
    (modulo their count; nothing without a record; refused when none waits).
    """

    index: int
    approved: bool


@attrs.frozen
class CloseCorrective:
    """The record is closed (D8), completing the plan (nothing without a record; refused
    while an action is not verified, or once closed).
    """


@attrs.frozen
class Wait:
    """Nothing but the passing of time (the scheduler ticks)."""


Intent = (
    Measure | Survey | Inspect | Report | SelfCheck | Conclude | SubmitPlan | CompletePlan | Claim
    | Wait | Train | OpenTicket | ResolveTicket | KickOff | FinishMilestone | AcceptMilestone
    | Research | SubmitCorrective | CompleteCorrectiveItem | VerifyCorrectiveItem
    | RequestCorrectiveExtension | DecideCorrectiveExtension | CloseCorrective
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
        # Last: the searches shrink towards the first choices, which find more.
        st.just(Train()),
        st.builds(OpenTicket, st.sampled_from(Severity)),
        st.just(ResolveTicket()),
        _MILESTONE_DAYS.map(KickOff),
        st.builds(FinishMilestone, st.integers(0, 2)),
        st.builds(AcceptMilestone, st.integers(0, 2)),
        st.just(Research()),
        st.builds(SubmitCorrective, st.integers(1, 3), _CORRECTIVE_DAYS),
        st.builds(CompleteCorrectiveItem, st.integers(0, 2)),
        st.builds(VerifyCorrectiveItem, st.integers(0, 2)),
        st.builds(RequestCorrectiveExtension, st.integers(0, 2), _EXTENSION_DAYS),
        st.builds(DecideCorrectiveExtension, st.integers(0, 2), st.booleans()),
        st.just(CloseCorrective()),
    )


_MILESTONE_DAYS = st.lists(
    st.floats(1, 60, allow_nan=False).map(lambda d: round(d, 2)), min_size=1, max_size=3
).map(tuple)
"""A kick-off's milestones: one to three, due within two months of it."""

_CORRECTIVE_DAYS = st.floats(1, 35, allow_nan=False).map(lambda d: round(d, 2))
"""How long a corrective-action record's actions take: up to about the longest plan's time."""

_EXTENSION_DAYS = st.floats(1, 21, allow_nan=False).map(lambda d: round(d, 2))
"""How much later an extension asks an action to be due: a few days to three weeks."""


def steps(max_steps: int = 40, max_gap_days: float = 45.0) -> st.SearchStrategy[tuple[Step, ...]]:
    """Up to ``max_steps`` steps, each up to ``max_gap_days`` after the previous one."""
    # Mostly days apart, as daily and weekly records are; sometimes a long silence.
    short = st.floats(0, min(7.0, max_gap_days), allow_nan=False)
    gap = st.one_of(short, short, st.floats(0, max_gap_days, allow_nan=False))
    gap = gap.map(lambda d: round(d, 2))
    return st.lists(st.builds(Step, gap, intents()), max_size=max_steps).map(tuple)


def profiles(
    categories: Sequence[CategoryId] | None = None,
) -> st.SearchStrategy[SupplierProfile]:
    """Suppliers of ``categories`` (None: the default pack's); most qualify, some fall short
    or hold expiring papers.
    """
    return st.builds(
        SupplierProfile,
        supplier_id=st.just("sim-supplier"),
        category=st.sampled_from(categories or default_catalogue().category_ids),
        score=st.one_of(st.just(85.0), st.floats(40, 100, allow_nan=False)),
        site_audit_passed=st.one_of(st.just(True), st.booleans()),
        certificates_valid_days=st.one_of(st.just(730.0), st.floats(1, 400, allow_nan=False)),
        monthly_fee=st.sampled_from([Decimal("50000.00"), Decimal("100000.00")]),
        liability_limit=st.sampled_from([Decimal("500000.00"), Decimal("1000000.00")]),
        # Often a short contract, so stories reach its end and go on after it.
        contract_days=st.one_of(st.none(), st.floats(20, 200, allow_nan=False).map(round)),
        researched=st.booleans(),
    )


def scenarios(
    categories: Sequence[CategoryId] | None = None,
    max_steps: int = 40,
    max_gap_days: float = 45.0,
) -> st.SearchStrategy[Scenario]:
    """Whole scenarios: a profile and a story of up to ``max_steps`` steps."""
    return st.builds(Scenario, profiles(categories), steps(max_steps, max_gap_days))


# --- scenarios steered by a pack ------------------------------------------------------------
#
# Generic scenarios rarely pile three major breaches into one month, or tick just after a
# plan's due date: a promise broken only at such an edge stays hidden for thousands of
# examples. The steered strategy reads the pack's own numbers (its windows and the rule
# thresholds on them, its credit schedule and caps, its plan deadlines and the rules on them,
# its pass marks) and the invariants' parameters, and tells stories that sit on those edges.

CLOSE = (0.0, 0.01, 0.5, 1.0)
"""How far off a number a steered story lands: exactly on it, or just either side."""


@attrs.frozen
class Burst:
    """``count`` breaches of ``severity`` or worse that matter within ``days``."""

    count: int
    days: float
    severity: Severity


@attrs.frozen
class Targets:
    """The numbers of a pack where a broken promise would show."""

    bursts: tuple[Burst, ...] = ()
    grace_days: tuple[float, ...] = (0.0,)
    """The grace periods of the pack's objectives: breaches after them earn credits."""
    credit_percents: tuple[tuple[Severity, float], ...] = ()
    """Each severity's credit, percent of the monthly fee (before repeat multipliers)."""
    multipliers: tuple[float, ...] = (1.0,)
    """The repeat multipliers of the n-th breach of an objective in a month."""
    period_percents: tuple[float, ...] = ()
    """The monthly credit caps: the schedule's and every invariant's."""
    contract_percents: tuple[float, ...] = ()
    """The contract credit caps: the schedule's and every invariant's."""
    plan_due_days: tuple[tuple[Severity | None, float], ...] = ()
    """Calendar days a plan required after a review of a breach of a severity may take
    (None: a review without a breach); business days also stretched to calendar ones."""
    past_due_days: tuple[float, ...] = (0.0,)
    """Days past a plan's due date that matter: rule thresholds, invariants' grace."""
    clean_days: tuple[float, ...] = ()
    """Days after a completed plan that rules count to."""
    pass_marks: tuple[float, ...] = ()
    """Weighted scores the qualification rules compare with."""
    openers: tuple[tuple[Severity, int], ...] = ()
    """Breaches of a severity (or worse) that open a review, and how many it takes."""
    extension_days: tuple[float, ...] = ()
    """How far one extension may move a corrective action's due date (none when the pack
    allows no extension; the plan's longest time when it sets no limit in days)."""


def pack_targets(pack: PolicyPack) -> Targets:
    """The edges of ``pack``: its thresholds, caps and deadlines, and its invariants'."""
    thresholds = _thresholds(pack)
    bursts = [
        Burst(int(value), window.days, window.min_severity)
        for window in pack.windows
        if window.kind is WindowKind.BREACH_COUNT and window.days > 0
        for value in thresholds.get(window.id, ())
        if value >= 1
    ]
    period, contract, grace, past_due = [], [], [], [-v for v in thresholds["days_until_plan_due"]]
    for invariant in pack.invariants:
        if invariant.kind is InvariantKind.REPEATED_BREACHES_REVIEWED:
            least = Severity(invariant.text("min_severity"))
            bursts.append(Burst(int(invariant.number("breaches")), invariant.number("days"), least))
        elif invariant.kind is InvariantKind.PENALTIES_WITHIN_CAPS:
            period.append(invariant.number("period_percent"))
            contract.append(invariant.number("contract_percent"))
        elif invariant.kind is InvariantKind.PLAN_DEADLINE_ENFORCED:
            grace.append(invariant.number("grace_days"))
    credits: tuple[tuple[Severity, float], ...] = ()
    multipliers: tuple[float, ...] = (1.0,)
    if pack.credits is not None:
        credits = tuple((s, float(p)) for s, p in pack.credits.percent_by_severity)
        multipliers = tuple(float(m) for m in pack.credits.repeat_multipliers) or multipliers
        period.append(float(pack.credits.period_cap_percent))
        contract.append(float(pack.credits.contract_cap_percent))
    due: list[tuple[Severity | None, float]] = []
    extension: tuple[float, ...] = ()
    if pack.improvement is not None and pack.improvement.extension_limits.max_extensions > 0:
        limit = pack.improvement.extension_limits.max_extension_days
        longest = max(pack.improvement.due_days(s) for s in (*Severity, None))
        extension = (float(limit if limit is not None else longest),)
    if pack.improvement is not None:
        for severity in (*Severity, None):
            days = pack.improvement.due_days(severity)
            due.append((severity, float(days)))
            if pack.improvement.business_days:  # weekends (and a holiday or two) between
                due.append((severity, float(days * 7 // 5 + 3)))
    openers = {
        opener
        for rule in pack.rules
        if rule.stage is Stage.MONITORING and rule.action is Action.OPEN_REVIEW
        for opener in _opens_at(rule, pack.windows)
    }
    objectives = [
        *pack.objectives.common,
        *(o for _, os in pack.objectives.by_category for o in os),
    ]
    return Targets(
        bursts=tuple(sorted(set(bursts), key=attrs.astuple)),
        grace_days=tuple(sorted({0.0, *(float(o.grace_days) for o in objectives)})),
        credit_percents=credits,
        multipliers=multipliers,
        period_percents=tuple(sorted(set(period))),
        contract_percents=tuple(sorted(set(contract))),
        plan_due_days=tuple(dict.fromkeys(due)),
        past_due_days=tuple(sorted({0.0, *past_due, *grace})),
        clean_days=tuple(sorted(set(thresholds["clean_days_since_plan_completed"]))),
        pass_marks=tuple(sorted(set(thresholds["weighted_score"]))),
        openers=tuple(sorted(openers, key=lambda o: (o[0].rank, o[1]))),
        extension_days=extension,
    )


def _opens_at(rule: Rule, windows: Sequence[Window]) -> list[tuple[Severity, int]]:
    """The breaches that make ``rule`` fire: the least severity its ``breach_severity_rank``
    condition takes, as many as its breach-count windows ask for (one if none does).
    """
    ranks = [
        int(c.value) + (1 if c.operator is Operator.GT else 0)
        for c in rule.conditions
        if c.fact == "breach_severity_rank"
        and c.operator in (Operator.GE, Operator.GT, Operator.EQ)
        and isinstance(c.value, int | float)
    ]
    severities = [s for s in Severity if ranks and s.rank >= max(ranks)]
    if not severities:
        return []
    counted = {w.id for w in windows if w.kind is WindowKind.BREACH_COUNT}
    counts = [
        int(c.value) + (1 if c.operator is Operator.GT else 0)
        for c in rule.conditions
        if c.fact in counted and isinstance(c.value, int | float)
    ]
    return [(severities[0], max(counts, default=1))]


def _thresholds(pack: PolicyPack) -> dict[str, list[float]]:
    """Every number a rule compares a fact with, by fact (the edge itself: ``> 3`` gives 4)."""
    found: dict[str, list[float]] = {}
    for rule in pack.rules:
        for condition in rule.conditions:
            value = condition.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            edge = float(value) + 1 if condition.operator is Operator.GT else float(value)
            found.setdefault(condition.fact, []).append(edge)
    for fact in ("days_until_plan_due", "clean_days_since_plan_completed", "weighted_score"):
        found.setdefault(fact, [])
    return found


def _near(values: Sequence[float], low: float = 0.0) -> st.SearchStrategy[float]:
    """One of ``values`` (0 if none), exactly or just off it either way (never below ``low``)."""
    return st.builds(
        lambda v, off, sign: round(max(low, v + sign * off), 2),
        st.sampled_from(tuple(values) or (0.0,)),
        st.sampled_from(CLOSE),
        st.sampled_from((1, -1)),
    )


def _severities(least: Severity) -> st.SearchStrategy[Severity]:
    """``least`` most often (worse ones may trip other rules first), sometimes worse."""
    return st.sampled_from((least, least, least, *(s for s in Severity if s.rank > least.rank)))


def _lead(targets: Targets) -> st.SearchStrategy[float]:
    """How long a story waits before its edge: at once, or about an objective's grace."""
    return st.one_of(st.just(0.0), st.just(0.0), _near(targets.grace_days))


def _measures(
    count: int, objective: int, severity: st.SearchStrategy[Severity], span: float
) -> st.SearchStrategy[list[Step]]:
    """``count`` breaches of one objective, the lot within ``span`` days."""
    gap = st.floats(0, max(span, 0.0) / max(count, 1), allow_nan=False).map(lambda d: round(d, 2))
    return st.lists(
        st.builds(Step, gap, severity.map(lambda s: Measure(objective, s))),
        min_size=count,
        max_size=count,
    )


def _breach_bursts(targets: Targets) -> st.SearchStrategy[list[Step]]:
    """N-1, N or N+1 breaches packed inside a window's days, or spread just beyond them."""

    @st.composite
    def burst(draw: st.DrawFn) -> list[Step]:
        edge = draw(st.sampled_from(targets.bursts))
        count = max(1, edge.count + draw(st.sampled_from((0, 1, -1))))
        span = draw(_near([edge.days * 0.5, edge.days]))
        objective = draw(st.integers(0, 3))
        severity = st.just(draw(_severities(edge.severity)))  # one severity for the lot
        steps = draw(_measures(count, objective, severity, span))
        return [Step(draw(_lead(targets)), Wait()), *steps]

    return burst()


def _credit_months(targets: Targets) -> st.SearchStrategy[list[Step]]:
    """Breaches of one objective piled into calendar months, past the grace, until the
    period cap (one month) or the contract cap (month after month) is reached and passed.
    """

    @st.composite
    def months(draw: st.DrawFn) -> list[Step]:
        month_count = _enough(max(targets.contract_percents), min(targets.period_percents)) + 1
        month_total = draw(st.sampled_from((1, month_count, month_count + 1)))
        if month_total > 1:  # the steepest credit, each month just past the least period cap
            severity, percent = max(targets.credit_percents, key=lambda credit: credit[1])
            count = _breaches_past(min(targets.period_percents), percent, targets.multipliers)
            lead = draw(_near([max(targets.grace_days)]))  # every objective out of its grace
        else:
            severity, percent = draw(st.sampled_from(targets.credit_percents))
            most = _breaches_past(max(targets.period_percents), percent, targets.multipliers)
            count = draw(st.integers(1, most + 1))
            lead = draw(_near(targets.grace_days))
        objective = draw(st.integers(0, 3))
        steps = [Step(lead, Wait())]
        for month in range(max(month_total, 1)):
            # Within a day of each other, a month (31 days) after the last: one calendar
            # month each.
            burst = draw(_measures(count, objective, st.just(severity), 1.0))
            if month:
                burst[0] = attrs.evolve(burst[0], after_days=31.0)
            steps.extend(burst)
        return steps

    return months()


def _enough(total: float, each: float) -> int:
    """How many of ``each`` first pass ``total`` (at least one)."""
    return max(1, int(total // each) + 1) if each > 0 else 1


def _breaches_past(total: float, percent: float, multipliers: Sequence[float]) -> int:
    """How many breaches of one objective in a month first credit more than ``total``
    percent, each ``percent`` times its repeat multiplier (at most 50).
    """
    count, credited = 0, 0.0
    while credited <= total and count < 50 and percent > 0:
        count += 1
        credited += percent * multipliers[min(count, len(multipliers)) - 1]
    return max(count, 1)


def _plan_deadlines(targets: Targets) -> st.SearchStrategy[list[Step]]:
    """A review concluded with remediation, then ticks just before and after the plan's due
    date (and the rules' days past it), the plan submitted or completed around them.
    """

    @st.composite
    def deadline(draw: st.DrawFn) -> list[Step]:
        # Only causes a review can have: a failed inspection (no breach) or enough breaches;
        # those needing the fewest steps first, for shrinking to the shortest story.
        causes = sorted(
            (
                (_breaches_to_open(cause, targets), cause, due)
                for cause, due in targets.plan_due_days
                if cause is None or any(s.rank <= cause.rank for s, _ in targets.openers)
            ),
            key=lambda c: c[0],
        )
        _, cause, due = draw(st.sampled_from(causes))
        steps = []
        if cause is None:
            steps.append(Step(0.1, Inspect(passed=False)))
        else:
            counts = sorted({n for s, n in targets.openers if s.rank <= cause.rank})
            steps.extend(Step(0.1, Measure(0, cause)) for _ in range(draw(st.sampled_from(counts))))
        steps += [
            Step(draw(st.sampled_from((0.0, 1.0))), Conclude(ReviewOutcome.REMEDIATION_REQUIRED)),
        ]
        submitted = draw(st.booleans())
        completed = draw(st.integers(0, 3)) == 3  # shrinks to a plan left pending
        # Sometimes answered by a corrective-action record (8D) whose actions are due by the
        # plan's deadline, one action's date perhaps moved past it by an approved extension.
        actions = draw(st.integers(0, 3)) if submitted or completed else 0
        if actions:
            steps.append(Step(0.0, SubmitCorrective(actions, due)))
            if bool(targets.extension_days) and draw(st.booleans()):
                days = draw(_near(targets.extension_days, low=0.01))
                approved = draw(st.booleans())
                steps.append(Step(0.0, RequestCorrectiveExtension(actions - 1, days)))
                steps.append(Step(0.0, DecideCorrectiveExtension(actions - 1, approved)))
                if approved and days <= max(targets.extension_days):
                    due += days  # the last action, due on the deadline, moves it: tick there
        elif submitted or completed:
            steps.append(Step(0.0, SubmitPlan()))
        if completed:  # just before or after it is due, then the clean days counted
            at = round(max(0.0, due + draw(_near([0.0], low=-1.0))), 2)
            if actions:  # every action done and verified, and the record closed
                steps.append(Step(at, CompleteCorrectiveItem(0)))
                steps.extend(Step(0.0, CompleteCorrectiveItem(i)) for i in range(1, actions))
                steps.extend(Step(0.0, VerifyCorrectiveItem(i)) for i in range(actions))
                steps.append(Step(0.0, CloseCorrective()))
            else:
                steps.append(Step(at, CompletePlan()))
            steps.append(Step(draw(_near(targets.clean_days)), Wait()))
        else:  # a tick about each day past the due date that matters, and between them
            edges = targets.past_due_days
            middles = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
            pasts = [draw(_near([p], low=-1.0)) for p in sorted({*edges, *middles})]
            at = 0.0
            for past in sorted({max(0.0, due + p) for p in pasts}):
                steps.append(Step(round(past - at, 2), Wait()))
                at = past
        return steps

    return deadline()


def _breaches_to_open(cause: Severity | None, targets: Targets) -> int:
    """The fewest breaches of ``cause`` that open a review (one failed inspection for None)."""
    if cause is None:
        return 1
    return min((n for s, n in targets.openers if s.rank <= cause.rank), default=0)


def _claims(targets: Targets) -> st.SearchStrategy[list[Step]]:
    """Compensation claims at, just under and just over the liability limit, alone or summed."""
    share = st.sampled_from((1.0, 0.99, 1.01, 0.5, 0.34, 0.01))
    claim = st.builds(Step, st.sampled_from((0.0, 1.0)), st.builds(Claim, share))
    return st.lists(claim, min_size=1, max_size=4)


def steered_scenarios(
    pack: PolicyPack,
    categories: Sequence[CategoryId] | None = None,
    max_steps: int = 40,
) -> st.SearchStrategy[Scenario]:
    """Scenarios at the edges of ``pack`` (see :func:`pack_targets`), one kind of edge each:
    a qualifying supplier's breach bursts, months of credits, plan deadlines or claims, or a
    supplier scored at a pass mark; each followed by a few generic steps. Mix with
    :func:`scenarios` so both kinds of story are searched.
    """
    targets = pack_targets(pack)
    edges: list[st.SearchStrategy[list[Step]]] = [_claims(targets)]
    if targets.bursts:
        edges.append(_breach_bursts(targets))
    if targets.credit_percents and targets.period_percents:
        edges.append(_credit_months(targets))
    if targets.plan_due_days:
        edges.append(_plan_deadlines(targets))
    passing = min(100.0, max(targets.pass_marks, default=70.0) + 15)
    gap = st.floats(0, 7, allow_nan=False).map(lambda d: round(d, 2))
    tail = st.lists(st.builds(Step, gap, intents()), max_size=3)

    def scenario(
        score: st.SearchStrategy[float], edge: st.SearchStrategy[list[Step]]
    ) -> st.SearchStrategy[Scenario]:
        profile = st.builds(
            SupplierProfile,
            supplier_id=st.just("sim-supplier"),
            category=st.sampled_from(categories or pack.catalogue.category_ids),
            score=score,
            monthly_fee=st.sampled_from([Decimal("50000.00"), Decimal("100000.00")]),
            liability_limit=st.sampled_from([Decimal("500000.00"), Decimal("1000000.00")]),
        )
        story = st.builds(lambda head, rest: tuple([*head, *rest][:max_steps]), edge, tail)
        return st.builds(Scenario, profile, story)

    stories = [scenario(st.just(passing), edge) for edge in edges]
    if targets.pass_marks:  # a story of its own: most suppliers at a pass mark stop there
        at_mark = _near(targets.pass_marks).map(lambda s: min(100.0, s))
        stories.append(scenario(at_mark, st.just([])))
    return st.one_of(stories)
