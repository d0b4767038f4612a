"""Where a rule can act: the states its conditions let it fire in, against its action's reach.

The domain says where each action can take effect (:data:`sqm.domain.actions.ACTION_REACH`,
derived from the lifecycle machine) and in which lifecycle states each stage is evaluated
(:data:`sqm.domain.actions.STAGE_STATES`). A rule's conditions on ``lifecycle`` and
``record_kind`` narrow those further. A rule that can fire only where its action cannot
apply is silent: it matches and changes nothing, which is an error. One that can fire in
some states where its action cannot apply gets a warning naming them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import attrs

from sqm.domain.actions import STAGE_STATES, reach_of
from sqm.domain.model import FactValue, LifecycleState, Stage
from sqm.rules.catalogue import NO_SURVEY_SCORE, NONE_TEXT, RECORD_KINDS
from sqm.rules.model import Condition, Operator, PolicyPack, Rule
from sqm.rules.tooling.conditions import Choices, Ranges, alternatives, conflict

T = TypeVar("T")

LIFECYCLE = "lifecycle"
RECORD_KIND = "record_kind"

# A record's own facts take a neutral value on every other kind of record (a survey's
# breach_severity_rank is 0). A rule that rules the neutral value out can only fire on that
# kind of record, whatever it says about record_kind.
_OWN_FACTS: dict[str, tuple[FactValue, str]] = {
    "breach_severity_rank": (0, "measurement"),
    "breach_severity": (NONE_TEXT, "measurement"),
    "metric": (NONE_TEXT, "measurement"),
    "objective": (NONE_TEXT, "measurement"),
    "shortfall": (0.0, "measurement"),
    "in_warning": (False, "measurement"),
    "satisfaction_score": (NO_SURVEY_SCORE, "survey"),
    "inspection_passed": (True, "inspection"),
}


@attrs.frozen
class Silence:
    """Where a rule can fire without its action taking effect; ``never`` when nowhere else."""

    rule: Rule
    states: tuple[LifecycleState, ...] = ()
    """States the rule can fire in where its action cannot apply."""
    record_kinds: tuple[str, ...] = ()
    """Records the rule can fire on that its action cannot use."""
    never: bool = False

    def message(self) -> str:
        """The finding, in words: which action, where it cannot apply, where it can."""
        rule = self.rule
        reach = reach_of(rule.action, dict(rule.parameters))
        action = rule.action.value
        where = _listing(s.value for s in LifecycleState if s in reach.states)
        if self.never:
            if self.record_kinds and not self.states:
                return (
                    f"rule {rule.id} can never take effect: {action} needs {reach.needs},"
                    f" and the rule fires only on {_listing(self.record_kinds)} records"
                )
            return (
                f"rule {rule.id} can never take effect: {action} applies only in {where},"
                f" and the rule fires only in {_listing(s.value for s in self.states)}"
            )
        parts = []
        if self.states:
            parts.append(
                f"in {_listing(s.value for s in self.states)}, where {action} cannot apply"
                f" (it applies in {where})"
            )
        if self.record_kinds:
            parts.append(
                f"on {_listing(self.record_kinds)} records, which do not bring"
                f" {reach.needs} that {action} needs"
            )
        return (
            f"rule {rule.id} can fire {' and '.join(parts)}; there it will only be recorded"
            " as having no effect (add a lifecycle or record_kind condition)"
        )


def silences(pack: PolicyPack) -> Iterator[Silence]:
    """Every rule of ``pack`` that can fire somewhere its action cannot take effect."""
    ranges = Ranges(pack)
    for rule in pack.rules:
        found = silence(rule, ranges)
        if found is not None:
            yield found


def silence(rule: Rule, ranges: Ranges) -> Silence | None:
    """Where ``rule`` can fire without effect, or None when it acts wherever it fires."""
    if rule.stage is Stage.SELECTION:
        return None  # a need's rules move no lifecycle: they refuse or record (domain.needs)
    live = [a for a in alternatives(rule.when) if conflict(a, ranges) is None]
    if not live:
        return None  # a rule that can never fire is reported as such elsewhere
    reach = reach_of(rule.action, dict(rule.parameters))
    states = _union(narrowed(a, LIFECYCLE, STAGE_STATES[rule.stage]) for a in live)
    kinds = (
        _union(record_kinds(a, ranges) for a in live)
        if rule.stage is Stage.MONITORING
        else frozenset()
    )
    bad_states = [s for s in LifecycleState if s in states - reach.states]
    bad_kinds = (
        [k for k in RECORD_KINDS if k in kinds - reach.record_kinds]
        if reach.record_kinds is not None
        else []
    )
    if not bad_states and not bad_kinds:
        return None
    if reach.record_kinds is not None and not kinds & reach.record_kinds:
        return Silence(rule, (), tuple(bad_kinds), never=True)
    if not states & reach.states:
        return Silence(rule, tuple(bad_states), (), never=True)
    return Silence(rule, tuple(bad_states), tuple(bad_kinds))


def narrowed(alternative: tuple[Condition, ...], fact: str, start: frozenset[T]) -> frozenset[T]:
    """The values of ``start`` (states, record kinds) that ``alternative``'s conditions on
    ``fact`` allow.
    """
    values = Choices(frozenset(_value(v) for v in start))
    for condition in alternative:
        if condition.fact == fact:
            values = values.constrain(condition)
    return frozenset(v for v in start if _value(v) in values.allowed)


def record_kinds(alternative: tuple[Condition, ...], ranges: Ranges) -> frozenset[str]:
    """The kinds of record a monitoring rule's ``alternative`` can hold on: those its
    ``record_kind`` conditions allow, narrowed by the record's own facts it rules out the
    neutral value of (``breach_severity_rank >= 1`` holds only on a measurement).
    """
    kinds = narrowed(alternative, RECORD_KIND, frozenset(RECORD_KINDS))
    for fact, (neutral, kind) in _OWN_FACTS.items():
        if any(c.fact == fact for c in alternative) and not _allows(
            alternative, fact, neutral, ranges
        ):
            kinds &= {kind}
    return kinds


def _allows(
    alternative: tuple[Condition, ...], fact: str, value: FactValue, ranges: Ranges
) -> bool:
    pinned = Condition(fact, Operator.EQ, value, 0, 0)
    return not ranges.narrowed(fact, (*alternative, pinned)).is_empty()


def _value(value: object) -> str:
    return str(getattr(value, "value", value))


def _union(sets: Iterable[frozenset[T]]) -> frozenset[T]:
    result: frozenset[T] = frozenset()
    for values in sets:
        result |= values
    return result


def _listing(values: Iterable[str]) -> str:
    return ", ".join(values)
