r"""Selection: rank shortlisted candidates by weighted sum and by TOPSIS, with an evaluation report.

The committee scores every shortlisted supplier on the same criteria (capability, price,
delivery lead time, ...) and reads one report that ranks them by two methods:

- **weighted sum**: each criterion min-max normalised to [0, 1] (1 = best on the shortlist),
  score = sum(weight * normalised) / sum(weights) * 100;
- **TOPSIS**: each criterion vector normalised (x / sqrt(sum x^2)) and weighted, closeness to
  the ideal point = d- / (d+ + d-), where d+ and d- are the Euclidean distances to the ideal
  and anti-ideal points.

Arithmetic is ``Decimal`` in a private context, so the same inputs give the same report on
every machine and in every thread, whatever the caller's own decimal context. Pure: no I/O.

    report = rank(criteria, candidates)   # raises ValueError naming the bad criterion/candidate
    print("\\n".join(report.summary()))
"""

from __future__ import annotations

import decimal
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

import attrs

from sqm.domain.ranking import (
    CONTEXT,
    KINDS,
    Candidate,
    CandidateResult,
    Criterion,
    CriterionDifference,
    EvaluationReport,
    Kind,
    PairComparison,
    rounded,
)

__all__ = ["KINDS", "Candidate", "Criterion", "EvaluationReport", "Kind", "rank"]

_Normaliser = Callable[[Kind, Sequence[Decimal]], list[Decimal]]
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def rank(criteria: Iterable[Criterion], candidates: Iterable[Candidate]) -> EvaluationReport:
    """Rank ``candidates`` on ``criteria`` by weighted sum and by TOPSIS.

    The report does not depend on the order of ``candidates``. Raises ``ValueError`` naming
    the criterion or candidate at fault when the input cannot be ranked.
    """
    criteria = tuple(criteria)
    # One canonical order: sums over candidates then round identically however they came in.
    ordered = tuple(sorted(candidates, key=lambda c: c.candidate_id))
    _check_criteria(criteria)
    _check_candidates(criteria, ordered)
    with decimal.localcontext(CONTEXT):
        return _evaluate(criteria, ordered)


# --- validation -------------------------------------------------------------------------


def _check_criteria(criteria: Sequence[Criterion]) -> None:
    if not criteria:
        raise ValueError("no criteria: a ranking needs at least one criterion")
    _check_unique("criterion", [c.id for c in criteria])
    for criterion in criteria:
        where = f"criterion {criterion.id!r}"
        if criterion.kind not in KINDS:
            raise ValueError(
                f"{where}: unknown kind {criterion.kind!r} (expected 'benefit' or 'cost')"
            )
        _check_number(f"{where}: weight", criterion.weight)
        if criterion.weight <= 0:
            raise ValueError(f"{where}: weight must be positive, got {criterion.weight}")


def _check_candidates(criteria: Sequence[Criterion], candidates: Sequence[Candidate]) -> None:
    if not candidates:
        raise ValueError("no candidates: a ranking needs at least one candidate")
    _check_unique("candidate", [c.candidate_id for c in candidates])
    for candidate in candidates:
        for criterion in criteria:
            where = f"candidate {candidate.candidate_id!r}, criterion {criterion.id!r}"
            if criterion.id not in candidate.values:
                raise ValueError(f"{where}: no value")
            value = candidate.values[criterion.id]
            _check_number(f"{where}: value", value)
            if value < 0:
                raise ValueError(
                    f"{where}: value {value} is negative; TOPSIS's vector normalisation "
                    "needs non-negative values (shift the scale so its lowest value is 0)"
                )


def _check_unique(noun: str, ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {noun} id {item!r}")
        seen.add(item)


def _check_number(what: str, value: object) -> None:
    # A float would mix binary rounding into exact arithmetic (and Decimal + float raises).
    if not isinstance(value, Decimal):
        raise ValueError(f"{what} must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{what} {value} is not finite")


# --- arithmetic (inside the private decimal context) -------------------------------------


@attrs.frozen
class _Topsis:
    weighted: list[dict[str, Decimal]]
    ideal: dict[str, Decimal]
    anti_ideal: dict[str, Decimal]
    to_ideal: list[Decimal]
    to_anti_ideal: list[Decimal]
    closeness: list[Decimal]


def _evaluate(criteria: Sequence[Criterion], candidates: Sequence[Candidate]) -> EvaluationReport:
    total = sum((c.weight for c in criteria), _ZERO)
    normalised = _by_candidate(criteria, candidates, _min_max)
    scores = [rounded(_weighted_score(criteria, n, total)) for n in normalised]
    topsis = _topsis(criteria, candidates, total)
    closeness = [rounded(c) for c in topsis.closeness]
    weighted_ranks = _ranks(scores, closeness, [c.candidate_id for c in candidates])
    topsis_ranks = _ranks(closeness, scores, [c.candidate_id for c in candidates])
    results = [
        CandidateResult(
            candidate_id=candidate.candidate_id,
            normalised=_rounded_map(normalised[i]),
            contributions=_rounded_map(_contributions(criteria, normalised[i], total)),
            weighted_score=scores[i],
            weighted_rank=weighted_ranks[i],
            topsis_weighted=_rounded_map(topsis.weighted[i]),
            distance_to_ideal=rounded(topsis.to_ideal[i]),
            distance_to_anti_ideal=rounded(topsis.to_anti_ideal[i]),
            closeness=closeness[i],
            topsis_rank=topsis_ranks[i],
        )
        for i, candidate in enumerate(candidates)
    ]
    return _report(criteria, results, topsis)


def _report(
    criteria: Sequence[Criterion], results: Sequence[CandidateResult], topsis: _Topsis
) -> EvaluationReport:
    by_weighted = sorted(results, key=lambda r: (r.weighted_rank, r.candidate_id))
    by_topsis = sorted(results, key=lambda r: (r.topsis_rank, r.candidate_id))
    pairs = [_compare(criteria, a, b) for a, b in itertools.pairwise(by_weighted)]
    return EvaluationReport(
        criteria=tuple(criteria),
        candidates=tuple(by_weighted),
        ideal=_rounded_map(topsis.ideal),
        anti_ideal=_rounded_map(topsis.anti_ideal),
        deciding_criteria=tuple(pairs),
        methods_agree=by_weighted[0].candidate_id == by_topsis[0].candidate_id,
    )


def _by_candidate(
    criteria: Sequence[Criterion],
    candidates: Sequence[Candidate],
    normalise: _Normaliser,
) -> list[dict[str, Decimal]]:
    """Normalise column by column, then regroup the values per candidate."""
    rows: list[dict[str, Decimal]] = [{} for _ in candidates]
    for criterion in criteria:
        column = normalise(criterion.kind, [c.values[criterion.id] for c in candidates])
        for row, value in zip(rows, column, strict=True):
            row[criterion.id] = value
    return rows


def _min_max(kind: Kind, column: Sequence[Decimal]) -> list[Decimal]:
    low, high = min(column), max(column)
    if low == high:
        # A criterion nobody is better on cannot separate them: everyone gets full marks.
        return [_ONE for _ in column]
    span = high - low
    if kind == "benefit":
        return [(x - low) / span for x in column]
    return [(high - x) / span for x in column]


def _vector(kind: Kind, column: Sequence[Decimal]) -> list[Decimal]:
    # ``kind`` matters only later, when picking the ideal; the signature matches _min_max's.
    del kind
    norm = sum((x * x for x in column), _ZERO).sqrt()
    if norm == 0:
        return [_ZERO for _ in column]  # all zero: equal, and nothing to divide by
    return [x / norm for x in column]


def _weighted_score(
    criteria: Sequence[Criterion], normalised: Mapping[str, Decimal], total: Decimal
) -> Decimal:
    # The formula as stated, so rounding can never lift a score above 100.
    weighted = sum((c.weight * normalised[c.id] for c in criteria), _ZERO)
    return weighted / total * _HUNDRED


def _contributions(
    criteria: Sequence[Criterion], normalised: Mapping[str, Decimal], total: Decimal
) -> dict[str, Decimal]:
    return {c.id: c.weight * normalised[c.id] / total * _HUNDRED for c in criteria}


def _topsis(
    criteria: Sequence[Criterion], candidates: Sequence[Candidate], total: Decimal
) -> _Topsis:
    vectors = _by_candidate(criteria, candidates, _vector)
    # Weights as shares of 1, the textbook form; closeness is the same for any common scale.
    weighted = [{c.id: c.weight / total * row[c.id] for c in criteria} for row in vectors]
    ideal = {c.id: _best(c.kind, [row[c.id] for row in weighted]) for c in criteria}
    anti_ideal = {c.id: _worst(c.kind, [row[c.id] for row in weighted]) for c in criteria}
    to_ideal = [_distance(row, ideal) for row in weighted]
    to_anti_ideal = [_distance(row, anti_ideal) for row in weighted]
    closeness = [_closeness(p, m) for p, m in zip(to_ideal, to_anti_ideal, strict=True)]
    return _Topsis(weighted, ideal, anti_ideal, to_ideal, to_anti_ideal, closeness)


def _best(kind: Kind, column: Sequence[Decimal]) -> Decimal:
    return max(column) if kind == "benefit" else min(column)


def _worst(kind: Kind, column: Sequence[Decimal]) -> Decimal:
    return min(column) if kind == "benefit" else max(column)


def _distance(point: Mapping[str, Decimal], reference: Mapping[str, Decimal]) -> Decimal:
    return sum(((point[k] - reference[k]) ** 2 for k in reference), _ZERO).sqrt()


def _closeness(to_ideal: Decimal, to_anti_ideal: Decimal) -> Decimal:
    spread = to_ideal + to_anti_ideal
    if spread == 0:
        # Only when ideal == anti-ideal, i.e. every candidate is equal on every criterion:
        # each is at the ideal, as the weighted sum's full marks for equal values says too.
        return _ONE
    return to_anti_ideal / spread


def _ranks(
    primary: Sequence[Decimal], secondary: Sequence[Decimal], ids: Sequence[str]
) -> list[int]:
    """Competition ranks (1, 1, 3) by ``primary`` score, ties broken by ``secondary``.

    Candidates equal on both scores share a rank: the id only fixes their order in lists.
    """
    scores = list(zip(primary, secondary, strict=True))
    order = sorted(range(len(ids)), key=lambda i: (-primary[i], -secondary[i], ids[i]))
    ranks = [0] * len(ids)
    for position, index in enumerate(order):
        previous = order[position - 1]
        tied = position > 0 and scores[index] == scores[previous]
        ranks[index] = ranks[previous] if tied else position + 1
    return ranks


def _compare(
    criteria: Sequence[Criterion], ahead: CandidateResult, behind: CandidateResult
) -> PairComparison:
    # Differences of the reported (rounded) contributions: exact, and they match the report.
    differences = [
        CriterionDifference(c.id, ahead.contributions[c.id] - behind.contributions[c.id])
        for c in criteria
    ]
    # sorted() is stable (reversed too), so equal differences keep the criteria's own order.
    gains = sorted((d for d in differences if d.points > 0), key=_points, reverse=True)
    losses = sorted((d for d in differences if d.points < 0), key=_points)
    return PairComparison(
        ahead=ahead.candidate_id,
        behind=behind.candidate_id,
        margin=ahead.weighted_score - behind.weighted_score,
        deciding=tuple(gains),
        offsetting=tuple(losses),
    )


def _points(difference: CriterionDifference) -> Decimal:
    return difference.points


def _rounded_map(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {key: rounded(value) for key, value in values.items()}
