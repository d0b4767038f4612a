"""``sqm simulate run NEW --baseline OLD``: one seeded population under two packs, compared.

Each supplier lives its months twice, once under the baseline pack and once under the
candidate, from the same draws (its generator is seeded by the run's seed and its number
alone, see :mod:`sqm.simulation.impact`), so every difference is the packs'. The result
holds both runs as ``sqm simulate run`` writes them, and what a policy team asks first:
suppliers by final state, terminations by the rule that ended them, service credits (total,
as a share of fees, suppliers whose credits reached their liability limit), reviews and
improvement plans, the same per service category and per rule, and every supplier whose
fate changes with the first decision that differs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from sqm.domain.events import DecisionRecorded, Event, LifecycleTransitioned, PenaltyAssessed
from sqm.domain.model import LifecycleState
from sqm.domain.serialization import format_time
from sqm.rules import CompiledPolicy, PolicyPack
from sqm.simulation import parallel
from sqm.simulation.impact import (
    Rates,
    Share,
    SupplierLife,
    Tally,
    month_labels,
    population,
    qualification_score,
    result,
    run_start,
    supplier_generator,
)

E = TypeVar("E")
COMPARISON_FORMAT = "sqm.comparison/v1"
SIDES = ("baseline", "candidate")


@attrs.frozen
class Fate:
    """How one supplier's months ended under one pack."""

    final_state: str
    terminated_by: str  # the rule whose decision ended it ("" when not terminated)
    credits: Decimal
    at_liability_limit: bool
    reviews: int
    plans: int
    decisions: tuple[tuple[str, str], ...]  # (time, rule id) of each decision that acted


@attrs.frozen
class SupplierPair:
    """One supplier's fate under both packs."""

    supplier_id: str
    category: str
    currency: str
    baseline: Fate
    candidate: Fate

    @property
    def changed(self) -> bool:
        """The fate differs: final state, terminating rule, credits, reviews or plans (a
        reminder sent on another day alone is not a change of fate).
        """
        return attrs.evolve(self.baseline, decisions=()) != attrs.evolve(
            self.candidate, decisions=()
        )


@attrs.frozen
class ShareOutcome:
    """What a share of the population did under both packs."""

    tallies: tuple[Tally, Tally]
    pairs: tuple[SupplierPair, ...]


def compare(
    candidate: PolicyPack,
    baseline: PolicyPack,
    rates: Rates,
    *,
    suppliers: int,
    months: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Simulate the population under both packs; the JSON-ready comparison."""
    shares = population(rates, suppliers=suppliers, months=months, seed=seed, jobs=jobs)
    start = run_start(rates)
    if jobs == 1:
        policies = (CompiledPolicy(baseline), CompiledPolicy(candidate))
        packs = (baseline, candidate)
        outcomes: Iterable[ShareOutcome] = (_both(policies, packs, share) for share in shares)
    else:
        outcomes = parallel.ordered_map(
            _both_in_worker, shares, jobs=jobs,
            initializer=parallel.compile_in_worker, initargs=(baseline, candidate),
        )  # fmt: skip
    tallies = (Tally(month_labels(start, months)), Tally(month_labels(start, months)))
    pairs: list[SupplierPair] = []
    for share, outcome in zip(shares, outcomes, strict=True):
        for tally, part in zip(tallies, outcome.tallies, strict=True):
            tally.add(part)
        pairs.extend(outcome.pairs)
        if progress is not None:
            progress(share.numbers.stop)
    runs = {
        side: result(pack, rates, tally, suppliers=suppliers, months=months, seed=seed)
        for side, pack, tally in zip(SIDES, (baseline, candidate), tallies, strict=True)
    }
    return _comparison(runs, pairs, (baseline, candidate), rates, months)


def _both(
    policies: tuple[CompiledPolicy, CompiledPolicy],
    packs: tuple[PolicyPack, PolicyPack],
    share: Share,
) -> ShareOutcome:
    tallies = (
        Tally(month_labels(share.start, share.months)),
        Tally(month_labels(share.start, share.months)),
    )
    pairs = []
    for number in share.numbers:
        lives = [
            SupplierLife(policy, pack, share.rates, number=number, start=share.start,
                         tally=tally, generator=supplier_generator(share.seed, number),
                         score=qualification_score(share.rates, share.seed, number))
            for policy, pack, tally in zip(policies, packs, tallies, strict=True)
        ]  # fmt: skip
        for life in lives:
            life.live()
        pairs.append(_pair(lives[0], lives[1]))
    return ShareOutcome(tallies, tuple(pairs))


def _both_in_worker(share: Share) -> ShareOutcome:
    (baseline, baseline_pack), (candidate, candidate_pack) = parallel.worker_policies()
    return _both((baseline, candidate), (baseline_pack, candidate_pack), share)


def _pair(baseline: SupplierLife, candidate: SupplierLife) -> SupplierPair:
    profile = baseline.profile
    return SupplierPair(
        profile.supplier_id,
        profile.category,
        profile.currency,
        _fate(baseline),
        _fate(candidate),
    )


def _fate(life: SupplierLife) -> Fate:
    events = [event for entry in life.timeline for event in entry.events]
    state = life.state
    credits = sum((e.penalty.amount.amount for e in _of(events, PenaltyAssessed)), Decimal(0))
    limit = life.profile.liability_limit
    acted = [
        (format_time(e.occurred_at), e.decision.rule_id)
        for e in _of(events, DecisionRecorded)
        if e.took_effect
    ]
    return Fate(
        final_state=state.lifecycle.value if state else "candidate",
        terminated_by=_terminated_by(events),
        credits=credits,
        at_liability_limit=credits >= limit,
        reviews=_entered(events, LifecycleState.UNDER_REVIEW),
        plans=_entered(events, LifecycleState.REMEDIATION),
        decisions=tuple(acted),
    )


def _of(events: Sequence[Event], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def _entered(events: Sequence[Event], state: LifecycleState) -> int:
    return sum(1 for e in _of(events, LifecycleTransitioned) if e.to_state is state)


def _terminated_by(events: Sequence[Event]) -> str:
    """The rule whose decision preceded the termination (its trigger when no rule did)."""
    last_rule = ""
    for event in events:
        if isinstance(event, DecisionRecorded) and event.took_effect:
            last_rule = event.decision.rule_id
        elif (
            isinstance(event, LifecycleTransitioned) and event.to_state is LifecycleState.TERMINATED
        ):
            return last_rule or event.trigger
    return ""


# --- the result -----------------------------------------------------------------------------


def _comparison(
    runs: Mapping[str, dict[str, Any]],
    pairs: Sequence[SupplierPair],
    packs: tuple[PolicyPack, PolicyPack],
    rates: Rates,
    months: int,
) -> dict[str, Any]:
    fees = Decimal(str(rates.monthly_fee)) * months * len(pairs)
    sides = dict(zip(SIDES, packs, strict=True))
    titles = {rule.id: rule.title for pack in packs for rule in pack.rules}
    return {
        "format": COMPARISON_FORMAT,
        "packs": {side: {"name": p.name, "version": p.version} for side, p in sides.items()},
        "seed": runs["baseline"]["seed"],
        "suppliers": len(pairs),
        "months": months,
        "scenario": runs["baseline"]["scenario"],
        "runs": dict(runs),
        "final_states": _both_counts(pairs, lambda fate: fate.final_state),
        "terminations_by_rule": _both_counts(
            pairs, lambda fate: fate.terminated_by, skip_empty=True
        ),
        "credits": {
            side: {
                "total": str(total),
                "share_of_fees": f"{(total / fees * 100):.2f}" if fees else "0.00",
                "at_liability_limit": sum(getattr(p, side).at_liability_limit for p in pairs),
            }
            for side in SIDES
            for total in [sum((getattr(p, side).credits for p in pairs), Decimal(0))]
        },
        "currency": rates.currency,
        "fees": str(fees),
        "reviews": {side: sum(getattr(p, side).reviews for p in pairs) for side in SIDES},
        "plans": {side: sum(getattr(p, side).plans for p in pairs) for side in SIDES},
        "by_category": _by_category(pairs),
        "by_rule": {
            rule: {"title": titles.get(rule, ""), **counts}
            for rule, counts in _rule_counts(runs).items()
        },
        "changed_suppliers": [_changed(pair) for pair in pairs if pair.changed],
    }


def _both_counts(
    pairs: Sequence[SupplierPair], key: Callable[[Fate], str], *, skip_empty: bool = False
) -> dict[str, dict[str, int]]:
    counted = {side: Counter(key(getattr(p, side)) for p in pairs) for side in SIDES}
    names = sorted({name for counts in counted.values() for name in counts})
    return {
        name: {side: counted[side][name] for side in SIDES}
        for name in names
        if name or not skip_empty
    }


def _by_category(pairs: Sequence[SupplierPair]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, list[SupplierPair]] = defaultdict(list)
    for pair in pairs:
        grouped[pair.category].append(pair)
    return {
        category: {
            "suppliers": len(members),
            "terminated": {
                side: sum(getattr(p, side).final_state == "terminated" for p in members)
                for side in SIDES
            },
            "credits": {
                side: str(sum((getattr(p, side).credits for p in members), Decimal(0)))
                for side in SIDES
            },
            "changed": sum(p.changed for p in members),
        }
        for category, members in sorted(grouped.items())
    }


def _rule_counts(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    fired = {side: runs[side]["rules_fired"] for side in SIDES}
    names = sorted({rule for counts in fired.values() for rule in counts})
    return {rule: {side: int(fired[side].get(rule, 0)) for side in SIDES} for rule in names}


def _changed(pair: SupplierPair) -> dict[str, Any]:
    return {
        "supplier_id": pair.supplier_id,
        "category": pair.category,
        "currency": pair.currency,
        **{side: _fate_json(getattr(pair, side)) for side in SIDES},
        "first_difference": _first_difference(pair.baseline, pair.candidate),
    }


def _fate_json(fate: Fate) -> dict[str, Any]:
    return {
        "final_state": fate.final_state,
        "terminated_by": fate.terminated_by,
        "credits": str(fate.credits),
        "reviews": fate.reviews,
        "plans": fate.plans,
    }


def _first_difference(baseline: Fate, candidate: Fate) -> dict[str, str]:
    """The first decision that one pack made and the other did not (or made differently)."""
    for before, after in zip(baseline.decisions, candidate.decisions, strict=False):
        if before != after:
            return {
                "time": min(before[0], after[0]),
                "baseline": f"{before[1]} at {before[0]}",
                "candidate": f"{after[1]} at {after[0]}",
            }
    shorter, longer = sorted((baseline.decisions, candidate.decisions), key=len)
    if len(longer) > len(shorter):
        time, rule = longer[len(shorter)]
        only = "baseline" if longer is baseline.decisions else "candidate"
        other = "candidate" if only == "baseline" else "baseline"
        return {"time": time, only: f"{rule} at {time}", other: "no further decision"}
    return {"time": "", "baseline": "same decisions", "candidate": "same decisions"}
