"""The supplier use cases: run commands through the write pipeline, answer queries.

Every state change goes through :class:`~sqm.server.app.pipeline.Pipeline` (ARCHITECTURE.md,
"Flow of one command"); this module says what a supplier stream is
(:data:`SUPPLIERS`) and answers queries from the store's snapshots. It knows the store and
policy only through the ports in ``sqm.domain.ports``, so the same service runs over memory,
SQLite or PostgreSQL, in the server and in the policy test runner.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from sqm.domain.commands import AdvanceTime, Command
from sqm.domain.decide import decide, decide_and_fold, fold
from sqm.domain.errors import (
    DomainError,
    FieldViolation,
    InvalidCommand,
    SupplierNotFound,
)
from sqm.domain.events import DecisionRecorded, Event
from sqm.domain.lifecycle import TICKED
from sqm.domain.model import Decision, SupplierState, exact
from sqm.domain.needs import is_need_stream
from sqm.domain.notifications import notifications_for
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.domain.policy_changes import is_policy_stream
from sqm.domain.ports import EventStore, Policy, RecordedEvent, StreamSnapshot
from sqm.domain.ranking import Candidate, EvaluationReport
from sqm.domain.serialization import (
    event_from_payload,
    event_to_payload,
    format_time,
    state_from_dict,
    state_to_dict,
)
from sqm.domain.supplier_side import NOTICE_TYPES, NoticeNotFound
from sqm.domain.validation import validate
from sqm.server.app.awards import under_award
from sqm.server.app.pipeline import (
    DEFAULT_SNAPSHOT_EVERY,
    Job,
    Pipeline,
    Recorded,
    RequestContext,
    StreamKind,
)
from sqm.server.app.scorecards import require_standing, suppliers_in_standing
from sqm.server.app.state_cache import StateCache


def _is_supplier_stream(stream_id: str) -> bool:
    return not (is_need_stream(stream_id) or is_policy_stream(stream_id))


SUPPLIERS: StreamKind[Command, SupplierState, Event] = StreamKind(
    name="supplier",
    stream_of=lambda command: command.supplier_id,
    owns=_is_supplier_stream,
    validate=validate,
    decide=decide,
    fold=fold,
    to_snapshot=state_to_dict,
    from_snapshot=state_from_dict,
    to_payload=event_to_payload,
    event_from_record=lambda record: event_from_payload(record.event_type, record.payload),
    decide_and_fold=decide_and_fold,
    notify=notifications_for,
)


@attrs.frozen
class CommandResult:
    """The supplier after the command, the events it recorded, and whether this was a replay."""

    supplier: SupplierState
    events: tuple[RecordedEvent, ...]
    replayed: bool
    decided: tuple[Event, ...] = attrs.field(default=(), eq=False, repr=False)
    """The same events as the domain decided them (no decoding needed to read them)."""

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """The decisions recorded by this command, in order."""
        return tuple(e.decision for e in self.decided if isinstance(e, DecisionRecorded))


def command_result(recorded: Recorded[SupplierState, Event]) -> CommandResult:
    """A pipeline outcome as the supplier use cases answer it."""
    return CommandResult(
        _require_state(recorded.state), recorded.records, recorded.replayed, recorded.events
    )


@attrs.frozen
class RankingOutcome:
    """A shortlist's evaluation report, the policy version, and the values that were ranked."""

    report: EvaluationReport
    policy_version: str
    candidates: tuple[Candidate, ...]


@attrs.frozen
class AdvanceSummary:
    """What advancing time did: suppliers looked at, suppliers changed, decisions made."""

    suppliers_checked: int
    suppliers_changed: int
    decisions: tuple[Decision, ...]


TICK_PAGE_SIZE = 500
HISTORY_SCAN_BATCH = 500


@attrs.frozen
class EventFilter:
    """Which events of a history to list: by type, and by domain time ``[start, end)``."""

    types: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None

    def matches(self, event: RecordedEvent) -> bool:
        """True when ``event`` passes every part of the filter."""
        return (
            (not self.types or event.event_type in self.types)
            and (self.start is None or event.occurred_at >= self.start)
            and (self.end is None or event.occurred_at < self.end)
        )


class SupplierService:
    """Runs supplier commands through the pipeline and answers queries from snapshots."""

    def __init__(
        self,
        store: EventStore,
        policy: Callable[[], Policy],
        *,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        reads: EventStore | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        states: StateCache[SupplierState] = StateCache()
        self._pipeline = Pipeline(
            SUPPLIERS, store, policy, states=states, snapshot_every=snapshot_every
        )
        # Reads on a connection of their own (``reads``) do not queue behind a commit; they
        # share the kept states, each checked against its stream's head as ever.
        self._reads = (
            self._pipeline
            if reads is None
            else Pipeline(SUPPLIERS, reads, policy, states=states, snapshot_every=snapshot_every)
        )
        self._snapshots_lag = snapshot_every > 1

    @property
    def reads_apart(self) -> bool:
        """Whether :meth:`read` uses a connection of its own, never waiting on a write."""
        return self._reads is not self._pipeline

    def policy(self) -> Policy:
        """The active policy (its catalogue and segments name what a supplier's view shows)."""
        return self._policy()

    def catalogue(self) -> PackCatalogue:
        """The active policy's catalogue: the ids requests are checked against."""
        return self._policy().catalogue

    def execute(self, command: Command, context: RequestContext) -> CommandResult:
        """Decide ``command`` and append its events; a retried request replays the first result."""
        job = Job(under_award(command, self._store), context)
        return command_result(self._pipeline.run_one(job))

    def execute_batch(
        self, jobs: Sequence[tuple[Command, RequestContext]]
    ) -> list[CommandResult | Exception]:
        """Run every job as :meth:`execute` would, in order, stored with one commit: each
        job's result, or the error that refused it.
        """
        refused: dict[int, Exception] = {}
        kept: list[tuple[int, Job[Command]]] = []
        for index, (command, context) in enumerate(jobs):
            try:
                kept.append((index, Job(under_award(command, self._store), context)))
            except DomainError as error:
                refused[index] = error
        outcomes = self._pipeline.run([job for _, job in kept])
        results: dict[int, CommandResult | Exception] = dict(refused)
        for (index, _), outcome in zip(kept, outcomes, strict=True):
            results[index] = outcome if isinstance(outcome, Exception) else command_result(outcome)
        return [results[index] for index in range(len(jobs))]

    def run(
        self,
        jobs: Sequence[Job[Command]],
        *,
        all_or_none: bool = False,
        abandoned: Callable[[], bool] | None = None,
        stop_when_abandoned: bool = False,
    ) -> list[CommandResult | Exception]:
        """:meth:`Pipeline.run` for supplier jobs, answered as :class:`CommandResult`."""
        outcomes = self._pipeline.run(
            jobs, all_or_none=all_or_none, abandoned=abandoned,
            stop_when_abandoned=stop_when_abandoned,
        )  # fmt: skip
        return [o if isinstance(o, Exception) else command_result(o) for o in outcomes]

    def refusals(self, jobs: Sequence[Job[Command]]) -> dict[int, Exception]:
        """:meth:`Pipeline.refusals`: what the domain would refuse of ``jobs``, storing nothing."""
        return self._pipeline.refusals(jobs)

    def advance_time(self, now: datetime, actor: str) -> AdvanceSummary:
        """Advance every supplier's clock to ``now``: due deadlines and reminders fire.

        Suppliers whose last event is later than ``now`` are skipped (time only moves
        forward). Each page of suppliers is ticked as one batch (one commit); each tick has
        its own request id, so a tick retried after a crash is not recorded twice.
        """
        checked = changed = 0
        decisions: list[Decision] = []
        after = ""
        while page := self._supplier_snapshots(after, TICK_PAGE_SIZE):
            after = page[-1].stream_id
            due = [state for state in self._current(page) if _due(state, now)]
            checked += len(due)
            jobs = [_tick(state, now, actor) for state in due]
            for state, outcome in zip(due, self.run(jobs), strict=True):
                if isinstance(outcome, InvalidCommand) and self._moved_past(state.supplier_id, now):
                    continue
                if isinstance(outcome, Exception):
                    raise outcome
                if outcome.events:
                    changed += 1
                    decisions.extend(outcome.decisions)
        return AdvanceSummary(checked, changed, tuple(decisions))

    def _moved_past(self, supplier_id: str, now: datetime) -> bool:
        # Another instance on the same database may record a later event for the supplier
        # between listing it and ticking it; time only moves forward, so nothing is left due.
        state = self._load(supplier_id)
        return state is not None and state.updated_at is not None and state.updated_at > now

    def rank_candidates(
        self,
        inputs: Sequence[tuple[str, Mapping[str, float]]],
        field: Callable[[int], str] = lambda index: f"candidates[{index}]",
    ) -> RankingOutcome:
        """Rank shortlisted suppliers under the active policy; records nothing.

        Each candidate's values are its recorded evaluation scores, overridden by the raw
        values given (a price, a lead time). ``field`` names the request field of the
        candidate at an index, for errors.
        """
        policy = self._policy()
        criteria = policy.ranking_criteria()
        # Recorded scores are "higher is better"; a cost criterion needs the raw value (a
        # price, a lead time in days) from the request, never a score standing in for it.
        benefits = {c.id for c in criteria if c.kind == "benefit"}
        candidates = []
        for index, (supplier_id, values) in enumerate(inputs):
            recorded = self.get(supplier_id).scores
            missing = [c.id for c in criteria if c.id not in values and c.id not in benefits]
            if missing:
                raise InvalidCommand(
                    [
                        FieldViolation(
                            f"{field(index)}.values[{name!r}]",
                            "a cost criterion needs its raw value (a price, a lead time)",
                        )
                        for name in missing
                    ]
                )
            merged = {**{k: v for k, v in recorded.items() if k in benefits}, **values}
            candidates.append(Candidate(supplier_id, {k: exact(v) for k, v in merged.items()}))
        try:
            report = policy.rank_candidates(candidates)
        except ValueError as error:  # a missing value, a duplicate: the caller's to fix
            raise InvalidCommand([FieldViolation("candidates", str(error))]) from None
        return RankingOutcome(report, policy.version, tuple(candidates))

    def find(self, supplier_id: str) -> SupplierState | None:
        """The supplier's current state, or None when there is no such supplier."""
        return self._load(supplier_id)

    def get(self, supplier_id: str) -> SupplierState:
        """The supplier's current state, from its snapshot (no event scan)."""
        state = self._load(supplier_id)
        if state is None:
            raise SupplierNotFound(supplier_id)
        return state

    def read(self, supplier_id: str) -> SupplierState:
        """The supplier as last committed, as :meth:`get`, on the read connection when the
        service has one: for answering a read, not for deciding a command.
        """
        state = self._reads.load(supplier_id)
        if state is None:
            raise SupplierNotFound(supplier_id)
        return state

    def list_suppliers(self, after_supplier_id: str, limit: int) -> list[SupplierState]:
        """Suppliers in id order after ``after_supplier_id``."""
        return self._current(self._supplier_snapshots(after_supplier_id, limit))

    def list_suppliers_in_standing(
        self, standing: str, after_supplier_id: str, limit: int
    ) -> list[SupplierState]:
        """Suppliers in id order after ``after_supplier_id`` whose latest scorecard is in
        ``standing``; ``InvalidCommand`` when the active policy declares no such standing.
        """
        require_standing(self._policy(), standing)
        return suppliers_in_standing(self.list_suppliers, standing, after_supplier_id, limit)

    def _current(self, page: Sequence[StreamSnapshot]) -> list[SupplierState]:
        """The suppliers a page of listed snapshots is of, each at the head of its stream
        (the page's heads looked up at once when snapshots trail them).
        """
        if not self._snapshots_lag:
            return [state_from_dict(snapshot.state) for snapshot in page]
        heads = self._store.stream_versions([snapshot.stream_id for snapshot in page])
        return [
            _require_state(self._pipeline.load_listed(snapshot, heads.get(snapshot.stream_id)))
            for snapshot in page
        ]

    def _supplier_snapshots(self, after: str, limit: int) -> list[StreamSnapshot]:
        # Need and policy streams ("~...") sort after every supplier id (see
        # sqm.domain.needs): the suppliers end at the first of them.
        page = self._store.list_snapshots(after, limit)
        return list(itertools.takewhile(lambda s: _is_supplier_stream(s.stream_id), page))

    def filtered_history(
        self, supplier_id: str, after_version: int, limit: int, wanted: EventFilter
    ) -> tuple[list[RecordedEvent], int | None]:
        """Up to ``limit`` events after ``after_version`` that ``wanted`` matches, and the
        version to resume after (None when no later event matches).
        """
        self.get(supplier_id)  # NOT_FOUND for an unknown supplier, not an empty page
        matches: list[RecordedEvent] = []
        cursor = after_version
        while batch := self._store.read_stream(supplier_id, cursor, HISTORY_SCAN_BATCH):
            for event in batch:
                cursor = event.version
                if wanted.matches(event):
                    matches.append(event)
                if len(matches) > limit:  # one more than asked: there is a next page
                    return matches[:limit], matches[limit - 1].version
        return matches, None

    def _load(self, supplier_id: str) -> SupplierState | None:
        return self._pipeline.load(supplier_id)

    def notice(self, supplier_id: str, sequence: int) -> RecordedEvent:
        """The notice to ``supplier_id`` recorded at global ``sequence``, else NOT_FOUND
        (an event of another supplier, or not a notice, is not found either).
        """
        self.get(supplier_id)
        found = self._store.read_all(sequence - 1, 1) if sequence > 0 else []
        if (
            not found
            or found[0].global_seq != sequence
            or found[0].stream_id != supplier_id
            or found[0].event_type not in NOTICE_TYPES
        ):
            raise NoticeNotFound(supplier_id, sequence)
        return found[0]


def _due(state: SupplierState, now: datetime) -> bool:
    return state.lifecycle in TICKED and (state.updated_at is None or state.updated_at <= now)


def _tick(state: SupplierState, now: datetime, actor: str) -> Job[Command]:
    context = RequestContext(f"tick:{state.supplier_id}:{format_time(now)}", actor)
    return Job(AdvanceTime(state.supplier_id, now), context)


def _require_state(state: SupplierState | None) -> SupplierState:
    # Every command yields at least one event and every stream starts with a registration,
    # so a fold that ends with no supplier is a defect, not a caller's mistake.
    if state is None:
        raise RuntimeError("a command produced no supplier state")
    return state
