"""What makes an SLA objective coherent, checked the same way in a policy pack and in a contract.

A pack's default objectives (``rules/``) and a contract's objectives signed over the API
(``domain/validation.py``) both go through :func:`objective_problems`, so an objective the
policy loader refuses is refused by the API too, with the same words.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqm.domain.model import Comparator, SlaObjective
from sqm.domain.pack_catalogue import PackCatalogue, check_id


def objective_problems(
    objective: SlaObjective, catalogue: PackCatalogue
) -> Iterator[tuple[str, str]]:
    """Every problem of ``objective`` as (its field: metric, target, warning or comparator;
    message).

    The metric must be one the pack's ``catalogue`` declares; target and warning must lie in
    its range; the comparator must follow its direction (availability: ``>=``, restore time:
    ``<=``); and the warning threshold must be on the safe side of the target, so a warning
    comes before a miss.
    """
    metric = objective.metric
    spec = catalogue.metric(metric)
    if spec is None:
        for violation in check_id("metric", "metric", metric, catalogue.metric_ids):
            yield "metric", violation.description
        return
    for key in ("target", "warning"):
        value = getattr(objective, key)
        if not spec.minimum <= value <= spec.maximum:  # also refuses NaN
            yield (
                key,
                (
                    f"{key} {value:g} is outside the range of {metric}:"
                    f" {spec.minimum:g} to {spec.maximum:g} {spec.unit}"
                ),
            )
    natural = spec.direction
    if objective.comparator is not natural:
        better = "rises" if natural is Comparator.AT_LEAST else "falls"
        yield (
            "comparator",
            (
                f"{metric} gets better as it {better}: its objectives compare with"
                f" {natural.value!r}, not {objective.comparator.value!r}"
            ),
        )
        return  # the safe side is undefined while the direction is wrong
    at_least = objective.comparator is Comparator.AT_LEAST
    if objective.warning < objective.target if at_least else objective.warning > objective.target:
        side = "at or above" if at_least else "at or below"
        wrong = "below" if at_least else "above"
        yield (
            "warning",
            (
                f"warning {objective.warning:g} is {wrong} the target {objective.target:g}: for a"
                f" {objective.comparator.value!r} objective the warning threshold is on the safe"
                f" side, {side} the target"
            ),
        )
