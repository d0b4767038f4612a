"""Every worker's metrics from one directory (prometheus_client's multiprocess mode).

Two real processes, started as ``sqm serve --workers`` starts its workers (``spawn``, the
directory in their environment), each make SQM's metrics and move them; the parent's
collector merges them: counters summed, each gauge as its mode says, and a stopped worker's
live gauges gone once it is marked dead.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from sqm.server.observability.calls import GAUGE_MODES, SQM_METRICS
from sqm.server.observability.worker_metrics import ENVIRONMENT, MetricFiles, metric_files

SPAWN = multiprocessing.get_context("spawn")
METHOD = "sqm.v1.SupplierService/RegisterSupplier"


def _worker(ready: Event, done: Event, watchers: int, pending: int) -> None:
    """A worker's metrics: 3 calls, ``watchers`` open streams, drill mode, an outbox count,
    a full collection timed (the hook queues it in multiprocess mode).
    """
    from sqm.server.observability.calls import Metrics  # noqa: PLC0415 - after the environment
    from sqm.server.observability.gc_pauses import GcPauses  # noqa: PLC0415
    from sqm.server.observability.worker_metrics import in_multiprocess_mode  # noqa: PLC0415

    assert in_multiprocess_mode()
    metrics = Metrics()
    pauses = GcPauses(metrics.registry)
    assert pauses.deferred
    gc.collect()
    pauses.close()
    metrics.calls.labels(method=METHOD, code="OK").inc(3)
    metrics.drill_mode.set(1)
    metrics.notifications_pending.set(pending)
    with contextlib.ExitStack() as open_streams:
        for _ in range(watchers):
            open_streams.enter_context(metrics.watching())
        ready.set()
        done.wait(30)


def _started(files: MetricFiles, watchers: int, pending: int) -> tuple[BaseProcess, Event]:
    ready, done = SPAWN.Event(), SPAWN.Event()
    process = SPAWN.Process(target=_worker, args=(ready, done, watchers, pending))
    with files.for_children():
        process.start()
    assert ready.wait(30)
    return process, done


def test_counters_are_summed_and_each_gauge_merged_as_its_mode_says() -> None:
    """Calls 3 + 3; watchers 2 + 1; drill mode 1, not 2; the outbox count the later one; the
    collector's pauses of both.
    Once the first worker stops and is marked dead, its watchers go and its calls stay.
    """
    with metric_files() as files:
        first, first_done = _started(files, watchers=2, pending=7)
        second, second_done = _started(files, watchers=1, pending=3)
        try:
            sample = files.registry().get_sample_value
            assert sample("sqm_grpc_calls_total", {"method": METHOD, "code": "OK"}) == 6
            assert sample("sqm_active_watchers") == 3
            assert sample("sqm_drill_mode") == 1
            assert sample("sqm_notifications_pending") == 3  # the latest count, not 10 or 7
            # At least the forced one each (the interpreter may have collected on its own).
            assert (sample("sqm_gc_pause_seconds_count", {"generation": "2"}) or 0) >= 2
            first_done.set()
            first.join(30)
            assert first.pid is not None
            files.mark_dead(first.pid)
            sample = files.registry().get_sample_value
            assert sample("sqm_active_watchers") == 1
            assert sample("sqm_grpc_calls_total", {"method": METHOD, "code": "OK"}) == 6
            assert sample("sqm_drill_mode") == 1
        finally:
            first_done.set()
            second_done.set()
            first.join(30)
            second.join(30)
    assert first.exitcode == 0
    assert second.exitcode == 0


def test_the_directory_is_private_empty_and_removed_and_this_environment_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the workers get the variable; the directory is new, the user's alone, then gone."""
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    with metric_files() as files:
        path = files.path
        assert path.is_dir()
        assert not any(path.iterdir())
        assert path.stat().st_mode & 0o077 == 0
        with files.for_children():
            assert os.environ[ENVIRONMENT] == str(path)
        assert ENVIRONMENT not in os.environ
    assert not Path(path).exists()


def test_every_gauge_has_a_mode_chosen_for_it() -> None:
    """A new gauge must say how the workers' values merge (a KeyError at start up else)."""
    gauges = {attribute for attribute, kind, *_ in SQM_METRICS if kind.__name__ == "Gauge"}
    assert gauges == set(GAUGE_MODES)
