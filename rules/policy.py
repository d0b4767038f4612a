"""``CompiledPolicy``: a pack compiled into the engine, implementing ``sqm.domain.ports.Policy``."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from sqm.domain.calendar import Calendar
from sqm.domain.corrective_records import ExtensionLimits
from sqm.domain.errors import FieldViolation, InvalidCommand, PolicyError
from sqm.domain.model import (
    Action,
    Breach,
    Decision,
    FactValue,
    Money,
    QualificationChanges,
    Severity,
    SlaObjective,
    StatedAmount,
    SupplierState,
)
from sqm.domain.pack_catalogue import CategoryId, PackCatalogue
from sqm.domain.ports import DecisionContext, Evaluation, PenaltyQuote
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.segments import Segment
from sqm.rules import penalties, selection, sla
from sqm.rules.compiler import compile_pack, engine_message, ruleset_name
from sqm.rules.engine import EngineValue, rules_engine
from sqm.rules.explain import check_agreement, explain, failing_first
from sqm.rules.facts import derive_facts, pack_specs
from sqm.rules.loader import load_pack
from sqm.rules.model import PolicyPack, Rule
from sqm.rules.template import render


class RuleEngine(Protocol):
    """What a policy needs of the engine (:class:`sqm.rules.engine.RulesEngine`, or a wrapper)."""

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
        self._specs = pack_specs(pack)  # every evaluation checks its facts against them

    @property
    def version(self) -> str:
        """The content hash of the pack this policy was compiled from."""
        return self._pack.version

    @property
    def pack(self) -> PolicyPack:
        """The pack this policy was compiled from."""
        return self._pack

    @property
    def catalogue(self) -> PackCatalogue:
        """The pack's catalogue: the ids of its categories, certificate kinds, metrics and
        document kinds, and each metric's unit, direction and range.
        """
        return self._pack.catalogue

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The pack's supplier segments (供应商分级), first match wins."""
        return self._pack.segments

    @property
    def qualification_changes_apply_to(self) -> QualificationChanges:
        """The pack's manifest setting (new evaluations only, by default)."""
        return self._pack.qualification_changes_apply_to

    @property
    def ruleset(self) -> str:
        """The name of this policy's ruleset in the engine."""
        return self._ruleset

    def default_objectives(self, category: CategoryId) -> tuple[SlaObjective, ...]:
        """The pack's default SLA objectives for ``category`` (none when it defines none)."""
        return self._pack.objectives.for_category(category)

    def classify(self, objective: SlaObjective, value: float) -> Severity | None:
        """The severity of ``value`` against ``objective`` by the pack's tiers for its metric:
        the tier holding the shortfall beyond tolerance; None when met within tolerance.

        Raises ``ValueError`` for a value that is not finite, ``PolicyError`` when the pack
        has no tiers for the metric.
        """
        return sla.classify(self._pack.tiers_for(objective.metric), objective, value)

    def quote_service_credit(
        self, supplier: SupplierState, breach: Breach, now: datetime
    ) -> PenaltyQuote:
        """The service credit for ``breach`` by the pack's schedule (see
        :mod:`sqm.rules.penalties`). Raises ``ValueError`` without a contract and ``PolicyError``
        when the pack defines no schedule.
        """
        schedule = self._pack.credits
        if schedule is None:
            raise PolicyError(f"policy pack {self._pack.name} defines no service credit schedule")
        return penalties.quote_service_credit(schedule, supplier, breach, now, self._pack.calendar)

    def quote_stated_credit(
        self, supplier: SupplierState, stated: StatedAmount, ground: str, now: datetime
    ) -> PenaltyQuote:
        """The amount a penalty rule states, within the schedule's caps (see
        :mod:`sqm.rules.penalties`; none when the pack defines no schedule).
        """
        return penalties.quote_stated_credit(
            self._pack.credits, supplier, stated, ground, now=now, calendar=self._pack.calendar
        )

    def quote_compensation(
        self, supplier: SupplierState, claimed: Money, now: datetime
    ) -> PenaltyQuote:
        """Compensation for ``claimed`` losses, capped by what is left of the contract's
        liability limit. Raises ``ValueError`` without a contract or for a claim in another
        currency.
        """
        return penalties.quote_compensation(supplier, claimed)

    def ticket_target_hours(self, severity: Severity) -> float | None:
        """The pack's resolution target for a ticket of ``severity`` (None: none set)."""
        targets = self._pack.problem_tickets
        return None if targets is None else targets.hours_for(severity)

    def contract_requires_need(self) -> bool:
        """The pack's ``contracts.require_need`` (False when the pack does not say)."""
        return self._pack.contract_requires_need

    def claim_window_days(self) -> int | None:
        """Days after a loss (and after the contract's end) a compensation claim may be
        filed; None when the pack sets no window.
        """
        terms = self._pack.compensation
        return None if terms is None else terms.claim_window_days

    def plan_due_days(self, severity: Severity | None) -> int:
        """Days an improvement plan is due in after a review caused by a breach of
        ``severity`` (the longest of the schedule when None). Raises ``PolicyError`` when the
        pack defines no improvement deadlines.
        """
        schedule = self._pack.improvement
        if schedule is None:
            raise PolicyError(f"policy pack {self._pack.name} defines no improvement deadlines")
        return schedule.due_days(severity)

    def extension_limits(self) -> ExtensionLimits:
        """The pack's limits on extending corrective actions (none allowed without them)."""
        schedule = self._pack.improvement
        return schedule.extension_limits if schedule is not None else ExtensionLimits()

    def ranking_criteria(self) -> tuple[selection.Criterion, ...]:
        """The pack's selection criteria with their weights and kinds."""
        return tuple(selection.Criterion(c.id, c.weight, c.kind.value) for c in self._pack.criteria)

    def plan_due_at(self, severity: Severity | None, at: datetime) -> datetime:
        """When a plan required at ``at`` is due: :meth:`plan_due_days` later, in business
        days of the pack's calendar when its ``improvement`` section says so.
        """
        schedule = self._pack.improvement
        business = schedule is not None and schedule.business_days
        return self._pack.calendar.add_days(at, self.plan_due_days(severity), business=business)

    @property
    def calendar(self) -> Calendar:
        """The pack's calendar (its manifest's time zone and holidays)."""
        return self._pack.calendar

    @property
    def scorecard(self) -> ScorecardSpec | None:
        """The pack's scorecard, if it declares one."""
        return self._pack.scorecard

    def rank_candidates(
        self, candidates: Iterable[selection.Candidate]
    ) -> selection.EvaluationReport:
        """Rank shortlisted ``candidates`` (raw values per criterion: a price in CNY, a lead
        time in days) by weighted sum and by TOPSIS on the pack's criteria, weights and kinds.

        Raises ``ValueError`` naming the criterion or candidate at fault (a missing value, a
        pack without criteria).
        """
        return selection.rank(self.ranking_criteria(), candidates)

    def why_not(self, context: DecisionContext, action: Action) -> list[Decision]:
        """Why ``action`` was not asked for: the stage's rules with that action that did not
        fire, in file order, each with its failing conditions first ("why is this supplier
        not qualified?"). Empty when such a rule fired, or when none exists at the stage.
        """
        evaluation = self.evaluate(context)
        return [
            attrs.evolve(d, conditions=failing_first(d.conditions))
            for d in evaluation.not_fired
            if d.action is action
        ]

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
        facts = derive_facts(self._pack, context, self._specs)
        fired = self._engine.evaluate(self._ruleset, engine_message(context.stage, facts, rules))
        unknown = fired - {rule.id for rule in rules}
        if unknown:
            raise PolicyError(f"the engine fired rules outside stage {context.stage}: {unknown}")
        for rule in rules:
            check_agreement(rule, facts, engine_fired=rule.id in fired)
        unfired = tuple(rule for rule in rules if rule.id not in fired)
        return Evaluation(
            self.version,
            fired=tuple(self._decision(rule, facts, True) for rule in rules if rule.id in fired),
            # Explaining every rule that did not fire is most of an evaluation's cost, and
            # only qualification records them, or someone asks why not: on first use.
            not_fired=functools.partial(self._explained, unfired, facts),
        )

    def _explained(
        self, rules: tuple[Rule, ...], facts: Mapping[str, FactValue]
    ) -> tuple[Decision, ...]:
        return tuple(self._decision(rule, facts, False) for rule in rules)

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
            parameters=_parameters(rule, facts),
        )


def _parameters(rule: Rule, facts: Mapping[str, FactValue]) -> dict[str, FactValue]:
    """The rule's parameters, its ``message`` (escalate, notify) rendered with the facts."""
    parameters: dict[str, FactValue] = dict(rule.parameters)
    if rule.message_parameter:
        parameters["message"] = render(rule.message_parameter, facts)
    return parameters


def load_policy(
    directory: str | os.PathLike[str], engine: RuleEngine | None = None
) -> CompiledPolicy:
    """Load the pack in ``directory`` and compile it.

    Raises ``PackInvalid`` listing every problem of the pack.
    """
    return CompiledPolicy(load_pack(directory), engine)
