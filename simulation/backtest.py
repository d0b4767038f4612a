"""``sqm backtest``: replay recorded history under a candidate pack and report what differs.

A supplier's stream is read back as the commands that made it: each request's events sit
together under one request id, and the first of them says which command it was (a
``MeasurementRecorded`` first is a measurement; a decision or a transition first is time
advancing). Those commands are decided again, in order and at their own times, under the
candidate pack. Per supplier, the final state, the rules that fired (and when) and the
penalties are compared with what was recorded (decided by whichever pack was active then);
replayed under the pack that recorded it, a history shows no difference.

The candidate may take effect at a time in the history (``effective_from``): requests
recorded before it keep their recorded outcome (their events are taken as they are, decided
by whichever pack was active then), and only those from then on are decided by the
candidate. Recorded qualifications stand, unless the candidate's
``qualification_changes_apply_to`` is ``qualified_suppliers``: then a supplier still
qualified at that time is evaluated again then, as the server does when such a version takes
effect (:class:`~sqm.domain.commands.ReevaluateQualification`). Without a time, the candidate
decides the whole history. A re-evaluation the server recorded (known by its request id) is
replayed as one, so the candidate decides it again.

Limits, by construction: time advances where it did in the record (every tick that recorded
something), so a deadline only the candidate has fires at the next such moment or command,
not earlier; a compensation claim is replayed at the amount recorded as claimed.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing.util
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from sqm.domain.commands import (
    COMMAND_TYPES,
    AdvanceTime,
    ClaimCompensation,
    Command,
    OpenReview,
    RecordInspection,
    RecordMeasurement,
    RecordSatisfactionSurvey,
    ReevaluateQualification,
    SignContract,
    is_reevaluation_request,
)
from sqm.domain.events import DecisionRecorded, Event, LifecycleTransitioned, MeasurementRecorded
from sqm.domain.evolve import fold
from sqm.domain.history import credited
from sqm.domain.model import Money, QualificationChanges, SupplierState
from sqm.domain.needs import is_need_stream
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.domain.policy_changes import is_policy_stream
from sqm.domain.ports import EventStore, RecordedEvent
from sqm.domain.serialization import converter, event_from_payload, format_time
from sqm.rules import CompiledPolicy, PolicyPack
from sqm.simulation import parallel
from sqm.simulation import scenarios as sc
from sqm.simulation.runner import Player

RESULT_FORMAT = "sqm.backtest/v1"
PAGE = 500

_SAME_FIELDS = {
    "SupplierRegistered": "RegisterSupplier",
    "QualificationEvidenceSubmitted": "SubmitQualificationEvidence",
    "SupplierBlacklisted": "BlacklistSupplier",
    "ProgressReportSubmitted": "SubmitProgressReport",
    "SelfCheckSubmitted": "SubmitSelfCheck",
    "ReviewConcluded": "ConcludeReview",
    "ImprovementPlanSubmitted": "SubmitImprovementPlan",
    "ImprovementPlanCompleted": "CompleteImprovementPlan",
    "RemediationVerified": "VerifyRemediation",
    "ImprovementDeadlineMissed": "RecordMissedImprovementDeadline",
    "MarketResearchRecorded": "RecordMarketResearch",
    "KickOffRecorded": "RecordKickOff",
    "MilestoneCompleted": "CompleteMilestone",
    "DeliverableAccepted": "AcceptDeliverable",
    "ResourcePlanSubmitted": "SubmitResourcePlan",
    "ProblemTicketOpened": "OpenProblemTicket",
    "ProblemTicketResolved": "ResolveProblemTicket",
    "TrainingRecorded": "RecordTraining",
    "CompensationSettled": "SettleCompensation",
    "DocumentArchived": "RecordDocument",
}
"""First events whose command has the same fields (plus the supplier id)."""

_CLAIMED = re.compile(
    r": claimed (?P<amount>-?\d+(?:\.\d+)?) (?P<currency>[A-Z]{3})"
    r"(?: \(loss at (?P<loss>[^)]+)\))?;"
)


@attrs.frozen
class Ending:
    """What the comparison reads of a supplier's final state. A replay keeps this, not the
    state: with ``--jobs`` each replay is sent back from its worker, and two whole states a
    supplier (with their windows of recent records) cost more to send than to compare.
    """

    lifecycle: str
    """The lifecycle state's value ("none": no supplier)."""
    currency: str
    """The contract's currency ("" without a contract)."""
    credits: Decimal
    """The whole penalties ledger's sum."""
    penalties: tuple[tuple[str, Decimal], ...] = ()
    """The ledger's sum per currency, by currency."""

    @classmethod
    def of(cls, state: SupplierState | None) -> Ending:
        """The ending of ``state`` (None: no supplier)."""
        if state is None:
            return cls("none", "", Decimal(0))
        sums: dict[str, Decimal] = {}
        for penalty in state.penalties:
            currency = penalty.amount.currency
            sums[currency] = sums.get(currency, Decimal(0)) + penalty.amount.amount
        return cls(
            state.lifecycle.value,
            state.contract.monthly_fee.currency if state.contract is not None else "",
            credited(state.penalties),
            tuple(sorted(sums.items())),
        )


@attrs.frozen
class SupplierReplay:
    """One supplier's history, as recorded and as the candidate pack decides it."""

    supplier_id: str
    recorded: Ending
    candidate: Ending
    recorded_fired: tuple[tuple[str, str], ...]
    """(time, rule id) of each decision recorded, in order."""
    candidate_fired: tuple[tuple[str, str], ...]
    commands: int
    refusals: tuple[tuple[str, str, str], ...] = ()
    """(time, command, why) of each command the candidate refused, in order."""
    revoked_at: str = ""
    """When the candidate, taking effect, revoked the supplier's qualification (or "")."""

    @property
    def refused(self) -> int:
        """How many of the supplier's commands the candidate refused."""
        return len(self.refusals)

    @property
    def changed(self) -> bool:
        """True when the final state, the penalties, or any decision or its time differ."""
        return (
            self.candidate.lifecycle != self.recorded.lifecycle
            or self.recorded_fired != self.candidate_fired
            or self.recorded.credits != self.candidate.credits
        )


def backtest(
    store: EventStore,
    pack: PolicyPack,
    *,
    source: str,
    active_version: str = "",
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    effective_from: datetime | None = None,
    reopen: StoreOpener | None = None,
) -> dict[str, Any]:
    """Replay every supplier of ``store`` under ``pack``; the JSON-ready comparison.

    The candidate decides the requests from ``effective_from`` on (None: the whole history).
    With ``jobs`` above 1 the suppliers are replayed in that many processes, a few at a
    time each, and their replays kept in the store's order: the result is the same. Given
    ``reopen``, each worker opens the store itself and reads its suppliers' streams, and
    only their ids are sent: reading and sending every event would keep this process busy
    on a core the workers need.
    """
    if jobs == 1:
        policy = CompiledPolicy(pack)
        batches: Iterable[list[SupplierReplay]] = (
            [replay(policy, pack, stream, effective_from)] for stream in supplier_streams(store)
        )
    elif reopen is not None:
        batches = parallel.ordered_map(
            functools.partial(_replay_ids_in_worker, effective_from=effective_from),
            parallel.batched(supplier_stream_ids(store), STREAMS_PER_TASK),
            jobs=jobs, initializer=_start_reading_worker, initargs=(pack, reopen),
        )  # fmt: skip
    else:
        batches = parallel.ordered_map(
            functools.partial(_replay_in_worker, effective_from=effective_from),
            parallel.batched(supplier_streams(store), STREAMS_PER_TASK),
            jobs=jobs, initializer=parallel.compile_in_worker, initargs=(pack,),
        )  # fmt: skip
    replays: list[SupplierReplay] = []
    for batch in batches:
        replays.extend(batch)
        if progress is not None:
            progress(len(replays))
    return result(
        pack, replays, source=source, active_version=active_version, effective_from=effective_from
    )


STREAMS_PER_TASK = 8
"""Suppliers a worker replays per task: enough to outweigh sending them, few enough to share."""


StoreOpener = Callable[[], AbstractContextManager[EventStore]]
"""Opens the history's store again, read-only (a picklable callable: it is sent to workers)."""

_worker_store: EventStore | None = None
"""The store a reading worker opened (see :func:`_start_reading_worker`)."""


def _replay_in_worker(
    streams: Sequence[list[RecordedEvent]], effective_from: datetime | None
) -> list[SupplierReplay]:
    policy, pack = parallel.worker_policy()
    return [replay(policy, pack, stream, effective_from) for stream in streams]


def _start_reading_worker(pack: PolicyPack, reopen: StoreOpener) -> None:
    """A worker's initializer: compile ``pack`` and open the store for every task it runs."""
    global _worker_store  # noqa: PLW0603 - the store of one worker process, by design
    parallel.compile_in_worker(pack)
    opened = reopen()
    _worker_store = opened.__enter__()
    # Closed as the worker process exits (multiprocessing runs its finalizers, not atexit's).
    multiprocessing.util.Finalize(None, opened.__exit__, args=(None, None, None), exitpriority=0)


def _replay_ids_in_worker(
    stream_ids: Sequence[str], effective_from: datetime | None
) -> list[SupplierReplay]:
    policy, pack = parallel.worker_policy()
    if _worker_store is None:
        raise RuntimeError("not in a worker started by _start_reading_worker")
    return [
        replay(policy, pack, _worker_store.read_stream(stream_id), effective_from)
        for stream_id in stream_ids
    ]


def supplier_stream_ids(store: EventStore) -> Iterator[str]:
    """Every supplier's stream id, in id order (needs and policy changes left out)."""
    after = ""
    while page := store.list_stream_ids(after, PAGE):
        after = page[-1]
        yield from (s for s in page if not (is_need_stream(s) or is_policy_stream(s)))


def supplier_streams(store: EventStore) -> Iterator[list[RecordedEvent]]:
    """Every supplier's recorded events, supplier by supplier in id order."""
    for stream_id in supplier_stream_ids(store):
        yield store.read_stream(stream_id)


def replay(
    policy: CompiledPolicy,
    pack: PolicyPack,
    stream: Sequence[RecordedEvent],
    effective_from: datetime | None = None,
) -> SupplierReplay:
    """Decide ``stream``'s commands again under ``policy``, those from ``effective_from`` on
    (None: all of them); the earlier ones keep what they recorded.
    """
    events = [event_from_payload(e.event_type, e.payload) for e in stream]
    recorded = fold(events)
    if recorded is None:
        raise ValueError(f"stream {stream[0].stream_id if stream else '?'} holds no supplier")
    scenario = sc.Scenario(sc.SupplierProfile(recorded.supplier_id, recorded.category), ())
    player = Player(policy, scenario, (), pack.criterion_ids)
    requests = list(requests_of(stream, events, pack.catalogue))
    reevaluate = pack.qualification_changes_apply_to is QualificationChanges.QUALIFIED_SUPPLIERS
    revoked_at = _decide_from(player, requests, effective_from, reevaluate=reevaluate)
    refusals = tuple(
        (format_time(entry.command.occurred_at), type(entry.command).__name__, entry.refused)
        for entry in player.timeline
        if entry.refused
    )
    return SupplierReplay(
        recorded.supplier_id,
        Ending.of(recorded),
        Ending.of(player.state),
        _fired(events),
        _fired(e for entry in player.timeline for e in entry.events),
        len(requests),
        refusals,
        revoked_at,
    )


def _decide_from(
    player: Player,
    requests: Sequence[tuple[Command, tuple[Event, ...]]],
    effective_from: datetime | None,
    *,
    reevaluate: bool,
) -> str:
    """Run ``requests``: recorded outcomes before ``effective_from``, decided from then on,
    and (``reevaluate``) the qualification evaluated again at that time. Returns when the
    qualification was revoked then, or "".
    """
    due = effective_from if reevaluate else None
    revoked_at = ""
    for command, recorded in requests:
        if effective_from is not None and command.occurred_at < effective_from:
            player.keep_recorded(command, recorded)
            continue
        if due is not None:
            revoked_at, due = _reevaluated(player, due), None
        player.execute(command)
    if due is not None:
        revoked_at = _reevaluated(player, due)
    return revoked_at


def _reevaluated(player: Player, at: datetime) -> str:
    """Evaluate the supplier's qualification again at ``at``; when it was revoked, or ""."""
    state = player.state
    if state is None:  # registered after the candidate took effect: nothing to evaluate
        return ""
    player.execute(ReevaluateQualification(state.supplier_id, at))
    moved = any(isinstance(e, LifecycleTransitioned) for e in player.timeline[-1].events)
    return format_time(at) if moved else ""


def requests_of(
    stream: Sequence[RecordedEvent], events: Sequence[Event], catalogue: PackCatalogue
) -> Iterator[tuple[Command, tuple[Event, ...]]]:
    """Each request that recorded ``stream``: the command it carried and the events it
    recorded, in order. A measurement is given in its metric's unit by ``catalogue`` (the
    pack that decides it again).
    """
    supplier_id = stream[0].stream_id if stream else ""
    pairs = zip(stream, events, strict=True)
    for _, group in itertools.groupby(pairs, key=lambda pair: pair[0].request_id):
        members = list(group)
        command = command_from(supplier_id, *members[0], catalogue)
        if command is not None:
            yield command, tuple(event for _, event in members)


def commands_of(
    stream: Sequence[RecordedEvent], events: Sequence[Event], catalogue: PackCatalogue
) -> Iterator[Command]:
    """The commands that recorded ``stream``, one per request, in order."""
    return (command for command, _ in requests_of(stream, events, catalogue))


def command_from(
    supplier_id: str, recorded: RecordedEvent, event: Event, catalogue: PackCatalogue
) -> Command | None:
    """The command a request whose first event is ``event`` carried (a measurement in its
    metric's unit by ``catalogue``).
    """
    kind = recorded.event_type
    if isinstance(event, MeasurementRecorded):
        return _measurement(supplier_id, event, catalogue)
    if is_reevaluation_request(recorded.request_id):
        return ReevaluateQualification(supplier_id, event.occurred_at)
    if kind in _SAME_FIELDS:
        fields = {**recorded.payload, "supplier_id": supplier_id}
        return converter.structure(fields, COMMAND_TYPES[_SAME_FIELDS[kind]])
    maker = _MAKERS.get(kind)
    if maker is not None:
        return maker(supplier_id, event)
    # A decision, a transition, a reminder first: time advanced and something was due.
    return AdvanceTime(supplier_id, event.occurred_at)


def _contract(supplier_id: str, event: Any) -> Command:
    c = event.contract
    return SignContract(
        supplier_id, c.contract_id, event.occurred_at, c.monthly_fee, c.liability_limit,
        c.starts_at, c.ends_at, c.objectives,
    )  # fmt: skip


def _measurement(supplier_id: str, event: MeasurementRecorded, catalogue: PackCatalogue) -> Command:
    m = event.measurement
    spec = catalogue.metric(m.metric)
    unit = spec.unit if spec is not None else ""  # refused: the pack lacks the metric
    return RecordMeasurement(
        supplier_id, m.objective_id, m.value, unit, m.period_start, m.period_end, event.occurred_at
    )


def _survey(supplier_id: str, event: Any) -> Command:
    return RecordSatisfactionSurvey(
        supplier_id, event.survey.value, event.occurred_at, event.respondents, event.comment
    )


def _inspection(supplier_id: str, event: Any) -> Command:
    return RecordInspection(supplier_id, event.inspection.passed, event.occurred_at, event.findings)


def _review(supplier_id: str, event: Any) -> Command | None:
    if event.review.rule_id:  # opened by a rule: time advancing or a record made it
        return AdvanceTime(supplier_id, event.occurred_at)
    return OpenReview(supplier_id, event.review.reason, event.occurred_at)


def _claim(supplier_id: str, event: Any) -> Command | None:
    penalty = event.penalty
    if penalty.kind != "compensation":
        return AdvanceTime(supplier_id, event.occurred_at)
    description, _, _ = event.basis.partition(": claimed ")
    found = _CLAIMED.search(event.basis)
    amount = (
        Money(Decimal(found["amount"]), found["currency"]) if found is not None else penalty.amount
    )
    loss_at = datetime.fromisoformat(found["loss"]) if found and found["loss"] else None
    return ClaimCompensation(supplier_id, amount, description, event.occurred_at, loss_at)


_MAKERS: Mapping[str, Callable[[str, Any], Command | None]] = {
    "ContractSigned": _contract,
    "SatisfactionSurveyRecorded": _survey,
    "InspectionRecorded": _inspection,
    "ReviewOpened": _review,
    "PenaltyAssessed": _claim,
}


def _fired(events: Iterable[Event]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (format_time(e.occurred_at), e.decision.rule_id)
        for e in events
        if isinstance(e, DecisionRecorded) and e.took_effect
    )


def _rules(fired: Sequence[tuple[str, str]]) -> Counter[str]:
    return Counter(rule for _, rule in fired)


# --- the report ---------------------------------------------------------------------------


def result(
    pack: PolicyPack,
    replays: Sequence[SupplierReplay],
    *,
    source: str,
    active_version: str,
    effective_from: datetime | None = None,
) -> dict[str, Any]:
    """The comparison as JSON-ready data (the shape ``sqm.simulation.report`` renders).

    ``effective_from`` is "" when the candidate decided the whole history.
    """
    suppliers = [_supplier(r) for r in replays]
    return {
        "format": RESULT_FORMAT,
        "pack": pack.name,
        "active_version": active_version,
        "candidate_version": pack.version,
        "source": source,
        "effective_from": format_time(effective_from) if effective_from else "",
        "qualification_changes_apply_to": pack.qualification_changes_apply_to.value,
        "suppliers": suppliers,
        "totals": {
            "qualifications_revoked": sum(1 for r in replays if r.revoked_at),
            "suppliers": len(replays),
            "changed": sum(1 for s in suppliers if s["changed"]),
            "state_changed": sum(
                1 for s in suppliers if s["state"]["recorded"] != s["state"]["candidate"]
            ),
            "commands": sum(r.commands for r in replays),
            "refused": sum(r.refused for r in replays),
            "penalties": _penalty_totals(replays),
        },
    }


def _supplier(replay: SupplierReplay) -> dict[str, Any]:
    recorded_rules, candidate_rules = _rules(replay.recorded_fired), _rules(replay.candidate_fired)
    return {
        "supplier_id": replay.supplier_id,
        "changed": replay.changed,
        "state": {
            "recorded": replay.recorded.lifecycle,
            "candidate": replay.candidate.lifecycle,
        },
        "decisions": {
            "only_recorded": sorted((recorded_rules - candidate_rules).elements()),
            "only_candidate": sorted((candidate_rules - recorded_rules).elements()),
        },
        "penalties": {
            "currency": replay.recorded.currency,
            "recorded": str(replay.recorded.credits),
            "candidate": str(replay.candidate.credits),
        },
        "first_difference": _first_difference(replay),
        "qualification_revoked_at": replay.revoked_at,
        "refused": [
            {"at": at, "command": command, "why": why} for at, command, why in replay.refusals
        ],
    }


def _first_difference(replay: SupplierReplay) -> dict[str, str] | None:
    """The first moment the decisions part ways, and which rules fired on one side only."""
    recorded, candidate = replay.recorded_fired, replay.candidate_fired
    for ours, theirs in itertools.zip_longest(recorded, candidate):
        if ours == theirs:
            continue
        at = min(pair[0] for pair in (ours, theirs) if pair is not None)
        before = Counter(rule for moment, rule in recorded if moment == at)
        after = Counter(rule for moment, rule in candidate if moment == at)
        what = [f"{rule} fired under the candidate only" for rule in sorted(after - before)]
        what += [f"{rule} fired under the recorded pack only" for rule in sorted(before - after)]
        if replay.revoked_at == at:
            what.insert(0, "qualification revoked on re-evaluation as the candidate takes effect")
        return {"at": at, "what": "; ".join(what) or "the same rules fired in another order"}
    return None


def _penalty_totals(replays: Sequence[SupplierReplay]) -> dict[str, dict[str, str]]:
    totals: dict[str, dict[str, Decimal]] = {}
    for replay in replays:
        for side, ending in (("recorded", replay.recorded), ("candidate", replay.candidate)):
            for currency, amount in ending.penalties:
                sums = totals.setdefault(
                    currency, {"recorded": Decimal(0), "candidate": Decimal(0)}
                )
                sums[side] += amount
    return {c: {k: str(v) for k, v in sides.items()} for c, sides in sorted(totals.items())}
