"""Replay: ``sqm backtest``'s own code on a recorded history of a million events.

The history is a baseline population simulated for a year under the default pack (see
:func:`bench.fixtures.history_store`); the backtest decides every recorded command again
under the same pack, in a fresh process, reading the store read-only as ``sqm backtest``
does. Events a second = events in the store / seconds the backtest took.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import attrs

from bench import fixtures
from bench.processes import in_fresh_process


@attrs.frozen
class ReplayRun:
    """What was replayed, how long it took, and the backtest's own verdict."""

    events: int
    suppliers: int
    commands: int
    changed: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events replayed a second."""
        return self.events / self.seconds


def history(events: int, templates: int, months: int) -> Path:
    """The cached history store of at least ``events`` events (built when absent)."""
    return in_fresh_process(_history, events, templates, months)


def _history(events: int, templates: int, months: int) -> Path:
    from sqm.rules import CompiledPolicy, default_pack_dir, load_pack  # noqa: PLC0415 - child

    pack = load_pack(default_pack_dir())
    policy = CompiledPolicy(pack)
    parameters = {
        "events": events, "templates": templates, "months": months, "policy": policy.version,
    }  # fmt: skip

    def build(path: Path) -> None:
        fixtures.history_store(
            path, pack, policy, events=events, templates=templates, months=months
        )

    return fixtures.cached("history", parameters, build)


def replay(path: Path, jobs: int = 1) -> ReplayRun:
    """Backtest the history at ``path`` under the default pack, in a fresh process
    (sharing the suppliers out over ``jobs`` processes, as ``sqm backtest --jobs``).
    """
    return in_fresh_process(_replay, path, jobs)


def _replay(path: Path, jobs: int) -> ReplayRun:
    from sqm.rules import default_pack_dir, load_pack  # noqa: PLC0415 - in the child
    from sqm.server.observability.gc_tuning import tune_after_start_up  # noqa: PLC0415
    from sqm.server.storage.sqlite import SqliteEventStore  # noqa: PLC0415
    from sqm.simulation.backtest import backtest  # noqa: PLC0415

    pack = load_pack(default_pack_dir())
    tune_after_start_up()  # as ``sqm backtest`` does
    with SqliteEventStore(path, read_only=True) as store:
        events = store.last_sequence()
        began = time.perf_counter()
        reopen = functools.partial(SqliteEventStore, path, read_only=True)
        result = backtest(store, pack, source=str(path), jobs=jobs, reopen=reopen)
        seconds = time.perf_counter() - began
    totals = result["totals"]
    return ReplayRun(events, totals["suppliers"], totals["commands"], totals["changed"], seconds)
