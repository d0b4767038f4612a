"""The one write path: every state change is a job run through :class:`Pipeline`.

A batch of jobs (a single call is a batch of one) goes through the same steps, in order:

1. **validate** each command once, and **fingerprint** it (a request id means one request);
2. **look up** every request id in one query: a recorded one is replayed from its record (or
   refused when it asked for something else); one repeated inside the batch waits for the
   first copy to be stored, then is replayed;
3. **load** each stream's state (the state cache, else its snapshot plus any later events),
   **check the etag**, **decide** under the policy and **fold** the events into the state
   the next job of the same stream sees;
4. **append once**: everything decided goes to :meth:`~sqm.domain.ports.EventStore.append_batch`
   in one transaction (all or none when asked), only the last state of each stream
   serialised as its snapshot, and only when the batch took the stream past one of its
   boundaries, every ``snapshot_every`` versions from an offset of the stream's own (a new
   stream always gets one: snapshots list the streams);
5. **answer** from the events in hand and the records the store sealed, read back from
   nothing.

A job the store refused at the commit (another process wrote to its stream, or recorded its
request id, in between) is decided again on fresh state, alone, up to
:data:`MAX_CONFLICT_RETRIES` times unless its caller pinned the version with an etag.

What differs between kinds of stream (suppliers, needs) is data: a :class:`StreamKind` says
how to name, validate, load, decide, fold and snapshot one.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import attrs

from sqm.domain.errors import ConcurrencyConflict, RequestIdReused
from sqm.domain.events import DecisionRecorded, event_type
from sqm.domain.notifications import Notification
from sqm.domain.ports import (
    AppendResult,
    CommandMeta,
    EventStore,
    NewEvent,
    PendingAppend,
    Policy,
    RecordedEvent,
    StreamSnapshot,
)
from sqm.domain.serialization import canonical_json, converter
from sqm.server.app.state_cache import StateCache
from sqm.server.observability.calls import observe_events, record_decision
from sqm.server.observability.tracing import span, traced_policy

DEFAULT_SNAPSHOT_EVERY = 32
"""A stream's snapshot is rewritten when its version reaches a multiple of this: serialising
a supplier with a year of records on every command made a command's cost grow with the
supplier's past (figure 7 of docs/performance.md), and reading a supplier folds at most this
many events past its snapshot (about 20 us each)."""

MAX_CONFLICT_RETRIES = 3
"""A job refused at the commit for a stale read is decided again this many times at most."""


class Versioned(Protocol):
    """A stream's state: it knows the version of the stream it was folded from."""

    @property
    def version(self) -> int:
        """The stream version the state reflects."""
        ...


class Happened(Protocol):
    """An event: it knows when it happened in the domain."""

    @property
    def occurred_at(self) -> datetime:
        """The domain time of the event."""
        ...


C = TypeVar("C")
S = TypeVar("S", bound=Versioned)
E = TypeVar("E", bound=Happened)


@attrs.frozen
class StreamKind(Generic[C, S, E]):
    """How the pipeline runs commands of one kind of stream: data, not a layer above.

    ``decide`` returns the events a command produces against the stream's state (None for
    a stream not started) and may raise a domain error; ``fold`` applies events to a state.
    ``owns`` tells whether a stream id belongs to this kind, so a request id recorded on
    another kind's stream is refused rather than replayed.
    """

    name: str
    stream_of: Callable[[C], str]
    owns: Callable[[str], bool]
    validate: Callable[[C], None]
    decide: Callable[[C, S | None, Policy], Sequence[E]]
    fold: Callable[[Iterable[E], S | None], S | None]
    to_snapshot: Callable[[S], dict[str, Any]]
    from_snapshot: Callable[[Mapping[str, Any]], S]
    to_payload: Callable[[E], dict[str, Any]]
    event_from_record: Callable[[RecordedEvent], E]
    decide_and_fold: Callable[[C, S | None, Policy], tuple[Sequence[E], S | None]] | None = None
    """``decide`` and the state after its events at once, when the kind can fold each
    event once (the supplier's ``decide`` folds as it goes); else ``decide``, then ``fold``.
    """
    notify: Callable[[str, S | None, Sequence[E]], Sequence[Notification]] | None = None
    """The notifications an append's events give rise to, given the stream and the state
    they were decided on; the store keeps them in its outbox in the append's transaction.
    """


@attrs.frozen
class RequestContext:
    """Who is asking and under which idempotency key; ``expected_version`` pins an etag."""

    request_id: str
    actor: str
    expected_version: int | None = None
    time_defaulted: bool = False
    """True when the server filled in ``occurred_at``: a retry then carries another time."""


@attrs.frozen
class Job(Generic[C]):
    """One command to run, with who asked for it."""

    command: C
    context: RequestContext


@attrs.frozen
class Recorded(Generic[S, E]):
    """What a job did: the stream's state after it, its events (as decided and as sealed),
    and whether it was a replay of a request already recorded (nothing written this time).

    ``state`` is None only for a job that recorded nothing about a stream not started.
    """

    state: S | None
    events: tuple[E, ...]
    records: tuple[RecordedEvent, ...]
    replayed: bool = False


Outcome = Recorded[S, E] | Exception
"""A job's outcome: what it recorded, or the error that refused it (a domain error, or a
fault such as a policy that failed to evaluate, which fails that job alone).
"""


def fingerprint(command: object, *, ignore_time: bool = False) -> str:
    """A digest of the command's content: the same request id must mean the same request.

    With ``ignore_time``, ``occurred_at`` is left out (the server stamped it, not the caller).
    """
    fields = converter.unstructure(command)
    if ignore_time:
        fields.pop("occurred_at", None)
    body = {"type": type(command).__name__, "fields": fields}
    return hashlib.sha256(canonical_json(body)).hexdigest()


class Abandoned(Exception):
    """The caller went away while the batch was being decided."""


class BatchRefused(Exception):
    """An all-or-none batch that the domain refused, in part: nothing was stored."""

    def __init__(self, errors: Mapping[int, Exception]) -> None:
        self.errors = dict(sorted(errors.items()))
        super().__init__(f"{len(self.errors)} of the batch's jobs were refused")


@attrs.define
class _Decided(Generic[C, S, E]):
    """A job decided in the batch, waiting for the commit."""

    index: int
    state: S | None
    events: list[E]
    append: PendingAppend | None
    """None when the job recorded nothing (time advanced, nothing was due)."""


class _Later(Exception):
    """The job's request id is repeated in the batch: it is replayed after the commit."""


@attrs.frozen
class _Scope(Generic[S]):
    """What deciding a batch's jobs shares: the policy, the states the jobs before left,
    the request ids seen so far, and those already recorded.
    """

    policy: Policy
    recorded: Mapping[str, tuple[str, AppendResult]]
    versions: Mapping[str, int] | None = None
    """The batch's streams' snapshot versions (N = 1) or heads (N > 1), looked up at once
    (None: each on loading)."""
    states: dict[str, S | None] = attrs.field(factory=dict)
    seen: set[str] = attrs.field(factory=set)


@attrs.define
class _Batch(Generic[C, S, E]):
    """A batch decided and not yet stored."""

    jobs: Sequence[Job[C]]
    decided: list[_Decided[C, S, E]] = attrs.field(factory=list)
    outcomes: dict[int, Outcome[S, E]] = attrs.field(factory=dict)
    later: list[int] = attrs.field(factory=list)


class Pipeline(Generic[C, S, E]):
    """Runs jobs of one stream kind against a store, under the active policy."""

    def __init__(
        self,
        kind: StreamKind[C, S, E],
        store: EventStore,
        policy: Callable[[], Policy],
        states: StateCache[S] | None = None,
        snapshot_every: int = 1,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError(f"snapshot_every must be at least 1, not {snapshot_every}")
        self._kind = kind
        self._store = store
        self._policy = policy
        self._states: StateCache[S] = states if states is not None else StateCache()
        self._snapshot_every = snapshot_every

    # --- reading ------------------------------------------------------------------------

    def load(self, stream_id: str, versions: Mapping[str, int] | None = None) -> S | None:
        """The stream's current state: kept, or its snapshot folded forward to the log's head.

        With ``snapshot_every`` = 1 a snapshot is the head (it lags only when the append that
        carried it was refused after an earlier one of its batch was stored); with N it lags
        the head by fewer than N events, so loading never folds more than N - 1 events (plus
        those of the one append that crossed the boundary without its snapshot being stored).
        ``versions``, when given, were looked up just before for the whole batch: the
        snapshots' versions with N = 1, the streams' heads with N > 1 (see
        :meth:`_batch_versions`).
        """
        if self._snapshot_every > 1:
            return self._load_lagging(
                stream_id, None if versions is None else versions.get(stream_id, 0)
            )
        if versions is None:
            version = self._store.snapshot_version(stream_id)
        else:
            version = versions.get(stream_id)
        kept = None if version is None else self._states.get(stream_id, version)
        if kept is not None:
            return kept
        return self._from_snapshot(stream_id)

    def _load_lagging(self, stream_id: str, head: int | None) -> S | None:
        # The snapshot's version says nothing about the head here: a kept state is brought
        # to the head by the events after it (one indexed read), skipped when the batch's
        # look-up of the heads shows the kept state is the head already.
        kept = self._states.latest(stream_id)
        if kept is None:
            return self._from_snapshot(stream_id)
        if head is not None and head == kept.version:
            return kept
        later = self._store.read_stream(stream_id, kept.version)
        if not later:
            return kept
        return self._folded_forward(stream_id, kept, later)

    def load_listed(self, snapshot: StreamSnapshot, head: int | None = None) -> S | None:
        """The stream at its head, from a snapshot its caller has read already (listing and
        ticking page through snapshots): a kept state as recent is used instead, else the
        snapshot is folded forward, without reading it a second time. ``head``, when the
        caller looked it up for its whole page, spares reading a stream already at it.
        """
        stream_id = snapshot.stream_id
        kept = self._states.latest(stream_id)
        if kept is not None and kept.version >= snapshot.version:
            return self._load_lagging(stream_id, head)
        state = self._kind.from_snapshot(snapshot.state)
        at_head = head is not None and head == snapshot.version
        later = [] if at_head else self._store.read_stream(stream_id, snapshot.version)
        return self._folded_forward(stream_id, state, later)

    def _from_snapshot(self, stream_id: str) -> S | None:
        snapshot = self._store.load_snapshot(stream_id)
        if snapshot is None:
            return None
        state = self._kind.from_snapshot(snapshot.state)
        return self._folded_forward(
            stream_id, state, self._store.read_stream(stream_id, snapshot.version)
        )

    def _folded_forward(self, stream_id: str, state: S, later: Sequence[RecordedEvent]) -> S | None:
        folded: S | None = state
        if later:
            folded = self._kind.fold((self._kind.event_from_record(r) for r in later), state)
        if folded is not None:
            self._states.put(stream_id, folded.version, folded)
        return folded

    # --- writing ------------------------------------------------------------------------

    def run(
        self,
        jobs: Sequence[Job[C]],
        *,
        all_or_none: bool = False,
        abandoned: Callable[[], bool] | None = None,
        stop_when_abandoned: bool = False,
    ) -> list[Outcome[S, E]]:
        """Run ``jobs`` in order; every job's outcome, in the same order.

        A job refused by the domain gets its error and changes nothing, as if alone. With
        ``all_or_none``, nothing is stored when any job is refused: :class:`BatchRefused`
        names every refusal of the domain, and a refusal at the commit (a stale version,
        a reused request id) is raised as the store raised it.

        ``abandoned`` is asked before each job and just before the commit: once the caller
        is gone, :class:`Abandoned` is raised and nothing is stored, or, with
        ``stop_when_abandoned``, the jobs left are dropped and those decided are stored.
        """
        with span("sqm.decide", kind=self._kind.name, jobs=len(jobs)):
            batch = self._plan(jobs, abandoned, stop_when_abandoned=stop_when_abandoned)
        if all_or_none:
            refused = {i: o for i, o in batch.outcomes.items() if isinstance(o, Exception)}
            if refused:
                raise BatchRefused(refused)
        if abandoned is not None and abandoned() and not stop_when_abandoned:
            raise Abandoned
        self._commit(batch, all_or_none=all_or_none)
        for index in batch.later:
            batch.outcomes[index] = self._run_alone(batch.jobs[index])
        return [batch.outcomes[i] for i in range(len(batch.jobs))]

    def refusals(self, jobs: Sequence[Job[C]]) -> dict[int, Exception]:
        """The jobs the domain would refuse if ``jobs`` ran now, by index; stores nothing."""
        batch = self._plan(jobs, None)
        return {i: o for i, o in batch.outcomes.items() if isinstance(o, Exception)}

    def run_one(self, job: Job[C]) -> Recorded[S, E]:
        """Run one job; a refusal is raised."""
        (outcome,) = self.run([job])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _run_alone(self, job: Job[C]) -> Outcome[S, E]:
        """A job the batch could not settle, decided again on fresh state as a batch of one."""
        for attempt in range(MAX_CONFLICT_RETRIES + 1):
            batch = self._plan([job], None)
            try:
                self._commit(batch, all_or_none=True)
            except ConcurrencyConflict as conflict:
                if job.context.expected_version is not None or attempt == MAX_CONFLICT_RETRIES:
                    return conflict
                continue
            except RequestIdReused as reused:
                return reused
            if batch.later:  # recorded meanwhile by another process: replay it
                return self._plan([job], None).outcomes[0]
            return batch.outcomes[0]
        raise AssertionError("unreachable")  # pragma: no cover

    def _plan(
        self,
        jobs: Sequence[Job[C]],
        abandoned: Callable[[], bool] | None,
        *,
        stop_when_abandoned: bool = False,
    ) -> _Batch[C, S, E]:
        batch: _Batch[C, S, E] = _Batch(jobs)
        recorded = self._store.find_requests([job.context.request_id for job in jobs])
        scope: _Scope[S] = _Scope(
            traced_policy(self._policy()), recorded, self._batch_versions(jobs)
        )
        for index, job in enumerate(jobs):
            if abandoned is not None and abandoned():
                if not stop_when_abandoned:
                    raise Abandoned
                batch.jobs = jobs[:index]
                break
            try:
                decided = self._decide(index, job, scope)
            except _Later:
                batch.later.append(index)
                continue
            except Exception as error:  # the job's own outcome, as alone
                batch.outcomes[index] = error
                continue
            if isinstance(decided, Recorded):
                batch.outcomes[index] = decided
            elif decided.append is None:
                batch.outcomes[index] = Recorded(decided.state, (), ())
            else:
                batch.decided.append(decided)
        return batch

    def _batch_versions(self, jobs: Sequence[Job[C]]) -> Mapping[str, int] | None:
        # One query for the whole batch instead of one a job: on PostgreSQL each is a round
        # trip and a connection taken from the pool. With N = 1 a snapshot at the head says
        # whether a kept state is current; with N > 1 the streams' heads do.
        if len(jobs) < 2:
            return None
        streams = [self._kind.stream_of(job.command) for job in jobs]
        if self._snapshot_every > 1:
            return self._store.stream_versions(streams)
        return self._store.snapshot_versions(streams)

    def _decide(
        self,
        index: int,
        job: Job[C],
        scope: _Scope[S],
    ) -> _Decided[C, S, E] | Recorded[S, E]:
        command, context = job.command, job.context
        self._kind.validate(command)  # before fingerprinting: a NaN is the caller's error
        digest = fingerprint(command, ignore_time=context.time_defaulted)
        if context.request_id in scope.seen:
            raise _Later
        if context.request_id in scope.recorded:
            return self._replay(context.request_id, digest, *scope.recorded[context.request_id])
        scope.seen.add(context.request_id)
        stream_id = self._kind.stream_of(command)
        states = scope.states
        state = states[stream_id] if stream_id in states else self.load(stream_id, scope.versions)
        version = state.version if state is not None else 0
        if context.expected_version is not None and context.expected_version != version:
            raise ConcurrencyConflict(stream_id, context.expected_version, version)
        events, after = self._decided(command, state, scope.policy)
        if not events:
            states[stream_id] = state
            return _Decided(index, state, [], None)
        states[stream_id] = after
        meta = CommandMeta(context.request_id, context.actor, scope.policy.version, digest)
        new_events = [
            NewEvent(event_type(e), self._kind.to_payload(e), e.occurred_at) for e in events
        ]
        notify = self._kind.notify
        notifications = () if notify is None else tuple(notify(stream_id, state, events))
        append = PendingAppend(stream_id, version, new_events, meta, None, notifications)
        return _Decided(index, after, events, append)

    def _decided(self, command: C, state: S | None, policy: Policy) -> tuple[list[E], S | None]:
        kind = self._kind
        if kind.decide_and_fold is not None:
            events, after = kind.decide_and_fold(command, state, policy)
            return list(events), after
        events = list(kind.decide(command, state, policy))
        return events, (kind.fold(events, state) if events else state)

    def _new_event(self, event: E) -> NewEvent:
        return NewEvent(event_type(event), self._kind.to_payload(event), event.occurred_at)

    def _commit(self, batch: _Batch[C, S, E], *, all_or_none: bool) -> None:
        """Append what ``batch`` decided in one transaction; record each job's outcome.

        A job the store refused is left for :meth:`_run_alone` (with ``all_or_none`` the
        refusal is raised and nothing was stored).
        """
        if not batch.decided:
            return
        last_of_stream = {d.append.stream_id: d for d in batch.decided if d.append is not None}
        before_batch: dict[str, int] = {}
        for d in batch.decided:
            if d.append is not None:
                before_batch.setdefault(d.append.stream_id, d.append.expected_version)
        appends = [self._with_snapshot(d, last_of_stream, before_batch) for d in batch.decided]
        with span("sqm.append", appends=len(appends), all_or_none=all_or_none):
            results = self._store.append_batch(appends, all_or_none=all_or_none)
        for decided, result in zip(batch.decided, results, strict=True):
            if isinstance(result, AppendResult) and not result.replayed:
                batch.outcomes[decided.index] = self._stored(decided, result)
            else:
                batch.later.append(decided.index)
        batch.later.sort()

    def _with_snapshot(
        self,
        decided: _Decided[C, S, E],
        last_of_stream: Mapping[str, _Decided[C, S, E]],
        before_batch: Mapping[str, int],
    ) -> PendingAppend:
        append = decided.append
        assert append is not None  # noqa: S101 - only jobs that record are committed
        if last_of_stream[append.stream_id] is not decided or decided.state is None:
            return append  # a later job of the batch writes this stream's snapshot
        before = before_batch[append.stream_id]  # a boundary any of the batch's jobs crossed
        if not self._snapshot_due(append.stream_id, before, decided.state.version):
            return append  # the stream is folded forward from its last snapshot on load
        return attrs.evolve(append, snapshot=self._kind.to_snapshot(decided.state))

    def _snapshot_due(self, stream_id: str, before: int, after: int) -> bool:
        """True when appends from version ``before`` to ``after`` write the snapshot: a new
        stream always (snapshots list the streams), else on crossing one of the stream's
        boundaries, every N versions from an offset of its own. The offset spreads the
        snapshots of streams that move in step (suppliers onboarded alike, each sent one
        row a day) over N commands instead of writing all of them in the same batches.
        """
        every = self._snapshot_every
        if before == 0 or every == 1:
            return True
        offset = zlib.crc32(stream_id.encode()) % every  # the same in every process
        return (after + offset) // every > (before + offset) // every

    def _stored(self, decided: _Decided[C, S, E], result: AppendResult) -> Recorded[S, E]:
        if decided.state is not None:
            self._states.put(result.stream_id, result.last_version, decided.state)
        observe_events(result.events)
        for event in decided.events:
            if isinstance(event, DecisionRecorded) and event.took_effect:
                record_decision(event.decision.rule_id, event.decision.action.value)
        return Recorded(decided.state, tuple(decided.events), result.events)

    def _replay(
        self, request_id: str, digest: str, recorded_digest: str, result: AppendResult
    ) -> Recorded[S, E]:
        """The answer a recorded request got, rebuilt from the record (nothing is written)."""
        if recorded_digest != digest or not self._kind.owns(result.stream_id):
            raise RequestIdReused(request_id)
        stream = self._store.read_stream(result.stream_id, 0, result.last_version)
        state = self._kind.fold((self._kind.event_from_record(r) for r in stream), None)
        records = tuple(r for r in stream if r.version >= result.first_version)
        events = tuple(self._kind.event_from_record(r) for r in records)
        return Recorded(state, events, records, replayed=True)
