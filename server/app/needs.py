"""The need use cases: open, shortlist, rank (kept as a record), award.

A need is a stream kind of its own (:data:`NEEDS` builds it): its commands take the write
pipeline a supplier's take, exactly once per request id, decided on the stream's state,
appended with optimistic concurrency. A ranking is computed while deciding, under the
batch's policy, from the shortlisted suppliers' recorded scores and the raw values the
request gives; the domain keeps it as a record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from sqm.domain.catalogue_checks import validate_ids
from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import Decision, SupplierState
from sqm.domain.needs import (
    NEED_STREAM_PREFIX,
    AdvanceNeedTime,
    AwardNeed,
    NeedCommand,
    NeedEvent,
    NeedNotFound,
    NeedNoticeIssued,
    NeedState,
    NeedStatus,
    RankedCandidate,
    Ranking,
    RankShortlist,
    RecordRanking,
    ShortlistSupplier,
    decide_need,
    fold_need,
    is_need_stream,
    need_stream,
    validate_need_command,
)
from sqm.domain.notifications import need_notifications_for
from sqm.domain.ports import EventStore, Policy, RecordedEvent
from sqm.domain.serialization import (
    event_to_payload,
    format_time,
    need_event_from_payload,
    need_from_dict,
    need_to_dict,
)
from sqm.server.app.pipeline import Job, Pipeline, Recorded, RequestContext, StreamKind
from sqm.server.app.suppliers import AdvanceSummary, RankingOutcome, SupplierService

TICK_PAGE_SIZE = 500


@attrs.frozen
class NeedResult:
    """The need after a command, the events recorded, and whether this was a replay."""

    need: NeedState
    events: tuple[RecordedEvent, ...]
    replayed: bool


class NeedService:
    """Runs need commands through the pipeline and answers need queries from snapshots."""

    def __init__(
        self, store: EventStore, policy: Callable[[], Policy], suppliers: SupplierService
    ) -> None:
        self._store = store
        self._suppliers = suppliers
        kind: StreamKind[NeedCommand, NeedState, NeedEvent] = StreamKind(
            name="need",
            stream_of=lambda command: need_stream(command.need_id),
            owns=is_need_stream,
            validate=validate_need_command,
            decide=self._decide,
            fold=fold_need,
            to_snapshot=need_to_dict,
            from_snapshot=need_from_dict,
            to_payload=event_to_payload,
            event_from_record=need_event,
            notify=need_notifications_for,
        )
        self._pipeline = Pipeline(kind, store, policy)

    def execute(self, command: NeedCommand, context: RequestContext) -> NeedResult:
        """Decide ``command`` and append its events; a retried request replays the first."""
        recorded = self._pipeline.run_one(Job(command, context))
        return _need_result(recorded)

    def get(self, need_id: str) -> NeedState:
        """The need's current state (NOT_FOUND when there is none)."""
        need = self._pipeline.load(need_stream(need_id))
        if need is None:
            raise NeedNotFound(need_id)
        return need

    def list_needs(self, after_need_id: str, limit: int) -> list[NeedState]:
        """Needs in id order after ``after_need_id``."""
        after = need_stream(after_need_id) if after_need_id else NEED_STREAM_PREFIX
        page = self._store.list_snapshots(after, limit)
        return [need_from_dict(s.state) for s in page if is_need_stream(s.stream_id)]

    def advance_time(self, now: datetime, actor: str) -> AdvanceSummary:
        """Advance every open need's clock to ``now``: its selection rules' reminders and
        escalations fall due (each once per need). Needs with a later record are skipped;
        each tick has its own request id, so a retried tick records nothing twice.
        """
        checked = changed = 0
        decisions: list[Decision] = []
        after = NEED_STREAM_PREFIX
        while page := self._store.list_snapshots(after, TICK_PAGE_SIZE):
            after = page[-1].stream_id
            needs = [need_from_dict(s.state) for s in page if is_need_stream(s.stream_id)]
            due = [need for need in needs if _due(need, now)]
            checked += len(due)
            jobs = [_tick(need, now, actor) for need in due]
            for outcome in self._pipeline.run(jobs):
                if isinstance(outcome, InvalidCommand):
                    continue  # a record later than ``now`` arrived meanwhile: nothing is due
                if isinstance(outcome, Exception):
                    raise outcome
                if outcome.events:
                    changed += 1
                    notices = (e for e in outcome.events if isinstance(e, NeedNoticeIssued))
                    decisions.extend(e.decision for e in notices)
            if not is_need_stream(after):
                break
        return AdvanceSummary(checked, changed, tuple(decisions))

    def _decide(
        self, command: NeedCommand, need: NeedState | None, policy: Policy
    ) -> Sequence[NeedEvent]:
        validate_ids(command, policy.catalogue)
        if isinstance(command, RankShortlist):
            command = self._ranked(command, self.get(command.need_id))
        return decide_need(command, need, self._suppliers_named(command), policy)

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


def _due(need: NeedState, now: datetime) -> bool:
    return need.status is NeedStatus.OPEN and (need.updated_at is None or need.updated_at <= now)


def _tick(need: NeedState, now: datetime, actor: str) -> Job[NeedCommand]:
    context = RequestContext(f"tick:{need_stream(need.need_id)}:{format_time(now)}", actor)
    return Job(AdvanceNeedTime(need.need_id, now), context)


def _need_result(recorded: Recorded[NeedState, NeedEvent]) -> NeedResult:
    if recorded.state is None:  # every need command leaves a need
        raise RuntimeError("a need command produced no need")
    return NeedResult(recorded.state, recorded.records, recorded.replayed)


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
