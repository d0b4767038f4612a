"""The load generator: a real gRPC client (grpc.aio) in its own process.

Requests are serialised beforehand and sent as bytes, so the echo ceiling and SQM see the
very same client doing the very same work. Full load is a closed loop (``concurrency``
calls always in flight); a fixed ``rate`` is an open loop whose latencies count from the
moment each call was due, so a stall is not hidden by the calls it delayed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
import grpc

from bench.processes import Served, in_fresh_process, sqm_server
from sqm.v1 import supplier_service_pb2 as api

CALL_TIMEOUT_SECONDS = 60.0
WARM_UP_CALLS = 20
"""Calls made before the clock starts: connection set-up and first-call costs."""
UPLOAD_METHOD = "/sqm.v1.SupplierService/UploadMeasurements"
Call = grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
Upload = grpc.aio.StreamUnaryMultiCallable[bytes, bytes]


@attrs.frozen
class LoadResult:
    """What a load run completed, how long it took and each call's latency."""

    completed: int
    failed: int
    seconds: float
    latencies_ms: tuple[float, ...] = ()
    first_error: str = ""
    server_cpu_seconds: float | None = None
    """CPU time the server process spent while the load ran (user and system, every
    thread), when measured (:func:`on_server`).
    """

    @property
    def rate(self) -> float:
        """Completed calls (or rows) per second."""
        return self.completed / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_us(self) -> float | None:
        """The server's CPU time per completed call (or row), in microseconds."""
        if self.server_cpu_seconds is None or not self.completed:
            return None
        return self.server_cpu_seconds / self.completed * 1e6

    def percentile(self, fraction: float) -> float:
        """The latency below which ``fraction`` of the calls finished, in ms."""
        return percentile(self.latencies_ms, fraction)


def percentile(latencies_ms: Sequence[float], fraction: float) -> float:
    """The latency below which ``fraction`` of ``latencies_ms`` lie."""
    if len(latencies_ms) < 2:
        return latencies_ms[0] if latencies_ms else float("nan")
    cuts = statistics.quantiles(latencies_ms, n=1000, method="inclusive")
    return cuts[min(len(cuts) - 1, round(fraction * 1000) - 1)]


@attrs.frozen
class UnaryJob:
    """What one unary load run sends, how, and for how long."""

    address: str
    method: str
    payloads: tuple[bytes, ...]
    concurrency: int
    seconds: float
    rate: float | None
    connections: int = 1


def unary(
    address: str,
    method: str,
    payloads: Sequence[bytes],
    *,
    concurrency: int,
    seconds: float,
    rate: float | None = None,
    connections: int = 1,
) -> LoadResult:
    """Call ``method`` with ``payloads`` in order from a separate process, for ``seconds``
    at most (or until the payloads run out): closed loop, or at ``rate`` calls a second.
    ``connections`` above 1 spreads the calls over that many connections (a server with
    several workers gets each connection on one of them): payload ``i`` always goes over
    connection ``i % connections``, in order.
    """
    job = UnaryJob(address, method, tuple(payloads), concurrency, seconds, rate, connections)
    return in_fresh_process(_run_unary, job)


def on_server(server: Served, run: Callable[[], LoadResult]) -> LoadResult:
    """``run()``, with the CPU time ``server`` spent meanwhile. One server process runs
    its Python on one core at a time, so its CPU per call bounds its rate: a load at
    ``r`` calls a second needs a call to cost under ``1 / r`` of the core.
    """
    before = server.cpu_seconds()
    result = run()
    return attrs.evolve(result, server_cpu_seconds=server.cpu_seconds() - before)


def unary_from_workers(
    database: str | Path,
    log: Path,
    method: str,
    payloads: Sequence[bytes],
    *,
    workers: int,
    concurrency: int,
    seconds: float,
    connections: int,
    what: str,
) -> LoadResult:
    """``method`` at full load from ``sqm serve --workers WORKERS`` on ``database``, the calls
    spread over ``connections`` (the kernel gives each connection to one worker); every call
    must succeed (:func:`check`, naming ``what``).
    """
    with sqm_server(database, log, workers=workers) as server:
        result = unary(
            server.address, method, payloads, concurrency=concurrency, seconds=seconds,
            connections=connections,
        )  # fmt: skip
    check(result, what)
    return result


def check(result: LoadResult, what: str) -> None:
    """Refuse a measurement in which a call failed or none completed."""
    if result.failed or not result.completed:
        raise RuntimeError(f"{what}: {result.failed} calls failed; first: {result.first_error}")


def uploads(
    address: str,
    streams_per_sender: Sequence[Sequence[Sequence[bytes]]],
    *,
    connections: int = 1,
) -> LoadResult:
    """Send upload streams (rows of ``UploadMeasurementsRequest`` bytes) from a separate
    process: one concurrent sender per list, each sending its streams in order;
    ``completed`` counts accepted rows. Sender ``i`` uses connection ``i % connections``
    (a server with several workers gets each connection on one of them).
    """
    streams = [[list(s) for s in streams] for streams in streams_per_sender]
    return in_fresh_process(_run_uploads, address, streams, connections)


def _run_unary(job: UnaryJob) -> LoadResult:
    return asyncio.run(_unary(job))


def _run_uploads(address: str, streams: list[list[list[bytes]]], connections: int) -> LoadResult:
    return asyncio.run(_uploads(address, streams, connections))


@attrs.define
class _Tally:
    latencies_ms: list[float] = attrs.field(factory=list)
    failed: int = 0
    first_error: str = ""

    def failure(self, error: grpc.aio.AioRpcError) -> None:
        self.failed += 1
        self.first_error = self.first_error or f"{error.code().name}: {error.details()}"


def _channels(address: str, connections: int) -> list[grpc.aio.Channel]:
    # grpc shares one connection between channels to the same target unless each channel
    # keeps a subchannel pool of its own.
    options = [("grpc.use_local_subchannel_pool", 1)] if connections > 1 else []
    return [grpc.aio.insecure_channel(address, options=options) for _ in range(connections)]


async def _unary(job: UnaryJob) -> LoadResult:
    channels = _channels(job.address, job.connections)
    try:
        calls = [channel.unary_unary(job.method, None, None) for channel in channels]
        warm_up = WARM_UP_CALLS - WARM_UP_CALLS % len(calls)  # whole rounds of connections
        warm, timed = job.payloads[:warm_up], job.payloads[warm_up:]
        for number, payload in enumerate(warm):
            await calls[number % len(calls)](payload, timeout=CALL_TIMEOUT_SECONDS)
        tally = _Tally()
        began = time.perf_counter()
        deadline = began + job.seconds
        if job.rate is None:
            lanes = [iter(timed[lane :: len(calls)]) for lane in range(len(calls))]
            await _closed_loop(calls, lanes, tally, job.concurrency, deadline)
        else:
            await _open_loop(calls, timed, tally, job.rate, deadline)
        elapsed = time.perf_counter() - began
    finally:
        for channel in channels:
            await channel.close(None)
    return LoadResult(
        len(tally.latencies_ms), tally.failed, elapsed, tuple(tally.latencies_ms), tally.first_error
    )


async def _closed_loop(
    calls: Sequence[Call],
    lanes: Sequence[Iterator[bytes]],
    tally: _Tally,
    concurrency: int,
    deadline: float,
) -> None:
    async def worker(call: Call, payloads: Iterator[bytes]) -> None:
        for payload in payloads:  # one iterator per connection, shared by its workers
            if time.perf_counter() >= deadline:
                return
            await _timed_call(call, payload, time.perf_counter(), tally)

    await asyncio.gather(
        *(worker(calls[n % len(calls)], lanes[n % len(calls)]) for n in range(concurrency))
    )


async def _open_loop(
    calls: Sequence[Call],
    payloads: Sequence[bytes],
    tally: _Tally,
    rate: float,
    deadline: float,
) -> None:
    start = time.perf_counter()
    tasks = []
    for number, payload in enumerate(payloads):
        due = start + number / rate
        if due >= deadline:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        call = calls[number % len(calls)]
        tasks.append(asyncio.create_task(_timed_call(call, payload, due, tally)))
    await asyncio.gather(*tasks)


async def _timed_call(call: Call, payload: bytes, since: float, tally: _Tally) -> None:
    try:
        await call(payload, timeout=CALL_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as error:
        tally.failure(error)
        return
    tally.latencies_ms.append((time.perf_counter() - since) * 1000)


async def _uploads(
    address: str, streams_per_sender: list[list[list[bytes]]], connections: int
) -> LoadResult:
    channels = _channels(address, connections)
    calls = [channel.stream_unary(UPLOAD_METHOD, None, None) for channel in channels]
    tally = _Tally()
    accepted = 0

    async def sender(call: Upload, streams: list[list[bytes]]) -> None:
        nonlocal accepted
        for rows in streams:
            try:
                answer = await call(iter(rows), timeout=CALL_TIMEOUT_SECONDS)
            except grpc.aio.AioRpcError as error:
                tally.failure(error)
                continue
            accepted += api.UploadMeasurementsResponse.FromString(answer).accepted_count

    began = time.perf_counter()
    try:
        await asyncio.gather(
            *(sender(calls[n % len(calls)], s) for n, s in enumerate(streams_per_sender))
        )
        elapsed = time.perf_counter() - began
    finally:
        for channel in channels:
            await channel.close(None)
    return LoadResult(accepted, tally.failed, elapsed, (), tally.first_error)
