"""Building a rule file's ``scorecards:`` section, checking what the schema cannot.

The schema fixes the shape (period, measures, positive weights, scores 0 to 100); here: KPI
and standing ids unique, each option used only by the measure it belongs to, and the
standings covering every score (one band starts at 0, no two start at the same score).
Like :mod:`sqm.rules.build_sections`, every problem is recorded at its position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqm.domain.pack_catalogue import PackCatalogue
from sqm.domain.scorecard_records import (
    KpiMeasure,
    KpiSpec,
    ReportKind,
    ScorecardPeriod,
    ScorecardSpec,
    Standing,
)
from sqm.rules.build_sections import listing
from sqm.rules.errors import Problems
from sqm.rules.pack_catalogue import known
from sqm.rules.yaml_source import DocPath, SourceDoc

SECTION = "scorecards"
_OPTION_MEASURES = {
    "objective": KpiMeasure.SLA_ATTAINMENT,
    "zero_at_percent": KpiMeasure.PENALTIES_SHARE_OF_FEE,
    "report": KpiMeasure.REPORTS_ON_TIME,
    "within_days": KpiMeasure.REPORTS_ON_TIME,
}
"""Options a KPI may give only with one measure."""


def scorecards(doc: SourceDoc, problems: Problems, catalogue: PackCatalogue) -> ScorecardSpec:
    """The ``scorecards:`` section of a schema-valid file; problems go to ``problems``."""
    section = doc.data[SECTION]
    kpis = tuple(_kpi(doc, index, item, problems) for index, item in enumerate(section["kpis"]))
    standings = tuple(_standing(item) for item in section["standings"])
    _block_or_warn(doc, problems)
    _unique_ids(doc, "kpis", problems)
    _unique_ids(doc, "standings", problems)
    _bands_cover_scores(doc, standings, problems)
    weights = _weights_by_category(doc, kpis, problems, catalogue)
    return ScorecardSpec(ScorecardPeriod(section["period"]), kpis, standings, weights)


def _weights_by_category(
    doc: SourceDoc, kpis: tuple[KpiSpec, ...], problems: Problems, catalogue: PackCatalogue
) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """``weights_by_category``: each category known, each KPI one of the section's, and the
    weights a category ends up with adding up to more than 0.
    """
    declared = {k.id: k.weight for k in kpis}
    found = []
    for category, weights in doc.data[SECTION].get("weights_by_category", {}).items():
        path: DocPath = (SECTION, "weights_by_category", category)
        ids = catalogue.category_ids
        known(doc, path, category, problems, what="service category", ids=ids, key=True)
        for kpi_id in weights:
            if kpi_id not in declared:
                expected = listing(declared)
                message = f"{kpi_id!r} is not a KPI of the scorecard; expected one of: {expected}"
                problems.add(doc.error((*path, kpi_id), message, key=True))
        if sum((declared | weights).values()) <= 0:
            problems.add(doc.error(path, "the category's KPI weights add up to 0", key=True))
        found.append((category, tuple((k, float(w)) for k, w in weights.items())))
    return tuple(found)


def _kpi(doc: SourceDoc, index: int, item: Mapping[str, Any], problems: Problems) -> KpiSpec:
    measure = KpiMeasure(item["measure"])
    for option, owner in _OPTION_MEASURES.items():
        if option in item and measure is not owner:
            path: DocPath = (SECTION, "kpis", index, option)
            message = f"{option!r} applies only to measure {owner.value}, not {measure.value}"
            problems.add(doc.error(path, message, key=True))
    if measure is KpiMeasure.REPORTS_ON_TIME and "within_days" not in item:
        message = "measure reports_on_time needs within_days: how late a report may come"
        problems.add(doc.error((SECTION, "kpis", index), message, key=True))
    return KpiSpec(
        id=item["id"],
        title=item["title"],
        measure=measure,
        weight=float(item["weight"]),
        objective=item.get("objective", ""),
        zero_at_percent=float(item.get("zero_at_percent", 100.0)),
        report=ReportKind(item.get("report", ReportKind.PROGRESS_REPORT)),
        within_days=float(item.get("within_days", 0.0)),
    )


def _standing(item: Mapping[str, Any]) -> Standing:
    return Standing(
        id=item["id"],
        title=item["title"],
        min_score=float(item["min_score"]),
        blocks_shortlisting=bool(item.get("blocks_shortlisting", False)),
        blocks_award=bool(item.get("blocks_award", False)),
        warns_shortlisting=bool(item.get("warns_shortlisting", False)),
        warns_award=bool(item.get("warns_award", False)),
        review_every_days=int(item.get("review_every_days", 0)),
    )


def _block_or_warn(doc: SourceDoc, problems: Problems) -> None:
    """A standing blocks an act or warns on it, never both."""
    for index, item in enumerate(doc.data[SECTION]["standings"]):
        for act in ("shortlisting", "award"):
            if item.get(f"blocks_{act}") and item.get(f"warns_{act}"):
                path: DocPath = (SECTION, "standings", index, f"warns_{act}")
                message = f"a standing that blocks {act} cannot also warn on it"
                problems.add(doc.error(path, message, key=True))


def _unique_ids(doc: SourceDoc, list_name: str, problems: Problems) -> None:
    seen: set[str] = set()
    for index, item in enumerate(doc.data[SECTION][list_name]):
        if item["id"] in seen:
            message = f"{item['id']!r} is listed twice in {list_name}"
            problems.add(doc.error((SECTION, list_name, index, "id"), message))
        seen.add(item["id"])


def _bands_cover_scores(
    doc: SourceDoc, standings: tuple[Standing, ...], problems: Problems
) -> None:
    starts: set[float] = set()
    for index, standing in enumerate(standings):
        if standing.min_score in starts:
            message = f"another standing already starts at {standing.min_score:g}"
            problems.add(doc.error((SECTION, "standings", index, "min_score"), message))
        starts.add(standing.min_score)
    if 0 not in starts:
        message = "no standing starts at min_score 0: a low score would have no standing"
        problems.add(doc.error((SECTION, "standings"), message, key=True))
