"""What a pack declares about scorecards, and what a closed scorecard records.

Kept apart from :mod:`sqm.domain.scorecards` (which computes them from a supplier's state)
so that :mod:`sqm.domain.model` can hold closed scorecards without an import cycle.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

import attrs


class ScorecardPeriod(enum.StrEnum):
    """How long a scorecard's period is, in local calendar months of the pack's calendar."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"

    @property
    def months(self) -> int:
        """1 for monthly, 3 for quarterly (quarters start in January, April, July, October)."""
        return 1 if self is ScorecardPeriod.MONTHLY else 3


class KpiMeasure(enum.StrEnum):
    """What a KPI measures; each is computed from the supplier's records of the period."""

    SLA_ATTAINMENT = "sla_attainment"
    """Percent of the period's measurements (of one objective, when given) that met it."""
    SATISFACTION_MEAN = "satisfaction_mean"
    """The mean satisfaction survey score (0 to 100) of the period."""
    INSPECTION_PASS_RATE = "inspection_pass_rate"  # noqa: S105 - a measure's name, not a secret
    """Percent of the period's inspections that passed."""
    PENALTIES_SHARE_OF_FEE = "penalties_share_of_fee"
    """Penalties counted against the period's months, as a percent of the fees for them."""
    TICKETS_ON_TIME = "tickets_on_time"
    """Percent of the problem tickets resolved in the period within their severity's target."""
    MILESTONES_ON_TIME = "milestones_on_time"
    """Percent of the kick-off milestones due in the period completed by their due time."""
    REPORTS_ON_TIME = "reports_on_time"
    """Percent of the period's reports (progress reports or self-checks) that came on time."""


class ReportKind(enum.StrEnum):
    """Which of the supplier's periodic reports a ``reports_on_time`` KPI follows."""

    PROGRESS_REPORT = "progress_report"
    SELF_CHECK = "self_check"


@attrs.frozen
class KpiSpec:
    """One KPI of a pack's scorecard: what it measures and how much it weighs."""

    id: str
    title: str
    measure: KpiMeasure
    weight: float
    objective: str = ""
    """For ``sla_attainment``: only this objective's measurements (all when empty)."""
    zero_at_percent: float = 100.0
    """For ``penalties_share_of_fee``: the share of the fees at which the KPI scores 0."""
    report: ReportKind = ReportKind.PROGRESS_REPORT
    """For ``reports_on_time``: which reports it follows."""
    within_days: float = 0.0
    """For ``reports_on_time``: the most days a report may come after the one before it."""


@attrs.frozen
class Standing:
    """A band of scores and what a supplier in it may not do."""

    id: str
    title: str
    min_score: float
    blocks_shortlisting: bool = False
    blocks_award: bool = False
    warns_shortlisting: bool = False
    """Shortlisting is accepted with a warning (given in the answer, recorded on the event)."""
    warns_award: bool = False
    """An award is accepted with a warning (given in the answer, recorded on the event)."""
    review_every_days: int = 0
    """The periodic business review's interval while in this band (0: the category's)."""


@attrs.frozen
class ScorecardSpec:
    """A pack's scorecard: its period, its KPIs, and its standings (highest band first)."""

    period: ScorecardPeriod
    kpis: tuple[KpiSpec, ...]
    standings: tuple[Standing, ...]
    weights_by_category: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    """Per service category, KPI weights that replace the declared ones (by KPI id)."""

    def for_category(self, category: str) -> ScorecardSpec:
        """The scorecard a supplier of ``category`` is scored on: the declared one, with the
        category's weights where the pack gives some.
        """
        weights = dict(next((w for c, w in self.weights_by_category if c == category), ()))
        if not weights:
            return self
        kpis = tuple(attrs.evolve(k, weight=weights.get(k.id, k.weight)) for k in self.kpis)
        return attrs.evolve(self, kpis=kpis, weights_by_category=())

    @property
    def total_weight(self) -> float:
        """The declared weights' sum: what the weights used add up to in every period."""
        return sum(kpi.weight for kpi in self.kpis)

    def standing_of(self, score: float) -> Standing:
        """The highest band whose minimum ``score`` reaches (the loader requires one at 0)."""
        bands = sorted(self.standings, key=lambda s: s.min_score, reverse=True)
        return next((s for s in bands if score >= s.min_score), bands[-1])

    def standing(self, standing_id: str) -> Standing | None:
        """The standing with this id, if the pack declares one."""
        return next((s for s in self.standings if s.id == standing_id), None)


@attrs.frozen
class KpiResult:
    """One KPI of a closed scorecard: its value, its score and how both were reached.

    ``value`` and ``score`` are 0 and ``weight_used`` is 0 when the period had no data for
    it (``has_data`` False); its weight was shared out over the KPIs with data.
    """

    kpi_id: str
    title: str
    measure: str
    value: float
    score: float
    weight: float
    weight_used: float
    has_data: bool
    basis: str


@attrs.frozen
class Scorecard:
    """A supplier's closed scorecard for one period ``[period_start, period_end)``.

    ``standing`` is empty (unrated) when no KPI had data in the period; ``score`` is then 0.
    """

    period: str
    """``YYYY-MM`` for a month, ``YYYY-Qn`` for a quarter (local calendar)."""
    period_start: datetime
    period_end: datetime
    score: float
    standing: str
    standing_title: str
    kpis: tuple[KpiResult, ...]
    weights_note: str
    """How the weights of KPIs without data were shared out ("" when all had data)."""
    policy_version: str = ""
    blocks_shortlisting: bool = False
    """The standing's effect as the pack declared it when the period closed."""
    closed_at: datetime | None = None
    """The tick that closed the period (its ``ScorecardClosed`` event's time)."""
    blocks_award: bool = False
    """The standing's effect as declared when the period closed: no need is awarded to it."""
    warns_shortlisting: bool = False
    """The standing's effect as declared: shortlisting it is accepted with a warning."""
    warns_award: bool = False
    """The standing's effect as declared: awarding it a need is accepted with a warning."""
    review_every_days: int = 0
    """The standing's business review interval as declared (0: the category's)."""


def shortlisting_refusal(scorecards: Sequence[Scorecard]) -> str:
    """Why the latest of ``scorecards`` keeps its supplier off shortlists ("" if it does not)."""
    if not scorecards or not scorecards[-1].blocks_shortlisting:
        return ""
    return _blocked(scorecards[-1], "shortlisting")


def award_refusal(scorecards: Sequence[Scorecard]) -> str:
    """Why the latest of ``scorecards`` keeps a need from going to its supplier ("" if not)."""
    if not scorecards or not scorecards[-1].blocks_award:
        return ""
    return _blocked(scorecards[-1], "an award")


def shortlisting_warning(scorecards: Sequence[Scorecard]) -> str:
    """The warning shortlisting the supplier of ``scorecards`` carries ("" for none)."""
    if not scorecards or not scorecards[-1].warns_shortlisting:
        return ""
    return _warned(scorecards[-1], "shortlisting")


def award_warning(scorecards: Sequence[Scorecard]) -> str:
    """The warning awarding a need to the supplier of ``scorecards`` carries ("" for none)."""
    if not scorecards or not scorecards[-1].warns_award:
        return ""
    return _warned(scorecards[-1], "an award")


def _warned(latest: Scorecard, what: str) -> str:
    return (
        f"its standing is {latest.standing} ({latest.standing_title}), score {latest.score:g}"
        f" in {latest.period}, and that standing warns on {what}"
    )


def _blocked(latest: Scorecard, what: str) -> str:
    return (
        f"its standing is {latest.standing} ({latest.standing_title}), score {latest.score:g}"
        f" in {latest.period}, and that standing blocks {what}"
    )
