"""Fakes over mocks: a small, deterministic policy for testing the pure domain.

:class:`FakePolicy` implements :class:`sqm.domain.ports.Policy` with rules written in Python that
a test can check by hand, one group per stage.

Qualification (a candidate submitted evidence):

- ``fake.qualify``: the mean of the supplier's scores is at least ``threshold`` and it holds
  a business licence valid at the decision time;
- ``fake.disqualify-blacklisted``: the supplier has a score of exactly 100 for the criterion
  ``"blacklisted"`` (a simple, deterministic hook so property tests can reach disqualify).

Monitoring (a record arrived; only measurements that missed carry a breach):

- ``fake.critical-breach-opens-review``: the breach is critical;
- ``fake.breach-outside-grace-penalised``: the breach's period ended ``grace_days`` or more
  after the contract started (the objective's grace).

Deadlines (time advanced):

- ``fake.overdue-plan-terminates``: a pending improvement plan is past its due time;
- ``fake.plan-due-reminder``: a pending plan is due within :data:`REMIND_DAYS` days
  (``remind`` with ``reminder: improvement_plan_due``);
- ``fake.clean-window-verifies``: a completed plan has gone :data:`CLEAN_DAYS` days without a
  breach of its objective;
- ``fake.lapsed-licence-revokes``: a qualified supplier no longer holds a valid business
  licence.

The pack's data: one availability objective for every category, severity one and five points
below target, a service credit of 1% of the monthly fee per severity rank, compensation in
full, and plans due in :data:`PLAN_DUE_DAYS` by severity.

Below the policy, builders drive one supplier (:data:`SID`) through real commands from
:data:`T0`, so unit tests start from states the domain itself produced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from sqm.domain.calendar import UTC_CALENDAR, Calendar
from sqm.domain.commands import (
    Command,
    ConcludeReview,
    OpenReview,
    RecordMeasurement,
    RegisterSupplier,
    ReviewOutcome,
    SignContract,
    SubmitQualificationEvidence,
)
from sqm.domain.corrective_records import ExtensionLimits
from sqm.domain.decide import decide, fold
from sqm.domain.history import clean_days_since_plan_completed, days_between, days_until_plan_due
from sqm.domain.model import (
    Action,
    AmountBasis,
    Breach,
    Certificate,
    Comparator,
    ConditionOutcome,
    Decision,
    FactValue,
    LifecycleState,
    Money,
    QualificationChanges,
    Reminder,
    Severity,
    SlaObjective,
    Stage,
    StatedAmount,
    SupplierState,
)
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId, PackCatalogue
from sqm.domain.ports import DecisionContext, Evaluation, PenaltyQuote, Policy
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.segments import Segment
from sqm.rules.pack_catalogue import default_catalogue

DEFAULT_THRESHOLD = 70.0
BLACKLIST_CRITERION = "blacklisted"
BLACKLIST_SCORE = 100.0
QUALIFY_RULE_ID = "fake.qualify"
DISQUALIFY_RULE_ID = "fake.disqualify-blacklisted"
OPEN_REVIEW_RULE_ID = "fake.critical-breach-opens-review"
PENALTY_RULE_ID = "fake.breach-outside-grace-penalised"
TERMINATE_RULE_ID = "fake.overdue-plan-terminates"
REMIND_RULE_ID = "fake.plan-due-reminder"
VERIFY_RULE_ID = "fake.clean-window-verifies"
REVOKE_RULE_ID = "fake.lapsed-licence-revokes"
RULE_FILE = "tests/fakes.py"
REMIND_DAYS = 3.0
CLEAN_DAYS = 30.0
CLAIM_WINDOW_DAYS = 90
EXTENSION_LIMITS = ExtensionLimits(max_extensions=2, max_extension_days=14)
TICKET_TARGET_HOURS = {Severity.CRITICAL: 4.0, Severity.MAJOR: 24.0, Severity.MINOR: 72.0}
RULES: Mapping[str, tuple[str, Action]] = {
    QUALIFY_RULE_ID: ("Qualification threshold", Action.QUALIFY),
    DISQUALIFY_RULE_ID: ("Blacklisted supplier", Action.DISQUALIFY),
    OPEN_REVIEW_RULE_ID: ("A critical breach opens a review", Action.OPEN_REVIEW),
    PENALTY_RULE_ID: ("A breach outside the grace period is penalised", Action.ASSESS_PENALTY),
    TERMINATE_RULE_ID: ("An overdue improvement plan terminates the contract", Action.TERMINATE),
    REMIND_RULE_ID: ("Remind the supplier before the plan is due", Action.REMIND),
    VERIFY_RULE_ID: (
        "A clean window after a completed plan verifies it",
        Action.VERIFY_REMEDIATION,
    ),
    REVOKE_RULE_ID: (
        "A qualified supplier whose licence lapsed must re-qualify",
        Action.REVOKE_QUALIFICATION,
    ),
}
"""Each rule's title and action; its "line" is its position here."""
PLAN_DUE_DAYS: Mapping[Severity | None, int] = {
    Severity.CRITICAL: 7,
    Severity.MAJOR: 14,
    Severity.MINOR: 30,
    None: 21,  # a review opened by hand
}


@attrs.define
class FakePolicy:
    """A policy whose rules are written in Python; it records every context it was asked about."""

    version: str = "fake-policy-v1"
    threshold: float = DEFAULT_THRESHOLD
    scorecard_spec: ScorecardSpec | None = None
    contexts: list[DecisionContext] = attrs.field(factory=list, eq=False, repr=False)

    def evaluate(self, context: DecisionContext) -> Evaluation:
        """Evaluate every rule of the context's stage: fired ones and explanations of the rest."""
        self.contexts.append(context)
        rules: tuple[Callable[[DecisionContext], Decision], ...] = {
            Stage.QUALIFICATION: (self._qualify, self._disqualify),
            Stage.MONITORING: (self._open_review, self._penalise),
            Stage.DEADLINES: (self._terminate, self._remind, self._verify, self._revoke),
        }[context.stage]
        decisions = [rule(context) for rule in rules]
        return Evaluation(
            self.version,
            fired=tuple(d for d in decisions if d.fired),
            not_fired=tuple(d for d in decisions if not d.fired),
        )

    # --- qualification ---------------------------------------------------------------------

    def _qualify(self, context: DecisionContext) -> Decision:
        supplier = context.supplier
        mean = mean_score(supplier.scores)
        kinds = supplier.valid_certificate_kinds(context.now)
        licensed = "business_licence" in kinds
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
        return self._decision(QUALIFY_RULE_ID, message, conditions)

    def _disqualify(self, context: DecisionContext) -> Decision:
        score = context.supplier.scores.get(BLACKLIST_CRITERION, 0.0)
        held = score == BLACKLIST_SCORE
        return self._decision(
            DISQUALIFY_RULE_ID,
            "disqualified: supplier is blacklisted" if held else "not blacklisted",
            (ConditionOutcome(BLACKLIST_CRITERION, "==", BLACKLIST_SCORE, score, held),),
        )

    # --- monitoring ------------------------------------------------------------------------

    def _open_review(self, context: DecisionContext) -> Decision:
        severity = context.breach.severity.value if context.breach else "none"
        critical = severity == Severity.CRITICAL.value
        return self._decision(
            OPEN_REVIEW_RULE_ID,
            f"breach severity is {severity}",
            (ConditionOutcome("breach_severity", "==", "critical", severity, critical),),
        )

    def _penalise(self, context: DecisionContext) -> Decision:
        breach, contract = context.breach, context.supplier.contract
        objective = contract.objective(breach.objective_id) if breach and contract else None
        if breach is None or contract is None or objective is None:
            into = -1.0  # no breach: nothing to penalise
            grace = 0
        else:
            into = days_between(contract.starts_at, breach.period_end)
            grace = objective.grace_days
        outside = into >= grace
        return self._decision(
            PENALTY_RULE_ID,
            f"breach {into:g} days into the contract, grace {grace} days",
            (ConditionOutcome("days_into_contract", ">=", grace, into, outside),),
        )

    # --- deadlines -------------------------------------------------------------------------

    def _terminate(self, context: DecisionContext) -> Decision:
        left = days_until_plan_due(context.supplier, context.now)
        overdue = left is not None and left < 0
        return self._decision(
            TERMINATE_RULE_ID,
            f"plan due in {_days(left)} days",
            (ConditionOutcome("days_until_plan_due", "<", 0, _fact(left), overdue),),
        )

    def _remind(self, context: DecisionContext) -> Decision:
        left = days_until_plan_due(context.supplier, context.now)
        soon = left is not None and 0 <= left <= REMIND_DAYS
        return self._decision(
            REMIND_RULE_ID,
            f"improvement plan due in {_days(left)} days",
            (ConditionOutcome("days_until_plan_due", "<=", REMIND_DAYS, _fact(left), soon),),
            parameters={"reminder": Reminder.IMPROVEMENT_PLAN_DUE.value},
        )

    def _verify(self, context: DecisionContext) -> Decision:
        clean = clean_days_since_plan_completed(context.supplier, context.now)
        effective = clean is not None and clean >= CLEAN_DAYS
        return self._decision(
            VERIFY_RULE_ID,
            f"{_days(clean)} clean days since the plan was completed",
            (ConditionOutcome("clean_days", ">=", CLEAN_DAYS, _fact(clean), effective),),
        )

    def _revoke(self, context: DecisionContext) -> Decision:
        supplier = context.supplier
        licensed = "business_licence" in supplier.valid_certificate_kinds(context.now)
        state = supplier.lifecycle.value
        qualified = LifecycleState.QUALIFIED.value
        return self._decision(
            REVOKE_RULE_ID,
            f"{state}, {'with' if licensed else 'without'} a valid business licence",
            (
                ConditionOutcome("lifecycle", "==", qualified, state, state == qualified),
                ConditionOutcome("business_licence_valid", "==", False, licensed, not licensed),
            ),
        )

    def _decision(
        self,
        rule_id: str,
        message: str,
        conditions: tuple[ConditionOutcome, ...],
        parameters: Mapping[str, FactValue] | None = None,
    ) -> Decision:
        title, action = RULES[rule_id]
        return Decision(
            rule_id=rule_id,
            rule_title=title,
            rule_file=RULE_FILE,
            rule_line=list(RULES).index(rule_id) + 1,
            policy_version=self.version,
            action=action,
            fired=all(c.held for c in conditions),
            message=message,
            facts={c.fact: c.actual for c in conditions},
            conditions=conditions,
            parameters=dict(parameters or {}),
        )

    # --- the pack's data -------------------------------------------------------------------

    @property
    def catalogue(self) -> PackCatalogue:
        """The default pack's catalogue (categories, certificate kinds, metrics)."""
        return default_catalogue()

    @property
    def segments(self) -> tuple[Segment, ...]:
        """No segments: every supplier is in segment ``none``."""
        return ()

    def default_objectives(self, category: CategoryId) -> tuple[SlaObjective, ...]:
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

    def quote_stated_credit(
        self, supplier: SupplierState, stated: StatedAmount, ground: str, now: datetime
    ) -> PenaltyQuote:
        """The amount as stated, in the contract's currency, no caps."""
        fee = supplier.contract.monthly_fee if supplier.contract else Money(Decimal(0), "CNY")
        amount = stated.value
        if stated.basis is AmountBasis.PERCENT_OF_MONTHLY_FEE:
            amount = fee.amount * stated.value / 100
        return PenaltyQuote(Money(amount.quantize(Decimal("0.01")), fee.currency), "", ground)

    def quote_compensation(
        self, supplier: SupplierState, claimed: Money, now: datetime
    ) -> PenaltyQuote:
        """The claim in full (the fake has no liability limit)."""
        return PenaltyQuote(claimed, "", "claimed amount")

    def ticket_target_hours(self, severity: Severity) -> float | None:
        """4 hours for a critical ticket, 24 for a major one, 72 for a minor one."""
        return TICKET_TARGET_HOURS[severity]

    def contract_requires_need(self) -> bool:
        """Contracts may be signed without a need, as under the default pack."""
        return False

    def claim_window_days(self) -> int | None:
        """Ninety days, as the default pack."""
        return CLAIM_WINDOW_DAYS

    def extension_limits(self) -> ExtensionLimits:
        """Two extensions per corrective action, of at most 14 days each, as the default pack."""
        return EXTENSION_LIMITS

    def plan_due_days(self, severity: Severity | None) -> int:
        """Seven days after a critical breach, 14 after a major, 30 after a minor, else 21."""
        return PLAN_DUE_DAYS[severity]

    def plan_due_at(self, severity: Severity | None, at: datetime) -> datetime:
        """``plan_due_days`` calendar days after ``at``."""
        return at + timedelta(days=self.plan_due_days(severity))

    @property
    def calendar(self) -> Calendar:
        """UTC, no holidays."""
        return UTC_CALENDAR

    @property
    def qualification_changes_apply_to(self) -> QualificationChanges:
        """Only new evaluations (recorded qualifications stand)."""
        return QualificationChanges.NEW_EVALUATIONS

    @property
    def scorecard(self) -> ScorecardSpec | None:
        """None: the fake declares no scorecard (tests that need one give ``scorecard``)."""
        return self.scorecard_spec


FAKE_OBJECTIVE = SlaObjective("availability", "availability", Comparator.AT_LEAST, 99.9, 99.95)


def mean_score(scores: Mapping[str, float]) -> float:
    """The plain mean of all scores; 0 when there are none (no evidence, no qualification)."""
    return sum(scores.values()) / len(scores) if scores else 0.0


def _fact(days: float | None) -> FactValue:
    return "none" if days is None else days


def _days(days: float | None) -> str:
    return "no pending" if days is None else f"{days:g}"


def _unmet(condition: ConditionOutcome) -> str:
    return (
        f"{condition.fact} is {condition.actual!r},"
        f" needs {condition.operator} {condition.threshold!r}"
    )


def _conforms(policy: FakePolicy) -> Policy:
    """Never called: mypy checks here that FakePolicy satisfies the Policy protocol."""
    return policy


# --- suppliers driven through real commands --------------------------------------------------

SID = "acme-networks"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SIGNED_AT = T0 + DAY
FEE = Money(Decimal("100000.00"), "CNY")
LIABILITY = Money(Decimal("500000.00"), "CNY")
S = LifecycleState


def licence(
    valid_from: datetime = T0 - 365 * DAY,
    valid_until: datetime = T0 + 365 * DAY,
    number: str = "BL-0001",
    kind: CertificateKindId = "business_licence",
) -> Certificate:
    """A certificate (a business licence unless told otherwise), valid around T0 by default."""
    return Certificate(
        kind, number, "State Administration for Market Regulation", valid_from, valid_until
    )


def passing_evidence(at: datetime = T0, **scores: float) -> SubmitQualificationEvidence:
    """Evidence that qualifies a candidate under FakePolicy's defaults."""
    return SubmitQualificationEvidence(
        SID, at, scores=scores or {"capability": 90.0, "price": 80.0}, certificates=(licence(),)
    )


def sign(*objectives: SlaObjective, at: datetime = SIGNED_AT) -> SignContract:
    """Contract ``ct-1`` with FEE and LIABILITY, the policy's objectives unless given."""
    return SignContract(SID, "ct-1", at, FEE, LIABILITY, objectives=objectives)


def measure(
    value: float, at: datetime, objective_id: str = "availability", unit: str = "percent"
) -> RecordMeasurement:
    """A measurement over the 30 days that end at ``at``, recorded at ``at``."""
    return RecordMeasurement(SID, objective_id, value, unit, at - 30 * DAY, at, at)


def run(
    state: SupplierState | None, *commands: Command, policy: FakePolicy | None = None
) -> SupplierState:
    """The state after deciding and applying each command in turn (a fresh FakePolicy unless
    one is given).
    """
    for command in commands:
        state = fold(decide(command, state, policy or FakePolicy()), state)
    assert state is not None
    return state


def supplier_in(lifecycle: LifecycleState) -> SupplierState:
    """A supplier driven to ``lifecycle`` through real commands, one day apart.

    Under contract it has signed ``sign()`` at SIGNED_AT; in remediation a plan is required
    (due 21 days after the hand-opened review concluded) but not yet submitted.
    """
    review = OpenReview(SID, "three SLA breaches in 30 days", T0 + 2 * DAY)
    remediate = ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, T0 + 3 * DAY)
    steps: dict[LifecycleState, Sequence[Command]] = {
        S.CANDIDATE: [],
        S.QUALIFIED: [passing_evidence()],
        S.CONTRACTED: [passing_evidence(), sign()],
        S.UNDER_REVIEW: [passing_evidence(), sign(), review],
        S.REMEDIATION: [passing_evidence(), sign(), review, remediate],
        S.TERMINATED: [SubmitQualificationEvidence(SID, T0, scores={"blacklisted": 100.0})],
    }
    state = run(
        None,
        RegisterSupplier(SID, "华为技术有限公司", "software", T0),
        *steps[lifecycle],
    )
    assert state.lifecycle is lifecycle
    return state
