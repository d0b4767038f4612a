"""How long the cyclic garbage collector paused the server, per generation (opt-in).

With ``--gc-metrics`` (``SQM_GC_METRICS=true``) a hook in ``gc.callbacks`` times every
collection into the ``sqm_gc_pause_seconds`` histogram, labelled by generation, so a run
shows how many collections of each generation happened and how long they took. Each
collection is also logged (logger ``sqm.gc``, a dozen lines a second under load) with the
CPU time the collecting thread spent in it, so slow calls in the access log can be matched
with the pauses by time, and a pause that was mostly waiting for a core (a loaded machine)
told from one that was the collector's work. Off by default: nothing
that only diagnoses should run unasked on every collection.

Under ``sqm serve --workers N`` the metrics live in files (prometheus_client's multiprocess
mode), where one lock, not reentrant, guards every metric of the process: a collection that
starts inside another metric's update, on the same thread, would wait in the hook for the
lock its own thread holds. There the hook only queues each pause, and a thread of its own
puts them in the histogram every :data:`FLUSH_SECONDS` (and at :meth:`GcPauses.close`).
"""

from __future__ import annotations

import collections
import gc
import logging
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from sqm.server.observability.worker_metrics import in_multiprocess_mode

GC_LOGGER = "sqm.gc"
# Young collections take tens of microseconds to a millisecond, full ones up to a hundred.
PAUSE_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
)  # fmt: skip

FLUSH_SECONDS = 1.0  # how late a queued pause reaches the histogram, at most (multiprocess)

log = logging.getLogger(GC_LOGGER)


class GcPauses:
    """A ``gc.callbacks`` hook recording each collection's pause; :meth:`close` removes it."""

    def __init__(self, registry: CollectorRegistry, *, deferred: bool | None = None) -> None:
        """``deferred`` (default: in multiprocess mode) queues the pauses for a thread to
        record (see the module's description).
        """
        self.pauses = Histogram(
            "sqm_gc_pause_seconds",
            "Pauses of the cyclic garbage collector, by generation collected.",
            ("generation",),
            registry=registry,
            buckets=PAUSE_BUCKETS,
        )
        for generation in range(3):  # each series shows from the start, at 0
            self.pauses.labels(generation=str(generation))
        self._began = self._began_cpu = 0.0
        self._queued: collections.deque[tuple[int, float]] = collections.deque()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self.deferred = deferred if deferred is not None else in_multiprocess_mode()
        if self.deferred:
            self._flusher = threading.Thread(
                target=self._flush_every, name="sqm-gc-pauses", daemon=True
            )
            self._flusher.start()
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector's own call, with collection disabled: keep it short.
        if phase == "start":
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()
            return
        pause = time.perf_counter() - self._began
        cpu = time.thread_time() - self._began_cpu
        generation = info["generation"]
        if self._flusher is None:
            self.pauses.labels(generation=str(generation)).observe(pause)
        else:
            self._queued.append((generation, pause))  # no lock taken here
        log.info(
            "garbage collection of generation %d: %.3f ms (%.3f ms of CPU), %d collected,"
            " %d uncollectable",
            generation,
            pause * 1000,
            cpu * 1000,
            info["collected"],
            info["uncollectable"],
        )

    def flush(self) -> None:
        """Put the queued pauses in the histogram (deferred mode; nothing is queued else)."""
        while self._queued:
            generation, pause = self._queued.popleft()
            self.pauses.labels(generation=str(generation)).observe(pause)

    def _flush_every(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def close(self) -> None:
        """Stop recording (the histogram keeps what it has, the queued pauses included)."""
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        if self._flusher is not None:
            self._stop.set()
            self._flusher.join()
        self.flush()
