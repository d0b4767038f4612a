"""Reasoning about rule conditions without evaluating them: which values a fact can take.

A rule's ``when`` is rewritten as alternatives (disjunctive normal form: one tuple of
conditions per way the rule can hold). Within one alternative every fact is narrowed by its
conditions, starting from the values the fact can take at all (a weighted score runs from 0
to 100; ``criteria_missing`` from 0 to the pack's number of criteria). An alternative whose
fact is narrowed to nothing can never hold; an alternative whose every fact stays within
another's can never hold without the other holding too.

Every answer here is conservative: "never holds" and "implies" are only said when they are
certain (facts are treated as independent, which can only miss a contradiction, never
invent one).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Protocol

import attrs

from sqm.domain.model import FactValue
from sqm.rules.facts import FactSpec, FactType, pack_specs
from sqm.rules.model import Condition, ConditionGroup, GroupKind, Operator, PolicyPack
from sqm.rules.template import format_value

Alternative = tuple[Condition, ...]

# Integer ranges up to this size are checked point by point for "every value excluded".
_SMALL_RANGE = 1000


class Values(Protocol):
    """The values a fact can still take."""

    def constrain(self, condition: Condition) -> Values:
        """The values left once ``condition`` holds."""
        ...

    def is_empty(self) -> bool:
        """True when no value is left."""
        ...

    def within(self, other: Values) -> bool:
        """True when every value left here is also left in ``other``."""
        ...


@attrs.frozen
class Interval:
    """Numbers between two bounds, minus some excluded points; whole numbers if ``integer``."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    excluded: frozenset[float] = frozenset()
    integer: bool = False

    def constrain(self, condition: Condition) -> Interval:
        """The interval left once ``condition`` holds."""
        value = float(condition.value)  # the loader guarantees a number for number facts
        op = condition.operator
        narrowed = self
        if op in (Operator.GT, Operator.GE) and (
            value > self.low or (value == self.low and op is Operator.GT)
        ):
            narrowed = attrs.evolve(self, low=value, low_open=op is Operator.GT)
        elif op in (Operator.LT, Operator.LE) and (
            value < self.high or (value == self.high and op is Operator.LT)
        ):
            narrowed = attrs.evolve(self, high=value, high_open=op is Operator.LT)
        elif op is Operator.EQ:
            narrowed = self._intersect_point(value)
        elif op is Operator.NE:
            narrowed = attrs.evolve(self, excluded=self.excluded | {value})
        return narrowed._whole() if self.integer else narrowed

    def _intersect_point(self, value: float) -> Interval:
        if not self.contains(value):
            return attrs.evolve(self, low=math.inf, high=-math.inf)
        return attrs.evolve(self, low=value, high=value, low_open=False, high_open=False)

    def _whole(self) -> Interval:
        # For whole numbers "> 2" is ">= 3" and "< 3.5" is "<= 3": closed integer bounds.
        low, high = self.low, self.high
        if math.isfinite(low):
            low = float(math.floor(low) + 1 if self.low_open else math.ceil(low))
        if math.isfinite(high):
            high = float(math.ceil(high) - 1 if self.high_open else math.floor(high))
        return attrs.evolve(self, low=low, high=high, low_open=False, high_open=False)

    def contains(self, value: float) -> bool:
        """True when ``value`` is left."""
        if self.integer and value != math.floor(value):
            return False
        above = value > self.low or (value == self.low and not self.low_open)
        below = value < self.high or (value == self.high and not self.high_open)
        return above and below and value not in self.excluded

    def is_empty(self) -> bool:
        """True when no number is left."""
        if self.low > self.high:
            return True
        if self.low == self.high:
            return not self.contains(self.low)
        if self.integer and self.high - self.low < _SMALL_RANGE:
            whole = range(math.ceil(self.low), math.floor(self.high) + 1)
            return all(float(n) in self.excluded for n in whole)
        return False

    def within(self, other: Values) -> bool:
        """True when every number left here is left in ``other``."""
        if self.is_empty():
            return True
        if not isinstance(other, Interval) or other.is_empty():
            return False
        low_ok = other.low < self.low or (
            other.low == self.low and (not other.low_open or self.low_open)
        )
        high_ok = other.high > self.high or (
            other.high == self.high and (not other.high_open or self.high_open)
        )
        return low_ok and high_ok and not any(self.contains(x) for x in other.excluded)


@attrs.frozen
class Choices:
    """A fact with a known, finite set of values (booleans, categories)."""

    allowed: frozenset[FactValue]

    def constrain(self, condition: Condition) -> Choices:
        """The values left once ``condition`` holds."""
        if condition.operator is Operator.EQ:
            return Choices(self.allowed & {condition.value})
        if condition.operator is Operator.NE:
            return Choices(self.allowed - {condition.value})
        return self  # ordering operators are refused for these facts at load time

    def is_empty(self) -> bool:
        """True when no value is left."""
        return not self.allowed

    def within(self, other: Values) -> bool:
        """True when every value left here is left in ``other``."""
        return isinstance(other, Choices) and self.allowed <= other.allowed


@attrs.frozen
class Text:
    """Any text, possibly pinned to one value and minus some excluded values."""

    equal: str | None = None
    excluded: frozenset[str] = frozenset()
    conflict: bool = False

    def constrain(self, condition: Condition) -> Text:
        """The texts left once ``condition`` holds."""
        value = str(condition.value)
        if condition.operator is Operator.EQ:
            if self.equal is None:
                return attrs.evolve(self, equal=value)
            return self if self.equal == value else attrs.evolve(self, conflict=True)
        if condition.operator is Operator.NE:
            return attrs.evolve(self, excluded=self.excluded | {value})
        return self

    def is_empty(self) -> bool:
        """True when no text is left."""
        return self.conflict or (self.equal is not None and self.equal in self.excluded)

    def within(self, other: Values) -> bool:
        """True when every text left here is left in ``other``."""
        if self.is_empty():
            return True
        if not isinstance(other, Text) or other.is_empty():
            return False
        if other.equal is not None and self.equal != other.equal:
            return False
        return all(
            x in self.excluded or (self.equal is not None and self.equal != x)
            for x in other.excluded
        )


@attrs.frozen
class Opaque:
    """A fact this module knows nothing about: only the same conditions are comparable."""

    conditions: frozenset[tuple[str, FactValue]] = frozenset()

    def constrain(self, condition: Condition) -> Opaque:
        """Remember the condition; nothing is inferred from it."""
        return Opaque(self.conditions | {(condition.operator.value, condition.value)})

    def is_empty(self) -> bool:
        """Never known to be empty."""
        return False

    def within(self, other: Values) -> bool:
        """True when this side has at least every condition of ``other``."""
        return isinstance(other, Opaque) and other.conditions <= self.conditions


@attrs.frozen
class FactRange:
    """What a fact can be before any condition, and why, in words (empty when unknown)."""

    values: Values
    reason: str = ""


class Ranges:
    """The range of every fact under one pack (criteria counts depend on the pack)."""

    def __init__(self, pack: PolicyPack) -> None:
        self._pack = pack
        self._specs = pack_specs(pack)  # the catalogue and the pack's own facts (windows)

    def of(self, fact: str) -> FactRange:
        """The values ``fact`` can take at all."""
        spec = self._specs.get(fact)
        if spec is None:
            return FactRange(Opaque())
        if spec.type is FactType.BOOLEAN:
            return FactRange(Choices(frozenset({True, False})))
        if spec.type is FactType.STRING:
            return FactRange(Choices(frozenset(spec.choices)) if spec.choices else Text())
        low, high, reason = self._bounds(spec)
        return FactRange(Interval(low, high, integer=spec.type is FactType.INTEGER), reason)

    def narrowed(self, fact: str, conditions: Iterable[Condition]) -> Values:
        """The values ``fact`` can take once every condition on it in ``conditions`` holds."""
        values = self.of(fact).values
        for condition in conditions:
            if condition.fact == fact:
                values = values.constrain(condition)
        return values

    def _bounds(self, spec: FactSpec) -> tuple[float, float, str]:
        declared = _declared_bounds(spec)
        if declared is not None:
            return declared
        name = spec.name
        if name == "weighted_score":
            return 0.0, 100.0, "weighted scores run from 0 to 100"
        if name == "criteria_missing":
            count = len(self._pack.criteria)
            return 0.0, float(count), f"the pack has {count} criteria"
        if name == "certificates_missing":
            most = self._most_certificates()
            return 0.0, float(most), f"no service category requires more than {most} certificates"
        if spec.type is FactType.INTEGER and spec.description.lower().startswith(
            ("number of", "how many")
        ):
            return 0.0, math.inf, f"{name} is a count, never negative"
        return -math.inf, math.inf, ""

    def _most_certificates(self) -> int:
        requirements = self._pack.certificates
        categories = [category for category, _ in requirements.by_category]
        counts = [len(requirements.for_category(c)) for c in categories]
        return max([len(requirements.common), *counts])


def _declared_bounds(spec: FactSpec) -> tuple[float, float, str] | None:
    # A catalogue that declares ranges (``minimum``/``maximum`` on the spec) is believed.
    low, high = getattr(spec, "minimum", None), getattr(spec, "maximum", None)
    if low is None and high is None:
        return None
    low_value = -math.inf if low is None else float(low)
    high_value = math.inf if high is None else float(high)
    words = f"{spec.name} ranges from {_number(low_value)} to {_number(high_value)}"
    return low_value, high_value, words


def _number(value: float) -> str:
    return format_value(value) if math.isfinite(value) else ("-inf" if value < 0 else "inf")


def alternatives(group: ConditionGroup) -> list[Alternative]:
    """The ways ``group`` can hold: each a tuple of conditions that must all hold."""
    parts = [
        [(item,)] if isinstance(item, Condition) else alternatives(item) for item in group.items
    ]
    if group.kind is GroupKind.ANY:
        return [alternative for part in parts for alternative in part]
    return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts)]


@attrs.frozen
class Conflict:
    """Why an alternative can never hold, located at the condition that makes it impossible."""

    condition: Condition
    reason: str


def conflict(alternative: Alternative, ranges: Ranges) -> Conflict | None:
    """Why ``alternative`` can never hold, or None when it can."""
    for fact in dict.fromkeys(c.fact for c in alternative):
        on_fact = [c for c in alternative if c.fact == fact]
        found = _fact_conflict(fact, on_fact, ranges)
        if found is not None:
            return found
    return None


def _fact_conflict(fact: str, conditions: Sequence[Condition], ranges: Ranges) -> Conflict | None:
    start = ranges.of(fact)
    values = start.values
    for index, condition in enumerate(conditions):
        values = values.constrain(condition)
        if not values.is_empty():
            continue
        if start.values.constrain(condition).is_empty():
            why = f": {start.reason}" if start.reason else ""
            return Conflict(condition, f"{render(condition)} can never hold{why}")
        for earlier in conditions[:index]:
            if start.values.constrain(earlier).constrain(condition).is_empty():
                return Conflict(
                    condition,
                    f"{render(earlier)} (line {earlier.line}) and {render(condition)}"
                    f" (line {condition.line}) cannot both hold",
                )
        lines = ", ".join(str(c.line) for c in conditions[: index + 1])
        return Conflict(condition, f"the conditions on {fact} at lines {lines} cannot all hold")
    return None


def implies(narrow: Alternative, broad: Alternative, ranges: Ranges) -> bool:
    """True when ``broad`` holds whenever ``narrow`` does."""
    return all(
        ranges.narrowed(fact, narrow).within(ranges.narrowed(fact, broad))
        for fact in dict.fromkeys(c.fact for c in broad)
    )


def group_implies(narrow: ConditionGroup, broad: ConditionGroup, ranges: Ranges) -> bool:
    """True when ``narrow`` can hold and ``broad`` holds whenever ``narrow`` does."""
    possible = [a for a in alternatives(narrow) if conflict(a, ranges) is None]
    wide = [a for a in alternatives(broad) if conflict(a, ranges) is None]
    return bool(possible) and all(any(implies(a, b, ranges) for b in wide) for a in possible)


def render(condition: Condition) -> str:
    """A condition as a policy author writes it: ``weighted_score >= 70``."""
    value = condition.value
    shown = f"'{value}'" if isinstance(value, str) else format_value(value)
    return f"{condition.fact} {condition.operator.value} {shown}"


def render_group(group: ConditionGroup, *, nested: bool = False) -> str:
    """A group in words: ``weighted_score >= 70 and (a == 1 or b == 2)``."""
    joiner = " and " if group.kind is GroupKind.ALL else " or "
    text = joiner.join(
        render(item) if isinstance(item, Condition) else render_group(item, nested=True)
        for item in group.items
    )
    return f"({text})" if nested and len(group.items) > 1 else text
