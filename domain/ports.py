"""The ports the domain's application service depends on: the event store and the policy.

Adapters live elsewhere: memory and SQLite stores in ``sqm.server.storage``, the compiled policy
in ``rules``. One contract test suite (``tests/integration/test_store_contract.py``) holds
every store to this protocol.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from sqm.domain.calendar import Calendar
from sqm.domain.corrective_records import ExtensionLimits
from sqm.domain.documents import DocumentStore
from sqm.domain.errors import ConcurrencyConflict, RequestIdReused
from sqm.domain.model import (
    Breach,
    Decision,
    Measurement,
    Money,
    QualificationChanges,
    Severity,
    SlaObjective,
    Stage,
    StatedAmount,
    SupplierState,
)
from sqm.domain.pack_catalogue import CategoryId, PackCatalogue
from sqm.domain.policy_archive import PolicyArchive
from sqm.domain.ranking import Candidate, Criterion, EvaluationReport
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.segments import Segment

if TYPE_CHECKING:  # types only: needs and notifications import this module
    from sqm.domain.needs import NeedState
    from sqm.domain.notifications import Notification


@attrs.frozen
class NewEvent:
    """An event ready to be appended: its type name, JSON-ready payload and domain time."""

    event_type: str
    payload: Mapping[str, Any]
    occurred_at: datetime


@attrs.frozen
class CommandMeta:
    """Who asked, under which request id, decided by which policy version.

    ``fingerprint`` identifies the request's content, so a request id reused for a
    different request is refused instead of silently answered with the first result.
    """

    request_id: str
    actor: str
    policy_version: str
    fingerprint: str


@attrs.frozen
class RecordedEvent:
    """An event as stored: immutable, sequenced, attributed and hash-chained."""

    global_seq: int
    stream_id: str
    version: int
    event_type: str
    payload: Mapping[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    request_id: str
    policy_version: str
    prev_hash: str
    hash: str
    payload_json: str | None = attrs.field(default=None, eq=False, repr=False)
    """The payload's canonical JSON when the store that sealed the event has it at hand, so
    it is encoded once for the hash and the row; None once read back (it is not content).
    """


@attrs.frozen
class AppendResult:
    """Where a request's events landed. ``replayed`` is True when the request id was already
    recorded and nothing was written this time.
    """

    stream_id: str
    first_version: int
    last_version: int
    first_seq: int
    last_seq: int
    replayed: bool = False
    events: tuple[RecordedEvent, ...] = attrs.field(default=(), eq=False, repr=False)
    """The records this call sealed, as stored; empty for a replay (nothing was written)."""


@attrs.frozen
class StreamSnapshot:
    """The projected state of one stream at ``version`` (kept in the append's transaction)."""

    stream_id: str
    version: int
    state: Mapping[str, Any]


@attrs.frozen
class ChainVerification:
    """The outcome of checking the hash chain; ``first_broken_seq`` is None when intact."""

    events_checked: int
    first_broken_seq: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        """True when every link checked out."""
        return self.first_broken_seq is None


@attrs.frozen
class PendingAppend:
    """One request's append, waiting to be written with others in one transaction.

    ``snapshot`` None means a later append of the same batch on the same stream writes the
    stream's snapshot: only the last state of a stream in a batch needs serialising.
    """

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    meta: CommandMeta
    snapshot: Mapping[str, Any] | None
    notifications: Sequence[Notification] = ()
    """What the append tells people outside (``sqm.domain.notifications``): the store keeps
    them in its outbox in the append's own transaction.
    """


@attrs.frozen
class OutboxEntry:
    """A notification in the outbox, with its delivery so far.

    ``body`` is the JSON text posted to webhooks, exactly; ``seq`` orders the outbox (and
    pages it). An entry is pending until delivered, or undeliverable once its attempts ran
    out (``retry_notifications`` makes it pending again).
    """

    seq: int
    notification_id: str
    kind: str
    recipient: str
    supplier_id: str
    global_seq: int
    body: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    undeliverable: bool
    last_error: str


@attrs.frozen
class OutboxCounts:
    """How many notifications are waiting, delivered, and given up on."""

    pending: int
    delivered: int
    undeliverable: int


class NotificationOutbox(Protocol):
    """The notifications appends left in the outbox, and their delivery.

    Several delivery workers may share one database (``sqm serve --workers N``, or several
    instances on PostgreSQL): a claim takes rows for ``lease_seconds``, during which no
    other claim returns them, so one worker at a time delivers a given notification. A
    worker that dies mid-delivery loses its lease, and the rows come back when it expires:
    delivery is at least once, and receivers deduplicate by notification id.
    """

    def claim_notifications(
        self, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxEntry]:
        """Pending notifications due at ``now`` and not claimed by another worker, oldest
        first, at most ``limit``; they are claimed until ``now + lease_seconds``.
        """
        ...

    def mark_delivered(self, notification_id: str, at: datetime) -> None:
        """Record the notification as delivered (it is not claimed again)."""
        ...

    def record_failed_attempt(
        self, notification_id: str, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed attempt; due again at ``retry_at``, or undeliverable when None."""
        ...

    def list_notifications(
        self, *, undeliverable: bool, after_seq: int = 0, limit: int = 100
    ) -> list[OutboxEntry]:
        """Undeliverable notifications (or, with False, those still pending), in outbox
        order after ``after_seq``.
        """
        ...

    def retry_notifications(self, notification_ids: Sequence[str], at: datetime) -> int:
        """Make undeliverable notifications pending again, due at ``at`` with their attempts
        reset; every undeliverable one when ``notification_ids`` is empty. How many were.
        """
        ...

    def outbox_counts(self) -> OutboxCounts:
        """How many notifications are pending, delivered and undeliverable."""
        ...

    def event_notifications(self, first_seq: int, last_seq: int) -> list[OutboxEntry]:
        """The notifications of the events ``first_seq`` to ``last_seq`` (global sequences,
        both included), whatever their delivery, in outbox order.
        """
        ...


class EventStore(Protocol):
    """Append-only streams with a global sequence, optimistic concurrency and idempotency.

    Every adapter (memory, SQLite, PostgreSQL) implements all of it; the contract suite
    (``tests/integration/test_store_contract.py``) holds each to it.
    """

    def append_batch(
        self, appends: Sequence[PendingAppend], *, all_or_none: bool = False
    ) -> list[AppendResult | ConcurrencyConflict | RequestIdReused]:
        """Append each of ``appends`` in order in ONE transaction (one commit, one fsync).

        Each is checked against the log as the earlier appends of the batch left it:
        ``expected_version`` is the stream's version the events were decided on (0 for a
        new stream), and a mismatch is a ``ConcurrencyConflict``; a request id already
        recorded with the same fingerprint for the same stream writes nothing and gives the
        first result with ``replayed=True``; with another fingerprint or stream it is a
        ``RequestIdReused``. A refused append is returned in its place and writes nothing;
        the others are written, each result carrying the records it sealed. With
        ``all_or_none`` the first refusal is raised and nothing of the batch is written.
        Nothing is durable, and no result may be acted on, before this returns. Payloads
        are stored as canonical JSON and hashed as they read back.
        """
        ...

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        meta: CommandMeta,
        snapshot: Mapping[str, Any],
    ) -> AppendResult:
        """One append, as a batch of one with ``all_or_none``: a refusal is raised."""
        ...

    def find_request(self, request_id: str) -> tuple[str, AppendResult] | None:
        """The fingerprint and result recorded for ``request_id``, if any."""
        ...

    def find_requests(self, request_ids: Sequence[str]) -> dict[str, tuple[str, AppendResult]]:
        """The fingerprint and result of each of ``request_ids`` that is recorded."""
        ...

    def snapshot_version(self, stream_id: str) -> int | None:
        """The version of the stream's snapshot without reading the state (None: none)."""
        ...

    def snapshot_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The version of each of ``stream_ids``' snapshots that exists, in one look-up."""
        ...

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The head version of each of ``stream_ids`` that has events, in one look-up."""
        ...

    def load_snapshot(self, stream_id: str) -> StreamSnapshot | None:
        """The stream's latest projected state, without reading its events."""
        ...

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with version > ``after_version``, oldest first.

        ``limit`` None means all; a negative limit is a ``ValueError``. Payloads returned are
        the caller's own copies.
        """
        ...

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events of every stream with global sequence > ``after_seq``, in sequence order."""
        ...

    def list_snapshots(self, after_stream_id: str = "", limit: int = 100) -> list[StreamSnapshot]:
        """Snapshots ordered by stream id in code-point order, after ``after_stream_id``."""
        ...

    def list_stream_ids(self, after_stream_id: str = "", limit: int = 100) -> list[str]:
        """The ids :meth:`list_snapshots` would list, without reading the states."""
        ...

    def verify_chain(self) -> ChainVerification:
        """Recompute every hash from the first event; report the first broken link."""
        ...

    def identity(self) -> str:
        """The database's identity, stable for its lifetime (resume tokens carry it)."""
        ...

    def last_sequence(self) -> int:
        """The global sequence of the newest event (0 when empty)."""
        ...

    def tick_lock(self) -> contextlib.AbstractContextManager[bool]:
        """True inside when this instance may run the deadline scheduler now, False when
        another instance sharing the database holds the turn.
        """
        ...

    def subscribe_appends(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback`` (from any thread) with the new last sequence after appends,
        this instance's or, where the database is shared, another's; returns unsubscribe.
        """
        ...

    def integrity_problems(self) -> list[str]:
        """What the database's own check finds damaged in its files (empty: sound, or a
        database that checks its pages itself).
        """
        ...

    def storage_fault(self) -> Exception | None:
        """Why writes are refused now (a full disk, a read-only or unreachable database),
        checking first whether it has cleared; None while writes go through. Any thread.
        """
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


@attrs.frozen
class DecisionContext:
    """What a policy is asked to judge: a supplier, the moment, and the stage of the process.

    ``supplier`` already includes the record being judged (the domain applies it first), so
    windows count the current breach. At the monitoring stage, ``record_kind`` names the
    record ("measurement", "survey", "inspection", "progress_report", "self_check") and a
    measurement comes with its ``breach`` when it missed. At the selection stage, ``need`` is
    the need judged and ``selection_step`` what happens to it ("tick", "shortlist", "award");
    ``supplier`` is then the candidate (an empty placeholder of the need's category on a
    tick, which has none). ``ticket_id`` is the problem ticket whose record is judged
    (record kind "ticket_resolution"), so a review it opens can name it.
    """

    stage: Stage
    supplier: SupplierState
    now: datetime
    record_kind: str = ""
    measurement: Measurement | None = None
    breach: Breach | None = None
    need: NeedState | None = None
    selection_step: str = ""
    ticket_id: str = ""


@attrs.frozen
class PenaltyQuote:
    """An amount the policy's schedule sets, and which cap (if any) reduced it.

    ``basis`` explains the arithmetic in words ("5% of 100000.00 CNY x 1.5 for the 2nd
    repeat, capped at the period cap"), kept in the ledger for the auditor.
    """

    amount: Money
    cap_applied: str
    basis: str


@attrs.frozen
class Evaluation:
    """A policy's answer: the rules that fired, and explanations for those that did not.

    ``not_fired`` may be given as a function that explains them on first use: most
    evaluations never look at them, and explaining is most of an evaluation's cost.
    """

    policy_version: str
    fired: tuple[Decision, ...] = ()
    _not_fired: tuple[Decision, ...] | Callable[[], tuple[Decision, ...]] = attrs.field(
        default=(), alias="not_fired", eq=False, repr=False
    )

    @functools.cached_property
    def not_fired(self) -> tuple[Decision, ...]:
        """Explanations of the rules of the stage that did not fire, in file order."""
        explained = self._not_fired
        return explained() if callable(explained) else explained


class Policy(Protocol):
    """A compiled policy pack; ``version`` is the pack's content hash.

    Besides evaluating rules, a policy holds the pack's data the domain needs to act on a
    decision: default SLA objectives, breach severity tiers, the penalty schedule and the
    improvement deadlines. All of it is deterministic: no clock, no I/O.
    """

    @property
    def version(self) -> str:
        """The content hash of the pack this policy was compiled from."""
        ...

    @property
    def catalogue(self) -> PackCatalogue:
        """The pack's catalogue: which category, certificate kind, metric and document kind
        ids exist, and each metric's unit, direction and range.
        """
        ...

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The pack's supplier segments (供应商分级), in order: the first that takes a
        supplier is its segment; none when the pack declares none.
        """
        ...

    def default_objectives(self, category: CategoryId) -> tuple[SlaObjective, ...]:
        """The SLA objectives a contract in ``category`` gets when it names none."""
        ...

    def classify(self, objective: SlaObjective, value: float) -> Severity | None:
        """The breach severity of ``value`` against ``objective`` by the pack's tiers
        (None when the objective is met within its tolerance).
        """
        ...

    def quote_service_credit(
        self, supplier: SupplierState, breach: Breach, now: datetime
    ) -> PenaltyQuote:
        """The service credit for ``breach`` by the schedule: severity percentage of the
        monthly fee, escalated for repeats, capped per period and per contract, given the
        supplier's ledger so far (``supplier.penalties``).
        """
        ...

    def quote_stated_credit(
        self, supplier: SupplierState, stated: StatedAmount, ground: str, now: datetime
    ) -> PenaltyQuote:
        """The amount a penalty rule states (fixed, or a percentage of the monthly fee) for
        ``ground`` (what failed, in words), within what the schedule's period and contract
        caps leave: every service credit of the contract counts against them together.
        """
        ...

    def quote_compensation(
        self, supplier: SupplierState, claimed: Money, now: datetime
    ) -> PenaltyQuote:
        """Compensation for documented losses, capped by the contract's liability limit."""
        ...

    def ticket_target_hours(self, severity: Severity) -> float | None:
        """Hours a problem ticket of ``severity`` should be resolved in (None: no target)."""
        ...

    def contract_requires_need(self) -> bool:
        """True when a contract may only be signed under an awarded need."""
        ...

    def claim_window_days(self) -> int | None:
        """Days after a loss, and after the contract's end, within which compensation may be
        claimed (None: the pack sets no window, only the contract's term limits claims).
        """
        ...

    def plan_due_days(self, severity: Severity | None) -> int:
        """Days an improvement plan is due in, after a review caused by ``severity``."""
        ...

    def extension_limits(self) -> ExtensionLimits:
        """How many extensions a corrective action's due date may have, and how far each
        may move it (a pack that says nothing allows none).
        """
        ...

    def ranking_criteria(self) -> tuple[Criterion, ...]:
        """The pack's selection criteria with their weights and kinds (benefit or cost)."""
        ...

    def rank_candidates(self, candidates: Iterable[Candidate]) -> EvaluationReport:
        """Rank shortlisted ``candidates`` (raw values per criterion: a price in CNY, a lead
        time in days) by weighted sum and by TOPSIS on the pack's criteria.

        Raises ``ValueError`` naming the criterion or candidate at fault.
        """
        ...

    def plan_due_at(self, severity: Severity | None, at: datetime) -> datetime:
        """When an improvement plan required at ``at`` is due: ``plan_due_days`` later, in
        calendar days or, where the pack says so, business days of its calendar.
        """
        ...

    @property
    def calendar(self) -> Calendar:
        """The pack's time zone and holidays: where its months and business days are counted."""
        ...

    @property
    def qualification_changes_apply_to(self) -> QualificationChanges:
        """Whether suppliers already qualified are evaluated again when this version takes
        effect, or only new evaluations follow its qualification rules.
        """
        ...

    @property
    def scorecard(self) -> ScorecardSpec | None:
        """The pack's scorecard (periods, KPIs, standings); None when it declares none."""
        ...

    def evaluate(self, context: DecisionContext) -> Evaluation:
        """Evaluate every rule of ``context.stage``.

        Raises ``InvalidCommand`` when the supplier's data cannot be turned into valid facts
        (for instance a score for a criterion the policy does not know) and ``PolicyError``
        when the engine fails.
        """
        ...


class Store(EventStore, DocumentStore, PolicyArchive, NotificationOutbox, Protocol):
    """The whole storage port: the event log, the document archive, the policy archive and
    the notification outbox.

    Memory, SQLite and PostgreSQL each implement every method; nothing is probed for.
    """
