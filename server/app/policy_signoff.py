"""Policy sign-off: propose a pack, approve it (four eyes), let it take effect at its time,
cancel a proposal, roll the active version back.

The policy changes are a stream kind of their own
(:data:`~sqm.domain.policy_changes.POLICY_STREAM`): every command takes the write pipeline,
exactly once per request id, and its events sit in the hash chain with their actors. The
archive's activation history is written when a version takes effect (or is rolled back
to), so a restart restores the right version; an approved proposal whose time has not
come is armed again on start.

An approved proposal takes effect when its time comes, checked on every read of the policy
(:meth:`ActivePolicy.expect_change`): the archive records the activation first, then the
stream, then the reference is swapped. A crash in between is mended on the next start: the
proposal is still approved and due, and both records are idempotent by request id.

A version whose pack says ``qualification_changes_apply_to: qualified_suppliers`` evaluates
every supplier still qualified again as it takes effect (before the activation is recorded,
so a crash repeats it; each supplier's re-evaluation is recorded once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from sqm.domain.errors import RequestIdReused
from sqm.domain.policy_archive import PolicyArchive
from sqm.domain.policy_changes import (
    POLICY_STREAM,
    ApprovePolicy,
    CancelProposal,
    PolicyChangeCommand,
    PolicyChangeEvent,
    PolicyChanges,
    PolicyRolledBack,
    Proposal,
    ProposalNotFound,
    ProposePolicy,
    RecordPolicyActivation,
    RollBackPolicy,
    SchedulePolicy,
    decide_policy_change,
    fold_policy_changes,
    is_policy_stream,
    validate_policy_change,
)
from sqm.domain.ports import EventStore, RecordedEvent
from sqm.domain.serialization import (
    event_to_payload,
    policy_change_from_payload,
    policy_changes_from_dict,
    policy_changes_to_dict,
)
from sqm.rules.tooling.lint import Finding
from sqm.server.app.pipeline import Job, Pipeline, RequestContext, StreamKind
from sqm.server.app.policies import ActivePolicy, Compile, compile_pack, version_files
from sqm.server.app.policy_admin import checked_pack
from sqm.server.app.requalification import Requalify

SIGNOFF_ACTOR = "sqm sign-off"
"""Who records that an approved proposal took effect: the server, when its time came."""
log = logging.getLogger(__name__)


@attrs.frozen
class ChangeResult:
    """A sign-off command done (or replayed): the proposal it concerns, and its events."""

    proposal: Proposal | None
    events: tuple[RecordedEvent, ...]
    replayed: bool
    warnings: tuple[Finding, ...] = ()
    active_version: str = ""


def _kind() -> StreamKind[PolicyChangeCommand, PolicyChanges, PolicyChangeEvent]:
    return StreamKind(
        name="policy-changes",
        stream_of=lambda _command: POLICY_STREAM,
        owns=is_policy_stream,
        validate=validate_policy_change,
        decide=lambda command, changes, _policy: decide_policy_change(command, changes),
        fold=fold_policy_changes,
        to_snapshot=policy_changes_to_dict,
        from_snapshot=policy_changes_from_dict,
        to_payload=event_to_payload,
        event_from_record=lambda r: policy_change_from_payload(r.event_type, r.payload),
    )


class PolicySignoff:
    """Runs sign-off commands and makes approved versions active at their time."""

    def __init__(
        self,
        active: ActivePolicy,
        archive: PolicyArchive,
        store: EventStore,
        clock: Callable[[], datetime],
        approvals_required: int = 1,
        *,
        compile_: Compile = compile_pack,
        requalify: Requalify | None = None,
    ) -> None:
        if approvals_required < 1:
            raise ValueError(f"approvals_required must be at least 1, not {approvals_required}")
        self._active = active
        self._archive = archive
        self._store = store
        self._clock = clock
        self._compile = compile_
        self._requalify = requalify
        self.approvals_required = approvals_required
        # The policy in hand, never a due change: taking the change runs this pipeline.
        self._pipeline = Pipeline(_kind(), store, active.current)
        self._lock = threading.RLock()

    # --- commands -----------------------------------------------------------------------

    def propose(
        self,
        files: Mapping[str, str],
        effective_at: datetime | None,
        actor: str,
        request_id: str,
    ) -> ChangeResult:
        """Propose the pack in ``files`` (checked and compiled first, then archived).

        Raises ``PackInvalid`` (every problem located) for a pack that does not load.
        """
        pack, warnings = checked_pack(files)
        policy = self._compile(pack)
        now = self._clock()
        with self._lock:
            self._archive.save_version(pack.version, pack.name, version_files(pack, files), now)
            self._active.keep(policy)
            command = ProposePolicy(
                actor, pack.version, pack.name, self.approvals_required, now, effective_at
            )
            result = self._run(command, actor, request_id)
        return attrs.evolve(result, warnings=warnings)

    def approve(self, number: int, actor: str, request_id: str) -> ChangeResult:
        """Approve proposal ``number``; ``SameApprover`` for the proposer under four eyes."""
        return self._command(ApprovePolicy(actor, number, self._clock()), actor, request_id)

    def schedule(
        self, number: int, effective_at: datetime, actor: str, request_id: str
    ) -> ChangeResult:
        """Set when proposal ``number`` takes effect; its approvals are asked again."""
        command = SchedulePolicy(actor, number, effective_at, self._clock())
        return self._command(command, actor, request_id)

    def cancel(self, number: int, actor: str, request_id: str) -> ChangeResult:
        """Withdraw proposal ``number`` before it takes effect."""
        return self._command(CancelProposal(actor, number, self._clock()), actor, request_id)

    def rollback(self, actor: str, request_id: str) -> ChangeResult:
        """Make the version active before the current one active again.

        A retry with the same request id rebuilds the same rollback from the archive's
        history, so it replays instead of rolling back once more.
        """
        with self._lock:
            self._settle(self._clock())
            command = self._rollback_command(actor, request_id)
            result = self._run(command, actor, request_id)
            activation = self._archive.record_activation(
                command.to_version, actor, request_id, command.occurred_at
            )
            if self._active.current().version != command.to_version:
                self._active.activate(self._active.get(command.to_version))
            log.info(
                "policy rolled back from %s to %s by %s",
                command.from_version,
                command.to_version,
                actor,
            )
        return attrs.evolve(
            result,
            replayed=result.replayed and activation.replayed,
            active_version=activation.version,
        )

    def _rollback_command(self, actor: str, request_id: str) -> RollBackPolicy:
        history = self._archive.activations()
        earlier = next((a for a in history if a.request_id == request_id), None)
        if earlier is not None:
            # The rollback's event is recorded before its activation: an activation under
            # this request id without the event was another request (ActivatePolicy, say).
            if request_id not in self._store.find_requests([request_id]):
                raise RequestIdReused(request_id)
            before = next((a.version for a in history if a.sequence == earlier.sequence - 1), "")
            return RollBackPolicy(actor, before, earlier.version, earlier.activated_at)
        current = self._archive.active_version() or ""
        previous = next((a.version for a in reversed(history) if a.version != current), "")
        return RollBackPolicy(actor, current, previous, self._clock())

    # --- reading ------------------------------------------------------------------------

    def changes(self) -> PolicyChanges:
        """Every proposal made so far."""
        self._active()  # a change whose time came is recorded before it is shown
        return self._pipeline.load(POLICY_STREAM) or PolicyChanges()

    def proposal(self, number: int) -> Proposal:
        """One proposal; raises ``ProposalNotFound``."""
        found = self.changes().proposal(number)
        if found is None:
            raise ProposalNotFound(number)
        return found

    # --- taking effect ------------------------------------------------------------------

    def resume(self) -> None:
        """On start: record what took effect while the server was down, arm the rest; and
        from then on, whenever the policy follows the shared archive, arm what other
        instances scheduled (an instance down at the time then cannot hold a change back).
        """
        with self._lock:
            self._settle(self._clock())
        self._active.also_when_following(self._look_again)

    def _look_again(self) -> None:
        try:
            with self._lock:
                self._settle(self._clock())
        except Exception:  # a failed look must not fail the decision that asked
            log.exception("looking for scheduled policy changes failed; trying again later")

    def _command(self, command: PolicyChangeCommand, actor: str, request_id: str) -> ChangeResult:
        with self._lock:
            self._settle(command.occurred_at)
            return self._run(command, actor, request_id)

    def _run(self, command: PolicyChangeCommand, actor: str, request_id: str) -> ChangeResult:
        context = RequestContext(request_id, actor, time_defaulted=True)
        recorded = self._pipeline.run_one(Job(command, context))
        self._settle(self._clock())  # takes effect upon approval, or arms its time
        number = _proposal_of(recorded.events)
        changes = self._pipeline.load(POLICY_STREAM) or PolicyChanges()
        proposal = changes.proposal(number) if number else None
        version = self._active.current().version
        return ChangeResult(proposal, recorded.records, recorded.replayed, (), version)

    def _settle(self, now: datetime) -> None:
        """Make every approved proposal whose time has come take effect, in time order; arm
        the next one.
        """
        with self._lock:
            changes = self._pipeline.load(POLICY_STREAM) or PolicyChanges()
            scheduled = changes.scheduled()
            for proposal in scheduled:
                if not proposal.due(now):
                    break
                self._take_effect(proposal)
            upcoming = [p for p in scheduled if not p.due(now)]
            at = upcoming[0].takes_effect_at if upcoming else None
            self._active.expect_change(at, self._settle, self._clock)

    def _take_effect(self, proposal: Proposal) -> None:
        at = proposal.takes_effect_at
        assert at is not None  # noqa: S101 - an approved proposal has a time
        request_id = f"policy-activation:{proposal.number}"
        signed = ", ".join(proposal.approvers)
        policy = self._active.get(proposal.version)
        self._archive.record_activation(
            proposal.version, f"{proposal.proposer} (approved by {signed})", request_id, at
        )
        if self._requalify is not None:
            # Before the activation is recorded: a crash in between repeats it on the next
            # start, and each supplier's re-evaluation is recorded once by its request id.
            self._requalify(policy, at, request_id)
        context = RequestContext(request_id, SIGNOFF_ACTOR)
        self._pipeline.run_one(Job(RecordPolicyActivation(proposal.number, at), context))
        self._active.activate(policy)
        log.info(
            "policy %s of proposal %d took effect at %s",
            proposal.version,
            proposal.number,
            at.isoformat(),
        )


def _proposal_of(events: Sequence[PolicyChangeEvent]) -> int:
    for event in events:
        if isinstance(event, PolicyRolledBack):
            return 0
        return event.proposal
    return 0
