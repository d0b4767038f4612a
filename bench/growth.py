"""The cost of one command against the length of its supplier's past.

One supplier of the default contract is given a history of N records (measurements meeting
their objectives, decided by the default pack through the pipeline and stored on SQLite in
batches), then a few hundred more measurements are run one at a time through
:class:`~sqm.server.app.suppliers.SupplierService` (the pipeline: decide, fold, append
with its commit and snapshot), in a fresh process per length. If a command's cost does not
grow with the supplier's past, the figures for 0, 100, 1,000 and 10,000 records are flat.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import attrs

from bench import fixtures
from bench.processes import in_fresh_process
from sqm.domain.commands import Command
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.sqlite import SqliteEventStore

SUPPLIER = fixtures.supplier_name(0)
BUILD_BATCH = 500


@attrs.frozen
class GrowthPoint:
    """The mean cost of one command on a supplier with ``records`` records behind it."""

    records: int
    commands: int
    mean_us: float


def point(folder: Path, records: int, commands: int) -> GrowthPoint:
    """One length of history, measured in a fresh interpreter."""
    return in_fresh_process(_point, str(folder), records, commands)


def _point(folder: str, records: int, commands: int) -> GrowthPoint:
    policy = CompiledPolicy(load_pack(default_pack_dir()))
    path = Path(folder) / f"growth-{records}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()
    fixtures.contracted_store(path, policy, 1)
    with SqliteEventStore(path) as store:
        service = SupplierService(store, lambda: policy)
        onboarding = service.get(SUPPLIER).version
        step = 0
        while service.get(SUPPLIER).version - onboarding < records:
            wanted = records - (service.get(SUPPLIER).version - onboarding)
            batch = _measurements(policy, step, min(BUILD_BATCH, wanted))
            for outcome in service.execute_batch(batch):
                if isinstance(outcome, Exception):
                    raise outcome
            step += len(batch)
        timed = _measurements(policy, step, commands + 1)
        service.execute(*timed[0])  # the first loads the supplier: not a command's cost
        started = time.perf_counter()
        for command, context in timed[1:]:
            service.execute(command, context)
        elapsed = time.perf_counter() - started
    return GrowthPoint(records, commands, elapsed / commands * 1e6)


def _measurements(
    policy: CompiledPolicy, first: int, count: int
) -> Sequence[tuple[Command, RequestContext]]:
    objectives = fixtures.objectives(policy)
    made = []
    for number in range(first, first + count):
        at = fixtures.START + timedelta(days=1, minutes=number)
        command = fixtures.measurement(objectives[number % len(objectives)], SUPPLIER, at)
        made.append((command, RequestContext(f"growth-{number}", fixtures.ACTOR)))
    return made
