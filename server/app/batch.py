"""Several commands decided in order and appended with one commit: group commit.

Each command is decided as :meth:`SupplierService.execute` decides it (validated,
fingerprinted, against its supplier's state, an etag checked), against the state the
commands before it in the batch left (folded in memory), and the events of every command
that records something are appended in ONE transaction: one fsync for the batch instead of
one per command. Nothing is answered before that commit. A command the domain refuses gets
its error and changes nothing, as alone. What a batch cannot settle as ``execute`` would (a
request id already recorded, or twice in the batch; a stream another process wrote
meanwhile) is run afterwards through ``execute`` itself, in order, so retries replay and
conflicts are decided again exactly as before (against the state the whole batch left: a
request sent twice at once, whose first copy the domain refused, is decided again after
the batch rather than in its place).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from domain.commands import Command
from domain.decide import decide, fold
from domain.errors import ConcurrencyConflict, RequestIdReused
from domain.events import Event, event_type
from domain.model import SupplierState
from domain.ports import (
    AppendResult,
    CommandMeta,
    EventStore,
    NewEvent,
    PendingAppend,
    Policy,
    RecordedEvent,
)
from domain.serialization import event_to_payload, state_to_dict
from domain.validation import validate

Outcome = Any
"""A ``CommandResult``, or the exception the command raised."""
Job = tuple[Command, Any]
"""A command and its ``RequestContext``."""


class Abandoned(Exception):
    """The caller went away while the batch was being decided."""


@attrs.define
class Decided:
    """A command decided in the batch: the state after it and what it records."""

    index: int
    command: Command
    state: SupplierState | None
    """None only for a command that recorded nothing about an unknown supplier."""
    events: list[Event]
    append: PendingAppend | None
    """None when the command recorded nothing (time advanced, nothing was due)."""


@attrs.define
class Plan:
    """A batch decided and not yet stored: per job, a decision, an error or "run later"."""

    jobs: Sequence[Job]
    decided: list[Decided] = attrs.field(factory=list)
    outcomes: dict[int, Outcome] = attrs.field(factory=dict)
    later: list[int] = attrs.field(factory=list)

    def errors(self) -> dict[int, BaseException]:
        """The jobs refused while deciding, by index."""
        return {i: o for i, o in self.outcomes.items() if isinstance(o, BaseException)}


@attrs.frozen
class Deps:
    """What a batch needs of the service: its store and policy, and its own steps."""

    store: EventStore
    policy: Callable[[], Policy]
    load: Callable[[str], SupplierState | None]
    fingerprint: Callable[[Command, Any], str]
    result: Callable[[SupplierState | None, tuple[RecordedEvent, ...], AppendResult], Outcome]
    unchanged: Callable[[SupplierState | None], Outcome]


def plan(
    deps: Deps,
    jobs: Sequence[Job],
    abandoned: Callable[[], bool] | None = None,
    *,
    stop_when_abandoned: bool = False,
) -> Plan:
    """Decide ``jobs`` in order, storing nothing.

    ``abandoned`` is asked before each job: once it says yes, :class:`Abandoned` is raised
    (or, with ``stop_when_abandoned``, the jobs left are dropped and the plan so far kept).
    """
    batch = Plan(jobs)
    policy = deps.policy()
    states: dict[str, SupplierState | None] = {}
    seen: set[str] = set()
    recorded = _recorded_requests(deps.store, jobs)
    for index, (command, context) in enumerate(jobs):
        if abandoned is not None and abandoned():
            if stop_when_abandoned:
                batch.jobs = jobs[:index]
                break
            raise Abandoned
        try:
            decided = _decide(deps, policy, states, seen, recorded, job=(index, command, context))
        except _RunLater:
            batch.later.append(index)
            continue
        except Exception as error:  # the job's own outcome, as alone
            batch.outcomes[index] = error
            continue
        if decided.append is None:
            batch.outcomes[index] = deps.unchanged(decided.state)
        else:
            batch.decided.append(decided)
    return batch


class _RunLater(Exception):
    """The job is for ``execute`` after the batch (its request id is recorded or repeated)."""


def _recorded_requests(
    store: EventStore, jobs: Sequence[Job]
) -> Callable[[str], tuple[str, AppendResult] | None]:
    """How to find a job's recorded request: all looked up at once, up front."""
    found = store.find_requests([context.request_id for _, context in jobs])
    return found.get


def _decide(
    deps: Deps,
    policy: Policy,
    states: dict[str, SupplierState | None],
    seen: set[str],
    recorded_request: Callable[[str], tuple[str, AppendResult] | None],
    *,
    job: tuple[int, Command, Any],
) -> Decided:
    index, command, context = job
    validate(command)
    digest = deps.fingerprint(command, context)
    if context.request_id in seen:
        raise _RunLater
    recorded = recorded_request(context.request_id)
    if recorded is not None:
        if recorded[0] != digest:
            raise RequestIdReused(context.request_id)
        raise _RunLater  # execute replays it
    seen.add(context.request_id)
    supplier_id = command.supplier_id
    state = states[supplier_id] if supplier_id in states else deps.load(supplier_id)
    version = state.version if state is not None else 0
    if context.expected_version is not None and context.expected_version != version:
        raise ConcurrencyConflict(supplier_id, context.expected_version, version)
    events = decide(command, state, policy)
    if not events:
        states[supplier_id] = state
        return Decided(index, command, state, [], None)
    after = fold(events, state)
    assert after is not None  # noqa: S101 - a command with events leaves a supplier
    states[supplier_id] = after
    meta = CommandMeta(context.request_id, context.actor, policy.version, digest)
    new_events = [NewEvent(event_type(e), event_to_payload(e), e.occurred_at) for e in events]
    append = PendingAppend(supplier_id, version, new_events, meta, None)
    return Decided(index, command, after, events, append)


def commit(deps: Deps, batch: Plan, *, all_or_none: bool = False) -> None:
    """Append what ``batch`` decided, in one transaction.

    Each decided job's outcome is then its result; a job the store refused (another
    process wrote to its stream, or recorded its request id) is left for :func:`finish`.
    With ``all_or_none`` such a refusal is raised instead and nothing is stored.
    """
    if not batch.decided:
        return
    results = _append(deps.store, batch.decided, all_or_none=all_or_none)
    stored = [
        (decided, result)
        for decided, result in zip(batch.decided, results, strict=True)
        if isinstance(result, AppendResult) and not result.replayed
    ]
    for decided, result in stored:
        batch.outcomes[decided.index] = deps.result(decided.state, result.events, result)
    done = {decided.index for decided, _ in stored}
    batch.later.extend(d.index for d in batch.decided if d.index not in done)
    batch.later.sort()


def _append(
    store: EventStore, decided: list[Decided], *, all_or_none: bool
) -> list[AppendResult | ConcurrencyConflict | RequestIdReused]:
    appends = [d.append for d in decided if d.append is not None]
    # Only the last state of each stream in the batch is serialised and kept.
    last = {d.command.supplier_id: d for d in decided}
    with_snapshots = [
        attrs.evolve(a, snapshot=_snapshot(d)) if last[a.stream_id] is d else a
        for a, d in zip(appends, decided, strict=True)
    ]
    return store.append_batch(with_snapshots, all_or_none=all_or_none)


def _snapshot(decided: Decided) -> dict[str, Any]:
    assert decided.state is not None  # noqa: S101 - a command that records leaves a supplier
    return state_to_dict(decided.state)


def finish(batch: Plan, execute: Callable[[Command, Any], Outcome]) -> list[Outcome]:
    """Run the jobs left for later through ``execute``, in order; every job's outcome."""
    for index in batch.later:
        command, context = batch.jobs[index]
        try:
            batch.outcomes[index] = execute(command, context)
        except Exception as error:  # the job's own outcome, as alone
            batch.outcomes[index] = error
    return [batch.outcomes[i] for i in range(len(batch.jobs))]
