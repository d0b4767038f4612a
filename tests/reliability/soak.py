"""Soak: a real server at half its measured capacity for a while; memory must stay flat.

    .venv/bin/python -m tests.reliability.soak                  # 10 minutes
    .venv/bin/python -m tests.reliability.soak --minutes 1      # a quick look

Not a test pytest collects (it takes minutes): run it by hand before a release. It starts
``sqm serve`` on a fresh SQLite file on loopback, brings a few suppliers under contract,
measures capacity (requests a second with every client thread busy), then sends an
open-loop mix at half that rate: measurements (which grow the record), supplier reads,
event pages and health checks. Every answer must be OK, and the server's resident memory
at the end may exceed its level after warm-up by less than 5%. It prints a line a minute
and a summary, and exits 1 when either promise is broken.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sqm.client import SqmClient, measurement, supplier_name
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.process_flow import Timeline, contracted
from tests.e2e.server_process import ServerProcess

SUPPLIERS = tuple(f"soak-{n}" for n in range(8))
CLIENT_THREADS = 8
MAX_RSS_GROWTH = 0.05
RSS_SAMPLE_SECONDS = 5.0
WARM_MEASUREMENTS = 500  # what a supplier's snapshot keeps (README, "Known limits")
Call = Callable[[], object]


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (Linux: /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Mix:
    """The requests a soak sends, drawn by weight; each is one unary call."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._suppliers = api_grpc.SupplierServiceStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)
        self._count = 0
        self._lock = threading.Lock()
        self._calls: list[tuple[Call, int]] = [
            (self.record_measurement, 50),
            (self.get_supplier, 30),
            (self.list_events, 15),
            (self.health_check, 5),
        ]

    def draw(self, rng: random.Random) -> Call:
        """One request of the mix."""
        calls, weights = zip(*self._calls, strict=True)
        return rng.choices(calls, weights)[0]

    def _next(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def record_measurement(self) -> object:
        """A measurement meeting its target, stamped with the server's time."""
        number = self._next()
        row = _row(SUPPLIERS[number % len(SUPPLIERS)], f"soak-{number}")
        return self._suppliers.RecordMeasurement(row, timeout=30)

    def get_supplier(self) -> object:
        """One supplier's state."""
        name = supplier_name(SUPPLIERS[self._next() % len(SUPPLIERS)])
        return self._suppliers.GetSupplier(api.GetSupplierRequest(name=name), timeout=30)

    def list_events(self) -> object:
        """The first page of a supplier's history."""
        parent = supplier_name(SUPPLIERS[self._next() % len(SUPPLIERS)])
        request = api.ListSupplierEventsRequest(parent=parent, page_size=20)
        return self._suppliers.ListSupplierEvents(request, timeout=30)

    def health_check(self) -> object:
        """The overall health status."""
        return self._health.Check(health_pb2.HealthCheckRequest(), timeout=30)


@attrs.define
class Tally:
    """Requests sent and failed, and how long each took (seconds)."""

    sent: int = 0
    errors: dict[str, int] = attrs.field(factory=dict)
    latencies: list[float] = attrs.field(factory=list)
    by_kind: dict[str, list[float]] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def record(self, call: Call, scheduled: float) -> None:
        """Run ``call``; latency counts from when it was due (no coordinated omission)."""
        try:
            call()
            failure = None
        except grpc.RpcError as error:
            failure = f"{error.code().name}: {error.details()}"
        took = time.monotonic() - scheduled
        with self.lock:
            self.sent += 1
            self.latencies.append(took)
            self.by_kind.setdefault(call.__name__, []).append(took)
            if failure is not None:
                self.errors[failure] = self.errors.get(failure, 0) + 1

    @property
    def error_count(self) -> int:
        """How many requests failed."""
        return sum(self.errors.values())


def prepare(address: str) -> None:
    """Suppliers under contract since well before now, so measurements at now are in term,
    each with as many measurements as its snapshot keeps: a steady state from the start.
    """
    timeline = Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(days=60))
    with SqmClient(address, timeout=30) as client:
        for supplier in SUPPLIERS:
            contracted(client, supplier, timeline)
            rows = [_row(supplier, f"warm-{supplier}-{n}") for n in range(WARM_MEASUREMENTS)]
            client.upload_measurements(rows, timeout=600)


def _row(supplier: str, request_id: str) -> api.RecordMeasurementRequest:
    """A measurement meeting its target over the 30 days to now, at the server's time."""
    end = datetime.now(UTC) - timedelta(seconds=1)
    return measurement(
        supplier, "availability", 99.97, "percent",
        period_start=end - timedelta(days=30), period_end=end, request_id=request_id,
    )  # fmt: skip


def measure_capacity(mix: Mix, seconds: float) -> float:
    """Requests a second with every client thread sending back to back."""
    tally = Tally()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop:
            tally.record(mix.draw(rng), time.monotonic())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENT_THREADS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if tally.error_count:
        raise RuntimeError(f"errors while measuring capacity: {tally.errors}")
    return tally.sent / (time.monotonic() - began)


def soak(mix: Mix, rate: float, seconds: float, pid: int) -> tuple[Tally, list[int]]:
    """Send the mix at ``rate`` a second for ``seconds``; sample the server's RSS."""
    tally, samples = Tally(), [rss_bytes(pid)]
    rng = random.Random(0)
    began = time.monotonic()
    next_sample = next_report = began
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        for number in range(int(rate * seconds)):
            due = began + number / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)  # open loop: requests leave on schedule
            pool.submit(tally.record, mix.draw(rng), due)
            if now >= next_sample:
                samples.append(rss_bytes(pid))
                next_sample += RSS_SAMPLE_SECONDS
            if now >= next_report:
                _report(now - began, tally, samples[-1])
                next_report += 60
    samples.append(rss_bytes(pid))
    return tally, samples


def _report(elapsed: float, tally: Tally, rss: int) -> None:
    print(
        f"  {elapsed / 60:5.1f} min: {tally.sent:,} requests, {tally.error_count} errors,"
        f" server RSS {rss / 2**20:.1f} MiB",
        flush=True,
    )


def summary(tally: Tally, samples: list[int], rate: float, seconds: float) -> bool:
    """Print the results; True when both promises held."""
    growth = (samples[-1] - samples[0]) / samples[0]
    ordered = sorted(tally.latencies)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
    print(f"target rate: {rate:.1f}/s for {seconds / 60:g} min; sent {tally.sent:,}")
    print(f"errors: {tally.error_count} {tally.errors or ''}")
    print(
        f"latency: median {statistics.median(ordered) * 1000:.1f} ms,"
        f" p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )
    for kind, took in sorted(tally.by_kind.items()):
        print(f"  {kind}: {len(took):,}, median {_ms(took, 0.5)}, p99 {_ms(took, 0.99)}")
    print(
        f"server RSS: {samples[0] / 2**20:.1f} MiB after warm-up, {samples[-1] / 2**20:.1f} MiB"
        f" at the end (max {max(samples) / 2**20:.1f} MiB): growth {growth:+.2%}"
        f" (limit {MAX_RSS_GROWTH:.0%})"
    )
    return tally.error_count == 0 and growth < MAX_RSS_GROWTH


def _ms(latencies: list[float], quantile: float) -> str:
    ordered = sorted(latencies)
    return f"{ordered[min(int(len(ordered) * quantile), len(ordered) - 1)] * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    """Run the soak; exit 0 when no request failed and memory stayed within 5%."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length (default 10)")
    parser.add_argument(
        "--capacity-seconds", type=float, default=20.0, help="capacity measurement (default 20)"
    )
    parser.add_argument("--rate", type=float, help="requests a second (default: half capacity)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sqm-soak-") as folder:
        server = ServerProcess(Path(folder) / "sqm.sqlite3", "--tick-seconds", "0").start()
        try:
            assert server.process is not None
            prepare(server.address)
            with grpc.insecure_channel(server.address) as channel:
                mix = Mix(channel)
                capacity = measure_capacity(mix, args.capacity_seconds)
                rate = args.rate or capacity / 2
                print(f"capacity: {capacity:.1f} requests/s; soaking at {rate:.1f}/s", flush=True)
                tally, samples = soak(mix, rate, args.minutes * 60, server.process.pid)
            ok = summary(tally, samples, rate, args.minutes * 60)
        finally:
            server.kill()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
