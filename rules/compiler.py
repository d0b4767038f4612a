"""PolicyPack -> a durable_rules ruleset definition, and facts -> the message it matches.

One ruleset per policy version holds every rule of the pack; each rule also tests the stage
property, so a qualification context can only fire qualification rules. A rule's ``run`` is
its id: the engine adapter reports fired rules by that name.

Booleans travel as 0/1 integers on both sides: the engine matches ``True`` against ``< 70``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqm.domain.model import FactValue, Stage
from sqm.rules.engine import EngineValue
from sqm.rules.model import Condition, ConditionGroup, GroupKind, Operator, PolicyPack, Rule

STAGE_PROPERTY = "sqm_stage"
"""The message property naming the stage of the decision context."""

RULESET_PREFIX = "sqm_"
VERSION_CHARS = 16

_ENGINE_OPERATORS = {
    Operator.NE: "$neq",
    Operator.LT: "$lt",
    Operator.LE: "$lte",
    Operator.GT: "$gt",
    Operator.GE: "$gte",
}
_GROUP_OPERATORS = {GroupKind.ALL: "$and", GroupKind.ANY: "$or"}


def ruleset_name(version: str) -> str:
    """The engine's name for the ruleset of policy ``version`` (rulesets cannot be replaced)."""
    return f"{RULESET_PREFIX}{version[:VERSION_CHARS]}"


def compile_pack(pack: PolicyPack) -> dict[str, Any]:
    """The ruleset definition of ``pack``: ``{rule id: {"all": [{"m": ...}], "run": rule id}}``."""
    return {rule.id: compile_rule(rule) for rule in pack.rules}


def compile_rule(rule: Rule) -> dict[str, Any]:
    """One rule as durable_rules matches it: the stage test, then the rule's conditions."""
    stage_test = {STAGE_PROPERTY: rule.stage.value}
    expression = {"$and": [stage_test, _group(rule.when)]}
    return {"all": [{"m": expression}], "run": rule.id}


def _group(group: ConditionGroup) -> dict[str, Any]:
    items = [_condition(i) if isinstance(i, Condition) else _group(i) for i in group.items]
    return {_GROUP_OPERATORS[group.kind]: items}


def _condition(condition: Condition) -> dict[str, Any]:
    value = engine_value(condition.value)
    if condition.operator is Operator.EQ:
        return {condition.fact: value}
    return {_ENGINE_OPERATORS[condition.operator]: {condition.fact: value}}


def engine_value(value: FactValue) -> EngineValue:
    """A fact or threshold as the engine sees it: booleans as 1/0, the rest unchanged."""
    if isinstance(value, bool):
        return int(value)
    return value


def engine_message(
    stage: Stage, facts: Mapping[str, FactValue], rules: tuple[Rule, ...]
) -> dict[str, EngineValue]:
    """The message for one evaluation: the stage and the facts ``rules`` compare, encoded."""
    used = dict.fromkeys(c.fact for rule in rules for c in rule.conditions)
    message: dict[str, EngineValue] = {STAGE_PROPERTY: stage.value}
    message.update((name, engine_value(facts[name])) for name in used)
    return message
