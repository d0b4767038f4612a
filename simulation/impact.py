"""``sqm simulate run``: many suppliers over months under a pack, at rates a scenario file sets.

Each supplier is qualified and contracted at the start, then lives its months: measurements
of every objective (missing at the breach rate, with the severity mix), surveys, inspections,
progress reports and self-checks at their rates; reviews concluded, plans submitted and
completed by the supplier and the operator as people do, some late, some never. The
scheduler ticks weekly and before every record. Every draw comes from a generator seeded by
the run's seed and the supplier's number, so a run is the same byte for byte every time and
on every machine; no clock is read.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from sqm.domain.commands import AdvanceTime, ReviewOutcome
from sqm.domain.events import (
    DecisionRecorded,
    LifecycleTransitioned,
    PenaltyAssessed,
    ScorecardClosed,
)
from sqm.domain.history import period_of
from sqm.domain.model import LifecycleState, Severity, SupplierState
from sqm.domain.pack_catalogue import CategoryId
from sqm.domain.serialization import format_time, parse_time
from sqm.rules import CompiledPolicy, PolicyPack
from sqm.simulation import parallel
from sqm.simulation import scenarios as sc
from sqm.simulation.runner import Entry, Player, command_for

RESULT_FORMAT = "sqm.simulation/v1"
TICK_DAYS = 7
MAX_OBJECTIVES = 8
"""Measurement intents per month and round; each lands on an objective of the contract."""


def _rfc3339(text: str) -> str:
    """``text`` spelled as every time in SQM is (so equal times compare equal)."""
    return format_time(parse_time(text))


@attrs.frozen
class Rates:
    """How often things happen, per supplier (a scenario file sets them; see docs)."""

    name: str = "baseline"
    start: str = attrs.field(default="2027-01-01T00:00:00Z", converter=_rfc3339)
    """The first month simulated is the calendar month this falls in."""
    categories: Mapping[str, float] = attrs.field(
        factory=lambda: {"network_equipment": 0.5, "software": 0.3, "it_services": 0.2}
    )
    monthly_fee: float = 100000.0
    currency: str = "CNY"
    measurements_per_month: int = 1
    breach_rate: float = 0.03
    severity_mix: Mapping[str, float] = attrs.field(
        factory=lambda: {"minor": 0.6, "major": 0.3, "critical": 0.1}
    )
    survey_rate: float = 0.3
    satisfaction_mean: float = 85.0
    satisfaction_sd: float = 8.0
    inspection_rate: float = 0.2
    inspection_fail_rate: float = 0.1
    report_rate: float = 0.99
    """Chance the monthly progress report is sent (late in the month)."""
    self_check_rate: float = 0.98
    """Chance the quarterly self-check is done (in the quarter's first month)."""
    review_outcomes: Mapping[str, float] = attrs.field(
        factory=lambda: {"cleared": 0.6, "remediation_required": 0.35, "failed": 0.05}
    )
    review_days: float = 7.0
    plan_submit_rate: float = 0.9
    plan_submit_days: float = 5.0
    plan_complete_rate: float = 0.9
    plan_complete_days: float = 10.0
    qualification_score_mean: float = 85.0
    """Each candidate's evaluation score, on every criterion of the pack (0-100)."""
    qualification_score_sd: float = 0.0
    """Its spread between candidates: with one, some candidates fail a pass mark."""


def _amounts_by_currency() -> defaultdict[str, Decimal]:
    return defaultdict(Decimal)


@attrs.define
class Tally:
    """What a run counted, month by month (sums only: tallies of parts add up exactly)."""

    months: list[str]
    states: dict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))
    penalties: dict[str, dict[str, Decimal]] = attrs.field(
        factory=lambda: defaultdict(_amounts_by_currency)
    )
    fired: Counter[str] = attrs.field(factory=Counter)
    standings: dict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))
    """Scorecards closed per period, by standing (``unrated`` when no KPI had data)."""
    days_to_termination: list[int] = attrs.field(factory=list)
    events: int = 0
    decisions: int = 0

    def add(self, other: Tally) -> None:
        """Count what ``other`` counted too (another share of the same run's suppliers)."""
        for month, states in other.states.items():
            self.states[month].update(states)
        for month, amounts in other.penalties.items():
            for currency, amount in amounts.items():
                self.penalties[month][currency] += amount
        self.fired.update(other.fired)
        for period, standings in other.standings.items():
            self.standings[period].update(standings)
        self.days_to_termination.extend(other.days_to_termination)
        self.events += other.events
        self.decisions += other.decisions


def simulate(
    pack: PolicyPack,
    rates: Rates,
    *,
    suppliers: int,
    months: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run ``suppliers`` suppliers for ``months`` under ``pack``; the JSON-ready result.

    With ``jobs`` above 1 the suppliers are shared out over that many processes; each
    supplier's draws depend on the seed and its number only, and the tallies are sums, so
    the result is the same byte for byte.
    """
    shares = population(rates, suppliers=suppliers, months=months, seed=seed, jobs=jobs)
    tally = Tally(month_labels(run_start(rates), months))
    if jobs == 1:
        policy = CompiledPolicy(pack)
        counted: Iterable[Tally] = (_live_share(policy, pack, share) for share in shares)
    else:
        counted = parallel.ordered_map(
            _live_share_in_worker, shares, jobs=jobs,
            initializer=parallel.compile_in_worker, initargs=(pack,),
        )  # fmt: skip
    for share, part in zip(shares, counted, strict=True):
        tally.add(part)
        if progress is not None:
            progress(share.numbers.stop)
    return result(pack, rates, tally, suppliers=suppliers, months=months, seed=seed)


@attrs.frozen
class Share:
    """Some of a run's suppliers, by number: what one process simulates at a time."""

    rates: Rates
    start: datetime
    months: int
    seed: int
    numbers: range


def run_start(rates: Rates) -> datetime:
    """The first instant of the calendar month the run starts in."""
    return parse_time(rates.start).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def population(rates: Rates, *, suppliers: int, months: int, seed: int, jobs: int) -> list[Share]:
    """A run's suppliers in shares for ``jobs`` processes (one supplier a share for one)."""
    start = run_start(rates)
    return [Share(rates, start, months, seed, numbers) for numbers in shares_of(suppliers, jobs)]


SHARES_PER_JOB = 8
"""Several shares per process, so one slow share does not leave the others idle."""


def shares_of(suppliers: int, jobs: int) -> list[range]:
    """The suppliers' numbers in consecutive ranges (one supplier each for one process)."""
    size = 1 if jobs == 1 else max(1, -(-suppliers // (jobs * SHARES_PER_JOB)))
    return [range(first, min(first + size, suppliers)) for first in range(0, suppliers, size)]


def _live_share(policy: CompiledPolicy, pack: PolicyPack, share: Share) -> Tally:
    """What the suppliers of ``share`` do over its months, counted."""
    tally = Tally(month_labels(share.start, share.months))
    for number in share.numbers:
        generator = supplier_generator(share.seed, number)
        life = SupplierLife(
            policy, pack, share.rates, generator=generator, number=number, start=share.start,
            tally=tally, score=qualification_score(share.rates, share.seed, number),
        )  # fmt: skip
        life.live()
    return tally


def supplier_generator(seed: int, number: int) -> random.Random:
    """The draws of supplier ``number`` in a run seeded ``seed``, whatever else runs."""
    return random.Random(f"{seed}:{number}")  # noqa: S311 - a repeatable draw


def qualification_score(rates: Rates, seed: int, number: int) -> float:
    """Supplier ``number``'s evaluation score: drawn apart from its other draws (so a run
    without a spread is the same as before spreads existed), rounded to one place.
    """
    if rates.qualification_score_sd == 0:
        return rates.qualification_score_mean
    draw = random.Random(f"{seed}:{number}:qualification")  # noqa: S311 - repeatable
    score = draw.gauss(rates.qualification_score_mean, rates.qualification_score_sd)
    return round(min(100.0, max(0.0, score)), 1)


def _live_share_in_worker(share: Share) -> Tally:
    policy, pack = parallel.worker_policy()
    return _live_share(policy, pack, share)


def month_labels(start: datetime, months: int) -> list[str]:
    """The ledger periods a run covers, one per simulated calendar month."""
    return [period_of(month_start(start, i)) for i in range(months)]


def month_start(start: datetime, months: int) -> datetime:
    """The first instant of the calendar month ``months`` after ``start``'s (a month's 1st)."""
    years, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + years, month=month + 1, day=1)


class SupplierLife:
    """One supplier's months: a queue of timed intents, some planned, some in reaction."""

    def __init__(
        self,
        policy: CompiledPolicy,
        pack: PolicyPack,
        rates: Rates,
        *,
        generator: random.Random,
        number: int,
        start: datetime,
        tally: Tally,
        score: float | None = None,
    ) -> None:
        self._rates = rates
        self._score = rates.qualification_score_mean if score is None else score
        self._random = generator
        self._start = start
        self._months = [month_start(start, i) for i in range(len(tally.months) + 1)]
        self._end = self._months[-1]
        self._tally = tally
        profile = self._profile_drawn = self._profile(number)
        self._player = Player(policy, sc.Scenario(profile, (), start), (), pack.criterion_ids)
        self._queue: list[tuple[datetime, int, sc.Intent]] = []
        self._sequence = 0
        self._reacted: set[str] = set()

    @property
    def profile(self) -> sc.SupplierProfile:
        """Who the supplier is (drawn from the run's seed and its number)."""
        return self._profile_drawn

    @property
    def state(self) -> SupplierState | None:
        """The supplier's state so far (None before it is registered)."""
        return self._player.state

    @property
    def timeline(self) -> tuple[Entry, ...]:
        """Every command run so far, with what it recorded or why it was refused."""
        return self._player.timeline

    def live(self) -> None:
        """Play every month, counting as it goes."""
        for command in self._player.commands():  # registration, evidence, contract
            self._execute(command)
        self._plan_months()
        for month, month_end in zip(self._tally.months, self._months[1:], strict=True):
            while self._queue and self._queue[0][0] < month_end:
                at, _, intent = heapq.heappop(self._queue)
                self._step(at, intent)
            state = self._player.state
            self._tally.states[month][state.lifecycle.value if state else "candidate"] += 1

    def _profile(self, number: int) -> sc.SupplierProfile:
        categories = list(self._rates.categories)
        weights = list(self._rates.categories.values())
        category = CategoryId(self._random.choices(categories, weights)[0])
        fee = Decimal(str(self._rates.monthly_fee)).quantize(Decimal("0.01"))
        return sc.SupplierProfile(
            f"sim-{number:06d}", category, score=self._score, monthly_fee=fee,
            liability_limit=fee * 10, currency=self._rates.currency,
        )  # fmt: skip

    def _plan_months(self) -> None:
        for day in range(0, (self._end - self._start).days, TICK_DAYS):
            self._at(day, sc.Wait())
        for month, (first, after) in enumerate(itertools.pairwise(self._months)):
            self._plan_month(month, self._day(first), (after - first).days)

    def _plan_month(self, month: int, base: float, length: int) -> None:
        rates, draw = self._rates, self._random
        for objective in range(MAX_OBJECTIVES):
            for _ in range(rates.measurements_per_month):
                severity = self._severity()
                self._at(base + draw.uniform(0, length), sc.Measure(objective, severity))
        if draw.random() < rates.report_rate:
            self._at(base + draw.uniform(23, 25), sc.Report())  # gaps stay under 35 days
        if draw.random() < rates.survey_rate:
            score = draw.gauss(rates.satisfaction_mean, rates.satisfaction_sd)
            self._at(base + draw.uniform(0, length), sc.Survey(round(min(100, max(0, score)), 1)))
        if draw.random() < rates.inspection_rate:
            passed = draw.random() >= rates.inspection_fail_rate
            self._at(base + draw.uniform(0, length), sc.Inspect(passed))
        if month % 3 == 0 and draw.random() < rates.self_check_rate:
            self._at(base + draw.uniform(0, 7), sc.SelfCheck())  # gaps stay under 100 days
        if month % 6 == 1:  # staff trained twice a year, as the default pack's strictest asks
            self._at(base + 3, sc.Train())

    def _severity(self) -> Severity | None:
        if self._random.random() >= self._rates.breach_rate:
            return None
        mix = self._rates.severity_mix
        return Severity(self._random.choices(list(mix), list(mix.values()))[0])

    def _at(self, day: float, intent: sc.Intent) -> None:
        at = self._start + timedelta(days=round(day, 4))
        if at < self._end:
            self._sequence += 1
            heapq.heappush(self._queue, (at, self._sequence, intent))

    def _step(self, at: datetime, intent: sc.Intent) -> None:
        state = self._player.state
        if state is None or state.lifecycle is LifecycleState.TERMINATED:
            return
        self._execute(AdvanceTime(state.supplier_id, at))
        command = command_for(intent, self._player, at)
        if command is not None:
            self._execute(command)
        self._react(at)

    def _execute(self, command: Any) -> None:
        before = len(self._player.timeline)
        self._player.execute(command)
        for entry in self._player.timeline[before:]:
            self._count(entry.events)

    def _count(self, events: Iterator[Any] | tuple[Any, ...]) -> None:
        tally = self._tally
        for event in events:
            tally.events += 1
            if isinstance(event, DecisionRecorded) and event.took_effect:
                tally.decisions += 1
                tally.fired[event.decision.rule_id] += 1
            elif isinstance(event, PenaltyAssessed):
                amount = event.penalty.amount
                tally.penalties[event.penalty.period][amount.currency] += amount.amount
            elif isinstance(event, ScorecardClosed):
                card = event.scorecard
                tally.standings[card.period][card.standing or UNRATED] += 1
            elif (
                isinstance(event, LifecycleTransitioned)
                and event.to_state is LifecycleState.TERMINATED
            ):
                days = (event.occurred_at - self._start).total_seconds() / 86400
                tally.days_to_termination.append(int(days))  # whole days since signing

    def _react(self, now: datetime) -> None:
        """The operator concludes reviews; the supplier submits and completes plans."""
        state = self._player.state
        if state is None:
            return
        rates, draw = self._rates, self._random
        if state.lifecycle is LifecycleState.UNDER_REVIEW and state.review is not None:
            key = f"review:{state.review.opened_at.isoformat()}"
            if key not in self._reacted:
                self._reacted.add(key)
                outcomes = rates.review_outcomes
                outcome = ReviewOutcome(draw.choices(list(outcomes), list(outcomes.values()))[0])
                self._after(now, draw.expovariate(1 / rates.review_days), sc.Conclude(outcome))
        plan = state.plan
        if state.lifecycle is LifecycleState.REMEDIATION and plan is not None:
            key = f"plan:{plan.required_at.isoformat()}"
            if plan.submitted_at is None and key not in self._reacted:
                self._reacted.add(key)
                if draw.random() < rates.plan_submit_rate:
                    self._after(now, draw.expovariate(1 / rates.plan_submit_days), sc.SubmitPlan())
            done = f"{key}:done"
            if (
                plan.submitted_at is not None
                and plan.completed_at is None
                and done not in self._reacted
            ):
                self._reacted.add(done)
                if draw.random() < rates.plan_complete_rate:
                    self._after(
                        now, draw.expovariate(1 / rates.plan_complete_days), sc.CompletePlan()
                    )

    def _after(self, now: datetime, days: float, intent: sc.Intent) -> None:
        self._at(self._day(now) + days, intent)

    def _day(self, moment: datetime) -> float:
        return (moment - self._start).total_seconds() / 86400


def result(
    pack: PolicyPack, rates: Rates, tally: Tally, *, suppliers: int, months: int, seed: int
) -> dict[str, Any]:
    """The run as JSON-ready data (the shape ``sqm.simulation.report`` renders)."""
    totals_by_currency: dict[str, Decimal] = defaultdict(Decimal)
    for amounts in tally.penalties.values():
        for currency, amount in amounts.items():
            totals_by_currency[currency] += amount
    return {
        "format": RESULT_FORMAT,
        "pack": pack.name,
        "policy_version": pack.version,
        "seed": seed,
        "suppliers": suppliers,
        "months": months,
        "scenario": attrs.asdict(rates),
        "months_axis": tally.months,
        "states_per_month": {m: dict(sorted(tally.states[m].items())) for m in tally.months},
        "penalties_per_month": {
            m: {c: str(a) for c, a in sorted(tally.penalties.get(m, {}).items())}
            for m in tally.months
        },
        "rules_fired": dict(sorted(tally.fired.items())),
        "standings_per_period": {
            period: dict(sorted(tally.standings[period].items()))
            for period in sorted(tally.standings)
        },
        "standing_order": _standing_order(pack),
        "rule_titles": {rule.id: rule.title for rule in pack.rules},
        "time_to_termination_days": sorted(tally.days_to_termination),
        "totals": {
            "events": tally.events,
            "decisions": tally.decisions,
            "terminated": len(tally.days_to_termination),
            "penalties": {c: str(a) for c, a in sorted(totals_by_currency.items())},
        },
    }


UNRATED = "unrated"
"""The standing counted for a scorecard no KPI had data for."""


def _standing_order(pack: PolicyPack) -> list[str]:
    """The pack's standings, highest band first, then ``unrated``: the report's order."""
    spec = pack.scorecard
    bands = sorted(spec.standings, key=lambda s: -s.min_score) if spec is not None else []
    return [*(s.id for s in bands), UNRATED]
