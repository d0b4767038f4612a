"""A pack's catalogue in a few lines of text, as ``sqm policy lint`` shows it."""

from __future__ import annotations

from sqm.domain.pack_catalogue import Entry, MetricDefinition, MilestoneKind, PackCatalogue
from sqm.rules.pack_catalogue import DIRECTION_WORDS, LEGACY_CATALOGUE_FILE


def catalogue_lines(catalogue: PackCatalogue, file: str | None) -> list[str]:
    """Each category, certificate kind, metric (unit, direction, range), document kind and
    milestone kind (with its deliverable); one line for a pack that names no catalogue file
    (it gets the legacy catalogue).
    """
    if file is None:
        return [f"catalogue: none named; the legacy catalogue applies ({LEGACY_CATALOGUE_FILE})"]
    return [
        f"catalogue ({file}): {len(catalogue.categories)} categories,"
        f" {len(catalogue.certificate_kinds)} certificate kinds,"
        f" {len(catalogue.metrics)} metrics, {len(catalogue.document_kinds)} document kinds,"
        f" {len(catalogue.milestone_kinds)} milestone kinds",
        *(f"  category {_entry(entry)}" for entry in catalogue.categories),
        *(f"  certificate kind {_entry(entry)}" for entry in catalogue.certificate_kinds),
        *(f"  metric {_metric(metric)}" for metric in catalogue.metrics),
        *(f"  document kind {_entry(entry)}" for entry in catalogue.document_kinds),
        *(f"  milestone kind {_milestone_kind(kind)}" for kind in catalogue.milestone_kinds),
    ]


def _entry(entry: Entry) -> str:
    names = " / ".join(name for name in (entry.name_zh, entry.name_en) if name)
    return f"{entry.id} ({names})" if names else entry.id


def _metric(metric: MetricDefinition) -> str:
    return (
        f"{_entry(metric.entry)}: {metric.unit}, {DIRECTION_WORDS[metric.direction]},"
        f" {metric.minimum:g} to {metric.maximum:g}"
    )


def _milestone_kind(kind: MilestoneKind) -> str:
    names = " / ".join(name for name in (kind.deliverable_zh, kind.deliverable_en) if name)
    return f"{_entry(kind.entry)}: deliverable {names}" if names else _entry(kind.entry)
