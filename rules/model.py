"""The typed model of a policy pack: what the loader builds from the YAML files.

Everything is frozen. Positions (file, line) travel with rules and conditions so decisions
can say exactly which line of which file made them.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import attrs

from sqm.domain.actions import UNESCALATED_OVERDUE_FACT
from sqm.domain.calendar import UTC_CALENDAR, Calendar
from sqm.domain.corrective_records import ExtensionLimits
from sqm.domain.invariants import Invariant
from sqm.domain.model import (
    Action,
    FactValue,
    QualificationChanges,
    Reminder,
    Severity,
    SlaObjective,
    Stage,
)
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId, MetricId, PackCatalogue
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.segments import Segment
from sqm.rules.template import placeholders

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
    parameters: tuple[tuple[str, str], ...] = ()
    """The action's parameters from ``then:`` (for ``remind``: ``(("reminder", ...),)``;
    an amount as ``("amount.fixed", "5000.00")``)."""

    @property
    def message_parameter(self) -> str:
        """The ``message`` template under ``then:`` (escalate, notify), or empty."""
        return dict(self.parameters).get("message", "")

    # Cached: every evaluation explains every rule of its stage with these.
    @functools.cached_property
    def conditions(self) -> tuple[Condition, ...]:
        """The rule's conditions, flattened, in file order."""
        return tuple(self.when.conditions())

    @functools.cached_property
    def fact_names(self) -> tuple[str, ...]:
        """The facts the rule looks at: its conditions', then its messages' placeholders."""
        names = [c.fact for c in self.conditions]
        for template in (self.message, self.not_fired_message or "", self.message_parameter):
            names.extend(p.fact for p in placeholders(template))
        return tuple(dict.fromkeys(names))


class CriterionKind(enum.StrEnum):
    """Whether more of a criterion is better (``benefit``) or worse (``cost``, a price say).

    Qualification scores are 0-100 with higher better whatever the kind; the kind matters
    when candidates are ranked on their raw values (see :mod:`sqm.rules.selection`).
    """

    BENEFIT = "benefit"
    COST = "cost"


@attrs.frozen
class Criterion:
    """One criterion of the weighted evaluation; weights of a pack sum to 100."""

    id: str
    weight: Decimal
    description: str = ""
    kind: CriterionKind = CriterionKind.BENEFIT


@attrs.frozen
class CertificateRequirements:
    """Certificates a supplier must hold: ``common`` for everyone, more per service category."""

    common: tuple[CertificateKindId, ...] = ()
    by_category: tuple[tuple[CategoryId, tuple[CertificateKindId, ...]], ...] = ()

    def for_category(self, category: CategoryId) -> tuple[CertificateKindId, ...]:
        """The kinds required of a supplier in ``category``, common ones first, no repeats."""
        extra = [kind for cat, kinds in self.by_category if cat == category for kind in kinds]
        return tuple(dict.fromkeys([*self.common, *extra]))


ACTIONS_BY_STAGE: dict[Stage, frozenset[Action]] = {
    Stage.QUALIFICATION: frozenset({Action.QUALIFY, Action.DISQUALIFY}),
    Stage.MONITORING: frozenset(
        {
            Action.OPEN_REVIEW,
            Action.ASSESS_PENALTY,
            Action.TERMINATE,
            Action.REMIND,
            Action.REQUIRE_REMEDIATION,
            Action.CLEAR_REVIEW,
            Action.ESCALATE,
            Action.NOTIFY,
        }
    ),
    Stage.DEADLINES: frozenset(
        {
            Action.ASSESS_PENALTY,
            Action.OPEN_REVIEW,
            Action.REVOKE_QUALIFICATION,
            Action.TERMINATE,
            Action.VERIFY_REMEDIATION,
            Action.REMIND,
            Action.REQUIRE_REMEDIATION,
            Action.CLEAR_REVIEW,
        }
    ),
    Stage.SELECTION: frozenset({Action.DISQUALIFY, Action.REMIND, Action.ESCALATE}),
}
"""The actions a rule may ask for at each stage: a clean window or an expiry needs time to
pass (deadlines). A penalty by the schedule needs a breach (monitoring); on the deadline
check (a missed report, say) a penalty must state its amount. Escalations and notifications
go with a record (monitoring): on the deadline check they would be repeated at every tick.
At selection (a need's), ``disqualify`` refuses the shortlisting or award, and a reminder
or escalation is recorded on the need's stream, once per rule and need on ticks."""


MESSAGE_ACTIONS = frozenset({Action.ESCALATE, Action.NOTIFY})

TOLD_ONCE_FACTS = frozenset({UNESCALATED_OVERDUE_FACT})
"""Facts that count each case once: the escalate or notify rule that reads them marks what
it told about, so the fact drops on the next tick. On such a fact (a direct condition of the
rule's ``all``), escalate and notify may run at stage ``deadlines`` without repeating."""


def told_once(when: ConditionGroup) -> bool:
    """True when ``when`` is an ``all`` with a direct condition on a told-once fact."""
    return when.kind is GroupKind.ALL and any(
        isinstance(item, Condition) and item.fact in TOLD_ONCE_FACTS for item in when.items
    )


class ParameterKind(enum.StrEnum):
    """What a parameter under ``then:`` holds."""

    CHOICE = "choice"
    """One of a fixed set of values (``reminder: certificate_expiry``)."""
    ROLE = "role"
    """A named role or party, as a name (``procurement_director``)."""
    TEXT = "text"
    """A message template with ``{fact}`` placeholders, as a rule's ``message``."""
    AMOUNT = "amount"
    """``{fixed: "5000.00"}`` or ``{percent_of_monthly_fee: 5}``, exact decimals."""


@attrs.frozen
class Parameter:
    """One parameter an action takes under ``then:``."""

    kind: ParameterKind
    required: bool = True
    choices: type[enum.StrEnum] | None = None
    """The values of a ``choice``."""


_ROLE = Parameter(ParameterKind.ROLE)
_TEXT = Parameter(ParameterKind.TEXT, required=False)

ACTION_PARAMETERS: dict[Action, dict[str, Parameter]] = {
    Action.REMIND: {"reminder": Parameter(ParameterKind.CHOICE, choices=Reminder)},
    Action.ESCALATE: {"to": _ROLE, "message": _TEXT},
    Action.NOTIFY: {"to": _ROLE, "message": _TEXT},
    Action.ASSESS_PENALTY: {"amount": Parameter(ParameterKind.AMOUNT, required=False)},
}
"""The parameters each action takes under ``then:``; an action not listed takes none."""

AMOUNT_BASES = ("fixed", "percent_of_monthly_fee")
"""The ways an ``amount`` is stated; a rule's parameters carry it as ``amount.<basis>``."""


@attrs.frozen
class ObjectiveDefaults:
    """The SLA objectives a contract gets when it names none: ``common`` for every service
    category, then per category (a category's objective replaces a common one of the same id).
    """

    common: tuple[SlaObjective, ...] = ()
    by_category: tuple[tuple[CategoryId, tuple[SlaObjective, ...]], ...] = ()

    def for_category(self, category: CategoryId) -> tuple[SlaObjective, ...]:
        """The objectives of ``category``: common ones (or their replacements), then extras."""
        merged = {o.objective_id: o for o in self.common}
        for cat, objectives in self.by_category:
            if cat == category:
                merged.update((o.objective_id, o) for o in objectives)
        return tuple(merged.values())

    @property
    def objective_ids(self) -> frozenset[str]:
        """Every objective id defined, for any category."""
        everything = [*self.common, *(o for _, objs in self.by_category for o in objs)]
        return frozenset(o.objective_id for o in everything)


@attrs.frozen
class SeverityTier:
    """Misses of more than ``above`` and at most ``up_to`` (None: no upper end) are ``severity``.

    A miss is the shortfall beyond the objective's tolerance, in the metric's unit.
    """

    severity: Severity
    above: Decimal
    up_to: Decimal | None

    def contains(self, miss: Decimal) -> bool:
        """True when ``miss`` lies in ``(above, up_to]``."""
        return self.above < miss and (self.up_to is None or miss <= self.up_to)


@attrs.frozen
class MetricTiers:
    """The severity tiers of one metric: from 0, contiguous, open-ended, minor to critical."""

    metric: MetricId
    tiers: tuple[SeverityTier, ...]

    def severity_of(self, miss: Decimal) -> Severity | None:
        """The severity of a miss (None when ``miss`` is not above 0)."""
        return next((t.severity for t in self.tiers if t.contains(miss)), None)


class WindowKind(enum.StrEnum):
    """What a window counts or averages over the supplier's history."""

    BREACH_COUNT = "breach_count"
    CONSECUTIVE_MISSES = "consecutive_misses"
    SATISFACTION_MEAN = "satisfaction_mean"
    SURVEY_COUNT = "survey_count"
    FAILED_INSPECTIONS = "failed_inspections"
    TICKET_RESOLUTION_BREACHES = "ticket_resolution_breaches"


@attrs.frozen
class Window:
    """A named fact computed from the supplier's history at decision time.

    ``breach_count``: breaches of ``min_severity`` or worse in the last ``days`` (of one
    ``objective`` when given); ``consecutive_misses``: the latest periods of ``metric`` that
    missed, in a row; ``satisfaction_mean``: the mean survey score over ``days``;
    ``survey_count``: surveys over ``days``; ``failed_inspections``: failed inspections over
    ``days``; ``ticket_resolution_breaches``: problem tickets resolved past their target over
    ``days``.
    """

    id: str
    kind: WindowKind
    file: str
    line: int
    days: float = 0.0
    min_severity: Severity = Severity.MINOR
    objective: str = ""
    metric: MetricId | None = None
    description: str = ""


@attrs.frozen
class CreditSchedule:
    """Service credits: a percentage of the monthly fee by severity, a multiplier for the
    n-th breach of the same objective in a ledger period (the last one for every later
    breach), and caps per period and per contract, in percent of the monthly fee.
    """

    percent_by_severity: tuple[tuple[Severity, Decimal], ...]
    repeat_multipliers: tuple[Decimal, ...]
    period_cap_percent: Decimal
    contract_cap_percent: Decimal

    def percent(self, severity: Severity) -> Decimal:
        """The percentage of the monthly fee credited for a breach of ``severity``."""
        return dict(self.percent_by_severity)[severity]

    def multiplier(self, nth: int) -> Decimal:
        """The multiplier for the ``nth`` (1-based) breach of an objective in a period."""
        return self.repeat_multipliers[min(nth, len(self.repeat_multipliers)) - 1]


@attrs.frozen
class ImprovementSchedule:
    """Days an improvement plan is due in, by the severity of the breach behind the review."""

    plan_due_days: tuple[tuple[Severity, int], ...]
    business_days: bool = False
    """Count the days as business days of the pack's calendar (``plan_due_in: business_days``)."""
    extension_limits: ExtensionLimits = attrs.field(factory=ExtensionLimits)
    """Extensions of corrective actions' due dates (``corrective_actions``): none without."""

    def due_days(self, severity: Severity | None) -> int:
        """The days for ``severity``; without one (a review not caused by a breach), the
        longest of the schedule.
        """
        days = dict(self.plan_due_days)
        return days[severity] if severity is not None else max(days.values())


@attrs.frozen
class CategoryIntervals:
    """Days between periodic steps (business reviews, training), by service category."""

    every_days: tuple[tuple[CategoryId | None, int], ...]
    """(category, days); the None entry is 'all': every category without its own."""

    def days_for(self, category: CategoryId) -> int | None:
        """The interval for ``category`` (its own entry, else 'all'), or None for none."""
        days = dict(self.every_days)
        return days.get(category, days.get(None))


@attrs.frozen
class TicketTargets:
    """Hours a problem ticket should be resolved in, by its severity (``problem_tickets``)."""

    resolution_target_hours: tuple[tuple[Severity, float], ...]

    def hours_for(self, severity: Severity) -> float:
        """The target for ``severity``."""
        return dict(self.resolution_target_hours)[severity]


@attrs.frozen
class CompensationTerms:
    """When compensation may be claimed: within ``claim_window_days`` of the loss and of the
    contract's end (``penalties.compensation``).
    """

    claim_window_days: int


@attrs.frozen
class PolicyPack:
    """A loaded, checked policy pack. ``version`` is the SHA-256 of its content."""

    name: str
    title: str
    description: str
    version: str
    directory: Path | None
    """The folder the pack was read from; None for a pack given as data."""
    files: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    certificates: CertificateRequirements
    rules: tuple[Rule, ...]
    catalogue: PackCatalogue
    """The pack's catalogue (``catalogue.yaml``): the categories, certificate kinds, metrics
    and document kinds its files and the API may name."""
    catalogue_file: str | None = None
    """The file the manifest names as its catalogue; None for a pack naming none (which gets
    the legacy catalogue, ``sqm/rules/legacy-catalogue.yaml``)."""
    objectives: ObjectiveDefaults = ObjectiveDefaults()
    tiers: tuple[MetricTiers, ...] = ()
    windows: tuple[Window, ...] = ()
    credits: CreditSchedule | None = None
    compensation: CompensationTerms | None = None
    """The claim window; None: claims are limited only by the contract's term."""
    business_reviews: CategoryIntervals | None = None
    """How often a business review falls due; None: no scheduled reviews."""
    training: CategoryIntervals | None = None
    """How often staff training is required; None: no requirement."""
    problem_tickets: TicketTargets | None = None
    """Resolution targets of problem tickets; None: tickets have no target."""
    contract_requires_need: bool = False
    """``contracts.require_need``: a contract may only be signed under an awarded need."""
    improvement: ImprovementSchedule | None = None
    invariants: tuple[Invariant, ...] = ()
    """What the pack promises always to hold (see :mod:`sqm.domain.invariants`)."""
    calendar: Calendar = UTC_CALENDAR
    """The manifest's ``calendar``: time zone and holidays (UTC and none when not given)."""
    qualification_changes_apply_to: QualificationChanges = QualificationChanges.NEW_EVALUATIONS
    """The manifest's setting: whether suppliers already qualified are evaluated again when
    this version takes effect (default: no, recorded qualifications stand)."""
    sources: Mapping[str, str] = attrs.field(factory=dict, eq=False, repr=False)
    """The text of the manifest and each rule file, by relative path (what ``version`` covers)."""
    scorecard: ScorecardSpec | None = None
    """The supplier scorecard (periods, KPIs, standings); None when the pack declares none."""
    segments: tuple[Segment, ...] = ()
    """The supplier segments (供应商分级), first match wins; none when the pack declares none."""

    def rules_for(self, stage: Stage) -> tuple[Rule, ...]:
        """The rules consulted at ``stage``, in file order."""
        return tuple(rule for rule in self.rules if rule.stage is stage)

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        """The ids of the evaluation criteria, in file order."""
        return tuple(c.id for c in self.criteria)

    def tiers_for(self, metric: MetricId) -> MetricTiers | None:
        """The severity tiers of ``metric``, if the pack defines them."""
        return next((t for t in self.tiers if t.metric == metric), None)
