"""What a ranking of shortlisted suppliers is: criteria, candidates, each one's result, and
the evaluation report the procurement committee reads (weighted sum and TOPSIS).

The arithmetic is the policy's (``sqm.rules.selection``); these are its terms, shared by the
policy port (:meth:`sqm.domain.ports.Policy.rank_candidates`), the need records and the API.
Numbers are ``Decimal`` in a private context, so the same inputs give the same report on
every machine and in every thread.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import Literal

import attrs

Kind = Literal["benefit", "cost"]
"""``benefit``: higher is better (capability); ``cost``: lower is better (price, lead time)."""

KINDS: tuple[Kind, ...] = ("benefit", "cost")

PRECISION = 28
"""Significant digits of every intermediate result."""

PLACES = 12
"""Decimal places of every number in the report. Ranks compare these rounded numbers, so two
candidates whose scores are equal in exact arithmetic tie even if the last of the 28 digits
differs (sums in another order round differently there)."""

CONTEXT = decimal.Context(
    prec=PRECISION,
    rounding=ROUND_HALF_EVEN,
    # The widest exponents, so squaring any finite value (a price of 1E+500000) cannot overflow.
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
_SHOWN_DECIDING = 3  # the summary names at most this many criteria per pair; the report has all


def frozen_values(values: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    """A read-only copy: a caller who mutates their dict later cannot change a frozen record."""
    return MappingProxyType(dict(values))


def rounded(value: Decimal, places: int = PLACES) -> Decimal:
    """``value`` to ``places`` decimal places, half to even, in the ranking's own context
    (Decimal.quantize would otherwise read the caller's thread context).
    """
    return value.quantize(
        Decimal(1).scaleb(-places, CONTEXT), rounding=ROUND_HALF_EVEN, context=CONTEXT
    )


@attrs.frozen
class Criterion:
    """One criterion of the evaluation, with a positive ``weight`` (relative to the others)."""

    id: str
    weight: Decimal
    kind: Kind


@attrs.frozen
class Candidate:
    """A shortlisted candidate's raw ``values`` per criterion id, each in its own unit.

    Values must be finite and non-negative (TOPSIS's vector normalisation needs that);
    values for criteria not being evaluated are ignored.
    """

    candidate_id: str
    values: Mapping[str, Decimal] = attrs.field(converter=frozen_values, hash=False)


@attrs.frozen
class CandidateResult:
    """How one candidate fared under both methods (numbers rounded to ``PLACES``).

    - ``normalised``: min-max normalised value per criterion, 1 = best on the shortlist;
    - ``contributions``: weighted-score points per criterion (they add up to the score);
    - ``topsis_weighted``: the weighted vector-normalised value per criterion, the point whose
      distances to the report's ``ideal`` and ``anti_ideal`` give ``closeness``.

    Ranks are 1 for the best; candidates share a rank only when both methods' scores are equal.
    """

    candidate_id: str
    normalised: Mapping[str, Decimal] = attrs.field(converter=frozen_values, hash=False)
    contributions: Mapping[str, Decimal] = attrs.field(converter=frozen_values, hash=False)
    weighted_score: Decimal
    weighted_rank: int
    topsis_weighted: Mapping[str, Decimal] = attrs.field(converter=frozen_values, hash=False)
    distance_to_ideal: Decimal
    distance_to_anti_ideal: Decimal
    closeness: Decimal
    topsis_rank: int


@attrs.frozen
class CriterionDifference:
    """How many weighted-score ``points`` one candidate gains over another on one criterion."""

    criterion_id: str
    points: Decimal


@attrs.frozen
class PairComparison:
    """Why ``ahead`` ranks above the next candidate ``behind`` in the weighted-sum ranking.

    ``margin`` is the difference of their weighted scores; it is exactly the sum of the
    per-criterion differences, which is why the weighted sum (not TOPSIS) explains the ranking.
    ``deciding`` holds the criteria where ``ahead`` gains, largest first; ``offsetting`` those
    where it loses, largest loss first.
    """

    ahead: str
    behind: str
    margin: Decimal
    deciding: tuple[CriterionDifference, ...]
    offsetting: tuple[CriterionDifference, ...]


@attrs.frozen
class EvaluationReport:
    """The evaluation report of one shortlist: both rankings and the reasons behind them.

    ``candidates`` are in weighted-sum rank order; ``ideal`` and ``anti_ideal`` are TOPSIS's
    reference points per criterion (in ``topsis_weighted`` units); ``deciding_criteria`` has
    one comparison per adjacent pair of ``candidates``; ``methods_agree`` says whether both
    methods put the same candidate first.
    """

    criteria: tuple[Criterion, ...]
    candidates: tuple[CandidateResult, ...]
    ideal: Mapping[str, Decimal] = attrs.field(converter=frozen_values, hash=False)
    anti_ideal: Mapping[str, Decimal] = attrs.field(converter=frozen_values, hash=False)
    deciding_criteria: tuple[PairComparison, ...]
    methods_agree: bool

    def result(self, candidate_id: str) -> CandidateResult:
        """The result of the candidate ``candidate_id``; ``KeyError`` if it was not ranked."""
        for result in self.candidates:
            if result.candidate_id == candidate_id:
                return result
        raise KeyError(candidate_id)

    @property
    def topsis_order(self) -> tuple[CandidateResult, ...]:
        """The candidates in TOPSIS rank order (a shared rank only for full ties: by id)."""
        return tuple(sorted(self.candidates, key=lambda r: (r.topsis_rank, r.candidate_id)))

    def summary(self) -> list[str]:
        """Human-readable lines for the procurement committee, best candidate first."""
        return [self._criteria_line(), self._agreement_line(), *self._ranking_lines()]

    def _criteria_line(self) -> str:
        described = ", ".join(f"{c.id} ({c.kind}, weight {c.weight:f})" for c in self.criteria)
        count = len(self.candidates)
        noun = "candidate" if count == 1 else "candidates"
        return f"Evaluation of {count} {noun} by weighted sum and TOPSIS on: {described}"

    def _agreement_line(self) -> str:
        weighted_first = self.candidates[0].candidate_id
        topsis_first = self.topsis_order[0].candidate_id
        if self.methods_agree:
            return f"Both methods rank {weighted_first} first."
        return (
            f"The methods disagree: weighted sum ranks {weighted_first} first, "
            f"TOPSIS ranks {topsis_first} first."
        )

    def _ranking_lines(self) -> list[str]:
        lines = []
        for index, result in enumerate(self.candidates):
            line = f"{result.weighted_rank}. {result.candidate_id} ({_scores(result)})"
            if index < len(self.deciding_criteria):
                pair = self.deciding_criteria[index]
                line += f": {_explain(pair, result, self.candidates[index + 1])}"
            lines.append(line)
        return lines


def _scores(result: CandidateResult) -> str:
    text = f"weighted {rounded(result.weighted_score, 2)}, TOPSIS {rounded(result.closeness, 4)}"
    if result.topsis_rank != result.weighted_rank:
        text += f", TOPSIS rank {result.topsis_rank}"
    return text


def _explain(pair: PairComparison, ahead: CandidateResult, behind: CandidateResult) -> str:
    if ahead.weighted_rank == behind.weighted_rank:
        return f"tied with {pair.behind} by both methods"
    if pair.margin == 0:
        return (
            f"level with {pair.behind} on the weighted score, ahead on TOPSIS closeness "
            f"({rounded(ahead.closeness, 4)} vs {rounded(behind.closeness, 4)})"
        )
    text = f"ahead of {pair.behind} on {_differences(pair.deciding[:_SHOWN_DECIDING])}"
    if pair.offsetting:
        text += f"; behind on {_differences(pair.offsetting[:_SHOWN_DECIDING])}"
    return text


def _differences(differences: Sequence[CriterionDifference]) -> str:
    return ", ".join(f"{d.criterion_id} ({rounded(d.points, 2):+})" for d in differences)
