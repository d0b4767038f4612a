"""SLA arithmetic: how far a measurement misses its objective, and how badly.

Differences are taken in :class:`~decimal.Decimal` on each float's shortest text form, so
``99.9 - 99.8`` is ``0.1`` exactly and a miss on a tier boundary falls in the tier the policy
team wrote, not in the next one by a rounding error.
"""

from __future__ import annotations

from decimal import Decimal

from sqm.domain.errors import PolicyError
from sqm.domain.model import Comparator, Severity, SlaObjective, exact
from sqm.rules.model import MetricTiers


def shortfall(objective: SlaObjective, value: float) -> Decimal:
    """How far ``value`` is on the wrong side of the objective's target (0 when it is met)."""
    return objective.shortfall(value)


def miss(objective: SlaObjective, value: float) -> Decimal:
    """The shortfall beyond the objective's tolerance (0 or less: met within tolerance)."""
    return shortfall(objective, value) - exact(objective.tolerance)


def in_warning(objective: SlaObjective, value: float) -> bool:
    """True when ``value`` is on the wrong side of the objective's warning threshold."""
    if objective.comparator is Comparator.AT_LEAST:
        return exact(value) < exact(objective.warning)
    return exact(value) > exact(objective.warning)


def classify(tiers: MetricTiers | None, objective: SlaObjective, value: float) -> Severity | None:
    """The severity of ``value`` against ``objective`` by ``tiers`` (the objective's metric's);
    None when met within tolerance.

    Raises ``ValueError`` for a value that is not finite and :class:`PolicyError` when the
    pack has no tiers for the metric of a missed objective.
    """
    missed_by = miss(objective, value)
    if missed_by <= 0:
        return None
    if tiers is None:
        raise PolicyError(
            f"the policy pack defines no severity tiers for metric {objective.metric!r}"
        )
    severity = tiers.severity_of(missed_by)
    if severity is None:  # pragma: no cover - tiers are checked to start at 0, open-ended
        raise PolicyError(f"no severity tier of {objective.metric!r} holds {missed_by}")
    return severity
