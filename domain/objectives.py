"""What makes an SLA objective coherent, checked the same way in a policy pack and in a contract.

A pack's default objectives (``rules/``) and a contract's objectives signed over the API
(``domain/validation.py``) both go through :func:`objective_problems`, so an objective the
policy loader refuses is refused by the API too, with the same words.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqm.domain.model import METRICS, Comparator, Metric, SlaObjective

NATURAL_COMPARATOR: Mapping[Metric, Comparator] = {
    Metric.AVAILABILITY: Comparator.AT_LEAST,
    Metric.MEAN_TIME_TO_RESTORE: Comparator.AT_MOST,
    Metric.FAULT_RESPONSE_TIME: Comparator.AT_MOST,
    Metric.ON_TIME_DELIVERY: Comparator.AT_LEAST,
    Metric.FIX_RESPONSE_TIME: Comparator.AT_MOST,
    Metric.PROBLEM_REPORTS_PER_UNIT: Comparator.AT_MOST,
    Metric.SERVICE_QUALITY_DEFECTS: Comparator.AT_MOST,
    Metric.CUSTOMER_SATISFACTION: Comparator.AT_LEAST,
}
"""Which way each metric gets better: an objective comparing the other way is a mistake."""


def objective_problems(objective: SlaObjective) -> Iterator[tuple[str, str]]:
    """Every problem of ``objective`` as (its field: target, warning or comparator; message).

    Target and warning must lie in the metric's range; the comparator must follow the
    metric's direction (availability: ``>=``, restore time: ``<=``); and the warning
    threshold must be on the safe side of the target, so a warning comes before a miss.
    """
    spec, metric = METRICS[objective.metric], objective.metric.value
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
    natural = NATURAL_COMPARATOR[objective.metric]
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
