"""Garbage collection tuned for a long-running process that allocates many small objects.

Measured on the benchmark (docs/performance.md): with CPython's defaults a full collection
walked every object loaded at start-up (modules, the compiled policy, the engine's rulesets)
and paused a server for 40-100 ms every few thousand commands, which was its p99 at half
load; collecting the youngest generation every 700 allocations also cost about a tenth of
a command's time. Objects alive once start-up is done are frozen out of collections, and
collections run less often. Reference counting still frees almost everything at once.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations between collections of the youngest generation (CPython's default is 700)."""


def tune_after_start_up() -> None:
    """Freeze what start-up built, then collect less often; call once everything is loaded."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
