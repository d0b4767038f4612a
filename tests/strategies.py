"""Hypothesis strategies for the whole suite, in one place (attrs does the same).

Everything a property test draws comes from here, so the shape of valid data is defined once:
supplier ids as :data:`sqm.domain.validation.SUPPLIER_ID` accepts them, names in any script
(Chinese included), tz-aware UTC times, certificates with ``valid_from < valid_until``,
evidence, money, SLA objectives, every command, whole command sequences for one supplier
(steered by the supplier's real state, see :class:`_Guide`), hash-chained
:class:`~sqm.domain.ports.RecordedEvent` logs, and stories of policy sign-off.

Strategies are built once and reused (``functools.cache``): drawing from a fresh strategy
object costs a validation pass, which inside ``command_sequences`` would dominate run time.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st

from sqm.domain.audit import GENESIS_HASH, event_hash
from sqm.domain.commands import (
    AcceptDeliverable,
    AdvanceTime,
    BlacklistSupplier,
    ClaimCompensation,
    Command,
    CompleteImprovementPlan,
    CompleteMilestone,
    ConcludeReview,
    DecidePenaltyDispute,
    DisputeOutcome,
    DisputePenalty,
    OpenProblemTicket,
    OpenReview,
    RecordInspection,
    RecordKickOff,
    RecordMarketResearch,
    RecordMeasurement,
    RecordMissedImprovementDeadline,
    RecordSatisfactionSurvey,
    RecordTraining,
    RegisterSupplier,
    ResolveProblemTicket,
    ReviewOutcome,
    SettleCompensation,
    SignContract,
    SubmitImprovementPlan,
    SubmitProgressReport,
    SubmitQualificationEvidence,
    SubmitResourcePlan,
    SubmitSelfCheck,
    VerifyRemediation,
)
from sqm.domain.decide import decide, fold
from sqm.domain.errors import DomainError
from sqm.domain.events import EVENT_TYPES
from sqm.domain.model import (
    Certificate,
    Comparator,
    LifecycleState,
    Milestone,
    Money,
    Severity,
    SlaObjective,
    SupplierState,
)
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId, MetricDefinition
from sqm.domain.policy_changes import (
    ApprovePolicy,
    CancelProposal,
    PolicyChangeCommand,
    ProposePolicy,
    RecordPolicyActivation,
    SchedulePolicy,
)
from sqm.domain.ports import RecordedEvent
from sqm.domain.scorecard_records import (
    KpiMeasure,
    KpiSpec,
    ScorecardPeriod,
    ScorecardSpec,
    Standing,
)
from sqm.domain.serialization import canonical_json, format_time
from sqm.domain.validation import MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from sqm.rules.pack_catalogue import default_catalogue
from tests.fakes import (
    BLACKLIST_CRITERION,
    BLACKLIST_SCORE,
    DEFAULT_THRESHOLD,
    FAKE_OBJECTIVE,
    FakePolicy,
)

T = TypeVar("T")

# Domain time stays within this century: far enough from datetime's limits that adding a
# sequence's worth of steps or a certificate's validity never overflows.
# (Hypothesis wants naive bounds; ``moments`` attaches UTC.)
EARLIEST = datetime(2000, 1, 1)
LATEST = datetime(2089, 12, 31)
_ONE_MICROSECOND = timedelta(microseconds=1)

_ID_HEAD = string.ascii_lowercase
_ID_TAIL = string.ascii_lowercase + string.digits + "-"

_ANY_CHARACTER = st.characters(codec="utf-8")  # no lone surrogates: names travel as UTF-8
_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_SAMPLE_NAMES = (
    "Acme Networks Ltd",
    "华为技术有限公司",
    "中兴通讯股份有限公司",
    "中国铁塔 Field Services",
    "Nokia Solutions and Networks",
)
_SAMPLE_CRITERIA = ("capability", "price", "delivery_lead_time", "past_performance", "服务质量")

CATALOGUE = default_catalogue()
"""The default pack's catalogue: the categories, certificate kinds and metrics drawn from."""


def metric_spec(metric: str) -> MetricDefinition:
    """The default catalogue's definition of ``metric`` (which it declares)."""
    spec = CATALOGUE.metric(metric)
    assert spec is not None, metric
    return spec


def _given_or(value: T | None, strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    return strategy if value is None else st.just(value)


def _non_blank(
    max_size: int, alphabet: st.SearchStrategy[str] = _ANY_CHARACTER
) -> st.SearchStrategy[str]:
    text = st.text(alphabet, min_size=1, max_size=max_size)
    return text.filter(lambda s: bool(s.strip()))


# --- values -------------------------------------------------------------------------------


@functools.cache
def moments(
    min_value: datetime = EARLIEST, max_value: datetime = LATEST
) -> st.SearchStrategy[datetime]:
    """Tz-aware UTC datetimes between two naive bounds (read as UTC)."""
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=st.just(UTC))


@functools.cache
def fixed_offsets() -> st.SearchStrategy[timezone]:
    """Fixed UTC offsets strictly within a day, down to the microsecond."""
    bound = timedelta(hours=24) - _ONE_MICROSECOND
    return st.builds(timezone, st.timedeltas(min_value=-bound, max_value=bound))


@functools.cache
def offset_moments() -> st.SearchStrategy[datetime]:
    """Tz-aware datetimes in arbitrary fixed offsets: the same instant spelled many ways."""
    return st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=fixed_offsets())


@functools.cache
def time_steps() -> st.SearchStrategy[timedelta]:
    """How far domain time moves between two commands: never backwards, often not at all."""
    return st.one_of(
        st.just(timedelta(0)),
        st.timedeltas(min_value=_ONE_MICROSECOND, max_value=timedelta(days=30)),
    )


@functools.cache
def resource_ids() -> st.SearchStrategy[str]:
    """AIP-122 style ids: a lower-case letter, then up to 62 letters, digits or hyphens."""
    return st.builds(
        str.__add__,
        st.text(_ID_HEAD, min_size=1, max_size=1),
        st.text(_ID_TAIL, max_size=62),
    )


@functools.cache
def supplier_ids() -> st.SearchStrategy[str]:
    """Supplier ids that ``sqm.domain.validation.SUPPLIER_ID`` accepts."""
    return resource_ids()


@functools.cache
def names() -> st.SearchStrategy[str]:
    """Supplier names: realistic ones, Chinese text, and any non-blank text up to the limit."""
    return st.one_of(
        st.sampled_from(_SAMPLE_NAMES),
        _non_blank(60, _CJK),
        _non_blank(MAX_NAME_LENGTH),
    )


@functools.cache
def categories() -> st.SearchStrategy[CategoryId]:
    """Any service category."""
    return st.sampled_from(CATALOGUE.category_ids)


@functools.cache
def short_texts() -> st.SearchStrategy[str]:
    """Non-blank free text within the domain's text limit (numbers, issuers, reasons)."""
    return st.one_of(_non_blank(40), _non_blank(20, _CJK))


@functools.cache
def notes() -> st.SearchStrategy[str]:
    """Optional notes: possibly empty."""
    return st.text(max_size=MAX_TEXT_LENGTH)


@functools.cache
def criteria() -> st.SearchStrategy[str]:
    """Evaluation criterion names (never the fake policy's blacklist hook)."""
    return st.one_of(st.sampled_from(_SAMPLE_CRITERIA), _non_blank(30)).filter(
        lambda c: c != BLACKLIST_CRITERION
    )


@functools.cache
def score_values(min_value: float = 0.0, max_value: float = 100.0) -> st.SearchStrategy[float]:
    """Finite scores in ``[min_value, max_value]``."""
    return st.floats(min_value=min_value, max_value=max_value, allow_nan=False)


@functools.cache
def scores(min_size: int = 0, max_size: int = 5) -> st.SearchStrategy[dict[str, float]]:
    """A criterion -> score mapping with valid scores."""
    return st.dictionaries(criteria(), score_values(), min_size=min_size, max_size=max_size)


_UP_TO_A_YEAR = st.timedeltas(timedelta(0), timedelta(days=365))
_UP_TO_THREE_YEARS = st.timedeltas(timedelta(0), timedelta(days=3 * 365))
_A_MOMENT_TO_THREE_YEARS = st.timedeltas(_ONE_MICROSECOND, timedelta(days=3 * 365))
_A_MOMENT_TO_TEN_YEARS = st.timedeltas(_ONE_MICROSECOND, timedelta(days=10 * 365))
_CERTIFICATE_KINDS = st.sampled_from(CATALOGUE.certificate_kind_ids)


def _draw_certificate(
    draw: st.DrawFn,
    kind: CertificateKindId | None = None,
    valid_at: datetime | None = None,
    expired_at: datetime | None = None,
) -> Certificate:
    if valid_at is not None:
        valid_from = valid_at - draw(_UP_TO_THREE_YEARS)
        valid_until = valid_at + draw(_A_MOMENT_TO_THREE_YEARS)
    elif expired_at is not None:
        valid_until = expired_at - draw(_UP_TO_A_YEAR)
        valid_from = valid_until - draw(_A_MOMENT_TO_THREE_YEARS)
    else:
        valid_from = draw(moments())
        valid_until = valid_from + draw(_A_MOMENT_TO_TEN_YEARS)
    return Certificate(
        kind=draw(_CERTIFICATE_KINDS) if kind is None else kind,
        number=draw(short_texts()),
        issuer=draw(short_texts()),
        valid_from=valid_from,
        valid_until=valid_until,
    )


@st.composite
def certificates(
    draw: st.DrawFn,
    kind: CertificateKindId | None = None,
    valid_at: datetime | None = None,
    expired_at: datetime | None = None,
) -> Certificate:
    """A certificate with ``valid_from < valid_until``.

    With ``valid_at`` it is valid at that moment; with ``expired_at`` it expired at or before it.
    """
    return _draw_certificate(draw, kind, valid_at, expired_at)


_CERTIFICATE_LISTS = st.lists(certificates(), max_size=3)
_MAYBE_BOOLEAN = st.none() | st.booleans()


# --- money and objectives -----------------------------------------------------------------

_CURRENCIES = ("CNY", "USD", "EUR")
_AMOUNTS = st.decimals(min_value=0, max_value=10_000_000, places=2)
_POSITIVE_AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=10_000_000, places=2)
_OBJECTIVE_IDS = st.one_of(
    st.sampled_from(["availability", "mttr", "fault-response", "delivery", "满意度"]),
    short_texts(),
)


@functools.cache
def currencies() -> st.SearchStrategy[str]:
    """ISO 4217 codes the suite uses."""
    return st.sampled_from(_CURRENCIES)


@functools.cache
def money(currency: str | None = None, *, positive: bool = False) -> st.SearchStrategy[Money]:
    """Exact amounts with two decimals, up to ten million, in ``currency`` (or any)."""
    return st.builds(
        Money,
        _POSITIVE_AMOUNTS if positive else _AMOUNTS,
        _given_or(currency, currencies()),
    )


@st.composite
def sla_objectives(draw: st.DrawFn) -> SlaObjective:
    """A valid objective: a metric, its natural comparator, numbers within the metric's range,
    and the warning threshold on the safe side of the target.
    """
    spec = draw(st.sampled_from(CATALOGUE.metrics))
    metric = spec.id
    in_range = st.floats(spec.minimum, spec.maximum)
    at_least = spec.direction is Comparator.AT_LEAST
    low, high = sorted((draw(in_range), draw(in_range)))
    return SlaObjective(
        objective_id=draw(_OBJECTIVE_IDS),
        metric=metric,
        comparator=Comparator.AT_LEAST if at_least else Comparator.AT_MOST,
        target=low if at_least else high,
        warning=high if at_least else low,
        tolerance=draw(st.floats(0.0, 1.0)),
        grace_days=draw(st.integers(0, 60)),
        period_days=draw(st.integers(1, 90)),
    )


_OBJECTIVE_LISTS = st.lists(sla_objectives(), max_size=3, unique_by=lambda o: o.objective_id)
_ONE_IN_FIVE = st.integers(0, 4)


# --- commands -----------------------------------------------------------------------------


def register_supplier_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[RegisterSupplier]:
    """Valid ``RegisterSupplier`` commands."""
    return st.builds(
        RegisterSupplier,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        name=names(),
        category=categories(),
        occurred_at=_given_or(occurred_at, moments()),
    )


@st.composite
def evidence_commands(
    draw: st.DrawFn, supplier_id: str | None = None, occurred_at: datetime | None = None
) -> SubmitQualificationEvidence:
    """Valid, non-empty ``SubmitQualificationEvidence`` commands."""
    drawn_scores = draw(scores())
    drawn_certificates = tuple(draw(_CERTIFICATE_LISTS))
    audit = draw(_MAYBE_BOOLEAN)
    if not drawn_scores and not drawn_certificates and audit is None:
        drawn_scores = draw(scores(min_size=1))
    return SubmitQualificationEvidence(
        supplier_id=draw(_given_or(supplier_id, supplier_ids())),
        occurred_at=draw(_given_or(occurred_at, moments())),
        scores=drawn_scores,
        certificates=drawn_certificates,
        site_audit_passed=audit,
    )


def blacklist_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[BlacklistSupplier]:
    """Valid ``BlacklistSupplier`` commands."""
    return st.builds(
        BlacklistSupplier,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        reason=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
    )


@st.composite
def sign_contract_commands(
    draw: st.DrawFn, supplier_id: str | None = None, occurred_at: datetime | None = None
) -> SignContract:
    """Valid ``SignContract`` commands: fee and liability in one currency, a term in order
    when both ends are given, and (often) no objectives, so the policy's defaults apply.
    """
    at = draw(_given_or(occurred_at, moments()))
    currency = draw(currencies())
    starts_at = ends_at = None
    if draw(st.booleans()):
        starts_at = at + draw(st.timedeltas(-timedelta(days=30), timedelta(days=30)))
        if draw(st.booleans()):
            ends_at = starts_at + draw(_A_MOMENT_TO_THREE_YEARS)
    return SignContract(
        supplier_id=draw(_given_or(supplier_id, supplier_ids())),
        contract_id=draw(resource_ids()),
        occurred_at=at,
        monthly_fee=draw(money(currency)),
        liability_limit=draw(money(currency)),
        starts_at=starts_at,
        ends_at=ends_at,
        objectives=tuple(draw(_OBJECTIVE_LISTS)) if draw(_ONE_IN_FIVE) == 0 else (),
    )


_ANY_UNIT = st.sampled_from(sorted({spec.unit for spec in CATALOGUE.metrics}))
_ANY_VALUE = st.floats(-1e6, 1e6)
_UP_TO_A_MONTH = st.timedeltas(timedelta(0), timedelta(days=30))
_A_MOMENT_TO_A_QUARTER = st.timedeltas(_ONE_MICROSECOND, timedelta(days=90))


@st.composite
def measurement_commands(
    draw: st.DrawFn, supplier_id: str | None = None, occurred_at: datetime | None = None
) -> RecordMeasurement:
    """Well-formed ``RecordMeasurement`` commands: a period that ended by ``occurred_at``, any
    objective id, unit and finite value (whether the contract has them is another matter).
    """
    at = draw(_given_or(occurred_at, moments()))
    period_end = at - draw(_UP_TO_A_MONTH)
    return RecordMeasurement(
        supplier_id=draw(_given_or(supplier_id, supplier_ids())),
        objective_id=draw(_OBJECTIVE_IDS),
        value=draw(_ANY_VALUE),
        unit=draw(_ANY_UNIT),
        period_start=period_end - draw(_A_MOMENT_TO_A_QUARTER),
        period_end=period_end,
        occurred_at=at,
    )


def survey_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[RecordSatisfactionSurvey]:
    """Valid ``RecordSatisfactionSurvey`` commands."""
    return st.builds(
        RecordSatisfactionSurvey,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        score=score_values(),
        occurred_at=_given_or(occurred_at, moments()),
        respondents=st.integers(1, 10_000),
        comment=notes(),
    )


def inspection_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[RecordInspection]:
    """Valid ``RecordInspection`` commands, passed or failed."""
    return st.builds(
        RecordInspection,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        passed=st.booleans(),
        occurred_at=_given_or(occurred_at, moments()),
        findings=notes(),
    )


def progress_report_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[SubmitProgressReport]:
    """Valid ``SubmitProgressReport`` commands."""
    return st.builds(
        SubmitProgressReport,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        summary=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
    )


def self_check_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[SubmitSelfCheck]:
    """Valid ``SubmitSelfCheck`` commands, passed or failed."""
    return st.builds(
        SubmitSelfCheck,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        passed=st.booleans(),
        occurred_at=_given_or(occurred_at, moments()),
        summary=notes(),
    )


def open_review_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[OpenReview]:
    """Valid ``OpenReview`` commands."""
    return st.builds(
        OpenReview,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        reason=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
    )


# Remediation is where most of the new process lives: it gets twice the others' share.
_OUTCOMES = st.sampled_from(
    [
        ReviewOutcome.REMEDIATION_REQUIRED,
        ReviewOutcome.CLEARED,
        ReviewOutcome.REMEDIATION_REQUIRED,
        ReviewOutcome.FAILED,
    ]
)


def conclude_review_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[ConcludeReview]:
    """Valid ``ConcludeReview`` commands, any outcome."""
    return st.builds(
        ConcludeReview,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        outcome=_OUTCOMES,
        occurred_at=_given_or(occurred_at, moments()),
        note=notes(),
    )


def submit_plan_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[SubmitImprovementPlan]:
    """Valid ``SubmitImprovementPlan`` commands: one to three measures and an owner."""
    return st.builds(
        SubmitImprovementPlan,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        measures=st.lists(short_texts(), min_size=1, max_size=3).map(tuple),
        owner=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
    )


def complete_plan_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[CompleteImprovementPlan]:
    """Valid ``CompleteImprovementPlan`` commands."""
    return st.builds(
        CompleteImprovementPlan,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        occurred_at=_given_or(occurred_at, moments()),
        note=notes(),
    )


def verify_remediation_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[VerifyRemediation]:
    """Valid ``VerifyRemediation`` commands."""
    return st.builds(
        VerifyRemediation,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        occurred_at=_given_or(occurred_at, moments()),
        note=notes(),
    )


def missed_deadline_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[RecordMissedImprovementDeadline]:
    """Valid ``RecordMissedImprovementDeadline`` commands."""
    return st.builds(
        RecordMissedImprovementDeadline,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        occurred_at=_given_or(occurred_at, moments()),
    )


def compensation_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[ClaimCompensation]:
    """Valid ``ClaimCompensation`` commands: a positive amount in any currency."""
    return st.builds(
        ClaimCompensation,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        amount=money(positive=True),
        description=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
    )


def advance_time_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[AdvanceTime]:
    """``AdvanceTime`` ticks."""
    return st.builds(
        AdvanceTime,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        occurred_at=_given_or(occurred_at, moments()),
    )


def market_research_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[RecordMarketResearch]:
    """Valid ``RecordMarketResearch`` commands."""
    return st.builds(
        RecordMarketResearch,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        capability_summary=short_texts(),
        past_performance_summary=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
        references=st.lists(short_texts(), max_size=3).map(tuple),
    )


def kick_off_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[RecordKickOff]:
    """Valid ``RecordKickOff`` commands (milestones named from a few names, so later
    completions and acceptances can name them).
    """
    milestone = st.builds(Milestone, name=_MILESTONE_NAMES, due_at=moments())
    return st.builds(
        RecordKickOff,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        goals=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
        milestones=st.lists(milestone, max_size=3, unique_by=lambda m: m.name).map(tuple),
        responsibilities=notes(),
    )


_MILESTONE_NAMES = st.sampled_from(["site survey", "cut-over", "final acceptance"])


def milestone_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[CompleteMilestone | AcceptDeliverable]:
    """Valid ``CompleteMilestone`` and ``AcceptDeliverable`` commands over a few names."""
    return st.one_of(
        [
            st.builds(
                kind,
                supplier_id=_given_or(supplier_id, supplier_ids()),
                milestone=_MILESTONE_NAMES,
                occurred_at=_given_or(occurred_at, moments()),
                note=notes(),
            )
            for kind in (CompleteMilestone, AcceptDeliverable)
        ]
    )


def resource_plan_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[SubmitResourcePlan]:
    """Valid ``SubmitResourcePlan`` commands."""
    return st.builds(
        SubmitResourcePlan,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        resources=st.lists(short_texts(), min_size=1, max_size=3).map(tuple),
        occurred_at=_given_or(occurred_at, moments()),
        summary=notes(),
    )


_TICKET_IDS = st.sampled_from(["PT-1", "PT-2", "PT-3"])


def open_ticket_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[OpenProblemTicket]:
    """Valid ``OpenProblemTicket`` commands over a few ticket ids (so some are already open)."""
    return st.builds(
        OpenProblemTicket,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        ticket_id=_TICKET_IDS,
        summary=short_texts(),
        severity=st.sampled_from(Severity),
        occurred_at=_given_or(occurred_at, moments()),
    )


def resolve_ticket_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[ResolveProblemTicket]:
    """Valid ``ResolveProblemTicket`` commands over the same few ticket ids."""
    return st.builds(
        ResolveProblemTicket,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        ticket_id=_TICKET_IDS,
        resolution=short_texts(),
        occurred_at=_given_or(occurred_at, moments()),
    )


def training_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[RecordTraining]:
    """Valid ``RecordTraining`` commands."""
    return st.builds(
        RecordTraining,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        topic=short_texts(),
        attendees=st.integers(1, 500),
        occurred_at=_given_or(occurred_at, moments()),
    )


def settle_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[SettleCompensation]:
    """Valid ``SettleCompensation`` commands naming a likely ledger entry of the supplier."""
    return st.builds(
        lambda sid, number, amount, at: SettleCompensation(
            sid, f"{sid}/penalty-{number}", amount, at
        ),
        _given_or(supplier_id, supplier_ids()),
        st.integers(1, 3),
        money(positive=True),
        _given_or(occurred_at, moments()),
    )


def dispute_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[DisputePenalty]:
    """Valid ``DisputePenalty`` commands naming a likely ledger entry of the supplier."""
    return st.builds(
        lambda sid, number, grounds, at: DisputePenalty(
            sid, f"{sid}/penalty-{number}", grounds, at
        ),
        _given_or(supplier_id, supplier_ids()),
        st.integers(1, 3),
        short_texts(),
        _given_or(occurred_at, moments()),
    )


def dispute_decision_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[DecidePenaltyDispute]:
    """Valid ``DecidePenaltyDispute`` commands naming a likely ledger entry of the supplier."""
    return st.builds(
        lambda sid, number, outcome, at: DecidePenaltyDispute(
            sid, f"{sid}/penalty-{number}", outcome, at
        ),
        _given_or(supplier_id, supplier_ids()),
        st.integers(1, 3),
        st.sampled_from(DisputeOutcome),
        _given_or(occurred_at, moments()),
    )


_CommandFactory = Callable[[str | None, datetime | None], st.SearchStrategy[Any]]
_COMMAND_FACTORIES: tuple[_CommandFactory, ...] = (
    register_supplier_commands,
    evidence_commands,
    blacklist_commands,
    sign_contract_commands,
    measurement_commands,
    survey_commands,
    inspection_commands,
    progress_report_commands,
    self_check_commands,
    open_review_commands,
    conclude_review_commands,
    submit_plan_commands,
    complete_plan_commands,
    verify_remediation_commands,
    missed_deadline_commands,
    compensation_commands,
    advance_time_commands,
    market_research_commands,
    kick_off_commands,
    milestone_commands,
    resource_plan_commands,
    open_ticket_commands,
    resolve_ticket_commands,
    training_commands,
    settle_commands,
    # Not acknowledgements: like documents, they are records in any state, of a notice the
    # application has looked up; the domain's part is tested in tests/unit/test_supplier_side.py.
    dispute_commands,
    dispute_decision_commands,
)


def commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[Command]:
    """Any valid command, legal or not for a given supplier's state."""
    return st.one_of([factory(supplier_id, occurred_at) for factory in _COMMAND_FACTORIES])


# --- command sequences --------------------------------------------------------------------

# Evidence meant to decide a candidate under FakePolicy's defaults: every criterion seen so
# far is re-scored, so the mean lands well clear of the threshold whatever came before.
_PASSING_SCORES = score_values(DEFAULT_THRESHOLD + 10.0, 99.0)
_FAILING_SCORES = score_values(0.0, DEFAULT_THRESHOLD - 20.0)
_FRESH_CRITERIA = st.lists(st.sampled_from(_SAMPLE_CRITERIA), min_size=1, max_size=3)
_INTENTS = st.sampled_from(["pass", "pass", "pass", "pass", "pass", "fail", "fail", "blacklist"])
_ROLLS = st.integers(0, 39)  # below 34: a likely legal command; 34: a rare one; else: any
# Time moves mostly with ticks: they must land inside a plan's few reminder days as well as
# jump past whole windows (Hypothesis favours small and boundary values, so both happen).
# Other commands follow each other closely, often at the same instant. Whole seconds are
# fine grain enough here: microsecond boundaries are the unit tests' business.
_TICK_STEPS = st.one_of(st.integers(1, 3 * 86_400), st.integers(3 * 86_400, 30 * 86_400)).map(
    lambda s: timedelta(seconds=s)
)
_STEPS = st.integers(0, 2 * 86_400).map(lambda s: timedelta(seconds=s))
# How far a drawn measurement lies beyond its target: met (twice in five), or one step per
# FakePolicy tier (minor under a point, major under five, critical at five or more).
_MISSES = st.sampled_from([2.0, None, 10.0, 0.5, None])
_JITTER = st.floats(0.0, 0.45)
_BOOLEANS = st.booleans()

# Commands of every kind drawn as templates whose id and time are placeholders (no entropy
# spent on them), then given the sequence's supplier id and the current domain time.
_PLACEHOLDER_ID = "placeholder"
_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@attrs.define
class _Guide:
    """Where the supplier really stands, so the next command can be drawn to be likely legal.

    The guide decides each drawn command under a FakePolicy of its own and folds the result.
    It only steers generation (the tests decide everything again and check what happens);
    steering by the real state keeps sequences reaching reviews, plans and deadlines without
    a second model of the process to keep in step with the domain.
    """

    supplier_id: str
    state: SupplierState | None = None
    policy: FakePolicy = attrs.field(factory=FakePolicy)

    @property
    def lifecycle(self) -> LifecycleState | None:
        return self.state.lifecycle if self.state else None

    def follow(self, command: Command) -> None:
        try:
            events = decide(command, self.state, self.policy)
        except DomainError:
            return
        self.state = fold(events, self.state)
        self.policy.contexts.clear()


@functools.cache
def _template(factory: _CommandFactory) -> st.SearchStrategy[Command]:
    strategy: st.SearchStrategy[Command] = factory(_PLACEHOLDER_ID, _PLACEHOLDER_TIME)
    return strategy


@functools.cache
def _index(size: int) -> st.SearchStrategy[int]:
    return st.integers(0, size - 1)


# Registration last: Hypothesis leans towards the first choices, and a second registration
# is the least interesting way to be refused.
_ANY_TEMPLATE: st.SearchStrategy[_CommandFactory] = st.sampled_from(_COMMAND_FACTORIES[::-1])

# Legal commands are built lean: only what changes behaviour is drawn (texts are fixed; the
# "any command" share and the unit tests cover their variety).
Builder = Callable[[st.DrawFn, _Guide, datetime], Command]


def _drawn(factory: _CommandFactory) -> Builder:
    """A builder drawing ``factory``'s template, given the sequence's supplier and time."""

    def build(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
        command = draw(_template(factory))
        return attrs.evolve(command, supplier_id=guide.supplier_id, occurred_at=at)

    return build


def _any_command(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return _drawn(draw(_ANY_TEMPLATE))(draw, guide, at)


def _register(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return RegisterSupplier(guide.supplier_id, "Acme", draw(categories()), at)


def _rescored(draw: st.DrawFn, guide: _Guide, scores: st.SearchStrategy[float]) -> dict[str, float]:
    known = set(guide.state.scores) if guide.state else set()
    fresh = draw(_FRESH_CRITERIA)
    return {c: draw(scores) for c in sorted(known.union(fresh))}


def _licence(draw: st.DrawFn, at: datetime, *, valid: bool) -> Certificate:
    """A business licence valid at ``at`` (or expired by then); only its validity is drawn."""
    if valid:
        valid_from = at - draw(_UP_TO_THREE_YEARS)
        valid_until = at + draw(_A_MOMENT_TO_THREE_YEARS)
    else:
        valid_until = at - draw(_UP_TO_A_YEAR)
        valid_from = valid_until - draw(_A_MOMENT_TO_THREE_YEARS)
    return Certificate("business_licence", "BL-1", "SAMR", valid_from, valid_until)


def _evidence(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """Evidence for a candidate whose outcome under FakePolicy is clear-cut."""
    intent = draw(_INTENTS)
    if intent == "pass":
        return SubmitQualificationEvidence(
            guide.supplier_id,
            at,
            scores=_rescored(draw, guide, _PASSING_SCORES),
            certificates=(_licence(draw, at, valid=True),),
        )
    if intent == "fail":
        # Low scores fail on their own; the licence, valid or expired, is incidental.
        licence = _licence(draw, at, valid=draw(_BOOLEANS))
        return SubmitQualificationEvidence(
            guide.supplier_id,
            at,
            scores=_rescored(draw, guide, _FAILING_SCORES),
            certificates=(licence,),
            site_audit_passed=draw(_MAYBE_BOOLEAN),
        )
    return SubmitQualificationEvidence(
        guide.supplier_id, at, scores={BLACKLIST_CRITERION: BLACKLIST_SCORE}
    )


def _sign(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """A contract with a fee and liability in one currency; now and then its own objectives."""
    currency = draw(currencies())
    objectives = tuple(draw(_OBJECTIVE_LISTS)) if draw(_ONE_IN_FIVE) == 0 else ()
    # Now and then a short term, so sequences reach the contract's end and go on after it.
    ends_at = at + draw(_SHORT_TERMS) if draw(_ONE_IN_FIVE) < 2 else None
    return SignContract(
        guide.supplier_id,
        "ct-1",
        at,
        draw(money(currency)),
        draw(money(currency)),
        objectives=objectives,
        ends_at=ends_at,
    )


_SHORT_TERMS = st.integers(1, 90).map(lambda days: timedelta(days=days))
_MILESTONE_DUE = st.integers(1, 45 * 86_400).map(lambda s: timedelta(seconds=s))


def _kick_off(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """A kick-off agreeing one to three of the few milestone names, due within 45 days."""
    names = draw(st.lists(_MILESTONE_NAMES, min_size=1, max_size=3, unique=True))
    milestones = tuple(Milestone(name, at + draw(_MILESTONE_DUE)) for name in names)
    return RecordKickOff(guide.supplier_id, "delivery goals", at, milestones)


def _milestone_step(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """The next thing about a milestone: complete an open one, accept a completed one's
    deliverables, or (without a kick-off) hold the kick-off.
    """
    state = guide.state
    if state is None or not state.milestones:
        return _kick_off(draw, guide, at)
    done, accepted = state.milestones_completed, state.deliverables_accepted
    names = [m.name for m in state.milestones]
    open_ones = [n for n in names if n not in done]
    to_accept = [n for n in names if n in done and n not in accepted]
    if to_accept and (not open_ones or draw(_BOOLEANS)):
        return AcceptDeliverable(guide.supplier_id, draw(st.sampled_from(to_accept)), at)
    if open_ones:
        return CompleteMilestone(guide.supplier_id, draw(st.sampled_from(open_ones)), at)
    return _kick_off(draw, guide, at)


def _research(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return RecordMarketResearch(guide.supplier_id, "capability", "past performance", at)


def _measurement(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """A measurement of one of the contract's objectives, in its unit, met or missed."""
    contract = guide.state.contract if guide.state else None
    objectives = contract.objectives if contract else ()
    objective = objectives[draw(_index(len(objectives)))] if objectives else FAKE_OBJECTIVE
    spec = metric_spec(objective.metric)
    miss = draw(_MISSES)
    jitter = draw(_JITTER)
    # Distance on the failing side of the target: negative when met, beyond tolerance if not.
    beyond = -jitter if miss is None else objective.tolerance + miss + jitter
    side = -1.0 if objective.comparator is Comparator.AT_LEAST else 1.0
    value = min(max(objective.target + side * beyond, spec.minimum), spec.maximum)
    period = timedelta(days=objective.period_days)
    return RecordMeasurement(
        guide.supplier_id, objective.objective_id, value, spec.unit, at - period, at, at
    )


def _survey(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return RecordSatisfactionSurvey(guide.supplier_id, draw(score_values()), at)


def _inspection(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return RecordInspection(guide.supplier_id, draw(_BOOLEANS), at)


def _report(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return SubmitProgressReport(guide.supplier_id, "monthly progress", at)


def _self_check(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return SubmitSelfCheck(guide.supplier_id, draw(_BOOLEANS), at)


def _open_review(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return OpenReview(guide.supplier_id, "quarterly review", at)


def _conclude(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return ConcludeReview(guide.supplier_id, draw(_OUTCOMES), at)


def _submit(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return SubmitImprovementPlan(guide.supplier_id, ("train the NOC",), "NOC lead", at)


def _complete(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return CompleteImprovementPlan(guide.supplier_id, at)


def _verify(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return VerifyRemediation(guide.supplier_id, at)


def _claim(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """A claim in the contract's currency (in any currency without a contract)."""
    contract = guide.state.contract if guide.state else None
    currency = contract.liability_limit.currency if contract else None
    amount = draw(money(currency, positive=True))
    return ClaimCompensation(guide.supplier_id, amount, "documented losses", at)


def _tick(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return AdvanceTime(guide.supplier_id, at)


def _plan_step(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """Stands for the plan's next step in the table below; see :func:`_next_builder`."""
    return _next_plan_step(guide)(draw, guide, at)


def _next_plan_step(guide: _Guide) -> Builder:
    """Submit the plan, complete it, or (once it is done) let time pass."""
    plan = guide.state.plan if guide.state else None
    if plan is None or plan.submitted_at is None:
        return _submit
    return _complete if plan.completed_at is None else _tick


_REMIND_OFFSETS = st.integers(-4 * 86_400, 2 * 86_400).map(lambda s: timedelta(seconds=s))
_CLEAN_OFFSETS = st.integers(28 * 86_400, 35 * 86_400).map(lambda s: timedelta(seconds=s))


def _deadline_tick(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    """A tick aimed at the plan's deadlines: around its due time while it is pending (remind
    or terminate), around the end of the clean window once completed (verify).
    """
    plan = guide.state.plan if guide.state else None
    if plan is None:
        return AdvanceTime(guide.supplier_id, at)
    if plan.completed_at is None:
        target = plan.due_at + draw(_REMIND_OFFSETS)
    else:
        target = plan.completed_at + draw(_CLEAN_OFFSETS)
    return AdvanceTime(guide.supplier_id, max(at, target))


def _blacklist(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return BlacklistSupplier(guide.supplier_id, "sanctions list", at)


def _missed(draw: st.DrawFn, guide: _Guide, at: datetime) -> Command:
    return RecordMissedImprovementDeadline(guide.supplier_id, at)


# The most telling command of each state comes first (Hypothesis leans towards it).
_LEGAL_BUILDERS: dict[LifecycleState | None, tuple[Builder, ...]] = {
    None: (_register,),
    LifecycleState.CANDIDATE: (_evidence, _evidence, _evidence, _research),
    # A qualified supplier whose contract ended: a renewal, or a record refused after it.
    LifecycleState.QUALIFIED: (_sign, _sign, _sign, _tick, _research, _measurement),
    LifecycleState.CONTRACTED: (
        *[_measurement] * 5,
        *[_tick] * 3,
        _survey,
        _inspection,
        _report,
        _self_check,
        _open_review,
        _claim,
        _milestone_step,
        _milestone_step,
    ),
    LifecycleState.UNDER_REVIEW: (_conclude, _conclude, _conclude, _measurement, _tick, _claim),
    LifecycleState.REMEDIATION: (
        _plan_step,
        _deadline_tick,
        _tick,
        _plan_step,
        _deadline_tick,
        _measurement,
        _plan_step,
        _tick,
        _verify,
    ),
    LifecycleState.TERMINATED: (_claim, _tick),
}
# Now and then the odd one out: blacklisting, a missed deadline recorded by hand, evidence
# kept on file past candidate, a claim in a currency that may not be the contract's.
_RARE_BUILDERS: tuple[Builder, ...] = (
    _blacklist,
    _missed,
    _drawn(evidence_commands),
    _drawn(compensation_commands),
)
_RARE_CHOICE = _index(len(_RARE_BUILDERS))


def _next_builder(draw: st.DrawFn, guide: _Guide) -> Builder:
    roll = draw(_ROLLS)  # one draw picks both the kind of move and the builder
    if roll < 34:
        builders = _LEGAL_BUILDERS[guide.lifecycle]
        builder = builders[roll % len(builders)]
        return _next_plan_step(guide) if builder is _plan_step else builder
    if roll < 35:
        return _RARE_BUILDERS[draw(_RARE_CHOICE)]
    return _any_command


@st.composite
def command_sequences(draw: st.DrawFn, max_size: int = 20) -> list[Command]:
    """Commands for one supplier with non-decreasing ``occurred_at``.

    Mostly likely legal for the state the supplier is in under :class:`tests.fakes.FakePolicy`
    (qualification evidence, contracts, measurements met and missed, surveys, inspections,
    reports, self-checks, reviews, plans, compensation claims and time ticks); about one in
    forty is a rarer move (blacklisting, a missed deadline recorded by hand, a claim in any
    currency); about one in eight is drawn from every command kind and is often illegal: a
    second registration, a command for a supplier not yet registered, a contract for a
    candidate, a plan nobody asked for, a measurement of an objective the contract lacks,
    anything after termination. Once terminated, a sequence ends early half the time.
    """
    guide = _Guide(draw(supplier_ids()))
    at = draw(moments())
    sequence: list[Command] = []
    for _ in range(draw(st.integers(min_value=1, max_value=max_size))):
        builder = _next_builder(draw, guide)
        at += draw(_TICK_STEPS if builder is _tick else _STEPS)
        command = builder(draw, guide, at)
        at = command.occurred_at  # a deadline tick may aim later
        guide.follow(command)
        sequence.append(command)
        if guide.lifecycle is LifecycleState.TERMINATED and draw(_BOOLEANS):
            break  # a few commands show termination is absorbing; many add nothing
    return sequence


# --- the audit log ------------------------------------------------------------------------


@functools.cache
def json_values() -> st.SearchStrategy[Any]:
    """JSON data as the canonical encoder accepts it (no NaN or infinity): scalars, and lists
    or objects of scalars. Inside a payload that is three levels of nesting, enough to show
    that keys are sorted at every depth; deeper recursion only costs run time.
    """
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=3),
        st.dictionaries(st.text(max_size=10), scalars, max_size=3),
    )


@functools.cache
def payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Event payloads: JSON objects of arbitrary content."""
    return st.dictionaries(st.text(max_size=12), json_values(), max_size=3)


# Envelope fields only need to differ between events (the hash must cover them); their
# spelling is the business of the tests that edit them (``replacements_for``).
_ACTORS = st.sampled_from(["procurement", "noc-monitor", "ticketing", "合规分析师"])
_REQUEST_IDS = st.text("0123456789abcdef-", min_size=1, max_size=16)
_POLICY_VERSIONS = st.text("0123456789abcdef", min_size=8, max_size=8)
_STREAM_ID_LISTS = st.lists(supplier_ids(), min_size=1, max_size=3, unique=True)
_EVENT_TYPE_NAMES = st.sampled_from(sorted(EVENT_TYPES))


@st.composite
def recorded_event_chains(
    draw: st.DrawFn, min_size: int = 1, max_size: int = 5
) -> list[RecordedEvent]:
    """A correctly hash-chained log: global sequence from 1, per-stream versions from 1."""
    stream_ids = draw(_STREAM_ID_LISTS)
    versions = dict.fromkeys(stream_ids, 0)
    recorded_at = draw(moments())
    prev_hash = GENESIS_HASH
    chain: list[RecordedEvent] = []
    for global_seq in range(1, draw(st.integers(min_size, max_size)) + 1):
        stream_id = stream_ids[draw(_index(len(stream_ids)))]
        versions[stream_id] += 1
        recorded_at += draw(time_steps())
        fields: dict[str, Any] = {
            "prev_hash": prev_hash,
            "global_seq": global_seq,
            "stream_id": stream_id,
            "version": versions[stream_id],
            "event_type": draw(_EVENT_TYPE_NAMES),
            "payload": draw(payloads()),
            "occurred_at": recorded_at - draw(_UP_TO_A_YEAR),  # domain time precedes recording
            "recorded_at": recorded_at,
            "actor": draw(_ACTORS),
            "request_id": draw(_REQUEST_IDS),
            "policy_version": draw(_POLICY_VERSIONS),
        }
        prev_hash = event_hash(**fields)
        chain.append(RecordedEvent(**fields, hash=prev_hash))
    return chain


# The content fields: ``payload_json`` is the store's cached encoding, not content (eq=False).
RECORDED_EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in attrs.fields(RecordedEvent) if f.eq)


def replacements_for(event: RecordedEvent, field: str) -> st.SearchStrategy[Any]:
    """Values for ``field`` that really differ from ``event``'s once canonically encoded.

    Times are compared as instants (another spelling of the same instant is no change) and
    payloads by their canonical JSON (``{"a": 1}`` and ``{"a": 1.0}`` do differ).
    """
    old = getattr(event, field)
    candidates: st.SearchStrategy[Any]
    if field in {"occurred_at", "recorded_at"}:
        candidates = offset_moments()
        return candidates.filter(lambda v: format_time(v) != format_time(old))
    if field == "payload":
        return payloads().filter(lambda v: canonical_json(v) != canonical_json(old))
    if field in {"global_seq", "version"}:
        candidates = st.integers(min_value=0, max_value=2**31)
    elif field in {"prev_hash", "hash"}:
        candidates = st.text("0123456789abcdef", min_size=64, max_size=64)
    else:
        candidates = st.text(max_size=40)
    return candidates.filter(lambda v: v != old)


def fault_sets(faults: tuple[str, ...]) -> st.SearchStrategy[frozenset[str]]:
    """One or more of ``faults`` (names of independent faults a test knows how to inject)."""
    return st.frozensets(st.sampled_from(faults), min_size=1)


# --- policy sign-off ---------------------------------------------------------------------

SIGNERS = ("alice", "bob", "carol")
_SIGNOFF_START = datetime(2026, 1, 1, tzinfo=UTC)
_SIGNOFF_STEPS = (timedelta(0), timedelta(minutes=1), timedelta(hours=1))
_SIGNOFF_LEADS = (None, timedelta(0), timedelta(minutes=30), timedelta(hours=2))


@st.composite
def policy_change_commands(draw: st.DrawFn) -> list[PolicyChangeCommand]:
    """A story of sign-off commands by a few people about a few proposals, time going on:
    proposals asking 1 to 3 signatures, approvals by anyone (the proposer too), new times,
    withdrawals and activations, sensible or not (the domain refuses what it must).
    """
    moment = _SIGNOFF_START
    commands: list[PolicyChangeCommand] = []
    for _ in range(draw(st.integers(1, 25))):
        moment += draw(st.sampled_from(_SIGNOFF_STEPS))
        actor = draw(st.sampled_from(SIGNERS))
        number = draw(st.integers(1, 3))
        lead = draw(st.sampled_from(_SIGNOFF_LEADS))
        at = None if lead is None else moment + lead
        kind = draw(st.sampled_from(("propose", "approve", "schedule", "cancel", "activate")))
        if kind == "propose":
            version = draw(st.sampled_from(("a" * 64, "b" * 64)))
            commands.append(
                ProposePolicy(actor, version, "pack", draw(st.integers(1, 3)), moment, at)
            )
        elif kind == "approve":
            commands.append(ApprovePolicy(actor, number, moment))
        elif kind == "schedule":
            commands.append(SchedulePolicy(actor, number, at or moment, moment))
        elif kind == "cancel":
            commands.append(CancelProposal(actor, number, moment))
        else:
            commands.append(RecordPolicyActivation(number, moment))
    return commands


# --- scorecards ---------------------------------------------------------------------------

_SCORECARD_START = datetime(2025, 1, 1, tzinfo=UTC)


@st.composite
def scorecard_specs(draw: st.DrawFn) -> ScorecardSpec:
    """A scorecard of one to four KPIs (any measures, weights 0.5 to 100), monthly or
    quarterly, with standings from 0 up.
    """
    measures = draw(st.lists(st.sampled_from(list(KpiMeasure)), min_size=1, max_size=4))
    kpis = tuple(
        KpiSpec(
            f"kpi_{index}",
            f"KPI {index}",
            measure,
            draw(st.floats(0.5, 100, allow_nan=False)),
            zero_at_percent=draw(st.floats(0.5, 200, allow_nan=False)),
        )
        for index, measure in enumerate(measures)
    )
    bands = draw(st.lists(st.floats(0.5, 100, allow_nan=False), unique=True, max_size=3))
    standings = tuple(Standing(f"band_{i}", f"Band {i}", m) for i, m in enumerate(bands))
    period = draw(st.sampled_from(list(ScorecardPeriod)))
    return ScorecardSpec(period, kpis, (*standings, Standing("lowest", "Lowest", 0.0)))


@st.composite
def scorecard_records(draw: st.DrawFn) -> dict[str, Any]:
    """A supplier's records over the first half of 2025 (days from 1 January): measurements
    met or missed, survey scores, inspections passed or failed, and penalties per month.
    """
    days = st.integers(0, 180)
    return {
        "measurements": draw(st.lists(st.tuples(days, st.booleans()), max_size=30)),
        "surveys": draw(st.lists(st.tuples(days, st.floats(0, 100)), max_size=10)),
        "inspections": draw(st.lists(st.tuples(days, st.booleans()), max_size=10)),
        "penalties": draw(
            st.lists(st.tuples(st.integers(1, 6), st.integers(0, 300_000)), max_size=8)
        ),
    }


# --- corrective actions ---------------------------------------------------------------------

EXTENSION_STEP_KINDS = ("request", "approve", "refuse", "complete")


def extension_steps(
    action_ids: tuple[str, ...] = ("A1", "A2", "A3"), max_size: int = 30
) -> st.SearchStrategy[list[tuple[str, str, float]]]:
    """Steps on a corrective action's extensions: (kind, action id, days). A request asks to
    move the action's due date by ``days`` (half a day to four weeks: within the pack's
    limit and beyond it); approve, refuse and complete act on the action as it stands.
    """
    step = st.tuples(
        st.sampled_from(EXTENSION_STEP_KINDS),
        st.sampled_from(action_ids),
        st.floats(min_value=0.5, max_value=28.0, allow_nan=False),
    )
    return st.lists(step, min_size=1, max_size=max_size)
