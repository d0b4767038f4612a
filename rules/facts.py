"""The facts derived from a supplier at decision time, for every stage.

Facts are computed here, in Python, from the decision context, then typed and checked against
the catalogue (:mod:`sqm.rules.catalogue`) before they reach the engine. Qualification facts are
derived in this module; monitoring and deadlines facts in :mod:`sqm.rules.contract_facts`,
selection facts (a need's) in :mod:`sqm.rules.selection_facts`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import FactValue, Stage, SupplierState
from sqm.domain.ports import DecisionContext
from sqm.rules.catalogue import (
    CATALOGUE,
    OPERATORS,
    FactSpec,
    FactType,
    check_facts,
    facts_at,
    pack_specs,
    value_fits,
)
from sqm.rules.contract_facts import check_certificate_times, deadlines_facts, monitoring_facts
from sqm.rules.model import PolicyPack
from sqm.rules.selection_facts import selection_facts

__all__ = [
    "CATALOGUE",
    "FACTS_BY_STAGE",
    "OPERATORS",
    "FactSpec",
    "FactType",
    "check_facts",
    "derive_facts",
    "facts_at",
    "pack_specs",
    "qualification_facts",
    "value_fits",
]

SCORE_PLACES = Decimal("0.01")
"""Weighted scores are rounded half-to-even to two places: the same inputs, the same score."""


def qualification_facts(
    pack: PolicyPack, supplier: SupplierState, now: datetime
) -> dict[str, FactValue]:
    """The qualification facts of ``supplier`` at ``now`` under ``pack``.

    Raises :class:`InvalidCommand` naming the field when a score is for a criterion the pack
    does not define or is not a finite number from 0 to 100, or when a certificate's validity
    times carry no time zone.
    """
    _check_scores(pack, supplier.scores)
    check_certificate_times(supplier)
    required = pack.certificates.for_category(supplier.category)
    valid = supplier.valid_certificate_kinds(now)
    missing = [kind for kind in required if kind not in valid]
    facts: dict[str, FactValue] = {
        "weighted_score": _weighted_score(pack, supplier.scores),
        "criteria_missing": sum(1 for c in pack.criteria if c.id not in supplier.scores),
        "certificates_missing": len(missing),
        "missing_certificates": ", ".join(missing) or "none",
        "site_audit_passed": supplier.site_audit_passed is True,
        "site_audit_failed": supplier.site_audit_passed is False,
        "blacklisted": supplier.blacklisted,
        "category": supplier.category,
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


def _weighted_score(pack: PolicyPack, scores: Mapping[str, float]) -> float:
    # Decimal arithmetic on the scores' shortest text form: the result does not depend on
    # float summation order, and rounds the same way on every machine.
    parts = (Decimal(repr(float(scores[c.id]))) * c.weight for c in pack.criteria if c.id in scores)
    total = sum(parts, Decimal(0)) / 100
    return float(total.quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN))


def _qualification(pack: PolicyPack, context: DecisionContext) -> dict[str, FactValue]:
    return qualification_facts(pack, context.supplier, context.now)


StageFacts = Callable[[PolicyPack, DecisionContext], dict[str, FactValue]]
FACTS_BY_STAGE: Mapping[Stage, StageFacts] = {
    Stage.QUALIFICATION: _qualification,
    Stage.MONITORING: monitoring_facts,
    Stage.DEADLINES: deadlines_facts,
    Stage.SELECTION: selection_facts,
}
"""How the facts of each stage are derived; a new stage adds its function here."""


def derive_facts(
    pack: PolicyPack, context: DecisionContext, specs: Mapping[str, FactSpec] | None = None
) -> dict[str, FactValue]:
    """The typed, checked facts of ``context`` under ``pack`` (its windows included).

    ``specs`` are ``pack_specs(pack)``, when the caller keeps them. Raises
    ``InvalidCommand`` for supplier data that cannot become facts, ``PolicyError`` for a
    fact that fails its type (a defect in derivation, never the caller's mistake).
    """
    facts = FACTS_BY_STAGE[context.stage](pack, context)
    check_facts(facts, pack_specs(pack) if specs is None else specs)
    return facts
