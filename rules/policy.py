"""``CompiledPolicy``: a pack compiled into the engine, implementing ``domain.ports.Policy``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

from domain.errors import FieldViolation, InvalidCommand, PolicyError
from domain.model import Decision, FactValue
from domain.ports import DecisionContext, Evaluation
from rules.compiler import compile_pack, engine_message, ruleset_name
from rules.engine import EngineValue, rules_engine
from rules.explain import explain
from rules.facts import FACTS_BY_STAGE
from rules.loader import load_pack
from rules.model import PolicyPack, Rule


class RuleEngine(Protocol):
    """What a policy needs of the engine (:class:`rules.engine.RulesEngine`, or a wrapper)."""

    def register(self, name: str, definition: Mapping[str, Any]) -> None:
        """Register ruleset ``name`` once."""
        ...

    def evaluate(self, name: str, message: Mapping[str, EngineValue]) -> frozenset[str]:
        """The ids of the rules of ``name`` that fire on ``message``."""
        ...


class CompiledPolicy:
    """A policy pack compiled and registered in the rules engine; evaluates decision contexts.

    Construction compiles the pack and registers its ruleset (once per version per process),
    so a policy that constructs is ready to evaluate.
    """

    def __init__(self, pack: PolicyPack, engine: RuleEngine | None = None) -> None:
        self._pack = pack
        self._engine = engine if engine is not None else rules_engine()
        self._ruleset = ruleset_name(pack.version)
        self._engine.register(self._ruleset, compile_pack(pack))

    @property
    def version(self) -> str:
        """The content hash of the pack this policy was compiled from."""
        return self._pack.version

    @property
    def pack(self) -> PolicyPack:
        """The pack this policy was compiled from."""
        return self._pack

    @property
    def ruleset(self) -> str:
        """The name of this policy's ruleset in the engine."""
        return self._ruleset

    def evaluate(self, context: DecisionContext) -> Evaluation:
        """Evaluate every rule of ``context.stage``: decisions for the rules that fired,
        explanations for the others, in file order.

        Raises ``InvalidCommand`` when the supplier's data cannot become valid facts, and
        ``PolicyError`` when the engine fails or disagrees with the explanation.
        """
        rules = self._pack.rules_for(context.stage)
        if not rules:
            return Evaluation(self.version)
        if context.now.tzinfo is None:
            raise InvalidCommand([FieldViolation("occurred_at", "must carry a time zone")])
        facts = FACTS_BY_STAGE[context.stage](self._pack, context.supplier, context.now)
        fired = self._engine.evaluate(self._ruleset, engine_message(context.stage, facts, rules))
        unknown = fired - {rule.id for rule in rules}
        if unknown:
            raise PolicyError(f"the engine fired rules outside stage {context.stage}: {unknown}")
        decisions = [self._decision(rule, facts, rule.id in fired) for rule in rules]
        return Evaluation(
            self.version,
            fired=tuple(d for d in decisions if d.fired),
            not_fired=tuple(d for d in decisions if not d.fired),
        )

    def _decision(self, rule: Rule, facts: Mapping[str, FactValue], fired: bool) -> Decision:
        explanation = explain(rule, facts, engine_fired=fired)
        return Decision(
            rule_id=rule.id,
            rule_title=rule.title,
            rule_file=rule.file,
            rule_line=rule.line,
            policy_version=self.version,
            action=rule.action,
            fired=fired,
            message=explanation.message,
            facts=explanation.facts,
            conditions=explanation.conditions,
        )


def load_policy(
    directory: str | os.PathLike[str], engine: RuleEngine | None = None
) -> CompiledPolicy:
    """Load the pack in ``directory`` and compile it.

    Raises ``PackInvalid`` listing every problem of the pack.
    """
    return CompiledPolicy(load_pack(directory), engine)
