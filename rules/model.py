"""The typed model of a policy pack: what the loader builds from the YAML files.

Everything is frozen. Positions (file, line) travel with rules and conditions so decisions
can say exactly which line of which file made them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs

from domain.model import Action, CertificateKind, FactValue, ServiceCategory, Stage
from rules.template import placeholders

FORMAT = "sqm.policy/v1"
"""The ``format:`` every manifest and rule file of this version of the language declares."""


class Operator(enum.StrEnum):
    """How a condition compares a fact with its threshold."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class GroupKind(enum.StrEnum):
    """How the items of a condition group combine."""

    ALL = "all"
    ANY = "any"


@attrs.frozen
class Condition:
    """``fact operator value``: one comparison, at ``line``:``column`` of its rule's file."""

    fact: str
    operator: Operator
    value: FactValue
    line: int
    column: int


@attrs.frozen
class ConditionGroup:
    """Conditions (or nested groups) joined by ``all`` (and) or ``any`` (or)."""

    kind: GroupKind
    items: tuple[Condition | ConditionGroup, ...]

    def conditions(self) -> Iterator[Condition]:
        """Every condition in the group, nested ones included, in file order."""
        for item in self.items:
            if isinstance(item, Condition):
                yield item
            else:
                yield from item.conditions()


@attrs.frozen
class Rule:
    """One rule of a pack: when its conditions hold at its stage, it asks for ``action``.

    ``message`` is rendered with the facts when the rule fires; ``not_fired_message``, when
    given, explains a rule that did not fire (otherwise an explanation is generated).
    """

    id: str
    title: str
    description: str
    stage: Stage
    when: ConditionGroup
    action: Action
    message: str
    not_fired_message: str | None
    file: str
    line: int
    column: int = 1

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The rule's conditions, flattened, in file order."""
        return tuple(self.when.conditions())

    @property
    def fact_names(self) -> tuple[str, ...]:
        """The facts the rule looks at: its conditions', then its messages' placeholders."""
        names = [c.fact for c in self.conditions]
        for template in (self.message, self.not_fired_message or ""):
            names.extend(p.fact for p in placeholders(template))
        return tuple(dict.fromkeys(names))


@attrs.frozen
class Criterion:
    """One criterion of the weighted evaluation; weights of a pack sum to 100."""

    id: str
    weight: Decimal
    description: str = ""


@attrs.frozen
class CertificateRequirements:
    """Certificates a supplier must hold: ``common`` for everyone, more per service category."""

    common: tuple[CertificateKind, ...] = ()
    by_category: tuple[tuple[ServiceCategory, tuple[CertificateKind, ...]], ...] = ()

    def for_category(self, category: ServiceCategory) -> tuple[CertificateKind, ...]:
        """The kinds required of a supplier in ``category``, common ones first, no repeats."""
        extra = [kind for cat, kinds in self.by_category if cat is category for kind in kinds]
        return tuple(dict.fromkeys([*self.common, *extra]))


@attrs.frozen
class PolicyPack:
    """A loaded, checked policy pack. ``version`` is the SHA-256 of its content."""

    name: str
    title: str
    description: str
    version: str
    directory: Path
    files: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    certificates: CertificateRequirements
    rules: tuple[Rule, ...]

    def rules_for(self, stage: Stage) -> tuple[Rule, ...]:
        """The rules consulted at ``stage``, in file order."""
        return tuple(rule for rule in self.rules if rule.stage is stage)

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        """The ids of the evaluation criteria, in file order."""
        return tuple(c.id for c in self.criteria)
