"""The pack's catalogue (目录): the service categories, certificate kinds, metrics, document
kinds and milestone kinds a policy pack declares, and the ids the domain and the API carry for
them.

Not to be confused with the *fact* catalogue (``sqm.rules.catalogue``), the facts a rule may
compare. This catalogue is data a pack declares in its ``catalogue.yaml``: a category, a
certificate kind, a metric or a document kind is a plain string id (``"network_equipment"``,
``"iso_9001"``, ``"availability"``, ``"contract"``) that means something only under the pack
that declares it. Commands and events carry the ids as text; the active policy's catalogue
says which ids exist, a metric's unit, its direction and the range a measurement may take.
An event keeps the ids it was recorded with, whatever a later pack declares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeAlias

import attrs

from sqm.domain.errors import FieldViolation

if TYPE_CHECKING:  # the model imports the ids from here
    from sqm.domain.model import Comparator

CategoryId: TypeAlias = str
"""A service category (服务类别) declared by the pack, like ``network_equipment``."""
CertificateKindId: TypeAlias = str
"""A certificate kind (资质证书) declared by the pack, like ``iso_9001``."""
MetricId: TypeAlias = str
"""A service-quality metric (指标) declared by the pack, like ``availability``."""
DocumentKindId: TypeAlias = str
"""A document kind (文档类型) declared by the pack, like ``contract``."""
MilestoneKindId: TypeAlias = str
"""A milestone kind (里程碑类型) declared by the pack, like ``site_survey``."""

CONTRACT_DOCUMENT: DocumentKindId = "contract"
"""The document kind the domain itself knows: the signed contract (its archiving is a step of
the process, 合同备案). Every catalogue declares it."""
OTHER_DOCUMENT: DocumentKindId = "other"
"""The document kind of a document uploaded without one. Every catalogue declares it."""


@attrs.frozen
class Entry:
    """One id of the catalogue with its names for people (Chinese and English)."""

    id: str
    name_zh: str = ""
    name_en: str = ""
    description_zh: str = ""
    description_en: str = ""


@attrs.frozen
class MetricDefinition:
    """A metric: its unit, the direction in which it gets better, and the range of a value.

    A measurement in another unit is refused, not converted; an objective compares in the
    metric's direction (``>=`` for availability, ``<=`` for a restore time).
    """

    entry: Entry
    unit: str
    direction: Comparator
    minimum: float
    maximum: float

    @property
    def id(self) -> MetricId:
        """The metric's id."""
        return self.entry.id


@attrs.frozen
class MilestoneKind:
    """A kind of kick-off milestone (site survey, cutover) and the stage deliverable (阶段性成果)
    it produces, named for people (Chinese and English).
    """

    entry: Entry
    deliverable_zh: str = ""
    deliverable_en: str = ""

    @property
    def id(self) -> MilestoneKindId:
        """The milestone kind's id."""
        return self.entry.id


@attrs.frozen
class PackCatalogue:
    """What a pack declares: its categories, certificate kinds, metrics, document kinds and
    milestone kinds (none for a pack that declares none).
    """

    categories: tuple[Entry, ...]
    certificate_kinds: tuple[Entry, ...]
    metrics: tuple[MetricDefinition, ...]
    document_kinds: tuple[Entry, ...]
    milestone_kinds: tuple[MilestoneKind, ...] = ()

    @property
    def category_ids(self) -> tuple[CategoryId, ...]:
        """The service categories, in the order declared."""
        return tuple(entry.id for entry in self.categories)

    @property
    def certificate_kind_ids(self) -> tuple[CertificateKindId, ...]:
        """The certificate kinds, in the order declared."""
        return tuple(entry.id for entry in self.certificate_kinds)

    @property
    def metric_ids(self) -> tuple[MetricId, ...]:
        """The metrics, in the order declared."""
        return tuple(metric.id for metric in self.metrics)

    @property
    def document_kind_ids(self) -> tuple[DocumentKindId, ...]:
        """The document kinds, in the order declared."""
        return tuple(entry.id for entry in self.document_kinds)

    @property
    def milestone_kind_ids(self) -> tuple[MilestoneKindId, ...]:
        """The milestone kinds, in the order declared."""
        return tuple(kind.id for kind in self.milestone_kinds)

    def milestone_kind(self, kind_id: MilestoneKindId) -> MilestoneKind | None:
        """The milestone kind ``kind_id``, or None when the pack does not declare it."""
        return next((k for k in self.milestone_kinds if k.id == kind_id), None)

    def metric(self, metric_id: MetricId) -> MetricDefinition | None:
        """The definition of ``metric_id``, or None when the pack does not declare it."""
        return next((m for m in self.metrics if m.id == metric_id), None)


def unknown_id(field: str, what: str, value: str, known: Iterable[str]) -> FieldViolation:
    """The violation for an id the catalogue does not declare, listing those it does."""
    shown = value if len(value) <= 64 else value[:64] + "..."
    listed = ", ".join(known)
    if not listed:  # milestone kinds are optional: a pack may declare none
        return FieldViolation(
            field, f"unknown {what} {shown!r}; the active policy's catalogue declares none"
        )
    return FieldViolation(
        field,
        f"unknown {what} {shown!r}; expected one of: {listed} (the active policy's catalogue)",
    )


def check_id(field: str, what: str, value: str, known: tuple[str, ...]) -> Iterator[FieldViolation]:
    """The violation for ``value`` when it is not one of ``known`` (nothing otherwise)."""
    if not value:
        yield FieldViolation(field, f"required: one of {', '.join(known)}")
    elif value not in known:
        yield unknown_id(field, what, value, known)
