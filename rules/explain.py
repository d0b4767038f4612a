"""Explanations: each rule's conditions evaluated in Python against the same typed facts.

The engine says *which* rules fired; the explanation says *why*: every condition with the
fact's actual value, the threshold and whether it held, and the rule's message rendered with
the facts. The two are computed independently and must agree (see :func:`explain`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

import attrs

from sqm.domain.errors import PolicyError
from sqm.domain.model import ConditionOutcome, FactValue
from sqm.rules.model import Condition, ConditionGroup, GroupKind, Operator, Rule
from sqm.rules.template import format_value, render

_COMPARE: Mapping[Operator, Callable[[FactValue, FactValue], bool]] = {
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.LT: operator.lt,
    Operator.LE: operator.le,
    Operator.GT: operator.gt,
    Operator.GE: operator.ge,
}


@attrs.frozen
class Explanation:
    """A rule evaluated in Python: whether it holds, each condition's outcome, its message."""

    holds: bool
    conditions: tuple[ConditionOutcome, ...]
    message: str
    facts: Mapping[str, FactValue]


def explain(rule: Rule, facts: Mapping[str, FactValue], *, engine_fired: bool) -> Explanation:
    """Explain ``rule`` against ``facts``; raise :class:`PolicyError` if the engine disagrees.

    ``engine_fired`` is what the engine decided. A rule the engine fired whose conditions do
    not hold here (or the reverse) means the compiler, the engine or this module is wrong,
    and no decision should be recorded on that basis.
    """
    holds = check_agreement(rule, facts, engine_fired=engine_fired)
    outcomes = tuple(outcome(c, facts) for c in rule.conditions)
    message = render(rule.message, facts) if holds else _not_fired_message(rule, facts, outcomes)
    return Explanation(holds, outcomes, message, used_facts(rule, facts))


def check_agreement(rule: Rule, facts: Mapping[str, FactValue], *, engine_fired: bool) -> bool:
    """Whether ``rule`` holds on ``facts``; :class:`PolicyError` if the engine disagrees.

    The cheap half of :func:`explain`: every rule is checked against the engine on every
    evaluation, whether or not its explanation is ever asked for.
    """
    holds = group_holds(rule.when, facts)
    if holds != engine_fired:
        verdict = "fired" if engine_fired else "did not fire"
        raise PolicyError(
            f"rule {rule.id} ({rule.file}:{rule.line}): the engine {verdict} but its conditions"
            f" evaluate to {holds} on facts {dict(used_facts(rule, facts))}"
        )
    return holds


def group_holds(group: ConditionGroup, facts: Mapping[str, FactValue]) -> bool:
    """True when ``group`` holds on ``facts``."""
    results = (
        _holds(item, facts) if isinstance(item, Condition) else group_holds(item, facts)
        for item in group.items
    )
    return all(results) if group.kind is GroupKind.ALL else any(results)


def _holds(condition: Condition, facts: Mapping[str, FactValue]) -> bool:
    # outcome(condition, facts).held without building the outcome.
    return _COMPARE[condition.operator](facts[condition.fact], condition.value)


def outcome(condition: Condition, facts: Mapping[str, FactValue]) -> ConditionOutcome:
    """``condition`` evaluated: the fact's actual value against the threshold."""
    actual = facts[condition.fact]
    held = _COMPARE[condition.operator](actual, condition.value)
    return ConditionOutcome(condition.fact, condition.operator.value, condition.value, actual, held)


def failing_first(outcomes: tuple[ConditionOutcome, ...]) -> tuple[ConditionOutcome, ...]:
    """``outcomes`` with the conditions that did not hold first, each group in file order."""
    return tuple(sorted(outcomes, key=lambda o: o.held))


def used_facts(rule: Rule, facts: Mapping[str, FactValue]) -> dict[str, FactValue]:
    """The facts ``rule`` looks at, its conditions' then its messages', in that order."""
    return {name: facts[name] for name in rule.fact_names}


def _not_fired_message(
    rule: Rule, facts: Mapping[str, FactValue], outcomes: tuple[ConditionOutcome, ...]
) -> str:
    intro = (
        render(rule.not_fired_message, facts)
        if rule.not_fired_message
        else f"{rule.id} did not fire"
    )
    unmet = "; ".join(_describe(o) for o in outcomes if not o.held)
    return f"{intro}. Unmet: {unmet}"


def _describe(unmet: ConditionOutcome) -> str:
    threshold, actual = format_value(unmet.threshold), format_value(unmet.actual)
    return f"{unmet.fact} {unmet.operator} {threshold} (actual {actual})"
