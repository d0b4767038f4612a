"""Ingestion through a real ``sqm serve``: the client-streaming upload and unary calls.

The server runs on a fresh copy of a store with suppliers under the default contract: in
their steady state (:func:`steady`: a year of records each, as an operator's suppliers
carry), or freshly contracted (:func:`contracted`). The client is :mod:`bench.load` in
another process. Every row is a new measurement (its own request id, a time after the
supplier's last record) that meets its objective, so each is decided by the default pack
(one monitoring evaluation) and stored durably, and no supplier's state changes under the
load.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import attrs

from bench import fixtures, load
from bench.processes import sqm_server
from sqm.client import measurement
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.v1 import supplier_service_pb2 as api

RECORD_METHOD = "/sqm.v1.SupplierService/RecordMeasurement"
FIRST_ROW_AT = fixtures.START + timedelta(days=1)
"""When the benchmark's rows start on freshly contracted suppliers (a store with records
starts them the day after its last: :attr:`Store.first_row_at`)."""


@attrs.frozen
class Store:
    """A built ingestion store: its file, supplier ids and their objectives."""

    path: Path
    supplier_ids: tuple[str, ...]
    objectives: tuple[tuple[str, float, str, int], ...]
    """(objective id, target, unit, period in days) of the default contract."""
    first_row_at: datetime = FIRST_ROW_AT
    """When the benchmark's rows start: after every supplier's last record."""
    days: int = 0
    """Days of records each supplier carries (0: freshly contracted)."""
    records: int = 0
    """Measurements each supplier carries."""
    events: int = 0
    """Events each supplier's history holds."""
    built_in: float | None = None
    """Seconds this call spent building the store (None: it was cached)."""

    @property
    def history(self) -> str:
        """What each supplier carries, for a figure's note."""
        if not self.days:
            return f"freshly contracted suppliers: {self.events} events each"
        span = "a year" if self.days == 365 else f"{self.days} days"
        return (
            f"suppliers with {span} of records each: {self.records:,} records"
            f" ({self.events:,} events)"
        )


def contracted(suppliers: int) -> Store:
    """The cached store of ``suppliers`` suppliers under contract (built when absent)."""
    policy = CompiledPolicy(load_pack(default_pack_dir()))
    ids = tuple(fixtures.supplier_name(n) for n in range(suppliers))
    parameters = {"suppliers": suppliers, "policy": policy.version}
    path, built_in = _cached(
        "contracted", parameters, lambda p: fixtures.contracted_store(p, policy, suppliers)
    )
    events = fixtures.onboarded(policy, "zz-template").events
    return Store(path, ids, _objectives(policy), events=events, built_in=built_in)


def steady(suppliers: int, days: int) -> Store:
    """The cached store of ``suppliers`` suppliers under contract with ``days`` days of
    records each (:func:`bench.fixtures.steady`; built when absent).
    """
    policy = CompiledPolicy(load_pack(default_pack_dir()))
    ids = tuple(fixtures.supplier_name(n) for n in range(suppliers))
    parameters = {"suppliers": suppliers, "days": days, "policy": policy.version}
    # The template is decided again even when the store is cached (under a second for a
    # year): it says exactly what each supplier carries.
    template = fixtures.steady(policy, "zz-template", days)
    path, built_in = _cached(
        "steady", parameters, lambda p: fixtures.copied_store(p, policy, template, suppliers)
    )
    records = sum(r.event_types.count("MeasurementRecorded") for r in template.requests)
    return Store(
        path, ids, _objectives(policy), first_row_at=fixtures.START + timedelta(days=days + 1),
        days=days, records=records, events=template.events, built_in=built_in,
    )  # fmt: skip


def _cached(
    name: str, parameters: dict[str, object], build: Callable[[Path], object]
) -> tuple[Path, float | None]:
    built: list[float] = []

    def timed(path: Path) -> None:
        began = time.perf_counter()
        build(path)
        built.append(time.perf_counter() - began)

    path = fixtures.cached(name, parameters, timed)
    return path, built[0] if built else None


def _objectives(policy: CompiledPolicy) -> tuple[tuple[str, float, str, int], ...]:
    return tuple(
        (o.objective_id, o.target, _unit(policy, o.metric), o.period_days)
        for o in fixtures.objectives(policy)
    )


def rows(
    store: Store, count: int, prefix: str, suppliers: Sequence[str] = ()
) -> list[api.RecordMeasurementRequest]:
    """``count`` new measurements, round-robin over ``suppliers`` (default: all), each a
    minute after the supplier's previous one; request ids ``{prefix}-{n}``.
    """
    made = []
    suppliers = suppliers or store.supplier_ids
    for number in range(count):
        turn = number // len(suppliers)
        objective_id, target, unit, period_days = store.objectives[turn % len(store.objectives)]
        at = store.first_row_at + timedelta(minutes=turn)
        made.append(
            measurement(
                suppliers[number % len(suppliers)],
                objective_id,
                target,
                unit,
                period_start=at - timedelta(days=period_days),
                period_end=at,
                occur_time=at,
                request_id=f"{prefix}-{number}",
            )
        )
    return made


def _upload_streams(
    requests: Sequence[api.RecordMeasurementRequest], per_upload: int
) -> list[list[bytes]]:
    return [
        [
            api.UploadMeasurementsRequest(measurement=row).SerializeToString()
            for row in requests[start : start + per_upload]
        ]
        for start in range(0, len(requests), per_upload)
    ]


def fresh_copy(store: Store, folder: Path, name: str) -> Path:
    """A copy of the store for one server: every measurement starts from the same state."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.sqlite3"
    for leftover in folder.glob(f"{name}.sqlite3*"):
        leftover.unlink()
    shutil.copyfile(store.path, target)
    return target


def streaming(
    store: Store,
    folder: Path,
    *,
    rows_total: int,
    per_upload: int,
    concurrency: int,
    database: str | None = None,
    name: str = "streaming",
    workers: int = 1,
) -> load.LoadResult:
    """Rows a second through ``UploadMeasurements`` (all or none), ``per_upload`` rows a
    stream, ``concurrency`` streams at a time; on a fresh copy of the SQLite store unless
    ``database`` names another (a PostgreSQL URL). With several ``workers`` each stream
    sender has a connection of its own, so the kernel spreads them over the workers.
    """
    # Each concurrent stream has suppliers of its own: rows for one supplier must arrive
    # in time order, and two streams' uploads may be decided in either order.
    groups = [store.supplier_ids[n::concurrency] for n in range(concurrency)]
    streams = [
        _upload_streams(rows(store, rows_total // concurrency, f"s{n}", ids), per_upload)
        for n, ids in enumerate(groups)
    ]
    database = database or str(fresh_copy(store, folder, name))
    connections = concurrency if workers > 1 else 1
    with sqm_server(database, folder / f"{name}.log", workers=workers) as server:
        result = load.on_server(
            server, lambda: load.uploads(server.address, streams, connections=connections)
        )
    load.check(result, "UploadMeasurements")
    return result


@attrs.frozen
class UnaryRun:
    """Unary RecordMeasurement at full load, then at half of it."""

    full: load.LoadResult
    half: load.LoadResult
    half_rate: float
    half_inside_ms: tuple[float, ...]
    """The half-load calls' latencies as the server's access log gives them."""
    half_gc_ms: dict[int, list[float]] = attrs.field(factory=dict)
    """The server's garbage collection pauses during the half load, by generation (logged
    only by a server run with ``SQM_GC_METRICS=true``).
    """


def unary(
    store: Store,
    folder: Path,
    *,
    requests: int,
    concurrency: int,
    seconds: float,
    database: str | None = None,
    name: str = "unary",
) -> UnaryRun:
    """RecordMeasurement calls: a closed loop at ``concurrency``, then an open loop at half
    the throughput it reached, on the same server (a fresh copy of the SQLite store unless
    ``database`` names another).
    """
    payloads = [r.SerializeToString() for r in rows(store, requests, "unary")]
    database = database or str(fresh_copy(store, folder, name))
    with sqm_server(database, folder / f"{name}.log") as server:
        full = load.on_server(server, lambda: load.unary(
            server.address, RECORD_METHOD, payloads, concurrency=concurrency, seconds=seconds
        ))  # fmt: skip
        load.check(full, "RecordMeasurement")
        used = full.completed + full.failed + load.WARM_UP_CALLS
        half_rate = full.rate / 2
        mark = server.log_length()
        half = load.unary(
            server.address, RECORD_METHOD, payloads[used:], concurrency=concurrency,
            seconds=seconds, rate=half_rate,
        )  # fmt: skip
        load.check(half, "RecordMeasurement at half load")
        inside = tuple(server.call_latencies_ms("RecordMeasurement", mark))
        collections = server.gc_pauses_ms(mark)
    return UnaryRun(full, half, half_rate, inside, collections)


def unary_over_connections(
    store: Store,
    folder: Path,
    *,
    workers: int,
    requests: int,
    concurrency: int,
    seconds: float,
    connections: int = 8,
    database: str | None = None,
    name: str = "unary",
) -> load.LoadResult:
    """RecordMeasurement at full load over ``connections`` connections to ``sqm serve
    --workers WORKERS`` (the kernel gives each connection to one worker), on a fresh copy
    of the SQLite store unless ``database`` names another (a PostgreSQL URL).
    """
    # Payload i goes over connection i % connections (bench.load): each connection gets
    # suppliers of its own, so no supplier's rows can overtake each other on two workers.
    lanes = [
        rows(store, requests // connections, f"unary-{lane}", store.supplier_ids[lane::connections])
        for lane in range(connections)
    ]
    payloads = [row.SerializeToString() for turn in zip(*lanes, strict=True) for row in turn]
    name = f"{name}-{workers}-workers"
    database = database or str(fresh_copy(store, folder, name))
    return load.unary_from_workers(
        database, folder / f"{name}.log", RECORD_METHOD, payloads, workers=workers,
        concurrency=concurrency, seconds=seconds, connections=connections,
        what=f"RecordMeasurement, {workers} worker(s)",
    )  # fmt: skip


def _unit(policy: CompiledPolicy, metric: str) -> str:
    spec = policy.catalogue.metric(metric)
    return spec.unit if spec is not None else ""
