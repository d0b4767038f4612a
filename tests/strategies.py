"""Hypothesis strategies for the whole suite, in one place (attrs does the same).

Everything a property test draws comes from here, so the shape of valid data is defined once:
supplier ids as :data:`domain.validation.SUPPLIER_ID` accepts them, names in any script
(Chinese included), tz-aware UTC times, certificates with ``valid_from < valid_until``,
evidence, every command, whole command sequences for one supplier, and hash-chained
:class:`~domain.ports.RecordedEvent` logs.

Strategies are built once and reused (``functools.cache``): drawing from a fresh strategy
object costs a validation pass, which inside ``command_sequences`` would dominate run time.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st

from domain import lifecycle
from domain.audit import GENESIS_HASH, event_hash
from domain.commands import (
    Command,
    ConcludeReview,
    OpenReview,
    RecordMissedImprovementDeadline,
    RegisterSupplier,
    ReviewOutcome,
    SignContract,
    SubmitQualificationEvidence,
    VerifyRemediation,
)
from domain.events import EVENT_TYPES
from domain.lifecycle import Trigger
from domain.model import Certificate, CertificateKind, LifecycleState, ServiceCategory
from domain.ports import RecordedEvent
from domain.serialization import canonical_json, format_time
from domain.validation import MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from tests.fakes import BLACKLIST_CRITERION, BLACKLIST_SCORE, DEFAULT_THRESHOLD

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
    """Supplier ids that ``domain.validation.SUPPLIER_ID`` accepts."""
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
def categories() -> st.SearchStrategy[ServiceCategory]:
    """Any service category."""
    return st.sampled_from(ServiceCategory)


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
_CERTIFICATE_KINDS = st.sampled_from(CertificateKind)


def _draw_certificate(
    draw: st.DrawFn,
    kind: CertificateKind | None = None,
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
    kind: CertificateKind | None = None,
    valid_at: datetime | None = None,
    expired_at: datetime | None = None,
) -> Certificate:
    """A certificate with ``valid_from < valid_until``.

    With ``valid_at`` it is valid at that moment; with ``expired_at`` it expired at or before it.
    """
    return _draw_certificate(draw, kind, valid_at, expired_at)


_CERTIFICATE_LISTS = st.lists(certificates(), max_size=3)
_MAYBE_BOOLEAN = st.none() | st.booleans()


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


def sign_contract_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[SignContract]:
    """Valid ``SignContract`` commands."""
    return st.builds(
        SignContract,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        contract_id=resource_ids(),
        occurred_at=_given_or(occurred_at, moments()),
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


def conclude_review_commands(
    supplier_id: str | None = None, occurred_at: datetime | None = None
) -> st.SearchStrategy[ConcludeReview]:
    """Valid ``ConcludeReview`` commands, any outcome."""
    return st.builds(
        ConcludeReview,
        supplier_id=_given_or(supplier_id, supplier_ids()),
        outcome=st.sampled_from(ReviewOutcome),
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


_CommandFactory = Callable[[str | None, datetime | None], st.SearchStrategy[Any]]
_COMMAND_FACTORIES: tuple[_CommandFactory, ...] = (
    register_supplier_commands,
    evidence_commands,
    sign_contract_commands,
    open_review_commands,
    conclude_review_commands,
    verify_remediation_commands,
    missed_deadline_commands,
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
_FRESH_CRITERIA = st.lists(criteria(), min_size=1, max_size=3)
_INTENTS = st.sampled_from(["pass", "pass", "pass", "pass", "fail", "fail", "blacklist"])
_ONE_IN_FIVE = st.integers(0, 4)
_ONE_IN_EIGHT = st.integers(0, 7)

# Sequence commands are drawn from templates whose id and time are placeholders (no entropy
# spent on them), then given the sequence's supplier id and the current domain time.
_PLACEHOLDER_ID = "placeholder"
_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@attrs.define
class _SequenceModel:
    """A rough prediction of where the supplier stands, used only to bias generation.

    It follows the lifecycle table and FakePolicy's rules for the evidence it generates on
    purpose; it may be wrong after an arbitrary command, which is fine: it only makes legal
    commands likely, the tests check what really happens.
    """

    supplier_id: str
    state: LifecycleState | None = None
    criteria: set[str] = attrs.field(factory=set)

    def move(self, trigger: Trigger) -> None:
        if self.state is not None and trigger in lifecycle.allowed_triggers(self.state):
            self.state = lifecycle.fire(self.state, trigger)


_TRIGGER_OF = {
    SignContract: Trigger.SIGN_CONTRACT,
    OpenReview: Trigger.OPEN_REVIEW,
    VerifyRemediation: Trigger.VERIFY_REMEDIATION,
    RecordMissedImprovementDeadline: Trigger.MISS_IMPROVEMENT_DEADLINE,
}
_REVIEW_TRIGGER_OF = {
    ReviewOutcome.CLEARED: Trigger.CLEAR_REVIEW,
    ReviewOutcome.REMEDIATION_REQUIRED: Trigger.REQUIRE_REMEDIATION,
    ReviewOutcome.FAILED: Trigger.FAIL_REVIEW,
}


@functools.cache
def _template(factory: _CommandFactory) -> st.SearchStrategy[Command]:
    strategy: st.SearchStrategy[Command] = factory(_PLACEHOLDER_ID, _PLACEHOLDER_TIME)
    return strategy


_ANY_TEMPLATE: st.SearchStrategy[_CommandFactory] = st.sampled_from(_COMMAND_FACTORIES)


def _draw_command(
    draw: st.DrawFn, factory: _CommandFactory, model: _SequenceModel, at: datetime
) -> Command:
    command = draw(_template(factory))
    command = attrs.evolve(command, supplier_id=model.supplier_id, occurred_at=at)
    _follow(model, command)
    return command


def _rescored(
    draw: st.DrawFn, model: _SequenceModel, scores: st.SearchStrategy[float]
) -> dict[str, float]:
    fresh = draw(_FRESH_CRITERIA)
    return {c: draw(scores) for c in sorted(model.criteria.union(fresh))}


def _decisive_evidence(
    draw: st.DrawFn, model: _SequenceModel, at: datetime
) -> SubmitQualificationEvidence:
    """Evidence for a candidate whose outcome under FakePolicy the model can predict."""
    intent = draw(_INTENTS)
    licence_kind = CertificateKind.BUSINESS_LICENCE
    if intent == "pass":
        evidence = SubmitQualificationEvidence(
            model.supplier_id,
            at,
            scores=_rescored(draw, model, _PASSING_SCORES),
            certificates=(_draw_certificate(draw, licence_kind, valid_at=at),),
        )
        model.move(Trigger.QUALIFY)
    elif intent == "fail":
        # Low scores fail on their own; the licence, valid or expired, is incidental.
        if draw(st.booleans()):
            licence = _draw_certificate(draw, licence_kind, valid_at=at)
        else:
            licence = _draw_certificate(draw, licence_kind, expired_at=at)
        evidence = SubmitQualificationEvidence(
            model.supplier_id,
            at,
            scores=_rescored(draw, model, _FAILING_SCORES),
            certificates=(licence,),
            site_audit_passed=draw(_MAYBE_BOOLEAN),
        )
    else:
        evidence = SubmitQualificationEvidence(
            model.supplier_id, at, scores={BLACKLIST_CRITERION: BLACKLIST_SCORE}
        )
        model.move(Trigger.DISQUALIFY)
    return evidence


_LEGAL_FACTORIES: dict[LifecycleState, tuple[_CommandFactory, ...]] = {
    LifecycleState.QUALIFIED: (sign_contract_commands,),
    LifecycleState.CONTRACTED: (open_review_commands,),
    LifecycleState.UNDER_REVIEW: (conclude_review_commands,),
    LifecycleState.REMEDIATION: (verify_remediation_commands, missed_deadline_commands),
}


# Evidence is legal in every live state (kept on file); it gets a small share. Nothing is
# legal once terminated: anything goes.
_LIKELY_LEGAL: dict[LifecycleState | None, st.SearchStrategy[_CommandFactory]] = {
    state: st.sampled_from([*options, *options, *options, evidence_commands])
    for state, options in _LEGAL_FACTORIES.items()
}
_LIKELY_LEGAL[None] = st.just(register_supplier_commands)
_LIKELY_LEGAL[LifecycleState.TERMINATED] = _ANY_TEMPLATE


def _likely_legal_command(draw: st.DrawFn, model: _SequenceModel, at: datetime) -> Command:
    if model.state is LifecycleState.CANDIDATE:
        if draw(_ONE_IN_FIVE) == 0:  # evidence the model does not predict; it assumes no move
            return _draw_command(draw, evidence_commands, model, at)
        return _decisive_evidence(draw, model, at)
    return _draw_command(draw, draw(_LIKELY_LEGAL[model.state]), model, at)


def _follow(model: _SequenceModel, command: Command) -> None:
    if isinstance(command, RegisterSupplier) and model.state is None:
        model.state = LifecycleState.CANDIDATE
    elif isinstance(command, ConcludeReview):
        model.move(_REVIEW_TRIGGER_OF[command.outcome])
    elif type(command) in _TRIGGER_OF:
        model.move(_TRIGGER_OF[type(command)])


@st.composite
def command_sequences(draw: st.DrawFn, max_size: int = 20) -> list[Command]:
    """Commands for one supplier with non-decreasing ``occurred_at``.

    Mostly legal for the state the supplier is predicted to be in (tuned for
    :class:`tests.fakes.FakePolicy` with its default threshold), about one in eight chosen
    from every command kind, which is often illegal: a second registration, a command for a
    supplier not yet registered, a contract for a candidate, anything after termination.
    """
    model = _SequenceModel(draw(supplier_ids()))
    at = draw(moments())
    sequence: list[Command] = []
    for _ in range(draw(st.integers(min_value=1, max_value=max_size))):
        at += draw(time_steps())
        if draw(_ONE_IN_EIGHT) == 0:
            command = _draw_command(draw, draw(_ANY_TEMPLATE), model, at)
        else:
            command = _likely_legal_command(draw, model, at)
        if isinstance(command, SubmitQualificationEvidence):
            model.criteria.update(command.scores)
        sequence.append(command)
    return sequence


# --- the audit log ------------------------------------------------------------------------


@functools.cache
def json_values() -> st.SearchStrategy[Any]:
    """Arbitrary JSON data as the canonical encoder accepts it (no NaN or infinity)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.text(max_size=10), children, max_size=3),
        ),
        max_leaves=6,
    )


@functools.cache
def payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Event payloads: JSON objects of arbitrary content."""
    return st.dictionaries(st.text(max_size=12), json_values(), max_size=3)


@st.composite
def recorded_event_chains(
    draw: st.DrawFn, min_size: int = 1, max_size: int = 5
) -> list[RecordedEvent]:
    """A correctly hash-chained log: global sequence from 1, per-stream versions from 1."""
    stream_ids = draw(st.lists(supplier_ids(), min_size=1, max_size=3, unique=True))
    versions = dict.fromkeys(stream_ids, 0)
    recorded_at = draw(moments())
    prev_hash = GENESIS_HASH
    chain: list[RecordedEvent] = []
    for global_seq in range(1, draw(st.integers(min_size, max_size)) + 1):
        stream_id = draw(st.sampled_from(stream_ids))
        versions[stream_id] += 1
        recorded_at += draw(time_steps())
        fields: dict[str, Any] = {
            "prev_hash": prev_hash,
            "global_seq": global_seq,
            "stream_id": stream_id,
            "version": versions[stream_id],
            "event_type": draw(st.sampled_from(sorted(EVENT_TYPES))),
            "payload": draw(payloads()),
            "occurred_at": recorded_at - draw(_UP_TO_A_YEAR),  # domain time precedes recording
            "recorded_at": recorded_at,
            "actor": draw(short_texts()),
            "request_id": draw(resource_ids()),
            "policy_version": draw(st.text("0123456789abcdef", min_size=8, max_size=64)),
        }
        prev_hash = event_hash(**fields)
        chain.append(RecordedEvent(**fields, hash=prev_hash))
    return chain


RECORDED_EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in attrs.fields(RecordedEvent))


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
