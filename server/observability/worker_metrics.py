"""Every worker's metrics on one endpoint: prometheus_client's multiprocess mode.

Under ``sqm serve --workers N`` (N > 1) the parent makes a fresh private directory
(:func:`metric_files`), puts it in ``PROMETHEUS_MULTIPROC_DIR`` for the workers it starts, so
prometheus_client keeps each worker's metrics in files there (one set per pid), and serves
``/metrics`` itself from a ``MultiProcessCollector`` over them: counters and histograms are
summed over the workers, each gauge is merged as its ``multiprocess_mode`` says
(``server/observability/calls.py``). A worker that stopped is marked dead, so its live
gauges go. The directory is removed when the parent exits. With one worker none of this
runs: the process serves its own registry, as always.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
from prometheus_client import CollectorRegistry, multiprocess, values

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"


def in_multiprocess_mode() -> bool:
    """Whether this process's metrics live in files (chosen when prometheus_client loaded)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


@attrs.frozen
class MetricFiles:
    """The directory where the workers' metrics live."""

    path: Path

    def registry(self) -> CollectorRegistry:
        """A registry collecting every worker's metrics from the files, at each scrape."""
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.path))  # type: ignore[no-untyped-call]
        return registry

    def mark_dead(self, pid: int) -> None:
        """Drop the live gauges (``livesum``, ``livemax``...) of the worker ``pid``."""
        multiprocess.mark_process_dead(pid, str(self.path))  # type: ignore[no-untyped-call]

    @contextlib.contextmanager
    def for_children(self) -> Iterator[None]:
        """Processes started in the block write their metrics here (the variable is read
        when their prometheus_client loads); this process's environment is restored after.
        """
        before = os.environ.get(ENVIRONMENT)
        os.environ[ENVIRONMENT] = str(self.path)
        try:
            yield
        finally:
            if before is None:
                del os.environ[ENVIRONMENT]
            else:
                os.environ[ENVIRONMENT] = before


@contextlib.contextmanager
def metric_files() -> Iterator[MetricFiles]:
    """A new, empty directory only this user can read (no file of an earlier run can be
    counted again), removed with what it holds when the block ends.
    """
    path = Path(tempfile.mkdtemp(prefix="sqm-metrics-"))
    try:
        yield MetricFiles(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
