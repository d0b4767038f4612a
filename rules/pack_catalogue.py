"""Loading a pack's catalogue file (``catalogue.yaml``) and checking references to it.

The *pack catalogue* is what a pack declares: its service categories, certificate kinds,
metrics, document kinds and milestone kinds (:class:`~sqm.domain.pack_catalogue.PackCatalogue`).
It is a different thing from the *fact catalogue* of :mod:`sqm.rules.catalogue`, the facts a
rule may compare, which the service defines. The manifest names the file (``catalogue:
catalogue.yaml``); a pack without one (one written and archived before catalogues existed)
gets :data:`LEGACY_CATALOGUE_FILE`, which holds what those packs meant and never changes.

Every id a rule file names (a ``required_certificates`` key and kind, an objective's metric,
a ``severity_tiers`` key, a window's metric, a per-category interval, a rule's comparison with
the ``category``, ``metric`` or a milestone-kind fact) is checked against the catalogue by the
builders; an unknown one is reported at its line with the ids the catalogue declares.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from sqm.domain.model import Comparator
from sqm.domain.pack_catalogue import (
    CONTRACT_DOCUMENT,
    OTHER_DOCUMENT,
    Entry,
    MetricDefinition,
    MilestoneKind,
    PackCatalogue,
)
from sqm.rules.errors import PackError, PackInvalid, Problems
from sqm.rules.schema_check import schema_errors
from sqm.rules.yaml_source import DocPath, SourceDoc, parse_yaml

CATALOGUE_SCHEMA = "catalogue.schema.json"
LEGACY_CATALOGUE_FILE = "legacy-catalogue.yaml"
"""The catalogue of packs whose manifest names none (in ``sqm/rules/``; never edited)."""
DEFAULT_CATALOGUE = "packs/telecom-default/catalogue.yaml"

_DIRECTIONS = {"at_least": Comparator.AT_LEAST, "at_most": Comparator.AT_MOST}
DIRECTION_WORDS = {value: key for key, value in _DIRECTIONS.items()}
"""A comparator as the catalogue writes a direction (``at_least``, ``at_most``)."""

_SECTIONS = ("categories", "certificate_kinds", "metrics", "document_kinds", "milestone_kinds")
_WHAT = {
    "categories": "service category",
    "certificate_kinds": "certificate kind",
    "metrics": "metric",
    "document_kinds": "document kind",
    "milestone_kinds": "milestone kind",
}


def read_catalogue(doc: SourceDoc, problems: Problems) -> PackCatalogue | None:
    """The catalogue in ``doc`` (parsed YAML), or None with its problems recorded."""
    invalid = schema_errors(doc, CATALOGUE_SCHEMA)
    problems.extend(invalid)
    if invalid:
        return None
    found = len(problems.errors)
    for section in _SECTIONS:
        _unique_ids(doc, section, problems)
    for index, item in enumerate(doc.data["metrics"]):
        if item["minimum"] > item["maximum"]:
            message = f"minimum {item['minimum']:g} is above maximum {item['maximum']:g}"
            problems.add(doc.error(("metrics", index, "minimum"), message))
    declared = {item["id"] for item in doc.data["document_kinds"]}
    for required in (CONTRACT_DOCUMENT, OTHER_DOCUMENT):
        if required not in declared:
            message = f"document kind {required!r} is required (the process itself uses it)"
            problems.add(doc.error(("document_kinds",), message, key=True))
    if len(problems.errors) != found:
        return None
    data = doc.data
    return PackCatalogue(
        categories=tuple(_entry(item) for item in data["categories"]),
        certificate_kinds=tuple(_entry(item) for item in data["certificate_kinds"]),
        metrics=tuple(_metric(item) for item in data["metrics"]),
        document_kinds=tuple(_entry(item) for item in data["document_kinds"]),
        milestone_kinds=tuple(_milestone_kind(item) for item in data.get("milestone_kinds", ())),
    )


@functools.cache
def legacy_catalogue() -> PackCatalogue:
    """The catalogue of packs that name none (:data:`LEGACY_CATALOGUE_FILE`)."""
    text = resources.files("sqm.rules").joinpath(LEGACY_CATALOGUE_FILE).read_text("utf-8")
    return _parsed(text, LEGACY_CATALOGUE_FILE)


@functools.cache
def default_catalogue() -> PackCatalogue:
    """The catalogue of the default pack shipped with the service (for tools and tests that
    need one without loading the whole pack).
    """
    text = resources.files("sqm.rules").joinpath(DEFAULT_CATALOGUE).read_text("utf-8")
    return _parsed(text, DEFAULT_CATALOGUE)


def _parsed(text: str, name: str) -> PackCatalogue:
    doc, errors = parse_yaml(text, name)
    problems = Problems()
    problems.extend(errors)
    catalogue = read_catalogue(doc, problems) if doc is not None else None
    if catalogue is None:  # a defect of the service, caught by its tests
        raise PackInvalid(problems.errors or (PackError(name, 1, 1, "empty"),))
    return catalogue


def _unique_ids(doc: SourceDoc, section: str, problems: Problems) -> None:
    seen: set[str] = set()
    for index, item in enumerate(doc.data.get(section, ())):
        if item["id"] in seen:
            message = f"duplicate {_WHAT[section]} {item['id']!r}"
            problems.add(doc.error((section, index, "id"), message))
        seen.add(item["id"])


def _texts(item: Mapping[str, Any], key: str) -> tuple[str, str]:
    texts = item.get(key, {})
    return texts.get("zh", ""), texts.get("en", "")


def _entry(item: Mapping[str, Any]) -> Entry:
    name_zh, name_en = _texts(item, "name")
    description_zh, description_en = _texts(item, "description")
    return Entry(item["id"], name_zh, name_en, description_zh, description_en)


def _milestone_kind(item: Mapping[str, Any]) -> MilestoneKind:
    deliverable_zh, deliverable_en = _texts(item, "deliverable")
    return MilestoneKind(_entry(item), deliverable_zh, deliverable_en)


def _metric(item: Mapping[str, Any]) -> MetricDefinition:
    return MetricDefinition(
        _entry(item),
        unit=item["unit"],
        direction=_DIRECTIONS[item["direction"]],
        minimum=float(item["minimum"]),
        maximum=float(item["maximum"]),
    )


def known(
    doc: SourceDoc,
    path: DocPath,
    value: str,
    problems: Problems,
    *,
    what: str,
    ids: Iterable[str],
    key: bool = False,
    also: Iterable[str] = (),
) -> bool:
    """True when ``value`` is one of ``ids`` (or of ``also``, like ``all``); otherwise an
    "unknown <what>" problem at ``path`` naming the catalogue's ids.
    """
    choices = (*also, *ids)
    if value in choices:
        return True
    listed = ", ".join(choices)
    message = f"unknown {what} {value!r}; expected one of: {listed} (the pack's catalogue)"
    problems.add(doc.error(path, message, key=key))
    return False
