"""When a version whose qualification changes apply to qualified suppliers takes effect.

A pack saying ``qualification_changes_apply_to: qualified_suppliers`` reaches suppliers
already qualified: when it takes effect, each supplier still ``qualified`` (a contracted one
keeps its contract) is evaluated again on its recorded evidence under it
(:class:`~sqm.domain.commands.ReevaluateQualification`), through the same write pipeline as
every other command, and one that no longer passes goes back to candidate. Under the
default, ``new_evaluations``, nothing is done: recorded qualifications stand (既往不咎).

Each supplier's re-evaluation has a request id made of the activation's, so doing it again
(after a crash, or on a second instance) records nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import attrs

from sqm.domain.commands import Command, ReevaluateQualification, reevaluation_request_id
from sqm.domain.model import LifecycleState, QualificationChanges, SupplierState
from sqm.domain.ports import EventStore, Policy
from sqm.server.app.pipeline import DEFAULT_SNAPSHOT_EVERY, Job, RequestContext
from sqm.server.app.suppliers import SupplierService

PAGE = 500
ACTOR = "sqm policy activation"
"""Who records a re-evaluation: the server, as a version takes effect."""
log = logging.getLogger(__name__)

Requalify = Callable[[Policy, datetime, str], object]
"""Called with a version taking effect, its time and its activation's request id
(:class:`Requalifier`, or nothing for a server built without one)."""


@attrs.frozen
class Requalified:
    """What re-evaluating did: suppliers evaluated, revoked, and those that failed."""

    evaluated: int = 0
    revoked: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


class Requalifier:
    """Evaluates every qualified supplier again under a version taking effect, if it says so."""

    def __init__(
        self,
        store: EventStore,
        actor: str = ACTOR,
        *,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    ) -> None:
        self._store = store
        self._actor = actor
        self._snapshot_every = snapshot_every

    def __call__(self, policy: Policy, at: datetime, activation: str) -> Requalified:
        """Re-evaluate under ``policy`` at ``at`` when it applies to qualified suppliers.

        ``activation`` is the request id of the activation; each supplier's request id is
        made from it. A supplier whose re-evaluation fails is logged and left as it is: one
        supplier cannot hold a version back.
        """
        if policy.qualification_changes_apply_to is not QualificationChanges.QUALIFIED_SUPPLIERS:
            return Requalified()
        # The version taking effect, given outright: it is not the active one yet.
        service = SupplierService(self._store, lambda: policy, snapshot_every=self._snapshot_every)
        done = Requalified()
        after = ""
        while page := service.list_suppliers(after, PAGE):
            after = page[-1].supplier_id
            qualified = [s for s in page if s.lifecycle is LifecycleState.QUALIFIED]
            done = _merged(done, self._page(service, qualified, at, activation))
        log.info(
            "policy %s took effect for qualified suppliers: %d re-evaluated, %d revoked,"
            " %d failed",
            policy.version, done.evaluated, len(done.revoked), len(done.failed),
        )  # fmt: skip
        return done

    def _page(
        self,
        service: SupplierService,
        qualified: Sequence[SupplierState],
        at: datetime,
        activation: str,
    ) -> Requalified:
        jobs = [self._job(state, at, activation) for state in qualified]
        revoked, failed = [], []
        for state, outcome in zip(qualified, service.run(jobs), strict=True):
            if isinstance(outcome, Exception):
                log.error("re-evaluating %s failed: %s", state.supplier_id, outcome)
                failed.append(state.supplier_id)
            elif outcome.supplier.lifecycle is LifecycleState.CANDIDATE:
                revoked.append(state.supplier_id)
        return Requalified(len(qualified), tuple(revoked), tuple(failed))

    def _job(self, state: SupplierState, at: datetime, activation: str) -> Job[Command]:
        # Never before the supplier's last record: time only moves forward along a stream.
        when = max(at, state.updated_at) if state.updated_at is not None else at
        # time_defaulted: a retry may compute another time; the request is the same one.
        request_id = reevaluation_request_id(activation, state.supplier_id)
        context = RequestContext(request_id, self._actor, time_defaulted=True)
        return Job(ReevaluateQualification(state.supplier_id, when), context)


def _merged(one: Requalified, other: Requalified) -> Requalified:
    return Requalified(
        one.evaluated + other.evaluated, one.revoked + other.revoked, one.failed + other.failed
    )
