"""Scale: ``sqm serve`` on a store of 100,000 suppliers under contract.

Start-up is timed from spawning the process to the first health check answering SERVING;
memory is the server's resident set (after start-up, and its peak after the reads);
GetSupplier is read at full load and at half of it, suppliers drawn at random, and at full
load from two server processes (``sqm serve --workers 2``).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path

import attrs

from bench import fixtures, load
from bench.processes import in_fresh_process, sqm_server
from sqm.v1 import supplier_service_pb2 as api

GET_METHOD = "/sqm.v1.SupplierService/GetSupplier"


@attrs.frozen
class ScaleRun:
    """Start-up, memory and GetSupplier under load on the big store."""

    suppliers: int
    started_in: float
    rss_mb: float
    peak_rss_mb: float
    full: load.LoadResult
    half: load.LoadResult
    half_rate: float
    half_inside_ms: tuple[float, ...]
    """The half-load calls' latencies as the server's access log gives them."""


def store(suppliers: int) -> Path:
    """The cached store of ``suppliers`` suppliers under contract (built when absent), with
    the default pack already active, as on a server that has run before.
    """
    return in_fresh_process(_store, suppliers)


def _store(suppliers: int) -> Path:
    from sqm.rules import CompiledPolicy, default_pack_dir, load_pack  # noqa: PLC0415 - child
    from sqm.server.app.policies import start_policy  # noqa: PLC0415
    from sqm.server.storage.sqlite import SqliteEventStore  # noqa: PLC0415

    policy = CompiledPolicy(load_pack(default_pack_dir()))

    def build(path: Path) -> None:
        fixtures.contracted_store(path, policy, suppliers)
        with SqliteEventStore(path) as built:
            start_policy(built, default_pack_dir(), datetime.now(UTC))

    parameters = {"suppliers": suppliers, "policy": policy.version, "activated": True}
    return fixtures.cached("scale", parameters, build)


def get_requests(suppliers: int, count: int) -> list[bytes]:
    """``count`` GetSupplier requests for suppliers drawn at random (the same every run)."""
    draw = random.Random(7)  # noqa: S311 - a repeatable choice of suppliers
    return [
        api.GetSupplierRequest(
            name=f"suppliers/{fixtures.supplier_name(draw.randrange(suppliers))}"
        ).SerializeToString()
        for _ in range(count)
    ]


def run(
    path: Path, suppliers: int, folder: Path, *, requests: int, concurrency: int, seconds: float
) -> ScaleRun:
    """Start a server on ``path`` and read suppliers from it."""
    payloads = get_requests(suppliers, requests)
    folder.mkdir(parents=True, exist_ok=True)
    with sqm_server(path, folder / "scale.log") as server:
        started_in, rss = server.started_in, server.rss_mb()
        full = load.on_server(server, lambda: load.unary(
            server.address, GET_METHOD, payloads, concurrency=concurrency, seconds=seconds
        ))  # fmt: skip
        half_rate = full.rate / 2
        mark = server.log_length()
        half = load.unary(
            server.address, GET_METHOD, payloads, concurrency=concurrency, seconds=seconds,
            rate=half_rate,
        )  # fmt: skip
        peak = server.peak_rss_mb()
        inside = tuple(server.call_latencies_ms("GetSupplier", mark))
    for result in (full, half):
        if result.failed:
            raise RuntimeError(f"GetSupplier: {result.failed} failed; {result.first_error}")
    return ScaleRun(suppliers, started_in, rss, peak, full, half, half_rate, inside)


def full_load_with_workers(
    path: Path,
    suppliers: int,
    folder: Path,
    *,
    workers: int,
    requests: int,
    concurrency: int,
    seconds: float,
    connections: int = 8,
) -> load.LoadResult:
    """GetSupplier at full load from ``sqm serve --workers N`` on ``path``, the calls spread
    over ``connections`` (each connection is served by one of the workers).
    """
    folder.mkdir(parents=True, exist_ok=True)
    return load.unary_from_workers(
        path, folder / f"scale-{workers}-workers.log", GET_METHOD,
        get_requests(suppliers, requests), workers=workers, concurrency=concurrency,
        seconds=seconds, connections=connections, what=f"GetSupplier, {workers} workers",
    )  # fmt: skip


def own_work_us(path: Path, suppliers: int, count: int) -> float:
    """What a GetSupplier costs without gRPC, in microseconds a call: the supplier read
    from the store and mapped into the FULL answer, serialised; ``count`` suppliers drawn
    as the load draws them, in a fresh process (so none is kept from an earlier read).
    """
    return in_fresh_process(_own_work_us, path, suppliers, count)


def _own_work_us(path: Path, suppliers: int, count: int) -> float:
    from sqm.server.api.mapping import supplier  # noqa: PLC0415 - in the fresh process only
    from sqm.server.bootstrap import build, open_store  # noqa: PLC0415
    from sqm.server.config import Settings  # noqa: PLC0415
    from sqm.v1 import resources_pb2 as pb  # noqa: PLC0415

    ids = [api.GetSupplierRequest.FromString(p).name.split("/")[1] for p in get_requests(
        suppliers, count
    )]  # fmt: skip
    app = build(Settings(database=path), store=open_store(path, read_only=True))
    try:
        service = app.service
        began = time.perf_counter()
        for supplier_id in ids:
            answer = supplier(service.read(supplier_id), pb.SUPPLIER_VIEW_FULL, service.policy())
            api.GetSupplierResponse(supplier=answer).SerializeToString()
        return (time.perf_counter() - began) / len(ids) * 1e6
    finally:
        app.close()
