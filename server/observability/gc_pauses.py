"""How long the cyclic garbage collector paused the server, per generation (opt-in).

With ``--gc-metrics`` (``SQM_GC_METRICS=true``) a hook in ``gc.callbacks`` times every
collection into the ``sqm_gc_pause_seconds`` histogram, labelled by generation, so a run
shows how many collections of each generation happened and how long they took. Each
collection is also logged (logger ``sqm.gc``, a dozen lines a second under load) with the
CPU time the collecting thread spent in it, so slow calls in the access log can be matched
with the pauses by time, and a pause that was mostly waiting for a core (a loaded machine)
told from one that was the collector's work. Off by default: nothing
that only diagnoses should run unasked on every collection.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

GC_LOGGER = "sqm.gc"
# Young collections take tens of microseconds to a millisecond, full ones up to a hundred.
PAUSE_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
)  # fmt: skip

log = logging.getLogger(GC_LOGGER)


class GcPauses:
    """A ``gc.callbacks`` hook recording each collection's pause; :meth:`close` removes it."""

    def __init__(self, registry: CollectorRegistry) -> None:
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
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector's own call, with collection disabled: keep it short.
        if phase == "start":
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()
            return
        pause = time.perf_counter() - self._began
        cpu = time.thread_time() - self._began_cpu
        generation = info["generation"]
        self.pauses.labels(generation=str(generation)).observe(pause)
        log.info(
            "garbage collection of generation %d: %.3f ms (%.3f ms of CPU), %d collected,"
            " %d uncollectable",
            generation,
            pause * 1000,
            cpu * 1000,
            info["collected"],
            info["uncollectable"],
        )

    def close(self) -> None:
        """Stop recording (the histogram keeps what it has)."""
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
