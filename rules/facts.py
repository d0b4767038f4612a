"""The fact catalogue, and the facts derived from a supplier at decision time.

Rules compare facts; facts are computed here, in Python, from the supplier's state and the
moment of the decision, then typed and checked before they reach the engine (which mishandles
NaN, infinities, booleans and strings where numbers belong: see ``durable_rules_notes.md``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from domain.errors import FieldViolation, InvalidCommand, PolicyError
from domain.model import FactValue, ServiceCategory, Stage, SupplierState
from rules.model import Operator, PolicyPack

SCORE_PLACES = Decimal("0.01")
"""Weighted scores are rounded half-to-even to two places: the same inputs, the same score."""


class FactType(enum.StrEnum):
    """The type of a fact; it decides which operators and thresholds a condition may use."""

    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"


ORDERED = frozenset(Operator)
EQUALITY = frozenset({Operator.EQ, Operator.NE})
OPERATORS: Mapping[FactType, frozenset[Operator]] = {
    FactType.NUMBER: ORDERED,
    FactType.INTEGER: ORDERED,
    FactType.BOOLEAN: EQUALITY,
    FactType.STRING: EQUALITY,
}


@attrs.frozen
class FactSpec:
    """A fact rules may use: its name, type, meaning, the stage it exists at, allowed values."""

    name: str
    type: FactType
    description: str
    stage: Stage
    choices: tuple[str, ...] = ()
    needs_criteria: bool = False


_Q = Stage.QUALIFICATION
CATALOGUE: Mapping[str, FactSpec] = {
    spec.name: spec
    for spec in (
        FactSpec(
            "weighted_score",
            FactType.NUMBER,
            "sum of score * weight / 100 over the pack's criteria (a missing score counts 0),"
            " rounded half-to-even to 2 places",
            _Q,
            needs_criteria=True,
        ),
        FactSpec(
            "criteria_missing",
            FactType.INTEGER,
            "number of the pack's criteria with no score",
            _Q,
            needs_criteria=True,
        ),
        FactSpec(
            "certificates_missing",
            FactType.INTEGER,
            "number of certificate kinds required for the supplier's category not valid now",
            _Q,
        ),
        FactSpec(
            "missing_certificates",
            FactType.STRING,
            "the required certificate kinds not valid now, comma-separated, or 'none'"
            " (for messages)",
            _Q,
        ),
        FactSpec(
            "site_audit_passed", FactType.BOOLEAN, "the site audit passed (unknown: false)", _Q
        ),
        FactSpec(
            "site_audit_failed",
            FactType.BOOLEAN,
            "a site audit was recorded and failed (unknown: false)",
            _Q,
        ),
        FactSpec(
            "category",
            FactType.STRING,
            "the supplier's service category",
            _Q,
            choices=tuple(c.value for c in ServiceCategory),
        ),
    )
}


def facts_at(stage: Stage) -> tuple[str, ...]:
    """The names of the facts that exist at ``stage``, in catalogue order."""
    return tuple(name for name, spec in CATALOGUE.items() if spec.stage is stage)


def qualification_facts(
    pack: PolicyPack, supplier: SupplierState, now: datetime
) -> dict[str, FactValue]:
    """The qualification facts of ``supplier`` at ``now`` under ``pack``.

    Raises :class:`InvalidCommand` naming the field when a score is for a criterion the pack
    does not define or is not a finite number from 0 to 100, or when a certificate's validity
    times carry no time zone.
    """
    _check_scores(pack, supplier.scores)
    _check_certificate_times(supplier)
    required = pack.certificates.for_category(supplier.category)
    valid = supplier.valid_certificate_kinds(now)
    missing = [kind.value for kind in required if kind not in valid]
    facts: dict[str, FactValue] = {
        "weighted_score": _weighted_score(pack, supplier.scores),
        "criteria_missing": sum(1 for c in pack.criteria if c.id not in supplier.scores),
        "certificates_missing": len(missing),
        "missing_certificates": ", ".join(missing) or "none",
        "site_audit_passed": supplier.site_audit_passed is True,
        "site_audit_failed": supplier.site_audit_passed is False,
        "category": supplier.category.value,
    }
    check_facts(facts)
    return facts


def _check_scores(pack: PolicyPack, scores: Mapping[str, float]) -> None:
    known = pack.criterion_ids
    violations = []
    for name, score in scores.items():
        field = f"scores[{name!r}]"
        if name not in known:
            expected = ", ".join(known) or "none (the policy defines no criteria)"
            violations.append(
                FieldViolation(field, f"unknown criterion {name!r}; expected one of: {expected}")
            )
        elif isinstance(score, bool) or not isinstance(score, int | float):
            violations.append(FieldViolation(field, f"expected a number, got {score!r}"))
        elif not math.isfinite(score) or not 0 <= score <= 100:
            violations.append(
                FieldViolation(field, f"expected a score from 0 to 100, got {score!r}")
            )
    if violations:
        raise InvalidCommand(violations)


def _check_certificate_times(supplier: SupplierState) -> None:
    # A naive time cannot be compared with the aware decision time: name it instead of
    # failing with a TypeError deep in the comparison.
    violations = [
        FieldViolation(f"certificates[{index}].{name}", "must carry a time zone")
        for index, certificate in enumerate(supplier.certificates)
        for name in ("valid_from", "valid_until")
        if getattr(certificate, name).tzinfo is None
    ]
    if violations:
        raise InvalidCommand(violations)


def _weighted_score(pack: PolicyPack, scores: Mapping[str, float]) -> float:
    # Decimal arithmetic on the scores' shortest text form: the result does not depend on
    # float summation order, and rounds the same way on every machine.
    parts = (Decimal(repr(float(scores[c.id]))) * c.weight for c in pack.criteria if c.id in scores)
    total = sum(parts, Decimal(0)) / 100
    return float(total.quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN))


def check_facts(facts: Mapping[str, FactValue]) -> None:
    """Raise :class:`PolicyError` unless every fact is in the catalogue with a value of its type.

    A failure here is a defect in fact derivation, never a caller's mistake: callers' input
    is checked (and reported as ``InvalidCommand``) before facts are derived.
    """
    for name, value in facts.items():
        spec = CATALOGUE.get(name)
        if spec is None:
            raise PolicyError(f"fact {name!r} is not in the fact catalogue")
        if not _CHECKS[spec.type](value):
            raise PolicyError(f"fact {name!r} must be a valid {spec.type}, got {value!r}")


def _is_number(value: FactValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: FactValue) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_CHECKS: Mapping[FactType, Callable[[FactValue], bool]] = {
    FactType.NUMBER: _is_number,
    FactType.INTEGER: _is_integer,
    FactType.BOOLEAN: lambda value: isinstance(value, bool),
    FactType.STRING: lambda value: isinstance(value, str),
}


def value_fits(spec: FactSpec, value: object) -> bool:
    """True when ``value`` (a threshold from a rule file) has the type of the fact ``spec``."""
    return isinstance(value, bool | int | float | str) and _CHECKS[spec.type](value)


StageFacts = Callable[[PolicyPack, SupplierState, datetime], dict[str, FactValue]]
FACTS_BY_STAGE: Mapping[Stage, StageFacts] = {Stage.QUALIFICATION: qualification_facts}
"""How the facts of each stage are derived; a new stage adds its function here."""
