"""The application service for needs: open, shortlist, rank (kept as a record), award.

Commands take the same path as a supplier's (``server.app.suppliers.run_once``): exactly once
per request id, decided on the stream's snapshot, appended with optimistic concurrency.
A ranking is computed here, under the active policy, from the shortlisted suppliers'
recorded scores and the raw values the request gives; the domain keeps it as a record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial

import attrs

from domain.errors import ConcurrencyConflict, FieldViolation, InvalidCommand, RequestIdReused
from domain.events import event_type
from domain.model import SupplierState
from domain.needs import (
    NEED_STREAM_PREFIX,
    AwardNeed,
    NeedCommand,
    NeedEvent,
    NeedNotFound,
    NeedState,
    RankedCandidate,
    Ranking,
    RankShortlist,
    RecordRanking,
    ShortlistSupplier,
    decide_need,
    fold_need,
    is_need_stream,
    need_stream,
)
from domain.ports import AppendResult, CommandMeta, EventStore, NewEvent, Policy, RecordedEvent
from domain.serialization import (
    event_to_payload,
    need_event_from_payload,
    need_from_dict,
    need_to_dict,
)
from server.app.suppliers import (
    RankingOutcome,
    RequestContext,
    SupplierService,
    recorded_events,
    run_once,
)
from server.observability.calls import record_events


@attrs.frozen
class NeedResult:
    """The need after a command, the events recorded, and whether this was a replay."""

    need: NeedState
    events: tuple[RecordedEvent, ...]
    replayed: bool


class NeedService:
    """Runs need commands and answers need queries from the store's snapshots."""

    def __init__(
        self, store: EventStore, policy: Callable[[], Policy], suppliers: SupplierService
    ) -> None:
        self._store = store
        self._policy = policy
        self._suppliers = suppliers

    def execute(self, command: NeedCommand, context: RequestContext) -> NeedResult:
        """Decide ``command`` and append its events; a retried request replays the first."""
        return run_once(
            self._store,
            command,
            context,
            decide_and_append=partial(self._decide_and_append, command, context),
            replay=partial(self._replay, context.request_id),
        )

    def get(self, need_id: str) -> NeedState:
        """The need's current state (NOT_FOUND when there is none)."""
        need = self._load(need_id)
        if need is None:
            raise NeedNotFound(need_id)
        return need

    def list_needs(self, after_need_id: str, limit: int) -> list[NeedState]:
        """Needs in id order after ``after_need_id``."""
        after = need_stream(after_need_id) if after_need_id else NEED_STREAM_PREFIX
        page = self._store.list_snapshots(after, limit)
        return [need_from_dict(s.state) for s in page if is_need_stream(s.stream_id)]

    def _decide_and_append(
        self, command: NeedCommand, context: RequestContext, digest: str
    ) -> NeedResult:
        need = self._load(command.need_id)
        current_version = need.version if need is not None else 0
        if context.expected_version is not None and context.expected_version != current_version:
            raise ConcurrencyConflict(
                need_stream(command.need_id), context.expected_version, current_version
            )
        policy_version = self._policy().version
        if isinstance(command, RankShortlist):
            command = self._ranked(command, self.get(command.need_id))
            policy_version = command.ranking.policy_version
        events = decide_need(command, need, self._suppliers_named(command))
        new_state = fold_need(events, need)
        meta = CommandMeta(context.request_id, context.actor, policy_version, digest)
        new_events = [NewEvent(event_type(e), event_to_payload(e), e.occurred_at) for e in events]
        result = self._store.append(
            need_stream(command.need_id), current_version, new_events, meta, need_to_dict(new_state)
        )
        if result.replayed:  # a concurrent retry of the same request won the race
            return self._replay(context.request_id, digest, digest, result)
        record_events(len(new_events))
        return NeedResult(new_state, result.events, replayed=False)

    def _ranked(self, request: RankShortlist, need: NeedState) -> RecordRanking:
        """The ranking ``request`` asks for, as a command that keeps it."""
        position = {supplier_id: i for i, (supplier_id, _) in enumerate(request.candidates)}
        strangers = [
            FieldViolation(
                f"candidates[{index}].supplier",
                f"{supplier_id!r} is not on the shortlist {list(need.shortlist)}",
            )
            for supplier_id, index in position.items()
            if supplier_id not in need.shortlist
        ]
        if strangers:
            raise InvalidCommand(strangers)
        given = dict(request.candidates)

        def field(index: int) -> str:
            # A shortlisted supplier the request leaves out is named by id, not position.
            supplier_id = need.shortlist[index]
            where = position.get(supplier_id)
            return f"candidates[{where}]" if where is not None else f"candidates[{supplier_id!r}]"

        outcome = self._suppliers.rank_candidates(
            [(s, given.get(s, {})) for s in need.shortlist], field=field
        )
        ranking = ranking_record(outcome, need.rankings_made + 1, request.occurred_at)
        return RecordRanking(request.need_id, ranking, request.occurred_at)

    def _suppliers_named(self, command: NeedCommand) -> Mapping[str, SupplierState]:
        if isinstance(command, ShortlistSupplier | AwardNeed):
            found = self._suppliers.find(command.supplier_id)
            return {command.supplier_id: found} if found is not None else {}
        return {}

    def _replay(
        self, request_id: str, digest: str, recorded_digest: str, result: AppendResult
    ) -> NeedResult:
        if recorded_digest != digest or not is_need_stream(result.stream_id):
            raise RequestIdReused(request_id)
        stream = self._store.read_stream(result.stream_id, 0, result.last_version)
        need = fold_need((need_event(e) for e in stream), None)
        return NeedResult(need, recorded_events(self._store, result), replayed=True)

    def _load(self, need_id: str) -> NeedState | None:
        snapshot = self._store.load_snapshot(need_stream(need_id))
        return need_from_dict(snapshot.state) if snapshot is not None else None


def need_event(recorded: RecordedEvent) -> NeedEvent:
    """The need event a recorded event holds."""
    return need_event_from_payload(recorded.event_type, recorded.payload)


def ranking_record(outcome: RankingOutcome, number: int, ranked_at: datetime) -> Ranking:
    """The domain's record of an evaluation: each candidate's figures and raw values."""
    return Ranking(
        number=number,
        ranked_at=ranked_at,
        policy_version=outcome.policy_version,
        candidates=ranked_candidates(outcome),
        methods_agree=outcome.report.methods_agree,
        report=tuple(outcome.report.summary()),
    )


def ranked_candidates(outcome: RankingOutcome) -> tuple[RankedCandidate, ...]:
    """Each candidate's figures and the raw values ranked, in weighted-sum order."""
    values = {c.candidate_id: c.values for c in outcome.candidates}
    return tuple(
        RankedCandidate(
            supplier_id=result.candidate_id,
            weighted_score=result.weighted_score,
            weighted_rank=result.weighted_rank,
            topsis_closeness=result.closeness,
            topsis_rank=result.topsis_rank,
            values=dict(values[result.candidate_id]),
            normalised=dict(result.normalised),
        )
        for result in outcome.report.candidates
    )
