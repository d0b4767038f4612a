"""The fact catalogue: every fact a rule may compare, its type, meaning and stages.

Rules compare facts; the catalogue says which exist where, so the loader can refuse a rule on
a fact its stage never has, and so facts can be typed and checked before they reach the
engine (which mishandles NaN, infinities, booleans and strings where numbers belong: see
``durable_rules_notes.md``). A pack adds its own facts: the windows it declares.

Facts never hold None. Where there is nothing to report, a fact takes a documented neutral
value that no sensible threshold mistakes for a problem: :data:`FAR_AWAY_DAYS` for a
deadline that does not exist, :data:`NO_SURVEY_SCORE` for a mean over no surveys, ``"none"``
for text, ``0`` for counts and shortfalls, ``true`` for "the inspection passed" when the
record is not an inspection.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping

import attrs

from sqm.domain.errors import PolicyError
from sqm.domain.model import FactValue, LifecycleState, Severity, Stage
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.rules.model import Operator, PolicyPack, Window, WindowKind


class FactType(enum.StrEnum):
    """The type of a fact; it decides which operators and thresholds a condition may use."""

    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"


ORDERED = frozenset(Operator)
EQUALITY = frozenset({Operator.EQ, Operator.NE})
OPERATORS: Mapping[FactType, frozenset[Operator]] = {
    FactType.NUMBER: ORDERED,
    FactType.INTEGER: ORDERED,
    FactType.BOOLEAN: EQUALITY,
    FactType.STRING: EQUALITY,
}

NONE_TEXT = "none"
"""The value of a text fact with nothing to name (no measurement, no expired certificate)."""

FAR_AWAY_DAYS = 99_999.0
"""Days until a deadline that does not exist (no plan pending, no required certificate
valid): far enough that ``<= 3`` or ``< 0`` never holds, and finite, as the engine needs."""

NO_SURVEY_SCORE = 100.0
"""A satisfaction mean over no surveys: no evidence of dissatisfaction. Rules on a mean
should also ask for a minimum number of surveys (a ``survey_count`` window)."""

RECORD_KINDS = (
    "measurement",
    "survey",
    "inspection",
    "progress_report",
    "self_check",
    "ticket_resolution",
)
"""The monitoring records a ``monitoring`` evaluation can be about (``record_kind``)."""

NO_SCORECARD_SCORE = 100.0
"""The score before a supplier's first scorecard (or of one not rated): no evidence of poor
service. Rules on a standing should also ask for ``scorecard_closed_now``."""

SEVERITY_RANKS = {NONE_TEXT: 0, **{s.value: s.rank for s in Severity}}
"""``breach_severity`` -> ``breach_severity_rank``: 0 without a breach, then 1, 2, 3."""


@attrs.frozen
class FactSpec:
    """A fact rules may use: its name, type, meaning, the stages it exists at, allowed values."""

    name: str
    type: FactType
    description: str
    stages: frozenset[Stage]
    choices: tuple[str, ...] = ()
    needs_criteria: bool = False


_Q = frozenset({Stage.QUALIFICATION})
_M = frozenset({Stage.MONITORING})
_D = frozenset({Stage.DEADLINES})
_MD = _M | _D
_SEL = frozenset({Stage.SELECTION})
_ALL = frozenset(Stage)
_N, _I, _B, _S = FactType.NUMBER, FactType.INTEGER, FactType.BOOLEAN, FactType.STRING

_SPECS = (
    # --- qualification ------------------------------------------------------------------
    FactSpec(
        "weighted_score",
        _N,
        "sum of score * weight / 100 over the pack's criteria (a missing score counts 0),"
        " rounded half-to-even to 2 places",
        _Q,
        needs_criteria=True,
    ),
    FactSpec(
        "criteria_missing",
        _I,
        "number of the pack's criteria with no score",
        _Q,
        needs_criteria=True,
    ),
    FactSpec(
        "certificates_missing",
        _I,
        "number of certificate kinds required for the supplier's category not valid now",
        _Q,
    ),
    FactSpec(
        "missing_certificates",
        _S,
        "the required certificate kinds not valid now, comma-separated, or 'none' (for messages)",
        _Q,
    ),
    FactSpec("site_audit_passed", _B, "the site audit passed (unknown: false)", _Q),
    FactSpec("site_audit_failed", _B, "a site audit was recorded and failed (unknown: false)", _Q),
    FactSpec("blacklisted", _B, "the supplier is barred from qualification", _Q),
    # --- every stage ----------------------------------------------------------------------
    FactSpec(
        "category",
        _S,
        "the supplier's service category (one the pack's catalogue declares)",
        _ALL,
    ),
    # --- selection: a need is shortlisted for, awarded, or time advanced over it --------------
    FactSpec(
        "selection_step",
        _S,
        "what happens to the need: 'tick' (time advanced over it, open), 'shortlist' (a"
        " supplier is put on its shortlist) or 'award' (it is awarded to a supplier)",
        _SEL,
        choices=("tick", "shortlist", "award"),
    ),
    FactSpec("need_awarded", _B, "the need is awarded (true once awarded, at the award)", _SEL),
    FactSpec(
        "days_to_need_required_by",
        _N,
        "days until the need's required-by date, negative once past it"
        f" ({FAR_AWAY_DAYS:g} when the need states none)",
        _SEL,
    ),
    FactSpec("days_since_need_opened", _N, "days since the need was opened", _SEL),
    FactSpec(
        "need_shortlisted", _I, "suppliers on the need's shortlist (the candidate included)", _SEL
    ),
    FactSpec(
        "market_research_on_file",
        _B,
        "market research (市场调研) on the candidate is on file (true on a tick: no candidate)",
        _SEL,
    ),
    FactSpec(
        "days_since_market_research",
        _N,
        f"days since the candidate's latest market research ({FAR_AWAY_DAYS:g} when none is"
        " on file; 0 on a tick)",
        _SEL,
    ),
    FactSpec(
        "market_research_references",
        _I,
        "customer references (客户评价) the candidate's latest market research names (0 when"
        " none is on file or on a tick)",
        _SEL,
    ),
    FactSpec(
        "lifecycle",
        _S,
        "the supplier's lifecycle state",
        _MD,
        choices=tuple(s.value for s in LifecycleState),
    ),
    # --- monitoring: the record just applied -----------------------------------------------
    FactSpec("record_kind", _S, "what the record is", _M, choices=RECORD_KINDS),
    FactSpec(
        "metric",
        _S,
        "the measurement's metric ('none' when the record is not a measurement)",
        _M,
    ),
    FactSpec("objective", _S, "the measurement's objective id ('none' otherwise)", _M),
    FactSpec("unit", _S, "the measurement's unit ('none' otherwise; for messages)", _M),
    FactSpec("value", _N, "the measured value (0 when not a measurement)", _M),
    FactSpec("target", _N, "the objective's target (0 when not a measurement)", _M),
    FactSpec("warning", _N, "the objective's warning threshold (0 when not a measurement)", _M),
    FactSpec(
        "shortfall",
        _N,
        "how far the value is on the wrong side of the target, in the metric's unit"
        " (0 when met or not a measurement)",
        _M,
    ),
    FactSpec(
        "breach_severity_rank",
        _I,
        "the breach's severity: 0 no breach, 1 minor, 2 major, 3 critical",
        _M,
    ),
    FactSpec(
        "breach_severity",
        _S,
        "the breach's severity by name ('none' without a breach)",
        _M,
        choices=tuple(SEVERITY_RANKS),
    ),
    FactSpec(
        "in_grace",
        _B,
        "the measured period ended within the objective's grace days after the contract"
        " started (false when not a measurement)",
        _M,
    ),
    FactSpec(
        "in_warning",
        _B,
        "the value is on the wrong side of the objective's warning threshold"
        " (false when not a measurement)",
        _M,
    ),
    FactSpec(
        "satisfaction_score",
        _N,
        f"the survey's score, 0-100 ({NO_SURVEY_SCORE:g} when the record is not a survey)",
        _M,
    ),
    FactSpec(
        "inspection_passed",
        _B,
        "the inspection passed (true when the record is not an inspection)",
        _M,
    ),
    FactSpec(
        "self_check_passed",
        _B,
        "the self-check passed; a failed one requires rectification (true when the record is"
        " not a self-check)",
        _M,
    ),
    FactSpec(
        "ticket_resolution_hours",
        _N,
        "hours the resolved ticket was open (0 when the record is not a ticket resolution)",
        _M,
    ),
    FactSpec(
        "ticket_resolution_target_hours",
        _N,
        "the pack's resolution target for the resolved ticket's severity (0 when none)",
        _M,
    ),
    FactSpec(
        "ticket_resolution_breach",
        _B,
        "the ticket was resolved past its target (false when the record is not a ticket"
        " resolution or there is no target)",
        _M,
    ),
    FactSpec(
        "ticket_severity",
        _S,
        "the resolved ticket's severity, its priority ('none' when not a ticket resolution)",
        _M,
        choices=tuple(SEVERITY_RANKS),
    ),
    # --- deadlines: time has advanced ---------------------------------------------------
    FactSpec("plan_pending", _B, "an improvement plan is required and not completed", _D),
    FactSpec("plan_submitted", _B, "the pending or completed plan has been submitted", _D),
    FactSpec(
        "days_until_plan_due",
        _N,
        f"days left until the pending plan is due, negative when overdue ({FAR_AWAY_DAYS:g}"
        " when no plan is pending)",
        _D,
    ),
    FactSpec(
        "days_plan_overdue",
        _N,
        "days past the pending plan's deadline (0 when not overdue or no plan is pending)",
        _D,
    ),
    FactSpec("plan_completed", _B, "the improvement plan is completed, awaiting verification", _D),
    FactSpec(
        "clean_days_since_plan_completed",
        _N,
        "days since the plan was completed with no breach of its objective since"
        " (0 when no plan is completed)",
        _D,
    ),
    FactSpec(
        "corrective_action_open",
        _B,
        "a corrective-action record (8D, 纠正措施) is submitted and not closed",
        _D,
    ),
    FactSpec(
        "corrective_actions_overdue",
        _I,
        "actions of the open corrective-action record not completed by their due date",
        _D,
    ),
    FactSpec(
        "corrective_actions_overdue_unescalated",
        _I,
        "overdue corrective actions no rule has escalated yet: an escalate or notify rule on"
        " this fact marks the actions it told about, so each is escalated once",
        _D,
    ),
    FactSpec(
        "days_corrective_action_overdue",
        _N,
        "days past the due date of the most overdue corrective action (0 when none is)",
        _D,
    ),
    FactSpec(
        "overdue_corrective_action",
        _S,
        "the id of the most overdue corrective action ('none' when none is)",
        _D,
    ),
    FactSpec(
        "days_to_next_corrective_action",
        _N,
        "days until the next open corrective action not yet overdue is due"
        f" ({FAR_AWAY_DAYS:g} when there is none)",
        _D,
    ),
    FactSpec(
        "next_corrective_action",
        _S,
        "the id of the next open corrective action due ('none' when there is none)",
        _D,
    ),
    FactSpec(
        "corrective_actions_unverified",
        _I,
        "corrective actions reported completed and not verified yet",
        _D,
    ),
    FactSpec(
        "corrective_action_extensions",
        _I,
        "extensions approved across the open record's actions",
        _D,
    ),
    FactSpec(
        "corrective_action_extensions_pending",
        _I,
        "extension requests of the open record awaiting the operator's decision",
        _D,
    ),
    FactSpec(
        "required_certificates_expired",
        _I,
        "number of certificate kinds required for the category that are not valid now",
        _D,
    ),
    FactSpec(
        "expired_certificates",
        _S,
        "those kinds, comma-separated, or 'none' (for messages)",
        _D,
    ),
    FactSpec(
        "days_to_certificate_expiry",
        _N,
        f"days until the first required certificate expires ({FAR_AWAY_DAYS:g} when none is"
        " valid or none is required)",
        _D,
    ),
    FactSpec(
        "expiring_certificate",
        _S,
        "the kind of certificate expiring first, or 'none' (for messages)",
        _D,
    ),
    FactSpec(
        "days_since_progress_report",
        _N,
        "days since the last progress report, or since the contract started (0 without one)",
        _D,
    ),
    FactSpec(
        "days_since_self_check",
        _N,
        "days since the last self-check, or since the contract started (0 without one)",
        _D,
    ),
    FactSpec(
        "contract_days_to_end",
        _N,
        "days until the contract's end date, negative once past it"
        f" ({FAR_AWAY_DAYS:g} without a contract)",
        _D,
    ),
    FactSpec(
        "contract_ended",
        _B,
        "the supplier's contract on file has ended (false without a contract)",
        _D,
    ),
    FactSpec(
        "overdue_milestones",
        _I,
        "kick-off milestones past their due time and not completed (0 without a kick-off)",
        _D,
    ),
    FactSpec(
        "days_milestone_overdue",
        _N,
        "days the most overdue milestone is past its due time (0 when none is overdue)",
        _D,
    ),
    FactSpec(
        "overdue_milestone", _S, "the most overdue milestone's name, or 'none' (for messages)", _D
    ),
    FactSpec(
        "days_to_next_milestone",
        _N,
        f"days until the next open milestone is due ({FAR_AWAY_DAYS:g} when none is ahead)",
        _D,
    ),
    FactSpec("next_milestone", _S, "the next open milestone's name, or 'none' (for messages)", _D),
    FactSpec(
        "overdue_milestone_kind",
        _S,
        "the most overdue milestone's kind (one the pack's catalogue declares), or 'none'"
        " when none is overdue or it has no kind",
        _D,
    ),
    FactSpec(
        "next_milestone_kind",
        _S,
        "the next open milestone's kind (one the pack's catalogue declares), or 'none'"
        " when none is ahead or it has no kind",
        _D,
    ),
    FactSpec("kick_off_recorded", _B, "a delivery kick-off meeting is on file", _D),
    FactSpec(
        "days_since_kick_off",
        _N,
        "days since the latest kick-off meeting (0 without one)",
        _D,
    ),
    FactSpec(
        "contract_document_archived",
        _B,
        "the contract on file was archived as a document (kind contract) since it was signed"
        " (false without a contract)",
        _D,
    ),
    FactSpec(
        "days_since_contract_signed",
        _N,
        "days since the contract on file was signed (0 without a contract)",
        _D,
    ),
    FactSpec(
        "resource_plan_submitted",
        _B,
        "the supplier has submitted a resource plan (false before its first)",
        _D,
    ),
    FactSpec(
        "days_since_last_review",
        _N,
        "days since the latest review opened, or since the contract started (0 without one)",
        _D,
    ),
    FactSpec(
        "business_review_days",
        _I,
        "days between business reviews the pack sets for the category, or the latest"
        " scorecard's standing sets with review_every_days (0: none scheduled)",
        _D,
    ),
    FactSpec(
        "business_review_due",
        _B,
        "a scheduled business review is due: no review for business_review_days (false when"
        " the pack schedules none or there is no contract)",
        _D,
    ),
    FactSpec(
        "days_since_training",
        _N,
        "days since the last training, or since the contract started (0 without one)",
        _D,
    ),
    FactSpec(
        "training_every_days",
        _I,
        "days between trainings the pack requires for the category (0: none required)",
        _D,
    ),
    FactSpec(
        "days_to_training_due",
        _N,
        "days until the required training is due, negative when overdue"
        f" ({FAR_AWAY_DAYS:g} when none is required or there is no contract)",
        _D,
    ),
    FactSpec(
        "training_overdue",
        _B,
        "the required training is overdue (false when none is required)",
        _D,
    ),
    FactSpec("open_tickets", _I, "problem tickets open now", _D),
    FactSpec(
        "oldest_open_ticket_days", _N, "days the oldest open ticket has been open (0: none)", _D
    ),
    FactSpec(
        "overdue_open_tickets",
        _I,
        "open tickets older than the pack's resolution target for their severity",
        _D,
    ),
    FactSpec("review_open", _B, "a review is open", _D),
    FactSpec("review_open_days", _N, "days the open review has been open (0 when none)", _D),
    FactSpec(
        "scorecard_score",
        _N,
        f"the latest scorecard's score, 0 to 100 ({NO_SCORECARD_SCORE:g} before the first or"
        " when it was not rated)",
        _D,
    ),
    FactSpec(
        "standing",
        _S,
        f"the latest scorecard's standing, or '{NONE_TEXT}' before the first or when not rated",
        _D,
    ),
    FactSpec(
        "segment",
        _S,
        "the supplier's segment (供应商分级): the id of the first of the pack's segments whose"
        f" conditions it meets, or '{NONE_TEXT}' when none does (or the pack declares none)",
        _MD,
    ),
    FactSpec(
        "scorecard_closed_now",
        _B,
        "this tick closed a scorecard period (the facts above are then that period's)",
        _D,
    ),
)

CATALOGUE: Mapping[str, FactSpec] = {spec.name: spec for spec in _SPECS}
"""The service's facts by name, in catalogue order; a pack's windows come on top."""

WINDOW_STAGES = _MD
"""Windows exist at the stages that look at a contracted supplier's history."""

_WINDOW_TYPES = {
    WindowKind.BREACH_COUNT: FactType.INTEGER,
    WindowKind.CONSECUTIVE_MISSES: FactType.INTEGER,
    WindowKind.SATISFACTION_MEAN: FactType.NUMBER,
    WindowKind.SURVEY_COUNT: FactType.INTEGER,
    WindowKind.FAILED_INSPECTIONS: FactType.INTEGER,
    WindowKind.TICKET_RESOLUTION_BREACHES: FactType.INTEGER,
}


def window_spec(window: Window) -> FactSpec:
    """The fact a declared window provides."""
    return FactSpec(
        window.id,
        _WINDOW_TYPES[window.kind],
        window.description or f"window ({window.kind})",
        WINDOW_STAGES,
    )


DECLARED_BY_PACK = frozenset(
    {"category", "metric", "overdue_milestone_kind", "next_milestone_kind"}
)
"""Facts whose values are ids of the pack's catalogue: a rule may only compare them with ids
the pack declares, but a supplier registered, a contract signed or a kick-off recorded under an
earlier version may carry an id the active pack no longer declares, and is still evaluated."""


def specs_with(windows: Iterable[Window], catalogue: PackCatalogue) -> dict[str, FactSpec]:
    """The catalogue plus the facts of ``windows``: every fact a pack's rules may use.

    The ``category``, ``metric`` and milestone-kind facts take the ids the pack's
    ``catalogue`` declares, so a rule comparing them with an id the pack does not declare is
    reported where it is.
    """
    choices = {
        "category": catalogue.category_ids,
        "metric": (*catalogue.metric_ids, NONE_TEXT),
        "overdue_milestone_kind": (*catalogue.milestone_kind_ids, NONE_TEXT),
        "next_milestone_kind": (*catalogue.milestone_kind_ids, NONE_TEXT),
    }
    declared = {name: attrs.evolve(CATALOGUE[name], choices=ids) for name, ids in choices.items()}
    return {**CATALOGUE, **declared, **{w.id: window_spec(w) for w in windows}}


def pack_specs(pack: PolicyPack) -> dict[str, FactSpec]:
    """Every fact the rules of ``pack`` may use: the catalogue and the pack's windows."""
    return specs_with(pack.windows, pack.catalogue)


def facts_at(stage: Stage, specs: Mapping[str, FactSpec] = CATALOGUE) -> tuple[str, ...]:
    """The names of the facts that exist at ``stage``, in catalogue order."""
    return tuple(name for name, spec in specs.items() if stage in spec.stages)


def check_facts(facts: Mapping[str, FactValue], specs: Mapping[str, FactSpec] = CATALOGUE) -> None:
    """Raise :class:`PolicyError` unless every fact is known with a value of its type.

    A failure here is a defect in fact derivation, never a caller's mistake: callers' input
    is checked (and reported as ``InvalidCommand``) before facts are derived.
    """
    for name, value in facts.items():
        spec = specs.get(name)
        if spec is None:
            raise PolicyError(f"fact {name!r} is not in the fact catalogue")
        if not _CHECKS[spec.type](value):
            raise PolicyError(f"fact {name!r} must be a valid {spec.type}, got {value!r}")
        if spec.choices and value not in spec.choices and name not in DECLARED_BY_PACK:
            raise PolicyError(f"fact {name!r} must be one of {spec.choices}, got {value!r}")


def _is_number(value: FactValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: FactValue) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_CHECKS: Mapping[FactType, Callable[[FactValue], bool]] = {
    FactType.NUMBER: _is_number,
    FactType.INTEGER: _is_integer,
    FactType.BOOLEAN: lambda value: isinstance(value, bool),
    FactType.STRING: lambda value: isinstance(value, str),
}


def value_fits(spec: FactSpec, value: object) -> bool:
    """True when ``value`` (a threshold from a rule file) has the type of the fact ``spec``."""
    return isinstance(value, bool | int | float | str) and _CHECKS[spec.type](value)
