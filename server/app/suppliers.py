"""The application service: load a supplier, decide, append durably, answer.

This is the one path every state change takes (ARCHITECTURE.md, "Flow of one command"). It
knows the store and policy only through the ports in ``domain.ports``, so the same service
runs over memory, SQLite or PostgreSQL, in the server and in simulations.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Protocol, TypeVar, runtime_checkable

import attrs

from domain.commands import AdvanceTime, Command
from domain.decide import decide, fold
from domain.errors import (
    ConcurrencyConflict,
    FieldViolation,
    InvalidCommand,
    PolicyError,
    RequestIdReused,
    SupplierNotFound,
)
from domain.events import DecisionRecorded, event_type
from domain.model import Decision, LifecycleState, SupplierState, exact
from domain.needs import is_need_stream
from domain.ports import (
    AppendResult,
    CommandMeta,
    EventStore,
    NewEvent,
    Policy,
    RecordedEvent,
    StreamSnapshot,
)
from domain.serialization import (
    canonical_json,
    converter,
    event_from_payload,
    event_to_payload,
    format_time,
    state_from_dict,
    state_to_dict,
)
from domain.validation import validate
from rules.policy import CompiledPolicy
from rules.selection import Candidate, EvaluationReport
from server.app import batch
from server.app.state_cache import StateCache
from server.observability.calls import record_decision, record_events

# A command decided on a stale read is decided again on fresh state this many times before
# the conflict is reported; only when the caller did not pin a version (etag) itself.
MAX_CONFLICT_RETRIES = 3
R = TypeVar("R")


@attrs.frozen
class RequestContext:
    """Who is asking and under which idempotency key; ``expected_version`` pins an etag."""

    request_id: str
    actor: str
    expected_version: int | None = None
    time_defaulted: bool = False
    """True when the server filled in ``occurred_at``: a retry then carries another time."""


@attrs.frozen
class CommandResult:
    """The supplier after the command, the events it recorded, and whether this was a replay."""

    supplier: SupplierState
    events: tuple[RecordedEvent, ...]
    replayed: bool

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """The decisions recorded by this command, in order."""
        found = []
        for recorded in self.events:
            event = event_from_payload(recorded.event_type, recorded.payload)
            if isinstance(event, DecisionRecorded):
                found.append(event.decision)
        return tuple(found)


def fingerprint(command: object, *, ignore_time: bool = False) -> str:
    """A digest of the command's content: the same request id must mean the same request.

    With ``ignore_time``, ``occurred_at`` is left out (the server stamped it, not the caller).
    """
    fields = converter.unstructure(command)
    if ignore_time:
        fields.pop("occurred_at", None)
    body = {"type": type(command).__name__, "fields": fields}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def run_once(
    store: EventStore,
    command: object,
    context: RequestContext,
    decide_and_append: Callable[[str], R],
    replay: Callable[[str, str, AppendResult], R],
) -> R:
    """Run a command exactly once per request id, whatever stream it writes.

    A request id already recorded is answered by ``replay(digest, recorded_digest, result)``
    (which refuses a different request under the same id). Otherwise
    ``decide_and_append(digest)`` runs; a decision made on a stale read is made again on
    fresh state, unless the caller pinned the version (an etag) itself.
    """
    digest = fingerprint(command, ignore_time=context.time_defaulted)
    previous = store.find_request(context.request_id)
    if previous is not None:
        return replay(digest, *previous)
    for attempt in range(MAX_CONFLICT_RETRIES + 1):
        try:
            return decide_and_append(digest)
        except ConcurrencyConflict:
            if context.expected_version is not None or attempt == MAX_CONFLICT_RETRIES:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def recorded_events(store: EventStore, result: AppendResult) -> tuple[RecordedEvent, ...]:
    """The events an append (or the append a replay found) recorded, as stored."""
    count = result.last_version - result.first_version + 1
    return tuple(store.read_stream(result.stream_id, result.first_version - 1, count))


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


# Candidates have no deadlines and terminated suppliers none left.
TICKED_STATES = frozenset(
    {
        LifecycleState.QUALIFIED,
        LifecycleState.CONTRACTED,
        LifecycleState.UNDER_REVIEW,
        LifecycleState.REMEDIATION,
    }
)


@runtime_checkable
class TransactionalStore(Protocol):
    """A store that can make several appends durable together (SQLite does)."""

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """A block whose appends land together or not at all."""
        ...


class SupplierService:
    """Runs commands against suppliers and answers queries from the store's projections."""

    def __init__(self, store: EventStore, policy: Callable[[], Policy]) -> None:
        self._store = store
        self._policy = policy
        self._states = StateCache()

    def execute(self, command: Command, context: RequestContext) -> CommandResult:
        """Decide ``command`` and append its events; a retried request replays the first result."""
        validate(command)  # before fingerprinting: a NaN score is the caller's error, not ours
        return run_once(
            self._store,
            command,
            context,
            decide_and_append=partial(self._decide_and_append, command, context),
            replay=partial(self._replay, context.request_id),
        )

    def advance_time(self, now: datetime, actor: str) -> AdvanceSummary:
        """Advance every supplier's clock to ``now``: due deadlines and reminders fire.

        Suppliers whose last event is later than ``now`` are skipped (time only moves
        forward). Each supplier's tick has its own request id, so a tick retried after a
        crash is not recorded twice.
        """
        checked = changed = 0
        decisions: list[Decision] = []
        after = ""
        while page := self._supplier_snapshots(after, TICK_PAGE_SIZE):
            after = page[-1].stream_id
            for snapshot in page:
                state = state_from_dict(snapshot.state)
                if state.lifecycle not in TICKED_STATES or (
                    state.updated_at is not None and state.updated_at > now
                ):
                    continue
                checked += 1
                tick = AdvanceTime(state.supplier_id, now)
                request_id = f"tick:{state.supplier_id}:{format_time(now)}"
                try:
                    result = self.execute(tick, RequestContext(request_id, actor))
                except InvalidCommand:
                    if self._moved_past(state.supplier_id, now):
                        continue
                    raise
                if result.events:
                    changed += 1
                    decisions.extend(result.decisions)
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
        if not isinstance(policy, CompiledPolicy):
            raise PolicyError("the active policy cannot rank candidates")
        # Recorded scores are "higher is better"; a cost criterion needs the raw value (a
        # price, a lead time in days) from the request, never a score standing in for it.
        benefits = {c.id for c in policy.pack.criteria if c.kind.value == "benefit"}
        candidates = []
        for index, (supplier_id, values) in enumerate(inputs):
            recorded = self.get(supplier_id).scores
            missing = [
                c.id for c in policy.pack.criteria if c.id not in values and c.id not in benefits
            ]
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

    def list_suppliers(self, after_supplier_id: str, limit: int) -> list[SupplierState]:
        """Suppliers in id order after ``after_supplier_id``."""
        snapshots = self._supplier_snapshots(after_supplier_id, limit)
        return [state_from_dict(s.state) for s in snapshots]

    def _supplier_snapshots(self, after: str, limit: int) -> list[StreamSnapshot]:
        # Need streams sort after every supplier id (see domain.needs): the suppliers end
        # at the first of them.
        page = self._store.list_snapshots(after, limit)
        return list(itertools.takewhile(lambda s: not is_need_stream(s.stream_id), page))

    def history(self, supplier_id: str, after_version: int, limit: int) -> list[RecordedEvent]:
        """The supplier's recorded events after ``after_version``, oldest first."""
        self.get(supplier_id)  # NOT_FOUND for an unknown supplier, not an empty page
        return self._store.read_stream(supplier_id, after_version, limit)

    def filtered_history(
        self, supplier_id: str, after_version: int, limit: int, wanted: EventFilter
    ) -> tuple[list[RecordedEvent], int | None]:
        """Up to ``limit`` events after ``after_version`` that ``wanted`` matches, and the
        version to resume after (None when no later event matches).
        """
        self.get(supplier_id)
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

    def _decide_and_append(
        self, command: Command, context: RequestContext, digest: str
    ) -> CommandResult:
        state = self._load(command.supplier_id)
        current_version = state.version if state is not None else 0
        if context.expected_version is not None and context.expected_version != current_version:
            raise ConcurrencyConflict(
                command.supplier_id, context.expected_version, current_version
            )
        policy = self._policy()
        events = decide(command, state, policy)
        if not events:  # time advanced and nothing was due: nothing to record
            return CommandResult(_require_state(state), (), replayed=False)
        new_state = _require_state(fold(events, state))
        meta = CommandMeta(context.request_id, context.actor, policy.version, digest)
        new_events = [NewEvent(event_type(e), event_to_payload(e), e.occurred_at) for e in events]
        result = self._store.append(
            command.supplier_id, current_version, new_events, meta, state_to_dict(new_state)
        )
        if result.replayed:  # a concurrent retry of the same request won the race
            return self._replay(context.request_id, digest, digest, result)
        self._states.put(command.supplier_id, result.last_version, new_state)
        outcome = CommandResult(new_state, result.events, replayed=False)
        record_events(len(outcome.events))
        for decision in outcome.decisions:
            if decision.fired:
                record_decision(decision.rule_id, decision.action.value)
        return outcome

    # --- group commit (server.app.batch) --------------------------------------------------

    def execute_batch(
        self, jobs: Sequence[tuple[Command, RequestContext]]
    ) -> list[CommandResult | Exception]:
        """Run every job as :meth:`execute` would, in order, appending what they record
        with one commit (see :mod:`server.app.batch`): each job's result, or its exception.
        """
        deps = self.batch_deps()
        planned = batch.plan(deps, jobs)
        batch.commit(deps, planned)
        return batch.finish(planned, self.execute)

    def batch_deps(self) -> batch.Deps:
        """What :mod:`server.app.batch` needs to decide and store jobs as this service does."""
        return batch.Deps(
            self._store, self._policy, self._load, _batch_fingerprint, self._batch_result,
            lambda state: CommandResult(_require_state(state), (), replayed=False),
        )  # fmt: skip

    def _batch_result(
        self, state: SupplierState | None, events: tuple[RecordedEvent, ...], result: AppendResult
    ) -> CommandResult:
        new_state = _require_state(state)
        self._states.put(new_state.supplier_id, result.last_version, new_state)
        outcome = CommandResult(new_state, events, replayed=False)
        record_events(len(outcome.events))
        for decision in outcome.decisions:
            if decision.fired:
                record_decision(decision.rule_id, decision.action.value)
        return outcome

    def _replay(
        self, request_id: str, digest: str, recorded_digest: str, result: AppendResult
    ) -> CommandResult:
        if recorded_digest != digest:
            raise RequestIdReused(request_id)
        stream = self._store.read_stream(result.stream_id, 0, result.last_version)
        state = _require_state(fold(event_from_payload(e.event_type, e.payload) for e in stream))
        return CommandResult(state, recorded_events(self._store, result), replayed=True)

    def _load(self, supplier_id: str) -> SupplierState | None:
        version = self._store.snapshot_version(supplier_id)
        kept = None if version is None else self._states.get(supplier_id, version)
        if kept is not None:
            return kept
        snapshot = self._store.load_snapshot(supplier_id)
        if snapshot is None:
            return None
        state = state_from_dict(snapshot.state)
        self._states.put(supplier_id, snapshot.version, state)
        return state


def _batch_fingerprint(command: Command, context: RequestContext) -> str:
    return fingerprint(command, ignore_time=context.time_defaulted)


def _require_state(state: SupplierState | None) -> SupplierState:
    # Every command yields at least one event and every stream starts with a registration,
    # so a fold that ends with no supplier is a defect, not a caller's mistake.
    if state is None:
        raise RuntimeError("a command produced no supplier state")
    return state
