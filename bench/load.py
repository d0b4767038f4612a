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
from collections.abc import Iterator, Sequence

import attrs
import grpc

from bench.processes import in_fresh_process
from sqm.v1 import supplier_service_pb2 as api

CALL_TIMEOUT_SECONDS = 60.0
WARM_UP_CALLS = 20
"""Calls made before the clock starts: connection set-up and first-call costs."""
UPLOAD_METHOD = "/sqm.v1.SupplierService/UploadMeasurements"
Call = grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]


@attrs.frozen
class LoadResult:
    """What a load run completed, how long it took and each call's latency."""

    completed: int
    failed: int
    seconds: float
    latencies_ms: tuple[float, ...] = ()
    first_error: str = ""

    @property
    def rate(self) -> float:
        """Completed calls (or rows) per second."""
        return self.completed / self.seconds if self.seconds else 0.0

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


def unary(
    address: str,
    method: str,
    payloads: Sequence[bytes],
    *,
    concurrency: int,
    seconds: float,
    rate: float | None = None,
) -> LoadResult:
    """Call ``method`` with ``payloads`` in order from a separate process, for ``seconds``
    at most (or until the payloads run out): closed loop, or at ``rate`` calls a second.
    """
    job = UnaryJob(address, method, tuple(payloads), concurrency, seconds, rate)
    return in_fresh_process(_run_unary, job)


def uploads(address: str, streams_per_sender: Sequence[Sequence[Sequence[bytes]]]) -> LoadResult:
    """Send upload streams (rows of ``UploadMeasurementsRequest`` bytes) from a separate
    process: one concurrent sender per list, each sending its streams in order;
    ``completed`` counts accepted rows.
    """
    streams = [[list(s) for s in streams] for streams in streams_per_sender]
    return in_fresh_process(_run_uploads, address, streams)


def _run_unary(job: UnaryJob) -> LoadResult:
    return asyncio.run(_unary(job))


def _run_uploads(address: str, streams: list[list[list[bytes]]]) -> LoadResult:
    return asyncio.run(_uploads(address, streams))


@attrs.define
class _Tally:
    latencies_ms: list[float] = attrs.field(factory=list)
    failed: int = 0
    first_error: str = ""

    def failure(self, error: grpc.aio.AioRpcError) -> None:
        self.failed += 1
        self.first_error = self.first_error or f"{error.code().name}: {error.details()}"


async def _unary(job: UnaryJob) -> LoadResult:
    async with grpc.aio.insecure_channel(job.address) as channel:
        call = channel.unary_unary(job.method, None, None)
        warm, timed = job.payloads[:WARM_UP_CALLS], job.payloads[WARM_UP_CALLS:]
        for payload in warm:
            await call(payload, timeout=CALL_TIMEOUT_SECONDS)
        tally = _Tally()
        began = time.perf_counter()
        deadline = began + job.seconds
        if job.rate is None:
            await _closed_loop(call, iter(timed), tally, job.concurrency, deadline)
        else:
            await _open_loop(call, timed, tally, job.rate, deadline)
        elapsed = time.perf_counter() - began
    return LoadResult(
        len(tally.latencies_ms), tally.failed, elapsed, tuple(tally.latencies_ms), tally.first_error
    )


async def _closed_loop(
    call: Call,
    payloads: Iterator[bytes],
    tally: _Tally,
    concurrency: int,
    deadline: float,
) -> None:
    async def worker() -> None:
        for payload in payloads:  # one iterator shared by every worker
            if time.perf_counter() >= deadline:
                return
            await _timed_call(call, payload, time.perf_counter(), tally)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _open_loop(
    call: Call,
    payloads: Sequence[bytes],
    tally: _Tally,
    rate: float,
    deadline: float,
) -> None:
    start = time.perf_counter()
    calls = []
    for number, payload in enumerate(payloads):
        due = start + number / rate
        if due >= deadline:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        calls.append(asyncio.create_task(_timed_call(call, payload, due, tally)))
    await asyncio.gather(*calls)


async def _timed_call(call: Call, payload: bytes, since: float, tally: _Tally) -> None:
    try:
        await call(payload, timeout=CALL_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as error:
        tally.failure(error)
        return
    tally.latencies_ms.append((time.perf_counter() - since) * 1000)


async def _uploads(address: str, streams_per_sender: list[list[list[bytes]]]) -> LoadResult:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_unary(UPLOAD_METHOD, None, None)
        tally = _Tally()
        accepted = 0
        began = time.perf_counter()

        async def sender(streams: list[list[bytes]]) -> None:
            nonlocal accepted
            for rows in streams:
                try:
                    answer = await call(iter(rows), timeout=CALL_TIMEOUT_SECONDS)
                except grpc.aio.AioRpcError as error:
                    tally.failure(error)
                    continue
                accepted += api.UploadMeasurementsResponse.FromString(answer).accepted_count

        await asyncio.gather(*(sender(streams) for streams in streams_per_sender))
        elapsed = time.perf_counter() - began
    return LoadResult(accepted, tally.failed, elapsed, (), tally.first_error)
