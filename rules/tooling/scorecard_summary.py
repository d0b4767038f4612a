"""A pack's scorecard and segments in a few lines of text, as ``sqm policy lint`` shows them."""

from __future__ import annotations

from collections.abc import Sequence

from sqm.domain.scorecard_records import KpiMeasure, KpiSpec, ScorecardSpec, Standing
from sqm.domain.segments import Segment


def scorecard_lines(spec: ScorecardSpec) -> list[str]:
    """The period, each KPI with its weight and measure, and each standing with its band."""
    return [
        f"scorecards: {spec.period.value}, {len(spec.kpis)} KPI(s),"
        f" weights total {spec.total_weight:g}",
        *(f"  kpi {_kpi(kpi)}" for kpi in spec.kpis),
        *(
            f"  weights for {category}: {', '.join(f'{k} {w:g}' for k, w in weights)}"
            for category, weights in spec.weights_by_category
        ),
        *(f"  standing {_standing(s)}" for s in sorted(spec.standings, key=_highest_first)),
    ]


def segment_lines(segments: Sequence[Segment]) -> list[str]:
    """The segments in order (first match wins), each with its conditions."""
    if not segments:
        return []
    return [
        f"segments: {len(segments)}, first match wins",
        *(f"  segment {_segment(s)}" for s in segments),
    ]


def _segment(segment: Segment) -> str:
    conditions = [
        *([f"category {' or '.join(segment.categories)}"] if segment.categories else []),
        *([f"monthly fee at least {segment.min_monthly_fee}"] if segment.min_monthly_fee else []),
        *([f"standing {' or '.join(segment.standings)}"] if segment.standings else []),
    ]
    return f"{segment.id} ({segment.title}): {', '.join(conditions) or 'every other supplier'}"


def _kpi(kpi: KpiSpec) -> str:
    options = ""
    if kpi.measure is KpiMeasure.SLA_ATTAINMENT and kpi.objective:
        options = f", objective {kpi.objective}"
    if kpi.measure is KpiMeasure.PENALTIES_SHARE_OF_FEE:
        options = f", 0 at {kpi.zero_at_percent:g}% of the fees"
    if kpi.measure is KpiMeasure.REPORTS_ON_TIME:
        options = f", {kpi.report.value} within {kpi.within_days:g} days"
    return f"{kpi.id} ({kpi.title}): {kpi.measure.value}{options}, weight {kpi.weight:g}"


def _standing(standing: Standing) -> str:
    effects = [
        name
        for name, applies in (
            ("blocks shortlisting", standing.blocks_shortlisting),
            ("blocks an award", standing.blocks_award),
            ("warns on shortlisting", standing.warns_shortlisting),
            ("warns on an award", standing.warns_award),
        )
        if applies
    ]
    if standing.review_every_days:
        effects.append(f"business review every {standing.review_every_days} days")
    effect = "".join(f"; {name}" for name in effects)
    return f"{standing.id} ({standing.title}): score {standing.min_score:g} or more{effect}"


def _highest_first(standing: Standing) -> float:
    return -standing.min_score
