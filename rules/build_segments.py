"""Building a rule file's ``segments:`` section (供应商分级), checking what the schema cannot.

The schema fixes the shape; here: segment ids unique, every category one the pack knows, and
(once the pack's files are seen together, :func:`standing_errors`) every standing one the
pack's scorecard declares, or ``none``. Every problem is recorded at its position.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqm.domain.model import Money
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.segments import NO_STANDING, Segment
from sqm.rules.build_sections import listing
from sqm.rules.errors import PackError, Problems
from sqm.rules.pack_catalogue import known
from sqm.rules.yaml_source import SourceDoc

if TYPE_CHECKING:
    from sqm.rules.build import FilePart

SECTION = "segments"


def segments(doc: SourceDoc, problems: Problems, catalogue: PackCatalogue) -> tuple[Segment, ...]:
    """The ``segments:`` section of a schema-valid file; problems go to ``problems``."""
    seen: set[str] = set()
    built = []
    for index, item in enumerate(doc.data[SECTION]):
        if item["id"] in seen:
            message = f"{item['id']!r} is listed twice in segments"
            problems.add(doc.error((SECTION, index, "id"), message))
        seen.add(item["id"])
        for place, category in enumerate(item.get("categories", [])):
            path = (SECTION, index, "categories", place)
            known(
                doc, path, category, problems, what="service category", ids=catalogue.category_ids
            )
        built.append(_segment(item))
    return tuple(built)


def _segment(item: Mapping[str, Any]) -> Segment:
    fee = item.get("min_monthly_fee")
    minimum = None
    if fee is not None:
        amount, currency = str(fee).split()
        minimum = Money(Decimal(amount), currency)
    return Segment(
        id=item["id"],
        title=item["title"],
        categories=tuple(item.get("categories", ())),
        min_monthly_fee=minimum,
        standings=tuple(item.get("standings", ())),
    )


def standing_errors(parts: Sequence[FilePart]) -> Iterator[PackError]:
    """A segment's standing the pack's scorecard does not declare (nor ``none``)."""
    spec: ScorecardSpec | None = next((p.scorecard for p in parts if p.scorecard), None)
    known = {s.id for s in spec.standings} if spec is not None else set()
    for part in parts:
        for index, item in enumerate(part.doc.data.get(SECTION, [])):
            for place, standing in enumerate(item.get("standings", [])):
                if standing != NO_STANDING and standing not in known:
                    choices = listing([*sorted(known), NO_STANDING])
                    message = f"unknown standing {standing!r}; expected one of: {choices}"
                    yield part.doc.error((SECTION, index, "standings", place), message)
