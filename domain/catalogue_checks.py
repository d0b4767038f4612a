"""Checking the ids a command carries against the active policy's catalogue.

A command's shape is checked by :mod:`sqm.domain.validation` without a policy; the ids it
names (a supplier's category, a certificate's kind, an objective's metric, a document's kind,
a milestone's kind) mean something only under the pack that declares them, so they are
checked here against the catalogue of the policy in force. An unknown id is a bad field naming
the ids the catalogue declares; an objective is checked against its metric's range and
direction as the policy loader checks a pack's default objectives
(:func:`sqm.domain.objectives.objective_problems`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqm.domain.commands import (
    RecordDocument,
    RecordKickOff,
    RegisterSupplier,
    SignContract,
    SubmitQualificationEvidence,
)
from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import SlaObjective
from sqm.domain.needs import OpenNeed
from sqm.domain.objectives import objective_problems
from sqm.domain.pack_catalogue import PackCatalogue, check_id


def validate_with_ids(
    command: Any, catalogue: PackCatalogue, validate: Callable[[Any], None]
) -> None:
    """Raise :class:`InvalidCommand` naming every bad field of ``command``: those ``validate``
    (its own checks) finds and its ids ``catalogue`` lacks, in one answer.
    """
    violations: list[FieldViolation] = []
    try:
        validate(command)
    except InvalidCommand as error:
        violations.extend(error.violations)
    violations.extend(catalogue_violations(command, catalogue))
    if violations:
        raise InvalidCommand(violations)


def validate_ids(command: object, catalogue: PackCatalogue) -> None:
    """Raise :class:`InvalidCommand` naming every id of ``command`` ``catalogue`` lacks."""
    violations = list(catalogue_violations(command, catalogue))
    if violations:
        raise InvalidCommand(violations)


def catalogue_violations(command: object, catalogue: PackCatalogue) -> Iterator[FieldViolation]:
    """Every id of ``command`` (domain field names) that ``catalogue`` does not declare."""
    if isinstance(command, RegisterSupplier | OpenNeed):
        yield from check_id(
            "category", "service category", command.category, catalogue.category_ids
        )
    if isinstance(command, SubmitQualificationEvidence):
        for index, certificate in enumerate(command.certificates):
            field = f"certificates[{index}].kind"
            yield from check_id(
                field, "certificate kind", certificate.kind, catalogue.certificate_kind_ids
            )
    if isinstance(command, OpenNeed):
        for kind in sorted(command.required_certificates):
            yield from check_id(
                "required_certificates", "certificate kind", kind, catalogue.certificate_kind_ids
            )
    if isinstance(command, SignContract | OpenNeed):
        yield from objective_violations("objectives", command.objectives, catalogue)
    if isinstance(command, RecordDocument):
        yield from check_id("kind", "document kind", command.kind, catalogue.document_kind_ids)
    if isinstance(command, RecordKickOff):
        for index, milestone in enumerate(command.milestones):
            if milestone.kind:  # a milestone may have no kind
                yield from check_id(
                    f"milestones[{index}].kind",
                    "milestone kind",
                    milestone.kind,
                    catalogue.milestone_kind_ids,
                )


def objective_violations(
    field: str, objectives: tuple[SlaObjective, ...], catalogue: PackCatalogue
) -> Iterator[FieldViolation]:
    """Each objective's metric declared, its numbers in range, its comparator the metric's."""
    for index, objective in enumerate(objectives):
        numbers = (objective.target, objective.warning)
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            continue  # reported by the command's own checks
        for key, message in objective_problems(objective, catalogue):
            yield FieldViolation(f"{field}[{index}].{key}", message)
