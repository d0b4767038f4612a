"""How big each measurement is: the full run, and the quick smoke run."""

from __future__ import annotations

import attrs


@attrs.frozen
class Plan:
    """Sizes and durations of one benchmark run."""

    engine_seconds: float = 5.0
    sqlite_seconds: float = 3.0
    context_months: int = 12
    suppliers: int = 200
    """Suppliers under contract in the ingestion store (rows go round-robin over them, so a
    supplier's next row is this many calls later: more calls in flight than this could
    reach the server out of its time order and be refused)."""
    steady_days: int = 365
    """Days of records each ingestion supplier carries before the benchmark's rows (one
    measurement of every objective a day): the steady state of an operator's supplier."""
    stream_rows: int = 30_000
    upload_rows: int = 500
    stream_concurrency: int = 2
    unary_seconds: float = 10.0
    unary_concurrency: int = 32
    unary_requests: int = 60_000
    replay_events: int = 1_000_000
    replay_templates: int = 100
    replay_months: int = 12
    scale_suppliers: int = 100_000
    get_seconds: float = 8.0
    get_requests: int = 80_000
    own_work_reads: int = 3_000
    """GetSupplier's own work (read, map, serialise) is timed over this many suppliers."""
    sim_suppliers: int = 200
    sim_months: int = 12
    growth_records: tuple[int, ...] = (0, 100, 1_000, 10_000)
    """Lengths of a supplier's history the cost of one command is measured against."""
    growth_commands: int = 300
    loop_examples: int = 2_000
    """``sqm simulate check``'s default example count, as a policy team runs it."""
    loop_suppliers: int = 200
    loop_months: int = 12


FULL = Plan()
QUICK = Plan(
    engine_seconds=0.3, sqlite_seconds=0.3, context_months=1, suppliers=40, steady_days=30,
    stream_rows=200, upload_rows=50, unary_seconds=0.5, unary_concurrency=8, unary_requests=1_500,
    replay_events=2_000, replay_templates=3, replay_months=2, scale_suppliers=300,
    get_seconds=0.5, get_requests=1_500, own_work_reads=50, sim_suppliers=3, sim_months=1,
    growth_records=(0, 20, 100), growth_commands=20, loop_examples=20, loop_suppliers=3,
    loop_months=1,
)  # fmt: skip
