"""Needs: what the operator wants to buy, the shortlist of suppliers for it, and the award.

Selection starts from a need (a service category and the certificates it requires).
Qualified suppliers that meet it are shortlisted; the shortlist is ranked under the active
policy (weighted sum and TOPSIS, ``sqm.rules.selection``) and each ranking is kept as a record;
the need is then awarded to one shortlisted supplier, with a reason when the committee
departs from the ranking. The contract itself is then signed on the supplier's own stream.

A need is its own event stream in the same store as the suppliers, so its records sit in
the same hash chain. Its stream id starts with :data:`NEED_STREAM_PREFIX`, which no supplier
id can start with and which sorts after every supplier id: listing suppliers in id order
ends before the first need, and listing needs is a range scan from the prefix.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from sqm.domain import lifecycle
from sqm.domain.errors import DomainError, FieldViolation, InvalidCommand, SupplierNotFound
from sqm.domain.model import Action, Decision, Money, SlaObjective, Stage, SupplierState
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId
from sqm.domain.ports import DecisionContext, Policy
from sqm.domain.scorecard_records import (
    award_refusal,
    award_warning,
    shortlisting_refusal,
    shortlisting_warning,
)
from sqm.domain.validation import check_aware, check_money, check_objectives

NEED_STREAM_PREFIX = "~need/"
NEED_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")
MAX_TITLE = 200
MAX_REASON = 4000
MAX_SHORTLIST = 50
KEPT_RANKINGS = 20
"""Rankings kept in the need's state; every ranking stays in its stream."""
KEPT_NOTICES = 20
"""Notices (reminders, escalations) kept in the need's state; every one stays in its stream."""
SELECTION_STEPS = ("tick", "shortlist", "award")
"""What the selection stage's rules are consulted about (the ``selection_step`` fact)."""
NOTICE_ACTIONS = frozenset({Action.REMIND, Action.ESCALATE})
"""What a selection rule may record on the need's stream; ``disqualify`` refuses instead."""


def need_stream(need_id: str) -> str:
    """The event stream that holds the need ``need_id``."""
    return NEED_STREAM_PREFIX + need_id


def is_need_stream(stream_id: str) -> bool:
    """True for a need's stream (every other stream is a supplier's)."""
    return stream_id.startswith(NEED_STREAM_PREFIX)


class NeedStatus(enum.StrEnum):
    """Where a need stands: open for shortlisting and ranking, or awarded."""

    OPEN = "open"
    AWARDED = "awarded"


@attrs.frozen
class RankedCandidate:
    """How one shortlisted supplier fared in a ranking (figures as the report gave them)."""

    supplier_id: str
    weighted_score: Decimal
    weighted_rank: int
    topsis_closeness: Decimal
    topsis_rank: int
    values: Mapping[str, Decimal] = attrs.field(factory=dict)
    """The raw value per criterion the ranking used (recorded scores and given costs)."""
    normalised: Mapping[str, Decimal] = attrs.field(factory=dict)


@attrs.frozen
class Ranking:
    """One evaluation of the whole shortlist, kept as the committee's record."""

    number: int
    ranked_at: datetime
    policy_version: str
    candidates: tuple[RankedCandidate, ...]
    """In weighted-sum rank order, best first."""
    methods_agree: bool
    report: tuple[str, ...]

    def candidate(self, supplier_id: str) -> RankedCandidate | None:
        """The ranking of ``supplier_id``, if it was ranked."""
        return next((c for c in self.candidates if c.supplier_id == supplier_id), None)


@attrs.frozen
class NeedState:
    """A need as the fold of its events."""

    need_id: str
    title: str
    category: CategoryId
    required_certificates: frozenset[CertificateKindId]
    objectives: tuple[SlaObjective, ...] = ()
    """The service standard: the objectives a contract under the award gets by default."""
    quantity: int = 0
    """How many units (sites, licences, crews) are to be bought; 0 when not stated."""
    budget: Money | None = None
    required_by: datetime | None = None
    """When the service must be in place."""
    status: NeedStatus = NeedStatus.OPEN
    version: int = 0
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    shortlist: tuple[str, ...] = ()
    rankings: tuple[Ranking, ...] = ()
    rankings_made: int = 0
    shortlist_changed_at_ranking: int = 0
    """``rankings_made`` when the shortlist last changed: a later ranking covers it."""
    awarded_supplier_id: str = ""
    award_reason: str = ""
    notices: tuple[Decision, ...] = ()
    """The latest reminders and escalations the selection rules recorded, oldest first."""
    ticked_rules: frozenset[str] = frozenset()
    """Rules whose notice a tick has recorded: each is recorded once per need."""

    @property
    def latest_ranking(self) -> Ranking | None:
        """The most recent ranking, if any."""
        return self.rankings[-1] if self.rankings else None

    @property
    def ranking_is_current(self) -> bool:
        """True when a ranking was made after the shortlist last changed."""
        return self.rankings_made > self.shortlist_changed_at_ranking


# --- commands ----------------------------------------------------------------------------


@attrs.frozen
class OpenNeed:
    """Open a need: what is to be bought, the certificates a supplier must hold for it, and
    its service standard (target objectives), quantity, budget and required-by date.
    """

    need_id: str
    title: str
    category: CategoryId
    occurred_at: datetime
    required_certificates: frozenset[CertificateKindId] = frozenset()
    objectives: tuple[SlaObjective, ...] = ()
    quantity: int = 0
    budget: Money | None = None
    required_by: datetime | None = None


@attrs.frozen
class ShortlistSupplier:
    """Put a qualified supplier that meets the need on its shortlist."""

    need_id: str
    supplier_id: str
    occurred_at: datetime


@attrs.frozen
class RankShortlist:
    """Rank the whole shortlist under the active policy and keep the ranking.

    ``candidates`` gives ``(supplier_id, values)`` pairs: raw values per criterion for
    shortlisted suppliers (a price, a lead time in days); benefit criteria not given take
    the supplier's recorded score. The server turns this request into
    :class:`RecordRanking` with the computed ranking.
    """

    need_id: str
    occurred_at: datetime
    candidates: tuple[tuple[str, Mapping[str, float]], ...] = ()


@attrs.frozen
class RecordRanking:
    """Keep a ranking of the whole shortlist (computed under the active policy)."""

    need_id: str
    ranking: Ranking
    occurred_at: datetime


@attrs.frozen
class AwardNeed:
    """Award the need to a shortlisted supplier; ``reason`` is required against the ranking."""

    need_id: str
    supplier_id: str
    occurred_at: datetime
    reason: str = ""


@attrs.frozen
class AdvanceNeedTime:
    """Time advanced over an open need (the scheduler's tick): its selection rules run."""

    need_id: str
    occurred_at: datetime


NeedCommand = (
    OpenNeed | ShortlistSupplier | RankShortlist | RecordRanking | AwardNeed | AdvanceNeedTime
)

NEED_COMMAND_TYPES: Mapping[str, type[NeedCommand]] = {
    cls.__name__: cls
    for cls in (OpenNeed, ShortlistSupplier, RankShortlist, AwardNeed, AdvanceNeedTime)
}
"""The need commands a policy test case may give (a ranking is recorded by RankShortlist)."""


# --- events ------------------------------------------------------------------------------


@attrs.frozen
class NeedOpened:
    """A need was opened."""

    occurred_at: datetime
    need_id: str
    title: str
    category: CategoryId
    required_certificates: frozenset[CertificateKindId] = frozenset()
    objectives: tuple[SlaObjective, ...] = ()
    quantity: int = 0
    budget: Money | None = None
    required_by: datetime | None = None


@attrs.frozen
class SupplierShortlisted:
    """A supplier was put on the need's shortlist."""

    occurred_at: datetime
    supplier_id: str
    warning: str = ""
    """Why shortlisting went ahead with a warning (the supplier's standing); "" for none."""


@attrs.frozen
class ShortlistRanked:
    """The shortlist was ranked; the ranking is the evaluation report of record."""

    occurred_at: datetime
    ranking: Ranking


@attrs.frozen
class NeedAwarded:
    """The need was awarded; the supplier's ranks in the latest ranking are kept with it."""

    occurred_at: datetime
    supplier_id: str
    weighted_rank: int
    topsis_rank: int
    reason: str = ""
    warning: str = ""
    """Why the award went ahead with a warning (the supplier's standing); "" for none."""


@attrs.frozen
class NeedNoticeIssued:
    """A selection rule reminded of the need or escalated it (the decision says which, to
    whom and why), on a tick or with a shortlisting or an award recorded beside it.
    """

    occurred_at: datetime
    decision: Decision
    selection_step: str


NeedEvent = NeedOpened | SupplierShortlisted | ShortlistRanked | NeedAwarded | NeedNoticeIssued

NEED_EVENT_TYPES: Mapping[str, type[NeedEvent]] = {
    cls.__name__: cls
    for cls in (NeedOpened, SupplierShortlisted, ShortlistRanked, NeedAwarded, NeedNoticeIssued)
}


# --- errors ------------------------------------------------------------------------------


class NeedNotFound(DomainError):
    """No need has this id."""

    reason = "NEED_NOT_FOUND"

    def __init__(self, need_id: str) -> None:
        self.need_id = need_id
        super().__init__(f"need {need_id!r} does not exist")


class NeedAlreadyExists(DomainError):
    """A need with this id is already open (or awarded)."""

    reason = "NEED_ALREADY_EXISTS"

    def __init__(self, need_id: str) -> None:
        self.need_id = need_id
        super().__init__(f"need {need_id!r} already exists")


class NeedPrecondition(DomainError):
    """The need, or a supplier, is not in a state that allows the request.

    ``subject`` is what is not ready (the need, or ``suppliers/{id}``); the message says why
    and what would make the request possible.
    """

    reason = "NEED_PRECONDITION"

    def __init__(self, subject: str, why: str) -> None:
        self.subject = subject
        super().__init__(why)


class SelectionRefused(NeedPrecondition):
    """A rule of the selection stage refuses the shortlisting or the award (``disqualify``):
    ``decisions`` are the rules that did, their messages saying why.
    """

    reason = "SELECTION_REFUSED"

    def __init__(self, subject: str, decisions: tuple[Decision, ...]) -> None:
        self.decisions = decisions
        why = "; ".join(f"{d.rule_id}: {d.message}" for d in decisions)
        super().__init__(subject, f"refused by the policy's selection rules: {why}")


# --- validation --------------------------------------------------------------------------


def validate_need_command(command: NeedCommand) -> None:
    """Raise ``InvalidCommand`` naming every malformed field (domain names)."""
    problems = list(_violations(command))
    if problems:
        raise InvalidCommand(problems)


def _violations(command: NeedCommand) -> Iterator[FieldViolation]:
    if not NEED_ID.fullmatch(command.need_id):
        yield FieldViolation(
            "need_id",
            "expected a lower-case letter, then lower-case letters, digits or hyphens"
            f" (at most 63); got {command.need_id!r}",
        )
    if command.occurred_at.tzinfo is None:
        yield FieldViolation("occurred_at", "must carry a time zone")
    if isinstance(command, OpenNeed) and not command.title.strip():
        yield FieldViolation("title", "must not be empty")
    if isinstance(command, OpenNeed) and len(command.title) > MAX_TITLE:
        yield FieldViolation("title", f"must be at most {MAX_TITLE} characters")
    if isinstance(command, AwardNeed) and len(command.reason) > MAX_REASON:
        yield FieldViolation("reason", f"must be at most {MAX_REASON} characters")
    if isinstance(command, OpenNeed):
        yield from _terms_violations(command)


def _terms_violations(command: OpenNeed) -> Iterator[FieldViolation]:
    yield from check_objectives("objectives", command.objectives)
    if command.quantity < 0:
        yield FieldViolation("quantity", f"must not be negative; got {command.quantity}")
    if command.budget is not None:
        yield from check_money("budget", command.budget, positive=True)
    if command.required_by is not None:
        yield from check_aware("required_by", command.required_by)
        aware = command.required_by.tzinfo is not None and command.occurred_at.tzinfo is not None
        if aware and command.required_by <= command.occurred_at:
            yield FieldViolation("required_by", "must be later than the need is opened")


# --- decide and evolve -------------------------------------------------------------------


def decide_need(
    command: NeedCommand,
    need: NeedState | None,
    suppliers: Mapping[str, SupplierState],
    policy: Policy | None = None,
) -> list[NeedEvent]:
    """The events ``command`` produces against ``need``.

    ``suppliers`` holds the current state of every supplier the command names (the one to
    shortlist or award); a supplier missing from it does not exist. The ``policy``'s
    selection rules judge shortlistings, awards and ticks (none without a policy): a fired
    ``disqualify`` refuses the command (:class:`SelectionRefused`), a fired ``remind`` or
    ``escalate`` is recorded with it.
    """
    validate_need_command(command)
    if isinstance(command, OpenNeed):
        if need is not None:
            raise NeedAlreadyExists(command.need_id)
        return [
            NeedOpened(
                command.occurred_at,
                command.need_id,
                command.title,
                command.category,
                command.required_certificates,
                command.objectives,
                command.quantity,
                command.budget,
                command.required_by,
            )
        ]
    if need is None:
        raise NeedNotFound(command.need_id)
    if isinstance(command, AdvanceNeedTime):
        return _tick(need, command.occurred_at, policy)
    _require_open(need, command.occurred_at)
    if isinstance(command, ShortlistSupplier):
        supplier = suppliers.get(command.supplier_id)
        _require_eligible(need, supplier, command)
        assert supplier is not None  # noqa: S101 - eligibility needs the supplier
        warning = _warned(shortlisting_warning(supplier.scorecards))
        shortlisted = SupplierShortlisted(command.occurred_at, command.supplier_id, warning)
        after = apply_need(need, shortlisted)
        return [shortlisted, *_judged(after, supplier, "shortlist", command.occurred_at, policy)]
    if isinstance(command, RecordRanking):
        _require_covers_shortlist(need, command.ranking)
        return [ShortlistRanked(command.occurred_at, command.ranking)]
    if isinstance(command, AwardNeed):
        supplier = suppliers.get(command.supplier_id)
        _require_awardable(supplier, command)
        warning = award_warning(supplier.scorecards) if supplier is not None else ""
        awarded = attrs.evolve(_award(need, command), warning=_warned(warning))
        if supplier is None:  # the ranking named it, so it existed; judged without it
            return [awarded]
        after = apply_need(need, awarded)
        return [awarded, *_judged(after, supplier, "award", command.occurred_at, policy)]
    raise TypeError(f"{type(command).__name__} is decided by the server, with a ranking")


def _judged(
    need: NeedState, supplier: SupplierState, step: str, at: datetime, policy: Policy | None
) -> list[NeedEvent]:
    """The notices the selection rules record on ``step`` of ``supplier``; raises
    :class:`SelectionRefused` when one of them refuses it.
    """
    if policy is None:
        return []
    context = DecisionContext(Stage.SELECTION, supplier, at, need=need, selection_step=step)
    fired = policy.evaluate(context).fired
    refusals = tuple(d for d in fired if d.action is Action.DISQUALIFY)
    if refusals:
        raise SelectionRefused(f"suppliers/{supplier.supplier_id}", refusals)
    return [NeedNoticeIssued(at, d, step) for d in fired if d.action in NOTICE_ACTIONS]


def _tick(need: NeedState, at: datetime, policy: Policy | None) -> list[NeedEvent]:
    """The notices due on an open need at ``at``, each rule's once per need."""
    if policy is None or need.status is not NeedStatus.OPEN:
        return []
    if need.updated_at is not None and at < need.updated_at:
        return []  # time only moves forward: a later record already passed this moment
    nobody = SupplierState(supplier_id="", name="", category=need.category)
    context = DecisionContext(Stage.SELECTION, nobody, at, need=need, selection_step="tick")
    return [
        NeedNoticeIssued(at, d, "tick")
        for d in policy.evaluate(context).fired
        if d.action in NOTICE_ACTIONS and d.rule_id not in need.ticked_rules
    ]


def _warned(warning: str) -> str:
    return f"accepted with a warning: {warning}" if warning else ""


def _require_open(need: NeedState, moment: datetime) -> None:
    if need.status is not NeedStatus.OPEN:
        raise NeedPrecondition(
            f"needs/{need.need_id}",
            f"need {need.need_id!r} was awarded to {need.awarded_supplier_id!r};"
            " open a new need to buy again",
        )
    if need.updated_at is not None and moment < need.updated_at:
        raise InvalidCommand(
            [
                FieldViolation(
                    "occurred_at",
                    f"is earlier than the need's last recorded event"
                    f" ({need.updated_at.isoformat()}); events are recorded in time order",
                )
            ]
        )


def _require_eligible(
    need: NeedState, supplier: SupplierState | None, command: ShortlistSupplier
) -> None:
    subject = f"suppliers/{command.supplier_id}"
    if supplier is None:
        raise SupplierNotFound(command.supplier_id)
    if command.supplier_id in need.shortlist:
        raise NeedPrecondition(subject, f"{command.supplier_id!r} is already on the shortlist")
    if len(need.shortlist) >= MAX_SHORTLIST:
        raise NeedPrecondition(subject, f"a shortlist holds at most {MAX_SHORTLIST} suppliers")
    why = _ineligibility(need, supplier, command.occurred_at)
    if why:
        raise NeedPrecondition(subject, f"{command.supplier_id!r} cannot be shortlisted: {why}")


def _ineligibility(need: NeedState, supplier: SupplierState, moment: datetime) -> str:
    if supplier.category != need.category:
        return f"it provides {supplier.category}, the need is for {need.category}"
    if supplier.blacklisted or supplier.lifecycle not in lifecycle.SHORTLISTABLE:
        allowed = " or ".join(sorted(s.value for s in lifecycle.SHORTLISTABLE))
        return f"it is {supplier.lifecycle.value}; it must be {allowed} (and not blacklisted)"
    missing = need.required_certificates - supplier.valid_certificate_kinds(moment)
    if missing:
        return "it holds no valid " + ", ".join(sorted(missing))
    return shortlisting_refusal(supplier.scorecards)


def _require_covers_shortlist(need: NeedState, ranking: Ranking) -> None:
    if not need.shortlist:
        raise NeedPrecondition(
            f"needs/{need.need_id}", "the shortlist is empty; shortlist suppliers first"
        )
    ranked = sorted(c.supplier_id for c in ranking.candidates)
    if ranked != sorted(need.shortlist):
        raise NeedPrecondition(
            f"needs/{need.need_id}",
            f"a ranking must cover the whole shortlist {sorted(need.shortlist)}; got {ranked}",
        )


def _require_awardable(supplier: SupplierState | None, command: AwardNeed) -> None:
    why = award_refusal(supplier.scorecards) if supplier is not None else ""
    if why:
        subject = f"suppliers/{command.supplier_id}"
        raise NeedPrecondition(subject, f"{command.supplier_id!r} cannot be awarded: {why}")


def _award(need: NeedState, command: AwardNeed) -> NeedAwarded:
    subject = f"needs/{need.need_id}"
    ranking = need.latest_ranking
    if ranking is None or not need.ranking_is_current:
        raise NeedPrecondition(
            subject, "rank the current shortlist before awarding (RankShortlist)"
        )
    ranked = ranking.candidate(command.supplier_id)
    if ranked is None:
        raise NeedPrecondition(
            f"suppliers/{command.supplier_id}",
            f"{command.supplier_id!r} is not on the shortlist of need {need.need_id!r}",
        )
    if ranked.weighted_rank != 1 and not command.reason.strip():
        raise InvalidCommand(
            [
                FieldViolation(
                    "reason",
                    f"required: {command.supplier_id!r} is ranked {ranked.weighted_rank}"
                    " by weighted sum; say why the committee departs from the ranking",
                )
            ]
        )
    return NeedAwarded(
        command.occurred_at,
        command.supplier_id,
        ranked.weighted_rank,
        ranked.topsis_rank,
        command.reason,
    )


def apply_need(need: NeedState | None, event: NeedEvent) -> NeedState:
    """The need after ``event``; ``need`` is None only before ``NeedOpened``."""
    if isinstance(event, NeedOpened):
        if need is not None:
            raise ValueError("NeedOpened can only start a stream")
        return NeedState(
            need_id=event.need_id,
            title=event.title,
            category=event.category,
            required_certificates=event.required_certificates,
            objectives=event.objectives,
            quantity=event.quantity,
            budget=event.budget,
            required_by=event.required_by,
            version=1,
            opened_at=event.occurred_at,
            updated_at=event.occurred_at,
        )
    if need is None:
        raise ValueError(f"{type(event).__name__} cannot start a stream")
    changed = _evolve(need, event)
    return attrs.evolve(changed, version=need.version + 1, updated_at=event.occurred_at)


def _evolve(need: NeedState, event: NeedEvent) -> NeedState:
    if isinstance(event, SupplierShortlisted):
        return attrs.evolve(
            need,
            shortlist=(*need.shortlist, event.supplier_id),
            shortlist_changed_at_ranking=need.rankings_made,
        )
    if isinstance(event, ShortlistRanked):
        return attrs.evolve(
            need,
            rankings=(*need.rankings, event.ranking)[-KEPT_RANKINGS:],
            rankings_made=need.rankings_made + 1,
        )
    if isinstance(event, NeedAwarded):
        return attrs.evolve(
            need,
            status=NeedStatus.AWARDED,
            awarded_supplier_id=event.supplier_id,
            award_reason=event.reason,
        )
    if isinstance(event, NeedNoticeIssued):
        ticked = need.ticked_rules
        if event.selection_step == "tick":
            ticked = ticked | {event.decision.rule_id}
        notices = (*need.notices, event.decision)[-KEPT_NOTICES:]
        return attrs.evolve(need, notices=notices, ticked_rules=ticked)
    raise ValueError(f"{type(event).__name__} does not belong to a need's stream")


def fold_need(events: Iterable[NeedEvent], need: NeedState | None) -> NeedState:
    """The need after each of ``events`` in order."""
    for event in events:
        need = apply_need(need, event)
    if need is None:
        raise ValueError("no events to fold into a need")
    return need
