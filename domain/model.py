"""Value objects and the supplier's state, all immutable."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from sqm.domain.corrective_records import CorrectiveAction
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId, MetricId, MilestoneKindId
from sqm.domain.scorecard_records import Scorecard


class LifecycleState(enum.StrEnum):
    """Where a supplier stands in the operator's process."""

    CANDIDATE = "candidate"
    QUALIFIED = "qualified"
    CONTRACTED = "contracted"
    UNDER_REVIEW = "under_review"
    REMEDIATION = "remediation"
    TERMINATED = "terminated"


class Action(enum.StrEnum):
    """What a fired rule asks the domain to do; the domain decides how (``sqm.domain.decide``)."""

    QUALIFY = "qualify"
    DISQUALIFY = "disqualify"
    REVOKE_QUALIFICATION = "revoke_qualification"
    OPEN_REVIEW = "open_review"
    ASSESS_PENALTY = "assess_penalty"
    TERMINATE = "terminate"
    VERIFY_REMEDIATION = "verify_remediation"
    REMIND = "remind"
    REQUIRE_REMEDIATION = "require_remediation"
    CLEAR_REVIEW = "clear_review"
    ESCALATE = "escalate"
    NOTIFY = "notify"


class Stage(enum.StrEnum):
    """The moment in the process at which a policy is consulted.

    ``qualification``: evidence was submitted by a candidate. ``monitoring``: a monitoring
    record arrived (SLA measurement, satisfaction survey, inspection, progress report,
    self-check). ``deadlines``: time advanced (the scheduler's tick, or a simulation's clock).
    ``selection``: on a need's own stream (需求), a supplier is shortlisted or awarded, or
    time advanced over an open need.
    """

    QUALIFICATION = "qualification"
    MONITORING = "monitoring"
    DEADLINES = "deadlines"
    SELECTION = "selection"


class QualificationChanges(enum.StrEnum):
    """Whom a policy version's qualification rules apply to once it takes effect (a pack's
    ``qualification_changes_apply_to``; 既往不咎 when only new evaluations).
    """

    NEW_EVALUATIONS = "new_evaluations"
    """Only evidence evaluated from then on: qualifications already recorded stand."""
    QUALIFIED_SUPPLIERS = "qualified_suppliers"
    """Also suppliers still qualified (not yet contracted) when it takes effect: each is
    evaluated again on its recorded evidence, and one that no longer passes goes back to
    candidate."""


class Comparator(enum.StrEnum):
    """How a measurement meets its target: at least (availability) or at most (restore time)."""

    AT_LEAST = ">="
    AT_MOST = "<="


class Severity(enum.StrEnum):
    """How badly a measurement missed its objective; ordered by :attr:`rank`."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """1 for minor, 2 for major, 3 for critical: "major or worse" is ``rank >= 2``."""
        return _SEVERITY_RANKS[self]


_SEVERITY_RANKS = {Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}


class Reminder(enum.StrEnum):
    """What a reminder is about."""

    IMPROVEMENT_PLAN_DUE = "improvement_plan_due"
    CERTIFICATE_EXPIRY = "certificate_expiry"
    PROGRESS_REPORT_DUE = "progress_report_due"
    CONTRACT_EXPIRY = "contract_expiry"
    MILESTONE_DUE = "milestone_due"
    TRAINING_DUE = "training_due"
    RESOURCE_PLAN_DUE = "resource_plan_due"
    CONTRACT_ARCHIVE_DUE = "contract_archive_due"
    CORRECTIVE_ACTION_DUE = "corrective_action_due"
    CORRECTIVE_ACTION_OVERDUE = "corrective_action_overdue"
    NEED_DUE = "need_due"
    """A need's required-by date approaches with no award (on the need's stream)."""


@attrs.frozen
class Money:
    """An exact amount in a currency (ISO 4217 code); never a float."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def exact(value: float) -> Decimal:
    """``value`` as the decimal its shortest text form shows: ``0.1``, not 0.1000000000000000055.

    Measurements arrive as floats; comparing them with targets in exact decimals means
    99.95 - 99.85 is 0.1, as the person who wrote the SLA meant.
    """
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return Decimal(repr(float(value)))


@attrs.frozen
class SlaObjective:
    """A service level objective (TM Forum style) agreed in a contract.

    A measurement *misses* when it is on the wrong side of ``target`` by more than
    ``tolerance``; it is in *warning* when it is on the wrong side of ``warning``. Misses in
    the first ``grace_days`` of the contract are recorded but not penalised.
    """

    objective_id: str
    metric: MetricId
    comparator: Comparator
    target: float
    warning: float
    tolerance: float = 0.0
    grace_days: int = 0
    period_days: int = 30

    def shortfall(self, value: float) -> Decimal:
        """How far ``value`` is on the wrong side of the target, exactly (0 when met)."""
        target, actual = exact(self.target), exact(value)
        gap = target - actual if self.comparator is Comparator.AT_LEAST else actual - target
        return max(gap, Decimal(0))


@attrs.frozen
class Contract:
    """The contract signed with a supplier: fee, liability, term and objectives."""

    contract_id: str
    signed_at: datetime
    starts_at: datetime
    ends_at: datetime
    monthly_fee: Money
    liability_limit: Money
    objectives: tuple[SlaObjective, ...] = ()
    need_id: str = ""
    """The awarded need it was signed under ("" when signed without one)."""

    def objective(self, objective_id: str) -> SlaObjective | None:
        """The objective with this id, if the contract has one."""
        return next((o for o in self.objectives if o.objective_id == objective_id), None)


@attrs.frozen
class Measurement:
    """One SLA measurement over a period, as recorded against an objective."""

    objective_id: str
    metric: MetricId
    value: float
    period_start: datetime
    period_end: datetime
    met: bool
    recorded_at: datetime


@attrs.frozen
class Breach:
    """A measurement that missed its objective, with how badly."""

    objective_id: str
    metric: MetricId
    severity: Severity
    value: float
    target: float
    shortfall: float
    period_end: datetime
    detected_at: datetime


@attrs.frozen
class Penalty:
    """A service credit or compensation entered in the penalties ledger."""

    penalty_id: str
    kind: str  # "service_credit" or "compensation"
    contract_id: str
    amount: Money
    period: str  # the month it counts against, "YYYY-MM"
    rule_id: str
    cap_applied: str  # "" when no cap reduced it, else which cap ("period", "contract", ...)
    assessed_at: datetime
    objective_id: str = ""


class AmountBasis(enum.StrEnum):
    """How a penalty rule states its amount."""

    FIXED = "fixed"
    PERCENT_OF_MONTHLY_FEE = "percent_of_monthly_fee"


@attrs.frozen
class StatedAmount:
    """A penalty amount a rule states (``then: {amount: ...}``), exact: a fixed amount, in
    ``currency`` when the rule names one (else the contract's), or a percentage of the fee.
    """

    basis: AmountBasis
    value: Decimal
    currency: str = ""

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, FactValue]) -> StatedAmount | None:
        """The amount among a decision's parameters (``amount.fixed: "5000.00 CNY"``), if any."""
        for basis in AmountBasis:
            text = parameters.get(f"amount.{basis.value}")
            if text is not None:
                number, _, currency = str(text).partition(" ")
                return cls(basis, Decimal(number), currency)
        return None


@attrs.frozen
class Milestone:
    """A delivery milestone agreed at kick-off, of a kind the pack's catalogue declares (site
    survey, cutover: it names the stage deliverable) or of none (``""``).
    """

    name: str
    due_at: datetime
    kind: MilestoneKindId = ""


@attrs.frozen
class ProblemTicket:
    """A problem ticket against the supplier: its severity (its priority, which sets the
    resolution target) and when it was opened and resolved.

    ``review_opened_at`` is when a review the ticket led to was opened (a rule deciding on
    the ticket opened it, and the review names the ticket in ``Review.ticket_id``). It is
    not recorded on its own: the fold of that ReviewOpened sets it, so the ticket and the
    review can never disagree.
    """

    ticket_id: str
    severity: Severity
    opened_at: datetime
    resolved_at: datetime | None = None
    review_opened_at: datetime | None = None


@attrs.frozen
class Review:
    """An open or concluded review of a supplier.

    A review a rule opened records what it was deciding on: the breach's ``objective_id``
    and ``severity``, or the problem ticket's ``ticket_id`` when the rule decided on opening
    or resolving a ticket ("" otherwise, and in reviews recorded before the field existed).
    """

    opened_at: datetime
    reason: str
    rule_id: str = ""
    objective_id: str = ""
    severity: Severity | None = None
    ticket_id: str = ""


@attrs.frozen
class ImprovementPlan:
    """An improvement plan required by a review: measures, owner, deadline, and its progress.

    ``objective_id`` and ``ticket_id`` are carried on from the review that required it.
    """

    required_at: datetime
    due_at: datetime
    objective_id: str = ""
    measures: tuple[str, ...] = ()
    owner: str = ""
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    ticket_id: str = ""


@attrs.frozen
class Observation:
    """A dated monitoring record other than a measurement: a survey score, an inspection."""

    at: datetime
    value: float
    passed: bool = True


@attrs.frozen
class Certificate:
    """A certificate as presented by the supplier; valid on ``[valid_from, valid_until)``."""

    kind: CertificateKindId
    number: str
    issuer: str
    valid_from: datetime
    valid_until: datetime

    def is_valid_at(self, moment: datetime) -> bool:
        """True when ``moment`` lies within the certificate's validity period."""
        return self.valid_from <= moment < self.valid_until


FactValue = bool | int | float | str


@attrs.frozen
class ConditionOutcome:
    """One condition of a rule, evaluated: the fact's actual value against the threshold."""

    fact: str
    operator: str
    threshold: FactValue
    actual: FactValue
    held: bool


@attrs.frozen
class Decision:
    """The result of a rule evaluated against one decision context: data, not a side effect.

    ``fired`` is False for explanations of rules that did not fire ("why not qualified?").
    """

    rule_id: str
    rule_title: str
    rule_file: str
    rule_line: int
    policy_version: str
    action: Action
    fired: bool
    message: str
    facts: Mapping[str, FactValue] = attrs.field(factory=dict)
    conditions: tuple[ConditionOutcome, ...] = ()
    parameters: Mapping[str, FactValue] = attrs.field(factory=dict)
    """The action's parameters from the rule file (for ``remind``: which reminder)."""


@attrs.frozen
class WindowIndex:
    """Running aggregates the fold keeps beside a supplier's bounded history lists, so a
    window is read from its own records rather than recomputed over the whole history.

    ``kept`` holds the lengths of measurements, breaches, surveys and inspections the index
    was kept for: a state built by hand (its lists replaced, not folded) does not match and
    is read the slow way. ``in_order`` stays True while every record arrived in time order
    (breaches, surveys and inspections by time, measurements by period end), which makes
    every time window a suffix of its list. ``miss_streaks`` is, per metric (by value), how
    many of its latest kept measurements missed in a row, and ``metric_counts`` how many of
    its measurements are kept.
    """

    kept: tuple[int, int, int, int] = (0, 0, 0, 0)
    in_order: bool = True
    miss_streaks: Mapping[str, int] = attrs.field(factory=dict)
    metric_counts: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class SupplierState:
    """A supplier as the fold of its events; never updated in place."""

    supplier_id: str
    name: str
    category: CategoryId
    lifecycle: LifecycleState = LifecycleState.CANDIDATE
    version: int = 0
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    scores: Mapping[str, float] = attrs.field(factory=dict)
    certificates: tuple[Certificate, ...] = ()
    site_audit_passed: bool | None = None
    blacklisted: bool = False
    last_decisions: tuple[Decision, ...] = ()
    contract: Contract | None = None
    measurements: tuple[Measurement, ...] = ()
    breaches: tuple[Breach, ...] = ()
    penalties: tuple[Penalty, ...] = ()
    surveys: tuple[Observation, ...] = ()
    inspections: tuple[Observation, ...] = ()
    last_progress_report_at: datetime | None = None
    last_self_check_at: datetime | None = None
    last_self_check_passed: bool = True
    """The latest self-check passed (True before any): a failed one requires rectification."""
    progress_reports: tuple[datetime, ...] = ()
    """When the latest progress reports were submitted, oldest first (bounded)."""
    self_checks: tuple[datetime, ...] = ()
    """When the latest self-checks were submitted, oldest first (bounded)."""
    milestones: tuple[Milestone, ...] = ()
    """The delivery milestones agreed at the latest kick-off."""
    milestones_completed: frozenset[str] = frozenset()
    """Names of the milestones the supplier completed."""
    milestone_completions: Mapping[str, datetime] = attrs.field(factory=dict)
    """When each completed milestone was completed, by name (kept with the milestones)."""
    deliverables_accepted: frozenset[str] = frozenset()
    """Names of the milestones whose stage deliverables (阶段性成果) the operator accepted."""
    review: Review | None = None
    plan: ImprovementPlan | None = None
    corrective_action: CorrectiveAction | None = None
    """The corrective-action record (8D) answering the latest plan, if the supplier sent one."""
    last_training_at: datetime | None = None
    """When the supplier's staff were last trained (required training counts from it)."""
    last_review_at: datetime | None = None
    """When the latest review opened (a scheduled business review counts from it)."""
    reminders_sent: frozenset[str] = frozenset()
    open_tickets: frozenset[str] = frozenset()
    tickets: tuple[ProblemTicket, ...] = ()
    """The latest problem tickets, open and resolved (bounded like the other histories)."""
    ticket_misses: tuple[datetime, ...] = ()
    """When tickets were resolved past their resolution target (bounded)."""
    settlements: Mapping[str, Decimal] = attrs.field(factory=dict)
    """Amount settled so far per compensation's penalty id (in the contract's currency)."""
    windows: WindowIndex = attrs.field(factory=WindowIndex)
    """Running aggregates over the history lists (see :class:`WindowIndex`)."""
    acknowledged_notices: frozenset[int] = frozenset()
    """Global sequences of the notices the supplier has acknowledged."""
    penalty_disputes: Mapping[str, str] = attrs.field(factory=dict)
    """Per disputed penalty id: ``open`` until decided, then the outcome (``upheld``...)."""
    scorecards: tuple[Scorecard, ...] = ()
    """The latest closed scorecards, oldest first (bounded; the stream keeps them all)."""
    kicked_off_at: datetime | None = None
    """When the latest delivery kick-off meeting was held (resource plans count from it)."""
    resource_plan_at: datetime | None = None
    """When the supplier last submitted its resource plan (资源配置)."""
    contract_archived_at: datetime | None = None
    """When a signed contract was last archived as a document (备案)."""
    market_research_at: datetime | None = None
    """When market research (市场调研) on the supplier was last recorded."""
    market_research_references: int = 0
    """How many customer references (客户评价) the latest market research names."""

    def valid_certificate_kinds(self, moment: datetime) -> frozenset[CertificateKindId]:
        """The kinds of certificate the supplier holds that are valid at ``moment``."""
        return frozenset(c.kind for c in self.certificates if c.is_valid_at(moment))
