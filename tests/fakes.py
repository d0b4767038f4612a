"""Fakes over mocks: a small, deterministic policy for testing the pure domain.

:class:`FakePolicy` implements :class:`domain.ports.Policy` with two qualification rules a
test can reason about by hand:

- ``fake.qualify``: the mean of the supplier's scores is at least ``threshold`` and it holds
  a business licence valid at the decision time;
- ``fake.disqualify-blacklisted``: the supplier has a score of exactly 100 for the criterion
  ``"blacklisted"`` (a simple, deterministic hook so property tests can reach disqualify).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from domain.model import (
    Action,
    Breach,
    CertificateKind,
    Comparator,
    ConditionOutcome,
    Decision,
    Metric,
    Money,
    ServiceCategory,
    Severity,
    SlaObjective,
    Stage,
    SupplierState,
)
from domain.ports import DecisionContext, Evaluation, PenaltyQuote, Policy

DEFAULT_THRESHOLD = 70.0
BLACKLIST_CRITERION = "blacklisted"
BLACKLIST_SCORE = 100.0
QUALIFY_RULE_ID = "fake.qualify"
DISQUALIFY_RULE_ID = "fake.disqualify-blacklisted"
RULE_FILE = "tests/fakes.py"


@attrs.define
class FakePolicy:
    """A policy whose rules are written in Python; it records every context it was asked about."""

    version: str = "fake-policy-v1"
    threshold: float = DEFAULT_THRESHOLD
    contexts: list[DecisionContext] = attrs.field(factory=list, eq=False, repr=False)

    def evaluate(self, context: DecisionContext) -> Evaluation:
        """Evaluate both rules for the qualification stage; no rule applies at other stages."""
        self.contexts.append(context)
        if context.stage is not Stage.QUALIFICATION:
            return Evaluation(self.version)
        decisions = (self._qualify(context), self._disqualify(context.supplier))
        return Evaluation(
            self.version,
            fired=tuple(d for d in decisions if d.fired),
            not_fired=tuple(d for d in decisions if not d.fired),
        )

    def _qualify(self, context: DecisionContext) -> Decision:
        supplier = context.supplier
        mean = mean_score(supplier.scores)
        kinds = supplier.valid_certificate_kinds(context.now)
        licensed = CertificateKind.BUSINESS_LICENCE in kinds
        conditions = (
            ConditionOutcome("mean_score", ">=", self.threshold, mean, mean >= self.threshold),
            ConditionOutcome("business_licence_valid", "==", True, licensed, licensed),
        )
        fired = all(c.held for c in conditions)
        message = (
            f"qualified: mean score {mean:g} >= {self.threshold:g} and a valid business licence"
            if fired
            else "not qualified: " + "; ".join(_unmet(c) for c in conditions if not c.held)
        )
        return Decision(
            rule_id=QUALIFY_RULE_ID,
            rule_title="Qualification threshold",
            rule_file=RULE_FILE,
            rule_line=1,
            policy_version=self.version,
            action=Action.QUALIFY,
            fired=fired,
            message=message,
            facts={"mean_score": mean, "business_licence_valid": licensed},
            conditions=conditions,
        )

    def _disqualify(self, supplier: SupplierState) -> Decision:
        score = supplier.scores.get(BLACKLIST_CRITERION, 0.0)
        held = score == BLACKLIST_SCORE
        return Decision(
            rule_id=DISQUALIFY_RULE_ID,
            rule_title="Blacklisted supplier",
            rule_file=RULE_FILE,
            rule_line=2,
            policy_version=self.version,
            action=Action.DISQUALIFY,
            fired=held,
            message="disqualified: supplier is blacklisted" if held else "not blacklisted",
            facts={BLACKLIST_CRITERION: score},
            conditions=(ConditionOutcome(BLACKLIST_CRITERION, "==", BLACKLIST_SCORE, score, held),),
        )

    def default_objectives(self, category: ServiceCategory) -> tuple[SlaObjective, ...]:
        """One availability objective (>= 99.9%) for every category."""
        return (FAKE_OBJECTIVE,)

    def classify(self, objective: SlaObjective, value: float) -> Severity | None:
        """Minor below target, major one point below, critical five points below."""
        miss = (
            objective.target - value
            if objective.comparator is Comparator.AT_LEAST
            else (value - objective.target)
        )
        if miss <= objective.tolerance:
            return None
        if miss >= 5:
            return Severity.CRITICAL
        return Severity.MAJOR if miss >= 1 else Severity.MINOR

    def quote_service_credit(
        self, supplier: SupplierState, breach: Breach, now: datetime
    ) -> PenaltyQuote:
        """A flat 1% of the monthly fee per breach rank, no caps."""
        fee = supplier.contract.monthly_fee if supplier.contract else Money(Decimal(0), "CNY")
        amount = (fee.amount * breach.severity.rank / 100).quantize(Decimal("0.01"))
        return PenaltyQuote(Money(amount, fee.currency), "", f"{breach.severity.rank}% of {fee}")

    def quote_compensation(
        self, supplier: SupplierState, claimed: Money, now: datetime
    ) -> PenaltyQuote:
        """The claim in full (the fake has no liability limit)."""
        return PenaltyQuote(claimed, "", "claimed amount")

    def plan_due_days(self, severity: Severity | None) -> int:
        """Fourteen days, whatever the severity."""
        return 14


FAKE_OBJECTIVE = SlaObjective("availability", Metric.AVAILABILITY, Comparator.AT_LEAST, 99.9, 99.95)


def mean_score(scores: Mapping[str, float]) -> float:
    """The plain mean of all scores; 0 when there are none (no evidence, no qualification)."""
    return sum(scores.values()) / len(scores) if scores else 0.0


def _unmet(condition: ConditionOutcome) -> str:
    return (
        f"{condition.fact} is {condition.actual!r},"
        f" needs {condition.operator} {condition.threshold!r}"
    )


def _conforms(policy: FakePolicy) -> Policy:
    """Never called: mypy checks here that FakePolicy satisfies the Policy protocol."""
    return policy
